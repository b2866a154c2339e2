#pragma once

// The parts every Docket service shares, started in dependency order
// (config -> log -> metrics -> Kafka producer -> Redis -> gRPC server ->
// consumers) and stopped in reverse. A service's App builds one, adds its
// gRPC services and consumers, and calls Serve().

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/shutdown.h"
#include "common/clock/clock.h"
#include "common/config/service_config.h"
#include "common/grpc/server_runner.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_config.h"
#include "common/metrics/metrics.h"
#include "common/redis/redis_client.h"

namespace docket::runtime {

class ServiceRuntime {
 public:
  // Connects to Kafka and Redis (waiting up to `startup_timeout` for each to
  // answer) and starts /metrics. UNAVAILABLE names the dependency that did
  // not answer; INVALID_ARGUMENT a bad setting.
  static absl::StatusOr<std::unique_ptr<ServiceRuntime>> Create(
      const config::ServiceConfig& config,
      std::chrono::milliseconds startup_timeout = std::chrono::seconds(30));
  ~ServiceRuntime();

  const config::ServiceConfig& config() const { return config_; }
  const kafka::Topics& topics() const { return topics_; }
  kafka::KafkaConfig kafka_config() const;
  metrics::MetricsRegistry& metrics() { return *metrics_; }
  kafka::EventPublisher& publisher() { return *publisher_; }
  redis::RedisClient& redis() { return *redis_; }
  // The clock of business time: the system clock, or DOCKET_SIM_CLOCK's.
  const Clock& clock() const { return clock_ ? *clock_ : SystemClock::Instance(); }

  // Registers a gRPC service before Serve(); `health_name` is its full name.
  void AddGrpcService(grpc::Service* service, std::string health_name);
  // Registers a consumer, run on its own thread while serving.
  void AddConsumer(std::unique_ptr<kafka::EventConsumer> consumer);
  // Registers config().consumer_threads members of `options.group_id`, each
  // with these options (and this runtime's publisher for the DLQ and its
  // metrics), each on its own thread with its own partitions: a handler runs
  // concurrently for records of different partitions, in order within one.
  // The members share the client id: their metrics are one set of series.
  absl::Status AddConsumers(const kafka::ConsumerOptions& options);

  // Starts the gRPC server and the consumers, writes the ready file, then
  // waits for SIGTERM/SIGINT and drains: health NOT_SERVING, stop consumers
  // (they commit what is done), drain gRPC, flush the producer. Returns the
  // process exit code (0 after a clean drain).
  int Serve(app::ShutdownSignal& signal);

  int grpc_port() const;
  int metrics_port() const { return metrics_server_->port(); }

 private:
  explicit ServiceRuntime(const config::ServiceConfig& config);
  void WatchDependencies();

  config::ServiceConfig config_;
  kafka::Topics topics_;
  std::unique_ptr<metrics::MetricsRegistry> metrics_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  std::unique_ptr<kafka::EventPublisher> publisher_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<Clock> clock_;  // set for a simulated clock
  std::unique_ptr<grpcutil::ServerRunner> grpc_;
  std::vector<std::string> health_names_;
  std::vector<std::unique_ptr<kafka::EventConsumer>> consumers_;
  std::vector<std::thread> consumer_threads_;
};

// Loads the service config from the environment and flags; on error prints
// one clear line (or the usage for --help) and exits 2.
config::ServiceConfig LoadConfigOrExit(const config::ServiceDefaults& defaults, int argc,
                                       char** argv);

}  // namespace docket::runtime
