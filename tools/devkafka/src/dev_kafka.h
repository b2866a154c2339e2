#pragma once

// docket-devkafka's whole run: start the mock cluster, create the topics,
// open the control socket, announce the endpoints, serve until SIGTERM or
// SIGINT, then remove the env file and stop.

#include <string>

#include "absl/status/status.h"
#include "tools/devkafka/src/options.h"

namespace docket::devkafka {

// Call first in main, before any thread starts: blocks SIGTERM and SIGINT
// and returns an fd that becomes readable when one arrives.
absl::StatusOr<int> ShutdownSignalFd();

// The lines printed on stdout and written to --env-file.
std::string EnvLines(const std::string& bootstrap, int control_port);

// Writes `content` to `path` through a temporary file and rename(2), so a
// reader sees either no file or the whole file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content);

// Runs until a signal arrives on `signal_fd`. OK on a clean stop.
absl::Status Run(const Options& options, int signal_fd);

}  // namespace docket::devkafka
