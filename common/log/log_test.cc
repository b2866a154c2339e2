#include "common/log/log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace docket::log {
namespace {

TEST(LogTest, FormatLineIsOneJsonObjectWithLevelLoggerAndFields) {
  std::string line = FormatLine(Level::kWarn, "intake", "slow", {{"tenant", "acme"}, {"n", 3}},
                                1700000000123456);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["logger"], "intake");
  EXPECT_EQ(j["msg"], "slow");
  EXPECT_EQ(j["tenant"], "acme");
  EXPECT_EQ(j["n"], 3);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogTest, SecretFieldsAreRedacted) {
  std::string line = FormatLine(Level::kInfo, "x", "m",
                                {{"api_key", "s3cr3t"}, {"Authorization", "Bearer abc"},
                                 {"redis_password", "pw"}}, 0);
  EXPECT_EQ(line.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(line.find("abc"), std::string::npos);
  EXPECT_EQ(line.find("\"pw\""), std::string::npos);
  EXPECT_NE(line.find("[redacted]"), std::string::npos);
}

TEST(LogTest, UrlPasswordsAreMaskedInAnyStringField) {
  EXPECT_EQ(RedactUrl("redis://:hunter2@10.0.0.1:6379/0"), "redis://:***@10.0.0.1:6379/0");
  EXPECT_EQ(RedactUrl("redis://user:hunter2@h:1"), "redis://user:***@h:1");
  EXPECT_EQ(RedactUrl("redis://h:1/0"), "redis://h:1/0");
  EXPECT_EQ(RedactUrl("no url here"), "no url here");
  std::string line = FormatLine(Level::kInfo, "x", "m", {{"redis", "redis://:hunter2@h:1"}}, 0);
  EXPECT_EQ(line.find("hunter2"), std::string::npos);
}

TEST(LogTest, InvalidUtf8DoesNotThrow) {
  std::string bad = "a\xff\xfe" "b";
  EXPECT_NO_THROW(FormatLine(Level::kInfo, "x", bad, {{"f", bad}}, 0));
}

TEST(LogTest, ParseLevelAcceptsKnownNamesAndFlagsUnknown) {
  bool ok = false;
  EXPECT_EQ(ParseLevel("DEBUG", &ok), Level::kDebug);
  EXPECT_TRUE(ok);
  EXPECT_EQ(ParseLevel("warning", &ok), Level::kWarn);
  EXPECT_EQ(ParseLevel("verbose", &ok), Level::kInfo);
  EXPECT_FALSE(ok);
}

}  // namespace
}  // namespace docket::log
