#include "common/ids/uuid7.h"

#include <gtest/gtest.h>

#include <set>

namespace docket {
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

}  // namespace
}  // namespace docket
