#include <gtest/gtest.h>

#include <string>

#include "common/redis/redis_client.h"

namespace docket::redis {
namespace {

TEST(ParseRedisUrlTest, HostOnlyUsesDefaultPortAndDbZeroWithoutCredentials) {
  auto o = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "cache.internal");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
  EXPECT_EQ(o->username, "");
  EXPECT_EQ(o->password, "");
}

TEST(ParseRedisUrlTest, PortAndDbAreRead) {
  auto o = ParseRedisUrl("redis://10.0.0.7:6380/3");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "10.0.0.7");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 3);
}

TEST(ParseRedisUrlTest, TrailingSlashMeansDbZero) {
  auto o = ParseRedisUrl("redis://h:1/");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->db, 0);
}

TEST(ParseRedisUrlTest, PasswordWithoutUserIsTheDefaultUsersPassword) {
  auto o = ParseRedisUrl("redis://:s3cret@h:6379/0");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->username, "");
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_EQ(o->host, "h");
}

TEST(ParseRedisUrlTest, UserAndPasswordForAnAclUser) {
  auto o = ParseRedisUrl("redis://docket:pw@h");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->username, "docket");
  EXPECT_EQ(o->password, "pw");
}

TEST(ParseRedisUrlTest, PasswordIsPercentDecoded) {
  auto o = ParseRedisUrl("redis://:p%40ss%3Aw%2Fo%25rd@h:1/2");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->password, "p@ss:w/o%rd");
  EXPECT_EQ(o->host, "h");
  EXPECT_EQ(o->port, 1);
  EXPECT_EQ(o->db, 2);
}

TEST(ParseRedisUrlTest, UnescapedAtColonAndSlashInPasswordStillParse) {
  // The last '@' ends the userinfo, so a careless password does not turn
  // into a host.
  auto o = ParseRedisUrl("redis://:a@b:c/d@h:7/1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->password, "a@b:c/d");
  EXPECT_EQ(o->host, "h");
  EXPECT_EQ(o->port, 7);
  EXPECT_EQ(o->db, 1);
}

TEST(ParseRedisUrlTest, BracketedIpv6HostWithPort) {
  auto o = ParseRedisUrl("redis://[::1]:6390/4");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->db, 4);
}

TEST(ParseRedisUrlTest, SchemeIsCaseInsensitive) {
  EXPECT_TRUE(ParseRedisUrl("REDIS://h").ok());
}

// Expects INVALID_ARGUMENT whose message contains `mentions`.
void ExpectInvalid(const std::string& url, const std::string& mentions) {
  auto o = ParseRedisUrl(url);
  ASSERT_FALSE(o.ok()) << url;
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << url;
  EXPECT_NE(std::string(o.status().message()).find(mentions), std::string::npos)
      << url << " -> " << o.status().message();
}

TEST(ParseRedisUrlTest, TheTlsSchemeTurnsTlsOnAndThePlainOneLeavesItOff) {
  auto tls = ParseRedisUrl("rediss://:pw@cache.example.net:6380/2");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->host, "cache.example.net");
  EXPECT_EQ(tls->port, 6380);
  EXPECT_EQ(tls->db, 2);
  EXPECT_EQ(tls->password, "pw");
  EXPECT_TRUE(ParseRedisUrl("REDISS://h")->tls);
  EXPECT_FALSE(ParseRedisUrl("redis://h")->tls);
}

TEST(ParseRedisUrlTest, InvalidUrlsNameTheBadPart) {
  ExpectInvalid("localhost:6379", "missing scheme");
  ExpectInvalid("http://h", "unsupported scheme 'http'");
  ExpectInvalid("redis://", "missing host");
  ExpectInvalid("redis://:6379", "missing host");
  ExpectInvalid("redis://h:abc", "invalid port 'abc'");
  ExpectInvalid("redis://h:0", "invalid port '0'");
  ExpectInvalid("redis://h:65536", "invalid port '65536'");
  ExpectInvalid("redis://h:", "invalid port ''");
  ExpectInvalid("redis://h:-1", "invalid port '-1'");
  ExpectInvalid("redis://h/x", "invalid db 'x'");
  ExpectInvalid("redis://h/-1", "invalid db '-1'");
  ExpectInvalid("redis://h/99999999999", "invalid db");
  ExpectInvalid("redis://h?timeout=1", "query");
  ExpectInvalid("redis://::1:6379", "[brackets]");
  ExpectInvalid("redis://[::1", "without ']'");
  ExpectInvalid("redis://h st", "invalid character in host");
  ExpectInvalid("redis://user:@h", "password is empty");
}

TEST(ParseRedisUrlTest, ErrorsNeverEchoThePassword) {
  const std::string secret = "Hunter2Secret";
  const std::string urls[] = {
      "redis://:" + secret + "@h:notaport",
      "redis://:" + secret + "@h/notadb",
      "redis://:" + secret + "@",
      "redis://" + secret + "@h",                 // userinfo without ':'
      "redis://:" + secret + "%zz@h",             // bad escape in the password
      "redis://:" + secret + "%4@h",              // truncated escape
      "redis://u%G1:" + secret + "@h",            // bad escape in the user
      "rediss://:" + secret + "@h:notaport",
      ":" + secret + "://x@h",                    // a "scheme" made of the password
      "redis://:" + secret + "@h?x=" + secret,    // not even in a query
  };
  for (const std::string& url : urls) {
    auto o = ParseRedisUrl(url);
    ASSERT_FALSE(o.ok()) << "expected an error for a malformed url";
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(o.status().ToString().find(secret), std::string::npos)
        << "password echoed in: " << o.status().ToString();
  }
}

TEST(ParseRedisUrlTest, BadPercentEscapeSaysWhichPartWithoutQuotingIt) {
  auto o = ParseRedisUrl("redis://:ab%zzcd@h");
  ASSERT_FALSE(o.ok());
  const std::string message(o.status().message());
  EXPECT_NE(message.find("password has an invalid percent-escape"), std::string::npos) << message;
  EXPECT_EQ(message.find("ab%zz"), std::string::npos);
}

TEST(MakeRedisClientTest, RejectsOptionsThatCannotWork) {
  RedisOptions o;
  o.pool_size = 0;
  EXPECT_EQ(MakeRedisClient(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  o = RedisOptions{};
  o.command_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(MakeRedisClient(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  o = RedisOptions{};
  o.backoff_max = std::chrono::milliseconds(1);
  EXPECT_EQ(MakeRedisClient(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  o = RedisOptions{};
  o.username = "u";
  EXPECT_EQ(MakeRedisClient(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MakeRedisClientTest, SucceedsWithoutARedisBecauseItConnectsLazily) {
  RedisOptions o;
  o.port = 1;  // nothing listens there
  auto client = MakeRedisClient(o, nullptr);
  ASSERT_TRUE(client.ok()) << client.status();
}

TEST(MakeRedisClientTest, EmptyCommandIsInvalidArgumentWithoutTouchingTheNetwork) {
  RedisOptions o;
  o.port = 1;
  auto client = MakeRedisClient(o, nullptr);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Command({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Pipeline({{"PING"}, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto empty = (*client)->Pipeline({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(MakeRedisClientTest, CommandsThatWouldChangeAPooledConnectionAreRefused) {
  RedisOptions o;
  o.port = 1;  // refused before any network use
  auto client = MakeRedisClient(o, nullptr);
  ASSERT_TRUE(client.ok());
  RedisClient& c = **client;
  for (const char* verb : {"SELECT", "select", "MULTI", "EXEC", "WATCH", "SUBSCRIBE", "AUTH",
                           "HELLO", "MONITOR", "RESET", "QUIT"}) {
    auto r = c.Command({verb, "1"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << verb;
  }
  EXPECT_EQ(c.Pipeline({{"MULTI"}, {"INCR", "n"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Pipeline({{"SELECT", "2"}, {"GET", "k"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Pipeline({{"WATCH", "k"}, {"MULTI"}, {"EXEC"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Pipeline({{"MULTI"}, {"MULTI"}, {"EXEC"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Pipeline({{"EXEC"}}).status().code(), absl::StatusCode::kInvalidArgument);
  // (A closed MULTI..EXEC in one pipeline is allowed: see redis_client_itest.)
}

}  // namespace
}  // namespace docket::redis
