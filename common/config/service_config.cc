#include "common/config/service_config.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/config/yaml.h"

extern char** environ;

namespace docket::config {
namespace {

// "kafka-brokers" <-> "DOCKET_KAFKA_BROKERS"
std::string FlagToKey(std::string_view flag) {
  std::string key = "DOCKET_" + absl::StrReplaceAll(std::string(flag), {{"-", "_"}});
  absl::AsciiStrToUpper(&key);
  return key;
}

bool ValidHostPort(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= s.size()) return false;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoi(std::string(s.substr(colon + 1))) <= 65535;
}

std::string Usage(const ServiceDefaults& d) {
  std::string out = absl::StrCat("usage: docket-", d.service, " [--flag=value ...]\n\n",
                                 "Every flag can also be given as an environment variable:\n");
  for (const auto& [key, help] : ServiceConfigKeys()) {
    std::string flag = absl::AsciiStrToLower(absl::StrReplaceAll(key.substr(7), {{"_", "-"}}));
    absl::StrAppend(&out, "  --", flag, "  (", key, ")\n      ", help, "\n");
  }
  return out;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& ServiceConfigKeys() {
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"DOCKET_KAFKA_BROKERS", "Kafka bootstrap servers, host:port[,host:port] (required)"},
      {"DOCKET_KAFKA_PROPERTIES_FILE", "file of extra librdkafka properties (key=value lines)"},
      {"DOCKET_TOPIC_PREFIX", "prefix of Docket's topics (default docket.)"},
      {"DOCKET_CONSUMER_GROUP", "Kafka consumer group (default docket-<service>)"},
      {"DOCKET_CONSUMER_THREADS", "consumer group members in this process, 1..64 (default per service)"},
      {"DOCKET_REDIS_URL", "redis[s]://[[user]:password@]host[:port][/db] (required; rediss = TLS)"},
      {"DOCKET_REDIS_CA_FILE", "rediss: CA that signed Redis's certificate (PEM; default: the system's CAs)"},
      {"DOCKET_REDIS_CERT_FILE", "rediss: client certificate (PEM), for a Redis with tls-auth-clients"},
      {"DOCKET_REDIS_KEY_FILE", "rediss: the client certificate's private key (PEM)"},
      {"DOCKET_REDIS_SERVER_NAME", "rediss: the name Redis's certificate must carry (default: the URL's host)"},
      {"DOCKET_GRPC_LISTEN", "gRPC listen address host:port (port 0 = any free port)"},
      {"DOCKET_METRICS_LISTEN", "Prometheus /metrics listen address host:port"},
      {"DOCKET_TLS_CERT_FILE", "server certificate chain (PEM); with the key file, TLS is on"},
      {"DOCKET_TLS_KEY_FILE", "server private key (PEM)"},
      {"DOCKET_TLS_CLIENT_CA_FILE", "CA of client certificates; set = mTLS required"},
      {"DOCKET_CONFIG_DIR", "directory of catalog.yaml, policies.yaml, objectives.yaml"},
      {"DOCKET_READY_FILE", "file to write the bound addresses to once serving"},
      {"DOCKET_DRAIN_TIMEOUT", "how long SIGTERM waits for in-flight work, e.g. 10s"},
      {"DOCKET_LOG_LEVEL", "debug | info | warn | error (default info)"},
      {"DOCKET_SIM_CLOCK", "simulated time for demos: <real epoch ms>,<simulated epoch ms>,<scale>"},
  };
  return keys;
}

absl::StatusOr<ServiceConfig> LoadServiceConfig(const ServiceDefaults& defaults,
                                                const std::map<std::string, std::string>& env,
                                                const std::vector<std::string>& args) {
  std::map<std::string, std::string> values;
  for (const auto& [key, help] : ServiceConfigKeys()) {
    if (auto it = env.find(key); it != env.end()) values[key] = it->second;
  }
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return absl::FailedPreconditionError(Usage(defaults));
    const auto eq = arg.find('=');
    if (!absl::StartsWith(arg, "--") || eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("argument \"", arg, "\": expected --flag=value (see --help)"));
    }
    const std::string key = FlagToKey(std::string_view(arg).substr(2, eq - 2));
    bool known = false;
    for (const auto& k : ServiceConfigKeys()) known |= (k.first == key);
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", arg.substr(0, eq), " (see --help)"));
    }
    values[key] = arg.substr(eq + 1);
  }
  auto get = [&](const std::string& key, const std::string& def = "") {
    auto it = values.find(key);
    return it == values.end() || it->second.empty() ? def : it->second;
  };

  ServiceConfig c;
  c.service = defaults.service;
  c.kafka_brokers = get("DOCKET_KAFKA_BROKERS");
  c.kafka_properties_file = get("DOCKET_KAFKA_PROPERTIES_FILE");
  c.topic_prefix = get("DOCKET_TOPIC_PREFIX", "docket.");
  c.consumer_group = get("DOCKET_CONSUMER_GROUP", "docket-" + defaults.service);
  c.redis_url = get("DOCKET_REDIS_URL");
  c.redis_ca_file = get("DOCKET_REDIS_CA_FILE");
  c.redis_cert_file = get("DOCKET_REDIS_CERT_FILE");
  c.redis_key_file = get("DOCKET_REDIS_KEY_FILE");
  c.redis_server_name = get("DOCKET_REDIS_SERVER_NAME");
  c.grpc_listen = get("DOCKET_GRPC_LISTEN", absl::StrCat("0.0.0.0:", defaults.grpc_port));
  c.metrics_listen = get("DOCKET_METRICS_LISTEN", absl::StrCat("0.0.0.0:", defaults.metrics_port));
  c.tls_cert_file = get("DOCKET_TLS_CERT_FILE");
  c.tls_key_file = get("DOCKET_TLS_KEY_FILE");
  c.tls_client_ca_file = get("DOCKET_TLS_CLIENT_CA_FILE");
  c.config_dir = get("DOCKET_CONFIG_DIR", "deploy/config");
  c.ready_file = get("DOCKET_READY_FILE");
  c.log_level = get("DOCKET_LOG_LEVEL", "info");

  if (c.kafka_brokers.empty()) {
    return absl::InvalidArgumentError("DOCKET_KAFKA_BROKERS is required (e.g. 127.0.0.1:9092)");
  }
  if (c.redis_url.empty()) {
    return absl::InvalidArgumentError("DOCKET_REDIS_URL is required (e.g. redis://127.0.0.1:6379/0)");
  }
  if (!ValidHostPort(c.grpc_listen)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DOCKET_GRPC_LISTEN: expected host:port, got \"", c.grpc_listen, "\""));
  }
  if (!ValidHostPort(c.metrics_listen)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DOCKET_METRICS_LISTEN: expected host:port, got \"", c.metrics_listen, "\""));
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "DOCKET_TLS_CERT_FILE and DOCKET_TLS_KEY_FILE must be given together");
  }
  if (c.redis_cert_file.empty() != c.redis_key_file.empty()) {
    return absl::InvalidArgumentError(
        "DOCKET_REDIS_CERT_FILE and DOCKET_REDIS_KEY_FILE must be given together");
  }
  if (!c.tls_client_ca_file.empty() && c.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "DOCKET_TLS_CLIENT_CA_FILE (mTLS) needs DOCKET_TLS_CERT_FILE and DOCKET_TLS_KEY_FILE");
  }
  if (auto d = ParseDuration(get("DOCKET_DRAIN_TIMEOUT", "10s")); d.ok()) {
    c.drain_timeout = *d;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "DOCKET_DRAIN_TIMEOUT: expected a duration like \"10s\", got \"",
        get("DOCKET_DRAIN_TIMEOUT"), "\""));
  }
  if (const std::string n = get("DOCKET_CONSUMER_THREADS", absl::StrCat(defaults.consumer_threads));
      !absl::SimpleAtoi(n, &c.consumer_threads) || c.consumer_threads < 1 ||
      c.consumer_threads > kMaxConsumerThreads) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DOCKET_CONSUMER_THREADS: expected a whole number from 1 to ", kMaxConsumerThreads, ", got \"", n, "\""));
  }
  bool level_ok = false;
  for (const char* l : {"debug", "info", "warn", "warning", "error"}) {
    level_ok = level_ok || absl::EqualsIgnoreCase(c.log_level, l);
  }
  if (!level_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DOCKET_LOG_LEVEL: expected debug, info, warn or error, got \"", c.log_level, "\""));
  }
  if (const std::string sim = get("DOCKET_SIM_CLOCK"); !sim.empty()) {
    std::vector<std::string> parts = absl::StrSplit(sim, ',');
    bool ok = parts.size() == 3 && absl::SimpleAtoi(parts[0], &c.sim_clock.real_origin_ms) &&
              absl::SimpleAtoi(parts[1], &c.sim_clock.sim_origin_ms) &&
              absl::SimpleAtod(parts[2], &c.sim_clock.scale) && c.sim_clock.scale > 0 &&
              c.sim_clock.scale <= 100000;
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DOCKET_SIM_CLOCK: expected <real epoch ms>,<simulated epoch ms>,<scale 0..100000>, got \"",
          sim, "\""));
    }
  }
  if (!c.kafka_properties_file.empty()) {
    auto props = LoadPropertiesFile(c.kafka_properties_file);
    if (!props.ok()) return props.status();
    c.kafka_properties = std::move(*props);
  }
  return c;
}

std::string ServiceConfig::ConfigFile(const std::string& name) const {
  return (std::filesystem::path(config_dir.empty() ? "." : config_dir) / name).string();
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

absl::StatusOr<std::map<std::string, std::string>> LoadPropertiesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read file"));
  std::map<std::string, std::string> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l.front() == '#') continue;
    const auto eq = l.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": expected key=value"));
    }
    out[std::string(absl::StripAsciiWhitespace(l.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(l.substr(eq + 1)));
  }
  return out;
}

}  // namespace docket::config
