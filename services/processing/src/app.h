#pragma once

#include "common/app/shutdown.h"
#include "common/config/service_config.h"

namespace docket::processing {

inline const config::ServiceDefaults kDefaults{"processing", 7002, 9102};

// Builds the processing service from its config: the shared runtime (metrics,
// Kafka, Redis, gRPC), then the service's own parts, and runs it until
// SIGTERM/SIGINT.
class App {
 public:
  explicit App(config::ServiceConfig config) : config_(std::move(config)) {}
  // Returns the process exit code.
  int Run(app::ShutdownSignal& signal);

 private:
  config::ServiceConfig config_;
};

}  // namespace docket::processing
