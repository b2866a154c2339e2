// When a sampled counter reached a level, and its rate between two levels.

#include "tools/loadgen/src/progress_series.h"

#include <gtest/gtest.h>

namespace docket::loadgen {
namespace {

ProgressSeries Steps() {
  ProgressSeries s;
  s.Add(0.0, 0);
  s.Add(1.0, 100);
  s.Add(2.0, 300);
  s.Add(3.0, 300);  // a stall
  s.Add(4.0, 1000);
  return s;
}

TEST(ProgressSeriesTest, FirstReachedIsTheSampleThatSawTheLevel) {
  const ProgressSeries s = Steps();
  EXPECT_EQ(s.FirstReached(0), 0.0);
  EXPECT_EQ(s.FirstReached(150), 2.0);
  EXPECT_EQ(s.FirstReached(300), 2.0);
  EXPECT_EQ(s.FirstReached(1000), 4.0);
  EXPECT_FALSE(s.FirstReached(1001).has_value());
}

TEST(ProgressSeriesTest, CrossedInterpolatesBetweenTheSamplesAroundTheLevel) {
  const ProgressSeries s = Steps();
  EXPECT_DOUBLE_EQ(*s.Crossed(50), 0.5);
  EXPECT_DOUBLE_EQ(*s.Crossed(200), 1.5);
  EXPECT_DOUBLE_EQ(*s.Crossed(650), 3.5) << "after the stall";
  EXPECT_FALSE(s.Crossed(2000).has_value());
}

TEST(ProgressSeriesTest, RateBetweenTwoLevels) {
  const ProgressSeries s = Steps();
  EXPECT_DOUBLE_EQ(*s.RateBetween(0, 100), 100);
  // 200 -> 650: 1.5 s .. 3.5 s, the stall included.
  EXPECT_DOUBLE_EQ(*s.RateBetween(200, 650), 225);
  EXPECT_FALSE(s.RateBetween(100, 5000).has_value());
  EXPECT_FALSE(s.RateBetween(300, 100).has_value());
  EXPECT_FALSE(ProgressSeries().RateBetween(0, 1).has_value());
}

}  // namespace
}  // namespace docket::loadgen
