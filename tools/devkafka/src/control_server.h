#pragma once

// A TCP line-protocol server on 127.0.0.1: each received line is passed to a
// handler, whose answer goes back as one line. Single-threaded (poll), many
// clients at once. A line longer than kMaxLineBytes is answered with an error
// line without reaching the handler; a client whose unfinished line grows
// past kMaxLineBytes gets that error line and is disconnected.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace docket::devkafka {

class ControlServer {
 public:
  static constexpr std::size_t kMaxLineBytes = 4096;
  static constexpr std::size_t kMaxClients = 64;

  // Answer for one line (without its newline); returned without a newline.
  using Handler = std::function<std::string(std::string_view line)>;

  // Binds 127.0.0.1:port (0 = a free port). UNAVAILABLE if the port is taken.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Listen(int port);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int port() const { return port_; }

  // Serves clients until `stop_fd` becomes readable (e.g. a signalfd); does
  // not read from it. INTERNAL if poll(2) fails.
  absl::Status Serve(int stop_fd, const Handler& handler);

 private:
  explicit ControlServer(int listen_fd, int port) : listen_fd_(listen_fd), port_(port) {}
  int listen_fd_ = -1;
  int port_ = 0;
};

}  // namespace docket::devkafka
