#pragma once

// A counter sampled over time (a service's /metrics polled while a stage
// runs): when it reached a value, and how fast it grew in between, so a
// stage's rate is read from the service's own count, not from the client.

#include <optional>
#include <vector>

namespace docket::loadgen {

class ProgressSeries {
 public:
  struct Sample {
    double seconds = 0;  // since the stage started
    double value = 0;
  };

  // Samples must come in time order.
  void Add(double seconds, double value) { samples_.push_back({seconds, value}); }
  const std::vector<Sample>& samples() const { return samples_; }
  bool empty() const { return samples_.empty(); }

  // The first sample time at which the value was >= `value` (what a poller
  // saw: at most one poll interval late); nullopt if never.
  std::optional<double> FirstReached(double value) const;
  // When the value crossed `value`, interpolated linearly between the two
  // samples around the crossing; nullopt if it never got there.
  std::optional<double> Crossed(double value) const;
  // (hi - lo) / (Crossed(hi) - Crossed(lo)): the rate between two levels,
  // e.g. 25 % and 75 % of the work, away from start-up and tail effects.
  std::optional<double> RateBetween(double lo, double hi) const;

 private:
  std::vector<Sample> samples_;
};

}  // namespace docket::loadgen
