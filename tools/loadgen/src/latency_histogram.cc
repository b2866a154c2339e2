#include "tools/loadgen/src/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace docket::loadgen {

std::size_t LatencyHistogram::BucketOf(std::uint64_t v) {
  if (v < kSubBuckets) return static_cast<std::size_t>(v);
  const int exponent = 63 - std::countl_zero(v);       // >= kSubBucketBits
  const int shift = exponent - kSubBucketBits;           // >= 0
  const std::uint64_t sub = v >> shift;                  // in [128, 256)
  return static_cast<std::size_t>(shift + 1) * kSubBuckets + static_cast<std::size_t>(sub - kSubBuckets);
}

std::uint64_t LatencyHistogram::BucketLow(std::size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const std::size_t shift = bucket / kSubBuckets - 1;
  const std::uint64_t sub = kSubBuckets + bucket % kSubBuckets;
  return sub << shift;
}

std::uint64_t LatencyHistogram::BucketWidth(std::size_t bucket) {
  if (bucket < kSubBuckets) return 1;
  return std::uint64_t{1} << (bucket / kSubBuckets - 1);
}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  const std::uint64_t v = latency.count() > 0 ? static_cast<std::uint64_t>(latency.count()) : 0;
  counts_[BucketOf(v)].fetch_add(1, std::memory_order_relaxed);
  total_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  std::uint64_t lo = min_.load(std::memory_order_relaxed);
  while (v < lo && !min_.compare_exchange_weak(lo, v, std::memory_order_relaxed)) {
  }
  std::uint64_t hi = max_.load(std::memory_order_relaxed);
  while (v > hi && !max_.compare_exchange_weak(hi, v, std::memory_order_relaxed)) {
  }
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) {
    const std::uint64_t n = other.counts_[i].load(std::memory_order_relaxed);
    if (n) counts_[i].fetch_add(n, std::memory_order_relaxed);
  }
  total_.fetch_add(other.total_.load(), std::memory_order_relaxed);
  sum_.fetch_add(other.sum_.load(), std::memory_order_relaxed);
  min_.store(std::min(min_.load(), other.min_.load()));
  max_.store(std::max(max_.load(), other.max_.load()));
}

void LatencyHistogram::Reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  total_.store(0);
  sum_.store(0);
  min_.store(UINT64_MAX);
  max_.store(0);
}

std::uint64_t LatencyHistogram::count() const { return total_.load(); }

std::chrono::nanoseconds LatencyHistogram::min() const {
  return std::chrono::nanoseconds(count() ? min_.load() : 0);
}

std::chrono::nanoseconds LatencyHistogram::max() const {
  return std::chrono::nanoseconds(max_.load());
}

std::chrono::nanoseconds LatencyHistogram::mean() const {
  const std::uint64_t n = count();
  return std::chrono::nanoseconds(n ? sum_.load() / n : 0);
}

std::chrono::nanoseconds LatencyHistogram::Percentile(double percent) const {
  const std::uint64_t n = count();
  if (n == 0) return std::chrono::nanoseconds(0);
  const double p = std::clamp(percent, 0.0, 100.0);
  if (p == 0.0) return min();
  if (p == 100.0) return max();
  // Nearest rank: the smallest sample with at least p % of the samples at or below it.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) {
      const std::uint64_t mid = BucketLow(i) + (BucketWidth(i) - 1) / 2;
      return std::chrono::nanoseconds(
          std::clamp<std::uint64_t>(mid, min_.load(), max_.load()));
    }
  }
  return max();
}

}  // namespace docket::loadgen
