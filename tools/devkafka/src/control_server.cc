#include "tools/devkafka/src/control_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace docket::devkafka {
namespace {

const docket::log::Logger& Log() {
  static const docket::log::Logger logger("devkafka.control");
  return logger;
}

struct Client {
  int fd = -1;
  std::string buffer;
};

// Answers are short and clients local: a blocking write loop is enough.
bool WriteLine(int fd, const std::string& answer) {
  std::string out = answer + "\n";
  const char* p = out.data();
  std::size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::send(fd, p, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd, POLLOUT, 0};
      if (::poll(&pfd, 1, 1000) <= 0) return false;  // a client that never reads is dropped
      continue;
    }
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

// Handles the complete lines in client.buffer. False if the client must go.
bool HandleLines(Client& client, const ControlServer::Handler& handler) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = client.buffer.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(client.buffer.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string answer =
        line.size() > ControlServer::kMaxLineBytes
            ? absl::StrCat("error line longer than ", ControlServer::kMaxLineBytes, " bytes")
            : handler(line);
    if (!WriteLine(client.fd, answer)) return false;
    start = nl + 1;
  }
  client.buffer.erase(0, start);
  // A line that never ends would grow the buffer without bound.
  if (client.buffer.size() > ControlServer::kMaxLineBytes) {
    WriteLine(client.fd, absl::StrCat("error line longer than ", ControlServer::kMaxLineBytes,
                                      " bytes"));
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Listen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("control socket on 127.0.0.1:", port, ": ", std::strerror(err)));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<ControlServer>(new ControlServer(fd, ntohs(addr.sin_port)));
}

ControlServer::~ControlServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

absl::Status ControlServer::Serve(int stop_fd, const Handler& handler) {
  std::vector<Client> clients;
  auto drop = [&](std::size_t i) {
    ::close(clients[i].fd);
    clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
  };
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({stop_fd, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      for (const Client& c : clients) ::close(c.fd);
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(err)));
    }
    if (fds[0].revents != 0) break;

    // Clients first (their indexes match fds), from the back so erasing is safe.
    for (std::size_t i = clients.size(); i-- > 0;) {
      const short revents = fds[i + 2].revents;
      if (revents == 0) continue;
      char buf[1024];
      ssize_t n = ::recv(clients[i].fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) {
        drop(i);
        continue;
      }
      clients[i].buffer.append(buf, static_cast<std::size_t>(n));
      if (!HandleLines(clients[i], handler)) drop(i);
    }

    if (fds[1].revents & POLLIN) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        if (clients.size() >= kMaxClients) {
          WriteLine(fd, "error too many control clients");
          ::close(fd);
        } else {
          clients.push_back({fd, {}});
        }
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        Log().Warn("accept failed", {{"error", std::strerror(errno)}});
      }
    }
  }
  for (const Client& c : clients) ::close(c.fd);
  return absl::OkStatus();
}

}  // namespace docket::devkafka
