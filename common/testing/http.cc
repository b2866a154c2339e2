#include "common/testing/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace docket::testing {

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("nothing answers on 127.0.0.1:", port));
  }
  const std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return absl::UnavailableError("send failed");
  }
  std::string raw;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const auto header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0) {
    return absl::UnavailableError("malformed HTTP response");
  }
  HttpResponse resp;
  resp.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  const std::string headers = raw.substr(0, header_end);
  for (const char* key : {"\r\nContent-Type: ", "\r\ncontent-type: "}) {
    if (auto p = headers.find(key); p != std::string::npos) {
      const auto start = p + std::string(key).size();
      resp.content_type = headers.substr(start, headers.find("\r\n", start) - start);
    }
  }
  resp.body = raw.substr(header_end + 4);
  return resp;
}

absl::Status PromtoolCheckMetrics(const std::string& exposition) {
  char path[] = "/tmp/docket-metrics-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return absl::InternalError("mkstemp failed");
  ::close(fd);
  {
    std::ofstream out(path);
    out << exposition;
  }
  const std::string cmd = absl::StrCat("promtool check metrics < ", path, " 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return absl::InternalError("cannot run promtool");
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int rc = ::pclose(p);
  ::unlink(path);
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) {
    return absl::FailedPreconditionError("promtool is not installed (tools/install-deps.sh --test)");
  }
  if (rc != 0) return absl::FailedPreconditionError(absl::StrCat("promtool: ", output));
  return absl::OkStatus();
}

std::optional<double> SeriesValue(const std::string& exposition, const std::string& series) {
  const std::string prefix = series + " ";
  for (std::size_t at = exposition.find(prefix); at != std::string::npos; at = exposition.find(prefix, at + 1)) {
    if (at == 0 || exposition[at - 1] == '\n') return std::stod(exposition.substr(at + prefix.size()));
  }
  return std::nullopt;
}

std::string MetricSeries(const std::string& exposition) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    const std::size_t value = line.rfind(' ');
    absl::StrAppend(&out, line.substr(0, value), "\n");
  }
  return out;
}

}  // namespace docket::testing
