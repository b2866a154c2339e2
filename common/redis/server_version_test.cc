#include "common/redis/server_version.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::redis {
namespace {

using ::testing::HasSubstr;

std::string Info(const std::string& version) {
  return "# Server\r\nredis_version:" + version + "\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\n";
}

TEST(ServerVersionTest, SevenAndNewerAreAccepted) {
  EXPECT_TRUE(CheckServerVersion(Info("7.0.15")).ok());
  EXPECT_TRUE(CheckServerVersion(Info("7.2.4")).ok());
  EXPECT_TRUE(CheckServerVersion(Info("8.0.0")).ok());
}

TEST(ServerVersionTest, OlderIsRefusedNamingTheVersionAndWhatNeedsIt) {
  absl::Status s = CheckServerVersion(Info("6.2.14"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("Redis 6.2.14 is too old"));
  EXPECT_THAT(s.message(), HasSubstr("7.0 or newer"));
  EXPECT_THAT(s.message(), HasSubstr("SET ... NX GET"));
  EXPECT_EQ(CheckServerVersion(Info("5.0.7")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ServerVersionTest, NoVersionIsNotFoundAndGarbageIsRefused) {
  EXPECT_EQ(CheckServerVersion("# Server\r\nredis_mode:standalone\r\n").code(), absl::StatusCode::kNotFound);
  absl::Status s = CheckServerVersion(Info("unknown"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("\"unknown\""));
}

}  // namespace
}  // namespace docket::redis
