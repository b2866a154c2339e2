#include "common/testing/service_process.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace docket::testing {

std::map<std::string, std::string> ReadKeyValues(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (auto eq = line.find('='); eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::string SourceDir() {
  const char* src = std::getenv("DOCKET_SOURCE_DIR");
  return src ? src : ".";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<ServiceProcess> StartService(const std::string& name, const std::string& brokers,
                                            const std::string& redis_url,
                                            const std::vector<std::string>& env,
                                            std::chrono::milliseconds timeout) {
  const std::string ready = LogPath(name + "-ready");
  std::remove(ready.c_str());
  std::vector<std::string> vars = {"DOCKET_KAFKA_BROKERS=" + brokers,
                                   "DOCKET_REDIS_URL=" + redis_url,
                                   "DOCKET_GRPC_LISTEN=127.0.0.1:0",
                                   "DOCKET_METRICS_LISTEN=127.0.0.1:0",
                                   "DOCKET_CONFIG_DIR=" + SourceDir() + "/deploy/config",
                                   "DOCKET_READY_FILE=" + ready,
                                   "DOCKET_DRAIN_TIMEOUT=5s"};
  for (const std::string& e : env) {  // `env` overrides a default of the same name
    const std::string name = e.substr(0, e.find('=') + 1);
    std::erase_if(vars, [&](const std::string& v) { return v.starts_with(name); });
    vars.push_back(e);
  }
  auto process = ChildProcess::Spawn({Binary("docket-" + name)}, LogPath(name), vars);
  if (!process.ok()) return process.status();
  ServiceProcess svc;
  svc.process = std::move(*process);
  const bool up = WaitFor(
      [&] { return !ReadKeyValues(ready)["metrics_port"].empty() || !svc.process->Running(); },
      timeout);
  auto kv = ReadKeyValues(ready);
  if (!up || kv["metrics_port"].empty()) {
    return absl::UnavailableError("docket-" + name + " did not become ready; log: " +
                                  svc.process->log_path());
  }
  svc.grpc_port = std::stoi(kv["grpc_port"]);
  svc.metrics_port = std::stoi(kv["metrics_port"]);
  return svc;
}

}  // namespace docket::testing
