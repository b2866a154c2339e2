// Submit-to-routed matching: in either order, only items submitted in the
// measured window, each item once.

#include "tools/loadgen/src/routed_matcher.h"

#include <gtest/gtest.h>

namespace docket::loadgen {
namespace {

using namespace std::chrono_literals;
using Clock = RoutedMatcher::Clock;

TEST(RoutedMatcherTest, SubmitOkThenRoutedRecordsEachLatency) {
  RoutedMatcher m;
  const Clock::time_point t0{};
  m.Admitted("a", t0, 1000, true);
  EXPECT_EQ(m.matched(), 0u);
  m.Routed("a", t0 + 30ms, 1020, 25);
  EXPECT_EQ(m.matched(), 1u);
  EXPECT_EQ(m.routed_before_ok(), 0u);
  EXPECT_NEAR(m.consumed().max().count(), std::chrono::nanoseconds(30ms).count(), 30e6 / 128);
  EXPECT_NEAR(m.produced().max().count(), std::chrono::nanoseconds(20ms).count(), 20e6 / 128);
  EXPECT_NEAR(m.stamped().max().count(), std::chrono::nanoseconds(25ms).count(), 25e6 / 128);
  EXPECT_EQ(m.pending(), 0u);
}

TEST(RoutedMatcherTest, RoutedBeforeTheSubmitOkCountsAsZeroAndIsCounted) {
  RoutedMatcher m;
  const Clock::time_point t0{};
  m.Routed("b", t0, 990, 8);
  EXPECT_EQ(m.pending(), 1u);
  m.Admitted("b", t0 + 5ms, 1000, true);
  EXPECT_EQ(m.matched(), 1u);
  EXPECT_EQ(m.routed_before_ok(), 1u);
  EXPECT_EQ(m.consumed().max().count(), 0);
  EXPECT_EQ(m.produced().max().count(), 0);
}

TEST(RoutedMatcherTest, ItemsOutsideTheWindowAndStrangersAreNotRecorded) {
  RoutedMatcher m;
  const Clock::time_point t0{};
  m.Admitted("warmup", t0, 1000, false);
  m.Routed("warmup", t0 + 1ms, 1001, 1);
  m.Routed("someone-else", t0, 1000, 1);
  EXPECT_EQ(m.matched(), 0u);
  EXPECT_EQ(m.measured(), 0u);
  EXPECT_EQ(m.consumed().count(), 0u);
  EXPECT_EQ(m.pending(), 1u) << "a Routed of another client's item waits for nothing";
}

}  // namespace
}  // namespace docket::loadgen
