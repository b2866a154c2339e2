#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics/metrics.h"

namespace docket::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A plain HTTP/1.0 GET over a loopback socket: the server closes at the end.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  timeval timeout{10, 0};  // a hung server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    ADD_FAILURE() << "connect to port " << port << " failed";
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[8192];
  for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, n);
  close(fd);
  return response;
}

TEST(MetricsServer, ServesMetricsOverHttpOnAnEphemeralPort) {
  MetricsRegistry registry({"intake", "", "itest"});
  prometheus::BuildCounter()
      .Name("docket_itest_events_total")
      .Help("Events.")
      .Register(registry.registry())
      .Add({})
      .Increment(2);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  const std::string response = HttpGet((*server)->port(), "/metrics");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("docket_build_info{revision=\"itest\",service=\"intake\""));
  EXPECT_THAT(response, HasSubstr("docket_itest_events_total 2"));
  EXPECT_THAT(response, HasSubstr("process_resident_memory_bytes "));
}

TEST(MetricsServer, PortInUseIsUnavailable) {
  MetricsRegistry registry({"intake", "", ""});
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second =
      MetricsServer::Start("127.0.0.1:" + std::to_string((*first)->port()), registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST(MetricsServer, AddressWithoutPortIsInvalidArgument) {
  MetricsRegistry registry({"intake", "", ""});
  EXPECT_EQ(MetricsServer::Start("localhost", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("127.0.0.1:http", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace docket::metrics
