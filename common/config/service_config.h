#pragma once

// The twelve-factor part of every service's configuration: endpoints, ports,
// paths and secrets from environment variables, each overridable by a flag
// of the same name (DOCKET_KAFKA_BROKERS <-> --kafka-brokers=...). Loaded and
// checked once at start; nothing reads the environment later.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace docket::config {

struct ServiceConfig {
  std::string service;            // "intake", "processing", ...
  std::string kafka_brokers;      // DOCKET_KAFKA_BROKERS (required)
  std::string kafka_properties_file;  // DOCKET_KAFKA_PROPERTIES_FILE: extra librdkafka props (k=v lines)
  std::map<std::string, std::string> kafka_properties;  // loaded from that file
  int producer_linger_ms = 5;  // set by the service (not the environment): see KafkaConfig::linger_ms
  std::string topic_prefix;       // DOCKET_TOPIC_PREFIX, default "docket."
  std::string consumer_group;     // DOCKET_CONSUMER_GROUP, default "docket-<service>"
  // DOCKET_CONSUMER_THREADS (1..64), default per service: members of the
  // consumer group this process runs, each on its own thread with its own
  // partitions (a partition stays in order on one thread; partitions run in
  // parallel). More than the topic's partitions per replica leaves some idle.
  int consumer_threads = 1;
  std::string redis_url;          // DOCKET_REDIS_URL (required)
  std::string redis_ca_file;      // DOCKET_REDIS_CA_FILE (rediss://)
  std::string redis_cert_file;    // DOCKET_REDIS_CERT_FILE (rediss://, with KEY: client certificate)
  std::string redis_key_file;     // DOCKET_REDIS_KEY_FILE
  std::string redis_server_name;  // DOCKET_REDIS_SERVER_NAME (rediss://)
  std::string grpc_listen;        // DOCKET_GRPC_LISTEN, default 0.0.0.0:<service default>
  std::string metrics_listen;     // DOCKET_METRICS_LISTEN, default 0.0.0.0:<service default>
  std::string tls_cert_file;      // DOCKET_TLS_CERT_FILE (with KEY: TLS on)
  std::string tls_key_file;       // DOCKET_TLS_KEY_FILE
  std::string tls_client_ca_file; // DOCKET_TLS_CLIENT_CA_FILE (set: mTLS)
  std::string config_dir;         // DOCKET_CONFIG_DIR: catalog.yaml, policies.yaml, ...
  // The path of a file in config_dir, e.g. ConfigFile("catalog.yaml").
  std::string ConfigFile(const std::string& name) const;
  std::string ready_file;         // DOCKET_READY_FILE: where to write bound addresses once serving
  std::chrono::milliseconds drain_timeout{10000};  // DOCKET_DRAIN_TIMEOUT, e.g. "10s"
  std::string log_level;          // DOCKET_LOG_LEVEL
  // DOCKET_SIM_CLOCK "<real epoch ms>,<simulated epoch ms>,<scale>": simulated
  // business time (demos only; see ScaledClock). Unset = the real clock.
  struct SimClock {
    std::int64_t real_origin_ms = 0;
    std::int64_t sim_origin_ms = 0;
    double scale = 0;  // 0 = real time
  } sim_clock;
};

struct ServiceDefaults {
  std::string service;
  int grpc_port = 0;
  int metrics_port = 0;
  int consumer_threads = 1;
};

inline constexpr int kMaxConsumerThreads = 64;

// Keys of the environment that a ServiceConfig reads, with a one-line help.
const std::vector<std::pair<std::string, std::string>>& ServiceConfigKeys();

// Builds the config from `env` (usually the process environment) and flags
// (`--kafka-brokers=...`; argv[0] is skipped). INVALID_ARGUMENT names the
// variable or flag that is wrong or missing; "--help" yields a usage text
// as a FAILED_PRECONDITION status whose message is the usage.
absl::StatusOr<ServiceConfig> LoadServiceConfig(const ServiceDefaults& defaults,
                                                const std::map<std::string, std::string>& env,
                                                const std::vector<std::string>& args);

// The process environment as a map (call once, in main).
std::map<std::string, std::string> ProcessEnvironment();

// Reads "key=value" lines (# comments, blank lines ignored). Errors name file:line.
absl::StatusOr<std::map<std::string, std::string>> LoadPropertiesFile(const std::string& path);

}  // namespace docket::config
