#include <gtest/gtest.h>

#include "common/redis/redis_client.h"

namespace docket::redis {
namespace {

TEST(ScriptTest, Sha1IsTheLowercaseHexDigestRedisNamesTheScriptBy) {
  // Known SHA-1 vectors (FIPS 180 "abc"; `printf 'return 1' | sha1sum`).
  EXPECT_EQ(Script("abc").sha1(), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(Script("").sha1(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(ScriptTest, KeepsTheSourceForTheEvalFallback) {
  Script s("return redis.call('GET', KEYS[1])");
  EXPECT_EQ(s.source(), "return redis.call('GET', KEYS[1])");
  EXPECT_EQ(s.sha1().size(), 40u);
}

}  // namespace
}  // namespace docket::redis
