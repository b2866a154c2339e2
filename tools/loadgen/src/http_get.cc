#include "tools/loadgen/src/http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace docket::loadgen {
namespace {

// Closes the descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or the deadline passed.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url_view) {
  // absl here is Debian's, whose string_view is its own type: work on std::string.
  const std::string url(url_view);
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(absl::StrCat("URL \"", url, "\": expected http://host[:port][/path]"));
  }
  std::string rest = url.substr(kScheme.size());
  HttpUrl out;
  const std::size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    out.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  const std::size_t colon = rest.rfind(':');
  if (colon != std::string::npos) {
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &out.port) || out.port < 1 || out.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("URL \"", url, "\": bad port"));
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return absl::InvalidArgumentError(absl::StrCat("URL \"", url, "\": no host"));
  out.host = rest;
  return out;
}

absl::StatusOr<std::string> HttpResponseBody(std::string_view raw_view) {
  const std::string raw(raw_view);
  if (raw.substr(0, 5) != "HTTP/") return absl::InvalidArgumentError("not an HTTP response");
  const std::size_t space = raw.find(' ');
  int status = 0;
  if (space == std::string::npos || !absl::SimpleAtoi(raw.substr(space + 1, 3), &status)) {
    return absl::InvalidArgumentError("HTTP response without a status code");
  }
  const std::size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return absl::InvalidArgumentError("HTTP response without a body");
  if (status != 200) return absl::FailedPreconditionError(absl::StrCat("HTTP status ", status));
  return raw.substr(head_end + 4);
}

absl::StatusOr<std::string> HttpGet(const HttpUrl& url, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolving ", url.host, ": ", gai_strerror(rc)));
  }
  Fd fd(socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK, found->ai_protocol));
  const int rc = fd.get() < 0 ? -1 : connect(fd.get(), found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  const std::string where = absl::StrCat(url.host, ":", url.port, url.path);
  if (rc < 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("connecting to ", where, ": ", std::strerror(errno)));
  }
  if (!WaitFor(fd.get(), POLLOUT, deadline)) return absl::UnavailableError(absl::StrCat(where, ": connect timed out"));
  int error = 0;
  socklen_t len = sizeof(error);
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  if (error != 0) return absl::UnavailableError(absl::StrCat("connecting to ", where, ": ", std::strerror(error)));
  const std::string request = absl::StrCat("GET ", url.path, " HTTP/1.0\r\nHost: ", url.host, "\r\n\r\n");
  for (std::size_t sent = 0; sent < request.size();) {
    if (!WaitFor(fd.get(), POLLOUT, deadline)) return absl::UnavailableError(absl::StrCat(where, ": send timed out"));
    const ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("sending to ", where, ": ", std::strerror(errno)));
    }
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    if (!WaitFor(fd.get(), POLLIN, deadline)) return absl::UnavailableError(absl::StrCat(where, ": read timed out"));
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("reading from ", where, ": ", std::strerror(errno)));
    }
    raw.append(buf, static_cast<std::size_t>(n));
  }
  auto body = HttpResponseBody(raw);
  if (!body.ok()) return absl::Status(body.status().code(), absl::StrCat(where, ": ", body.status().message()));
  return body;
}

}  // namespace docket::loadgen
