#pragma once

// A Docket service binary of this build, started as its own process with the
// shipped deploy/config (catalog, API keys, ...) and the ports it reported in
// its ready file. For integration and e2e tests.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/testing/fixtures.h"

namespace docket::testing {

struct ServiceProcess {
  std::unique_ptr<ChildProcess> process;
  int grpc_port = 0;
  int metrics_port = 0;
  std::string grpc_address() const { return "127.0.0.1:" + std::to_string(grpc_port); }
};

// Starts docket-<name> against `brokers` and `redis_url` on free loopback
// ports; DOCKET_CONFIG_DIR is <source>/deploy/config unless `env` sets it.
// `env` entries ("KEY=value") are added last and replace defaults of the same name. UNAVAILABLE (naming the log)
// if it is not ready within `timeout`.
absl::StatusOr<ServiceProcess> StartService(const std::string& name, const std::string& brokers,
                                            const std::string& redis_url,
                                            const std::vector<std::string>& env = {},
                                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

// "key=value" lines of a file (the ready file's format).
std::map<std::string, std::string> ReadKeyValues(const std::string& path);

// The source tree: $DOCKET_SOURCE_DIR (ctest sets it), else ".".
std::string SourceDir();

// The whole file, or "" if it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace docket::testing
