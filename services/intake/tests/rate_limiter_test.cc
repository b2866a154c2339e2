#include <gtest/gtest.h>

#include "services/intake/src/rate_limiter.h"

namespace docket::intake {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiterTest, BurstIsAllowedThenRefusedWithAnExactRetryHint) {
  FakeClock clock;
  RateLimiter rl(clock, {{"acme", {10, 5}}});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rl.Acquire("acme"), 0ms) << i;
  EXPECT_EQ(rl.Acquire("acme"), 100ms);  // one token at 10/s
  clock.Advance(100ms);
  EXPECT_EQ(rl.Acquire("acme"), 0ms);
  EXPECT_EQ(rl.Acquire("acme", 3), 300ms);
}

TEST(RateLimiterTest, RefillIsCappedAtBurst) {
  FakeClock clock;
  RateLimiter rl(clock, {{"acme", {10, 2}}});
  clock.Advance(1h);
  EXPECT_EQ(rl.Acquire("acme", 2), 0ms);
  EXPECT_GT(rl.Acquire("acme"), 0ms);
}

TEST(RateLimiterTest, TenantsAreIndependentAndUnconfiguredTenantsUnlimited) {
  FakeClock clock;
  RateLimiter rl(clock, {{"acme", {1, 1}}, {"globex", {1, 1}}});
  EXPECT_EQ(rl.Acquire("acme"), 0ms);
  EXPECT_GT(rl.Acquire("acme"), 0ms);
  EXPECT_EQ(rl.Acquire("globex"), 0ms);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(rl.Acquire("initech"), 0ms);
}

TEST(RateLimiterTest, StarLimitAppliesToEachUnlistedTenantInItsOwnBucket) {
  FakeClock clock;
  RateLimiter rl(clock, {{"*", {1, 1}}, {"acme", {100, 100}}});
  EXPECT_EQ(rl.Acquire("globex"), 0ms);
  EXPECT_EQ(rl.Acquire("globex"), 1000ms);
  EXPECT_EQ(rl.Acquire("initech"), 0ms);  // not sharing globex's bucket
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rl.Acquire("acme"), 0ms) << i;
}

}  // namespace
}  // namespace docket::intake
