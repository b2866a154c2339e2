#pragma once

// A latency histogram with log-linear buckets (HdrHistogram's layout): exact
// below 128 ns, then 128 buckets per power of two, so any recorded value is
// known to within 1/128 (< 0.8 %) of itself. Fixed memory (~58 KB), no
// allocation while recording.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace docket::loadgen {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBucketBits;  // 128
  static constexpr std::size_t kBuckets = (64 - kSubBucketBits + 1) * kSubBuckets;

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Thread-safe and lock-free; a negative duration counts as 0.
  void Record(std::chrono::nanoseconds latency);
  // Adds every sample of `other` (which must not be recording meanwhile).
  void Merge(const LatencyHistogram& other);
  // Forgets every sample (not while another thread records).
  void Reset();

  std::uint64_t count() const;
  std::chrono::nanoseconds min() const;  // 0 when empty
  std::chrono::nanoseconds max() const;  // 0 when empty
  std::chrono::nanoseconds mean() const;  // exact (from the running sum); 0 when empty
  // The value below or at which `percent` % of the samples lie (nearest rank),
  // as the midpoint of its bucket clamped to [min, max]; 0 when empty.
  // Percentile(0) is min(), Percentile(100) is max().
  std::chrono::nanoseconds Percentile(double percent) const;

  // The bucket layout, exposed for tests.
  static std::size_t BucketOf(std::uint64_t nanos);
  static std::uint64_t BucketLow(std::size_t bucket);    // smallest value in it
  static std::uint64_t BucketWidth(std::size_t bucket);  // how many values it holds

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> counts_{};
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{UINT64_MAX};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace docket::loadgen
