#pragma once

// Shared by the Redis client itests (plaintext and TLS).

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "common/redis/redis_client.h"

namespace docket::redis::testutil {

// Two 8 MiB SETs into a connection whose Redis went away: UNAVAILABLE, and no
// SIGPIPE raised (the test process would die of it) or left pending.
inline void ExpectABigWriteToAGoneRedisIsUnavailableNotSigpipe(RedisClient& client) {
  const std::string big(8 << 20, 'x');
  auto r = client.Pipeline({{"SET", "big1", big}, {"SET", "big2", big}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  sigset_t pending;
  sigemptyset(&pending);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "a SIGPIPE was left pending";
}

}  // namespace docket::redis::testutil
