#include "tools/loadgen/src/routed_matcher.h"

namespace docket::loadgen {

void RoutedMatcher::Admitted(const std::string& id, Clock::time_point at, std::int64_t at_ms, bool measured) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[id];
  e.ok = at;
  e.ok_ms = at_ms;
  e.has_ok = true;
  e.measured = measured;
  if (measured) ++measured_;
  MaybeRecord(id, e);
}

void RoutedMatcher::Routed(const std::string& id, Clock::time_point seen, std::int64_t create_ms,
                           std::int64_t stamped_ms) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[id];
  e.seen = seen;
  e.create_ms = create_ms;
  e.stamped_ms = stamped_ms;
  e.has_seen = true;
  MaybeRecord(id, e);
}

std::uint64_t RoutedMatcher::measured() const {
  std::lock_guard lock(mu_);
  return measured_;
}

std::size_t RoutedMatcher::pending() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void RoutedMatcher::MaybeRecord(const std::string& id, Entry& e) {
  if (!e.has_ok || !e.has_seen) return;
  if (e.measured) {
    if (e.seen < e.ok) before_ok_.fetch_add(1);
    consumed_.Record(e.seen - e.ok);  // a negative duration counts as 0
    produced_.Record(std::chrono::milliseconds(e.create_ms - e.ok_ms));
    stamped_.Record(std::chrono::milliseconds(e.stamped_ms));
    matched_.fetch_add(1);
  }
  entries_.erase(id);
}

}  // namespace docket::loadgen
