// docket-devkafka: librdkafka's mock Kafka cluster in its own process, with
// fault controls on a line-protocol socket. See README.md.

#include <cstdio>
#include <string>
#include <vector>

#include "common/log/log.h"
#include "tools/devkafka/src/dev_kafka.h"
#include "tools/devkafka/src/options.h"

int main(int argc, char** argv) {
  // Before any thread starts, so every thread inherits the blocked signals.
  auto signal_fd = docket::devkafka::ShutdownSignalFd();
  const docket::log::Logger logger("devkafka");
  if (!signal_fd.ok()) {
    logger.Error("cannot handle signals", {{"error", signal_fd.status().ToString()}});
    return 1;
  }
  auto options = docket::devkafka::ParseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::fprintf(stderr, "docket-devkafka: %s\n\n%s", std::string(options.status().message()).c_str(),
                 docket::devkafka::Usage().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(docket::devkafka::Usage().c_str(), stdout);
    return 0;
  }
  absl::Status run = docket::devkafka::Run(*options, *signal_fd);
  if (!run.ok()) {
    logger.Error("devkafka failed", {{"error", run.ToString()}});
    return 1;
  }
  return 0;
}
