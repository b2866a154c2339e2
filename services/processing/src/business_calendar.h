#pragma once

// Business calendars: SLA budgets count only working time.
//
// A calendar's working windows are, for every local date that is one of its
// weekdays and not one of its holidays, [start, end) in local civil time of
// its IANA time zone. Window bounds are converted to instants with absl, so a
// DST change moves the instants (09:00 is 08:00Z in winter and 07:00Z in
// summer in Berlin) and budgets are then consumed in real elapsed time inside
// each window. A window that itself contains a DST change (say 00:00-24:00 on
// the last Sunday of March) is as long as the real time it spans (23 h).
//
// A queue without a calendar is 24x7: budgets are plain wall time.
//
// All methods are const and thread-safe. Work is O(days spanned): one step per
// local date, never per minute; beyond kMaxScanDays a remaining budget is
// counted as wall time so that absurd inputs stay cheap and defined.

#include <chrono>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"

namespace docket::processing {

class BusinessCalendar {
 public:
  // Ten years of local dates: far beyond any sane SLA.
  static constexpr int kMaxScanDays = 3660;

  // Always open; budgets are wall time.
  static BusinessCalendar TwentyFourSeven();

  // INVALID_ARGUMENT for an unknown time zone, empty or out-of-range
  // weekdays, end not after start, or a holiday that is not YYYY-MM-DD.
  static absl::StatusOr<BusinessCalendar> Create(const catalog::Calendar& calendar);

  // The calendar of `queue` (24x7 when it names none); NOT_FOUND when it
  // names a calendar the catalog does not have.
  static absl::StatusOr<BusinessCalendar> ForQueue(const catalog::Catalog& catalog,
                                                   const catalog::Queue& queue);

  bool always_open() const { return always_open_; }
  const std::string& name() const { return name_; }

  // The instant at which `budget` of working time after `start` is used up:
  // the due time of an SLA. Outside working hours the clock starts at the
  // next window. A budget that ends exactly at a window's end is due at that
  // end (Friday 17:00, not Monday 09:00). A budget <= 0 is due at `start`.
  Clock::TimePoint AddBusinessTime(Clock::TimePoint start, std::chrono::milliseconds budget) const;

  // Working time inside [a, b) (0 when b <= a), truncated to milliseconds.
  // The inverse of AddBusinessTime: BusinessTimeBetween(s, AddBusinessTime(s, d)) == d.
  std::chrono::milliseconds BusinessTimeBetween(Clock::TimePoint a, Clock::TimePoint b) const;

  // The SLA clock pauses while an item is held or waiting on its requester:
  // the due time moves out by the working time that passed in
  // [paused_from, paused_to). Pausing only outside working hours changes
  // nothing.
  Clock::TimePoint ExtendDue(Clock::TimePoint due, Clock::TimePoint paused_from,
                             Clock::TimePoint paused_to) const;

 private:
  BusinessCalendar() = default;

  bool IsWorkingDay(absl::CivilDay day) const;
  // The working window of a local date, as instants (empty when the date is
  // not a working day).
  struct Window {
    absl::Time begin;
    absl::Time end;
  };
  Window WindowOf(absl::CivilDay day) const;
  absl::CivilDay LocalDay(absl::Time t) const;

  std::string name_ = "24x7";
  bool always_open_ = true;
  absl::TimeZone tz_;
  int start_minute_ = 0;
  int end_minute_ = 24 * 60;
  bool weekdays_[7] = {};  // indexed 0 = Sunday ... 6 = Saturday, as in the catalog
  std::set<absl::CivilDay> holidays_;
};

}  // namespace docket::processing
