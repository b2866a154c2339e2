#include <gtest/gtest.h>

#include <set>

#include "services/intake/src/ids.h"
#include "services/intake/src/rate_limiter.h"

namespace docket::intake {
namespace {

using namespace std::chrono_literals;

TEST(UuidV7Test, IdsAreVersion7AndStrictlyIncreasingWithinOneMillisecond) {
  FakeClock clock(Clock::TimePoint(1'700'000'000'000ms));
  UuidV7Generator gen(clock);
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) {  // far more than 4096: the counter must roll into the next ms
    std::string id = gen.Next();
    ASSERT_TRUE(IsUuidV7(id)) << id;
    ASSERT_GT(id, prev);
    seen.insert(id);
    prev = id;
  }
  EXPECT_EQ(seen.size(), 10'000u);
}

TEST(UuidV7Test, TimestampPrefixIsTheUnixMillisecond) {
  FakeClock clock(Clock::TimePoint(0x0190'1234'5678ms));
  UuidV7Generator gen(clock);
  EXPECT_EQ(gen.Next().substr(0, 13), "01901234-5678");
}

TEST(UuidV7Test, ClockSteppingBackDoesNotBreakOrdering) {
  FakeClock clock(Clock::TimePoint(1'700'000'000'000ms));
  UuidV7Generator gen(clock);
  std::string a = gen.Next();
  clock.Set(Clock::TimePoint(1'699'999'999'000ms));
  EXPECT_GT(gen.Next(), a);
}

TEST(UuidV7Test, IsUuidV7RejectsOtherShapes) {
  EXPECT_FALSE(IsUuidV7("not-a-uuid"));
  EXPECT_FALSE(IsUuidV7("01901234-5678-4abc-8def-0123456789ab"));  // version 4
  EXPECT_FALSE(IsUuidV7("01901234-5678-7abc-cdef-0123456789ab"));  // wrong variant
  EXPECT_TRUE(IsUuidV7("01901234-5678-7abc-8def-0123456789ab"));
}

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
