#pragma once

// Per-tenant token buckets: a tenant may submit `rate` items per second on
// average with bursts up to `burst`. Per replica (the HPA scales replicas, so
// the configured rate is per replica; docs/operations.md says so).

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "common/clock/clock.h"

namespace docket::intake {

struct RateLimit {
  double per_second = 0;  // 0 = unlimited
  double burst = 0;
};

class RateLimiter {
 public:
  RateLimiter(const Clock& clock, std::map<std::string, RateLimit> limits)
      : clock_(clock), limits_(std::move(limits)) {}

  // Takes `n` tokens from the tenant's bucket. Returns zero if allowed, else
  // how long to wait until `n` tokens will be there (the retry hint).
  // Thread-safe.
  std::chrono::milliseconds Acquire(const std::string& tenant, int n = 1);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled;
    bool initialised = false;
  };
  const Clock& clock_;
  std::map<std::string, RateLimit> limits_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace docket::intake
