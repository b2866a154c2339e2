#include "services/intake/src/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace docket::intake {

std::chrono::milliseconds RateLimiter::Acquire(const std::string& tenant, int n) {
  auto limit = limits_.find(tenant);
  if (limit == limits_.end()) limit = limits_.find("*");
  if (limit == limits_.end() || limit->second.per_second <= 0) return std::chrono::milliseconds(0);
  const RateLimit& rl = limit->second;
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  Bucket& b = buckets_[tenant];
  if (!b.initialised) {
    b.tokens = rl.burst;
    b.refilled = now;
    b.initialised = true;
  }
  const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  b.tokens = std::min(rl.burst, b.tokens + std::max(0.0, elapsed) * rl.per_second);
  b.refilled = now;
  if (b.tokens >= n) {
    b.tokens -= n;
    return std::chrono::milliseconds(0);
  }
  const double missing = n - b.tokens;
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(std::ceil(missing / rl.per_second * 1000.0)));
}

}  // namespace docket::intake
