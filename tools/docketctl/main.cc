// docketctl: one CLI over Docket's gRPC APIs. This first cut has `health`;
// the work commands come with issue #7.
//
// Endpoints come from flags, else the environment, else .docket/local.env
// (written by deploy/local/up.sh).

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace {

struct Target {
  const char* service;      // short name for the table
  const char* env_key;      // DOCKET_*_ADDR
  const char* health_name;  // grpc.health.v1 service name
};

constexpr Target kTargets[] = {
    {"intake", "DOCKET_INTAKE_ADDR", "docket.v1.Intake"},
    {"processing", "DOCKET_WORK_ADDR", "docket.v1.Work"},
    {"compliance", "DOCKET_COMPLIANCE_ADDR", "docket.v1.Compliance"},
    {"metrics", "DOCKET_KPI_ADDR", "docket.v1.Kpi"},
};

// KEY=value lines of .docket/local.env (shell syntax, no quoting needed).
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::string Lookup(const std::map<std::string, std::string>& flags,
                   const std::map<std::string, std::string>& file, const std::string& key) {
  if (auto it = flags.find(key); it != flags.end()) return it->second;
  if (const char* v = std::getenv(key.c_str()); v && *v) return v;
  if (auto it = file.find(key); it != file.end()) return it->second;
  return "";
}

const char* StatusName(grpc::health::v1::HealthCheckResponse::ServingStatus s) {
  switch (s) {
    case grpc::health::v1::HealthCheckResponse::SERVING: return "SERVING";
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING: return "NOT_SERVING";
    case grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN: return "SERVICE_UNKNOWN";
    default: return "UNKNOWN";
  }
}

int Health(const std::map<std::string, std::string>& flags) {
  for (const auto& [key, value] : flags) {
    bool known = key == "--env-file" || key == "--timeout";
    for (const Target& t : kTargets) known = known || key == t.env_key;
    if (!known) {
      std::fprintf(stderr, "docketctl health: unknown flag %s (see docketctl --help)\n", key.c_str());
      return 2;
    }
  }
  const std::string env_file = flags.contains("--env-file") ? flags.at("--env-file")
                                                            : ".docket/local.env";
  const auto file = ReadEnvFile(env_file);
  const int timeout_s = flags.contains("--timeout") ? std::atoi(flags.at("--timeout").c_str()) : 3;
  int unhealthy = 0;
  int checked = 0;
  std::printf("%-11s %-22s %s\n", "SERVICE", "ADDRESS", "HEALTH");
  for (const Target& t : kTargets) {
    const std::string addr = Lookup(flags, file, t.env_key);
    if (addr.empty()) continue;
    ++checked;
    auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
    ctx.set_wait_for_ready(true);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(t.health_name);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    std::string verdict;
    if (!s.ok()) {
      verdict = "DOWN (" + s.error_message() + ")";
      ++unhealthy;
    } else {
      verdict = StatusName(resp.status());
      if (resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) ++unhealthy;
    }
    std::printf("%-11s %-22s %s\n", t.service, addr.c_str(), verdict.c_str());
  }
  if (checked == 0) {
    std::fprintf(stderr,
                 "docketctl: no endpoints: set DOCKET_INTAKE_ADDR etc., pass --DOCKET_INTAKE_ADDR=..., "
                 "or start the local stack (deploy/local/up.sh) which writes %s\n",
                 env_file.c_str());
    return 2;
  }
  return unhealthy == 0 ? 0 : 1;
}

void Usage() {
  std::fputs(
      "usage: docketctl <command> [flags]\n\n"
      "commands:\n"
      "  health   check grpc.health.v1 of every Docket service; exit 1 if any is not SERVING\n\n"
      "flags:\n"
      "  --env-file=PATH          endpoints file (default .docket/local.env)\n"
      "  --DOCKET_INTAKE_ADDR=..  (and DOCKET_WORK_ADDR, DOCKET_COMPLIANCE_ADDR, DOCKET_KPI_ADDR)\n"
      "  --timeout=SECONDS        per check (default 3)\n",
      stderr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    Usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    const auto eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "docketctl: argument \"%s\": expected --flag=value\n", arg.c_str());
      return 2;
    }
    std::string key = arg.substr(0, eq);
    if (key.rfind("--DOCKET_", 0) == 0) key = key.substr(2);
    flags[key] = arg.substr(eq + 1);
  }
  if (command == "health") return Health(flags);
  std::fprintf(stderr, "docketctl: unknown command \"%s\" (see docketctl --help)\n", command.c_str());
  return 2;
}
