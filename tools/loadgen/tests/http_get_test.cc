// The /metrics client's parsing: URLs and raw HTTP responses (no network).

#include "tools/loadgen/src/http_get.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::loadgen {
namespace {

using ::testing::HasSubstr;

TEST(HttpGetTest, ParsesHostPortAndPath) {
  auto u = ParseHttpUrl("http://127.0.0.1:9102/metrics");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9102);
  EXPECT_EQ(u->path, "/metrics");
  auto bare = ParseHttpUrl("http://localhost");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->port, 80);
  EXPECT_EQ(bare->path, "/");
}

TEST(HttpGetTest, RefusesWhatItCannotFetch) {
  EXPECT_THAT(std::string(ParseHttpUrl("https://x:1/m").status().message()), HasSubstr("expected http://"));
  EXPECT_THAT(std::string(ParseHttpUrl("http://x:99999/m").status().message()), HasSubstr("bad port"));
  EXPECT_THAT(std::string(ParseHttpUrl("http://:80/m").status().message()), HasSubstr("no host"));
}

TEST(HttpGetTest, ReturnsTheBodyOfA200AndRefusesOtherStatuses) {
  auto body = HttpResponseBody("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nmetric 1\n");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "metric 1\n");
  EXPECT_EQ(HttpResponseBody("HTTP/1.0 404 Not Found\r\n\r\n").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(HttpResponseBody("garbage").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpResponseBody("HTTP/1.1 200 OK\r\nno end of head").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace docket::loadgen
