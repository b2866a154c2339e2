#include "services/processing/src/business_calendar.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace docket::processing {
namespace {

absl::Time ToAbsl(Clock::TimePoint t) { return absl::FromChrono(t); }
Clock::TimePoint ToChrono(absl::Time t) {
  return std::chrono::time_point_cast<Clock::TimePoint::duration>(absl::ToChronoTime(t));
}

// 0 = Sunday ... 6 = Saturday, the catalog's numbering.
int CatalogWeekday(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::sunday: return 0;
    case absl::Weekday::monday: return 1;
    case absl::Weekday::tuesday: return 2;
    case absl::Weekday::wednesday: return 3;
    case absl::Weekday::thursday: return 4;
    case absl::Weekday::friday: return 5;
    case absl::Weekday::saturday: return 6;
  }
  return 0;
}

}  // namespace

BusinessCalendar BusinessCalendar::TwentyFourSeven() { return BusinessCalendar(); }

absl::StatusOr<BusinessCalendar> BusinessCalendar::Create(const catalog::Calendar& calendar) {
  BusinessCalendar c;
  c.name_ = calendar.name;
  c.always_open_ = false;
  const std::string where = absl::StrCat("calendar \"", calendar.name, "\": ");
  if (!absl::LoadTimeZone(calendar.timezone, &c.tz_)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "unknown time zone \"", calendar.timezone, "\""));
  }
  if (calendar.start_minute < 0 || calendar.end_minute > 24 * 60 ||
      calendar.end_minute <= calendar.start_minute) {
    return absl::InvalidArgumentError(absl::StrCat(where, "working hours must satisfy 00:00 <= start < end <= 24:00"));
  }
  c.start_minute_ = calendar.start_minute;
  c.end_minute_ = calendar.end_minute;
  if (calendar.weekdays.empty()) {
    // Without a working day no budget could ever be used up.
    return absl::InvalidArgumentError(absl::StrCat(where, "needs at least one working day"));
  }
  for (int d : calendar.weekdays) {
    if (d < 0 || d > 6) {
      return absl::InvalidArgumentError(absl::StrCat(where, "weekday ", d, " is not in 0 (Sunday) .. 6"));
    }
    c.weekdays_[d] = true;
  }
  for (const std::string& h : calendar.holidays) {
    absl::CivilDay day;
    // The round trip rejects what absl would normalise (2026-02-30).
    if (!absl::ParseCivilTime(h, &day) || absl::FormatCivilTime(day) != h) {
      return absl::InvalidArgumentError(absl::StrCat(where, "holiday \"", h, "\" is not a YYYY-MM-DD date"));
    }
    c.holidays_.insert(day);
  }
  return c;
}

absl::StatusOr<BusinessCalendar> BusinessCalendar::ForQueue(const catalog::Catalog& catalog,
                                                           const catalog::Queue& queue) {
  if (queue.calendar.empty()) return TwentyFourSeven();
  const catalog::Calendar* calendar = catalog.FindCalendar(queue.calendar);
  if (calendar == nullptr) {
    return absl::NotFoundError(absl::StrCat("queue \"", queue.name, "\" names calendar \"",
                                            queue.calendar, "\" which the catalog does not have"));
  }
  return Create(*calendar);
}

bool BusinessCalendar::IsWorkingDay(absl::CivilDay day) const {
  return weekdays_[CatalogWeekday(day)] && !holidays_.contains(day);
}

BusinessCalendar::Window BusinessCalendar::WindowOf(absl::CivilDay day) const {
  const Window empty{absl::InfinitePast(), absl::InfinitePast()};
  if (!IsWorkingDay(day)) return empty;
  const absl::CivilSecond midnight(day);
  // Civil arithmetic, then absl picks the instant (for a local time skipped
  // by DST it uses the offset before the change, so the window is shorter).
  Window w{absl::FromCivil(midnight + start_minute_ * 60, tz_),
           absl::FromCivil(midnight + end_minute_ * 60, tz_)};
  if (w.end <= w.begin) return empty;
  return w;
}

absl::CivilDay BusinessCalendar::LocalDay(absl::Time t) const {
  return absl::CivilDay(tz_.At(t).cs);
}

Clock::TimePoint BusinessCalendar::AddBusinessTime(Clock::TimePoint start,
                                                   std::chrono::milliseconds budget) const {
  if (budget <= std::chrono::milliseconds::zero()) return start;
  if (always_open_) return start + budget;
  absl::Time cursor = ToAbsl(start);
  absl::Duration remaining = absl::FromChrono(budget);
  // From the day before: a window never spans local midnight, but the local
  // date of an instant in a repeated hour is ambiguous; one spare step is cheap.
  absl::CivilDay day = LocalDay(cursor) - 1;
  for (int i = 0; i < kMaxScanDays; ++i, ++day) {
    const Window w = WindowOf(day);
    if (w.end <= cursor) continue;
    const absl::Time from = std::max(w.begin, cursor);
    const absl::Duration available = w.end - from;
    if (remaining <= available) return ToChrono(from + remaining);
    remaining -= available;
    cursor = w.end;
  }
  // Past the horizon the rest counts as wall time (BusinessTimeBetween agrees).
  cursor = std::max(cursor, absl::FromCivil(absl::CivilSecond(day), tz_));
  return ToChrono(cursor + remaining);
}

std::chrono::milliseconds BusinessCalendar::BusinessTimeBetween(Clock::TimePoint a,
                                                                Clock::TimePoint b) const {
  if (b <= a) return std::chrono::milliseconds::zero();
  if (always_open_) return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
  const absl::Time from = ToAbsl(a);
  const absl::Time to = ToAbsl(b);
  absl::Duration total;
  absl::CivilDay day = LocalDay(from) - 1;
  const absl::CivilDay last = LocalDay(to);
  int i = 0;
  for (; i < kMaxScanDays && day <= last; ++i, ++day) {
    const Window w = WindowOf(day);
    const absl::Time lo = std::max(w.begin, from);
    const absl::Time hi = std::min(w.end, to);
    if (hi > lo) total += hi - lo;
  }
  if (i == kMaxScanDays) {
    const absl::Time horizon = std::max(from, absl::FromCivil(absl::CivilSecond(day), tz_));
    if (to > horizon) total += to - horizon;
  }
  return absl::ToChronoMilliseconds(total);
}

Clock::TimePoint BusinessCalendar::ExtendDue(Clock::TimePoint due, Clock::TimePoint paused_from,
                                             Clock::TimePoint paused_to) const {
  return AddBusinessTime(due, BusinessTimeBetween(paused_from, paused_to));
}

}  // namespace docket::processing
