#pragma once

// Submit-to-routed latency: item ids admitted by Submit and seen in a Routed
// event on docket.work.v1, matched in either order (processing may route an
// item before its Submit OK reaches the client). Thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tools/loadgen/src/latency_histogram.h"

namespace docket::loadgen {

class RoutedMatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // Submit answered OK at `at` (wall clock `at_ms`); only `measured` items
  // (submitted inside the window) are recorded.
  void Admitted(const std::string& id, Clock::time_point at, std::int64_t at_ms, bool measured);
  // The item's Routed record was read at `seen`; `create_ms` is the record's
  // CreateTime, `stamped_ms` the event's own time minus its submitted_at.
  void Routed(const std::string& id, Clock::time_point seen, std::int64_t create_ms, std::int64_t stamped_ms);

  std::uint64_t measured() const;  // measured items admitted so far
  std::uint64_t matched() const { return matched_.load(); }
  std::uint64_t routed_before_ok() const { return before_ok_.load(); }
  std::size_t pending() const;  // seen on one side only
  // Submit OK -> Routed read back (steady clock; 0 when Routed came first).
  const LatencyHistogram& consumed() const { return consumed_; }
  // Submit OK -> the Routed record's CreateTime (wall clock, ms).
  const LatencyHistogram& produced() const { return produced_; }
  // The Routed event's time minus its submitted_at (the services' clocks).
  const LatencyHistogram& stamped() const { return stamped_; }

 private:
  struct Entry {
    bool has_ok = false, has_seen = false, measured = false;
    Clock::time_point ok, seen;
    std::int64_t ok_ms = 0, create_ms = 0, stamped_ms = 0;
  };
  void MaybeRecord(const std::string& id, Entry& e);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t measured_ = 0;
  std::atomic<std::uint64_t> matched_{0}, before_ok_{0};
  LatencyHistogram consumed_, produced_, stamped_;
};

}  // namespace docket::loadgen
