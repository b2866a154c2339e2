// The statistics behind docket-loadgen's figures: bucket layout, percentiles
// (nearest rank, within the histogram's 1/128 resolution), merge, reset.

#include "tools/loadgen/src/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

#include "tools/loadgen/src/load_driver.h"

namespace docket::loadgen {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// Within the histogram's resolution of `expected`.
void ExpectNear(nanoseconds actual, nanoseconds expected) {
  const double tolerance = static_cast<double>(expected.count()) / LatencyHistogram::kSubBuckets + 1;
  EXPECT_NEAR(static_cast<double>(actual.count()), static_cast<double>(expected.count()), tolerance);
}

TEST(LatencyHistogramTest, BucketsAreContiguousAndEachValueFallsInItsOwn) {
  for (std::size_t b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
    ASSERT_EQ(LatencyHistogram::BucketLow(b) + LatencyHistogram::BucketWidth(b),
              LatencyHistogram::BucketLow(b + 1))
        << "bucket " << b;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const std::size_t b = LatencyHistogram::BucketOf(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    ASSERT_GE(v, LatencyHistogram::BucketLow(b)) << v;
    ASSERT_LT(v - LatencyHistogram::BucketLow(b), LatencyHistogram::BucketWidth(b)) << v;
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(UINT64_MAX), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogramTest, BucketWidthIsAtMostOne128thOfItsValues) {
  for (std::size_t b = LatencyHistogram::kSubBuckets; b < LatencyHistogram::kBuckets; ++b) {
    ASSERT_LE(LatencyHistogram::BucketWidth(b) * LatencyHistogram::kSubBuckets,
              LatencyHistogram::BucketLow(b))
        << "bucket " << b;
  }
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), nanoseconds(0));
  EXPECT_EQ(h.Percentile(99), nanoseconds(0));
  EXPECT_EQ(h.min(), nanoseconds(0));
  EXPECT_EQ(h.max(), nanoseconds(0));
  EXPECT_EQ(h.mean(), nanoseconds(0));
}

TEST(LatencyHistogramTest, PercentilesOfUniformSamplesAreTheNearestRanks) {
  LatencyHistogram h;
  // 1..10000 us, shuffled: the p-th percentile is p * 100 us by nearest rank.
  std::vector<int> us(10000);
  for (int i = 0; i < 10000; ++i) us[i] = i + 1;
  std::shuffle(us.begin(), us.end(), std::mt19937(1));
  for (int v : us) h.Record(microseconds(v));
  EXPECT_EQ(h.count(), 10000u);
  ExpectNear(h.Percentile(50), microseconds(5000));
  ExpectNear(h.Percentile(90), microseconds(9000));
  ExpectNear(h.Percentile(99), microseconds(9900));
  ExpectNear(h.Percentile(99.9), microseconds(9990));
  EXPECT_EQ(h.Percentile(0), microseconds(1));
  EXPECT_EQ(h.Percentile(100), microseconds(10000));
  EXPECT_EQ(h.min(), microseconds(1));
  EXPECT_EQ(h.max(), microseconds(10000));
  EXPECT_EQ(h.mean(), nanoseconds(5000500));  // exact: from the running sum
}

TEST(LatencyHistogramTest, P99SeesATailOfOnePercent) {
  LatencyHistogram h;
  for (int i = 0; i < 980; ++i) h.Record(milliseconds(1));
  for (int i = 0; i < 20; ++i) h.Record(milliseconds(40));
  ExpectNear(h.Percentile(50), milliseconds(1));
  ExpectNear(h.Percentile(98), milliseconds(1));   // rank 980: the last fast one
  ExpectNear(h.Percentile(98.1), milliseconds(40));  // rank 981: the first slow one
  ExpectNear(h.Percentile(99), milliseconds(40));
}

TEST(LatencyHistogramTest, PercentileStaysWithinMinAndMax) {
  LatencyHistogram h;
  h.Record(nanoseconds(1000003));  // a bucket wider than 1 ns: its midpoint is not a sample
  EXPECT_EQ(h.Percentile(50), nanoseconds(1000003));
  EXPECT_EQ(h.Percentile(99), nanoseconds(1000003));
}

TEST(LatencyHistogramTest, ExactBelow128Nanoseconds) {
  LatencyHistogram h;
  for (int v = 0; v < 100; ++v) h.Record(nanoseconds(v));
  EXPECT_EQ(h.Percentile(50), nanoseconds(49));
  EXPECT_EQ(h.Percentile(1), nanoseconds(0));
}

TEST(LatencyHistogramTest, NegativeDurationCountsAsZero) {
  LatencyHistogram h;
  h.Record(nanoseconds(-5));
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.min(), nanoseconds(0));
}

TEST(LatencyHistogramTest, MergeAddsSamplesAndKeepsExtremes) {
  LatencyHistogram a, b;
  for (int i = 0; i < 100; ++i) a.Record(milliseconds(2));
  for (int i = 0; i < 300; ++i) b.Record(milliseconds(8));
  b.Record(microseconds(500));
  a.Merge(b);
  EXPECT_EQ(a.count(), 401u);
  EXPECT_EQ(a.min(), microseconds(500));
  EXPECT_EQ(a.max(), milliseconds(8));
  ExpectNear(a.Percentile(25), milliseconds(2));
  ExpectNear(a.Percentile(50), milliseconds(8));
}

TEST(LatencyHistogramTest, ResetForgetsEverything) {
  LatencyHistogram h;
  h.Record(milliseconds(3));
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(99), nanoseconds(0));
  h.Record(milliseconds(1));
  EXPECT_EQ(h.min(), milliseconds(1));
}

TEST(LatencyHistogramTest, ConcurrentRecordsAreAllCounted) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 25000; ++i) h.Record(microseconds(100 * (t + 1)));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), microseconds(100));
  EXPECT_EQ(h.max(), microseconds(400));
  ExpectNear(h.Percentile(50), microseconds(200));
}

TEST(LatencyHistogramTest, SummarizeReportsTheStandardPercentiles) {
  LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.Record(microseconds(i));
  const LatencySummary s = Summarize(h);
  ExpectNear(s.p50, microseconds(500));
  ExpectNear(s.p90, microseconds(900));
  ExpectNear(s.p99, microseconds(990));
  ExpectNear(s.p999, microseconds(999));
  EXPECT_EQ(s.max, microseconds(1000));
  EXPECT_EQ(s.mean, nanoseconds(500500));
}

}  // namespace
}  // namespace docket::loadgen
