#include "services/processing/src/urgency.h"

#include <algorithm>

namespace docket::processing {

using std::chrono::hours;
using std::chrono::milliseconds;

namespace {
v1::Priority Normalize(v1::Priority p) {
  return (p >= v1::PRIORITY_LOW && p <= v1::PRIORITY_URGENT) ? p : v1::PRIORITY_NORMAL;
}
}  // namespace

milliseconds PriorityLead(v1::Priority priority) {
  switch (Normalize(priority)) {
    case v1::PRIORITY_URGENT: return hours(8);
    case v1::PRIORITY_HIGH: return hours(4);
    case v1::PRIORITY_LOW: return hours(-4);
    default: return hours(0);
  }
}

double UrgencyScore(v1::Priority priority, Clock::TimePoint due) {
  const milliseconds due_ms = std::chrono::floor<milliseconds>(due.time_since_epoch());
  return static_cast<double>((due_ms - PriorityLead(priority)).count());
}

v1::Priority BumpPriority(v1::Priority priority, int classes) {
  const int p = Normalize(priority) + std::clamp(classes, 0, int{v1::PRIORITY_URGENT});
  return static_cast<v1::Priority>(std::min<int>(p, v1::PRIORITY_URGENT));
}

}  // namespace docket::processing
