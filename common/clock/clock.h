#pragma once

// Time is injected: anything that depends on "now" takes a Clock&, so SLA
// and window logic is tested with FakeClock instead of sleeping.

#include <atomic>
#include <chrono>

namespace docket {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  // Wall-clock time (for timestamps that leave the process).
  virtual TimePoint Now() const = 0;
  // Monotonic time (for timeouts and durations inside the process).
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// Simulated business time for demos and load runs: wall time runs `scale`
// times as fast from `sim_origin`, which coincides with the real instant
// `real_origin`. Every process given the same three values agrees on "now".
// Monotonic time stays real (timeouts are about the machine, not the day).
class ScaledClock final : public Clock {
 public:
  ScaledClock(TimePoint real_origin, TimePoint sim_origin, double scale)
      : real_origin_(real_origin), sim_origin_(sim_origin), scale_(scale) {}
  TimePoint Now() const override {
    const auto real = std::chrono::system_clock::now() - real_origin_;
    return sim_origin_ + std::chrono::duration_cast<TimePoint::duration>(
                             std::chrono::duration<double, TimePoint::period>(
                                 static_cast<double>(real.count()) * scale_));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }

 private:
  TimePoint real_origin_;
  TimePoint sim_origin_;
  double scale_;
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{}) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            TimePoint::duration(now_.load())));
  }
  void Advance(std::chrono::nanoseconds d) {
    now_ += std::chrono::duration_cast<TimePoint::duration>(d).count();
  }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::rep> now_;
};

}  // namespace docket
