#include "services/processing/src/business_calendar.h"

#include <cstdlib>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace docket::processing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

Clock::TimePoint At(const absl::TimeZone& tz, int y, int mo, int d, int h, int mi = 0) {
  return std::chrono::time_point_cast<Clock::TimePoint::duration>(
      absl::ToChronoTime(absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), tz)));
}

// Local wall time with weekday: readable failures.
std::string Show(Clock::TimePoint t, const absl::TimeZone& tz) {
  return absl::FormatTime("%Y-%m-%d %H:%M %a", absl::FromChrono(t), tz);
}

std::string ShowUtc(Clock::TimePoint t) { return Show(t, absl::UTCTimeZone()); }

catalog::Calendar Berlin() {
  catalog::Calendar c;
  c.name = "berlin";
  c.timezone = "Europe/Berlin";
  c.start_minute = 9 * 60;
  c.end_minute = 17 * 60;
  c.weekdays = {1, 2, 3, 4, 5};
  return c;
}

BusinessCalendar Make(const catalog::Calendar& c) {
  auto cal = BusinessCalendar::Create(c);
  EXPECT_TRUE(cal.ok()) << cal.status();
  return *std::move(cal);
}

class BerlinCalendarTest : public ::testing::Test {
 protected:
  absl::TimeZone tz_ = Zone("Europe/Berlin");
  BusinessCalendar cal_ = Make(Berlin());
};

TEST_F(BerlinCalendarTest, FourHoursSubmittedFridayAt16IsDueMondayAtNoon) {
  const auto due = cal_.AddBusinessTime(At(tz_, 2026, 6, 5, 16), hours(4));
  EXPECT_EQ(Show(due, tz_), "2026-06-08 12:00 Mon");
}

TEST_F(BerlinCalendarTest, SubmittedOnSaturdayStartsMondayAt9) {
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 6, 10), hours(4)), tz_), "2026-06-08 13:00 Mon");
  // Any instant of the weekend gives the same due time.
  EXPECT_EQ(cal_.AddBusinessTime(At(tz_, 2026, 6, 6, 0), hours(4)),
            cal_.AddBusinessTime(At(tz_, 2026, 6, 7, 23, 59), hours(4)));
}

TEST_F(BerlinCalendarTest, BeforeOpeningTheClockStartsAtOpening) {
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 9, 6), hours(1)), tz_), "2026-06-09 10:00 Tue");
}

TEST_F(BerlinCalendarTest, AfterClosingTheClockStartsNextWorkingDay) {
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 9, 18), hours(1)), tz_), "2026-06-10 10:00 Wed");
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 9, 17), hours(1)), tz_), "2026-06-10 10:00 Wed");
}

TEST_F(BerlinCalendarTest, BudgetUsedUpExactlyAtClosingIsDueAtClosingNotNextMorning) {
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 8, 9), hours(8)), tz_), "2026-06-08 17:00 Mon");
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 8, 9), hours(8) + milliseconds(1)), tz_),
            "2026-06-09 09:00 Tue");
}

TEST_F(BerlinCalendarTest, ZeroOrNegativeBudgetIsDueAtStart) {
  const auto sat = At(tz_, 2026, 6, 6, 10);
  EXPECT_EQ(cal_.AddBusinessTime(sat, milliseconds(0)), sat);
  EXPECT_EQ(cal_.AddBusinessTime(sat, hours(-3)), sat);
}

TEST_F(BerlinCalendarTest, KeepsSubMillisecondPrecisionOfTheStart) {
  const auto start = At(tz_, 2026, 6, 8, 10) + std::chrono::nanoseconds(123);
  EXPECT_EQ(cal_.AddBusinessTime(start, hours(1)), At(tz_, 2026, 6, 8, 11) + std::chrono::nanoseconds(123));
}

TEST_F(BerlinCalendarTest, BudgetSpanningSeveralWeeks) {
  // 40 working hours a week: 120 h from Monday 09:00 end on the third Friday at 17:00.
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 1, 9), hours(120)), tz_), "2026-06-19 17:00 Fri");
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 1, 9), hours(121)), tz_), "2026-06-22 10:00 Mon");
  // Friday 16:00 + 2 weeks and 4 h of work.
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 6, 5, 16), hours(84)), tz_), "2026-06-22 12:00 Mon");
}

TEST_F(BerlinCalendarTest, AcrossSpringForwardTheDueInstantFollowsLocalTime) {
  // DST starts Sunday 2026-03-29: Friday is UTC+1, Monday UTC+2.
  const auto due = cal_.AddBusinessTime(At(tz_, 2026, 3, 27, 16), hours(4));
  EXPECT_EQ(Show(due, tz_), "2026-03-30 12:00 Mon");
  EXPECT_EQ(ShowUtc(due), "2026-03-30 10:00 Mon");
  EXPECT_EQ(cal_.BusinessTimeBetween(At(tz_, 2026, 3, 27, 16), due), hours(4));
}

TEST_F(BerlinCalendarTest, AcrossFallBackTheDueInstantFollowsLocalTime) {
  // DST ends Sunday 2026-10-25: Friday is UTC+2, Monday UTC+1.
  const auto due = cal_.AddBusinessTime(At(tz_, 2026, 10, 23, 16), hours(4));
  EXPECT_EQ(Show(due, tz_), "2026-10-26 12:00 Mon");
  EXPECT_EQ(ShowUtc(due), "2026-10-26 11:00 Mon");
}

TEST_F(BerlinCalendarTest, WeekBudgetAcrossDstChangeEndsAtTheSameLocalTime) {
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 3, 25, 11), hours(40)), tz_), "2026-04-01 11:00 Wed");
  EXPECT_EQ(Show(cal_.AddBusinessTime(At(tz_, 2026, 10, 21, 11), hours(40)), tz_), "2026-10-28 11:00 Wed");
}

TEST_F(BerlinCalendarTest, BusinessTimeBetweenCountsOnlyWorkingHours) {
  EXPECT_EQ(cal_.BusinessTimeBetween(At(tz_, 2026, 6, 5, 16), At(tz_, 2026, 6, 8, 12)), hours(4));
  EXPECT_EQ(cal_.BusinessTimeBetween(At(tz_, 2026, 6, 5, 17), At(tz_, 2026, 6, 8, 9)), hours(0));
  EXPECT_EQ(cal_.BusinessTimeBetween(At(tz_, 2026, 6, 8, 0), At(tz_, 2026, 6, 15, 0)), hours(40));
  EXPECT_EQ(cal_.BusinessTimeBetween(At(tz_, 2026, 6, 8, 10, 30), At(tz_, 2026, 6, 8, 10, 45)), minutes(15));
}

TEST_F(BerlinCalendarTest, BusinessTimeBetweenIsZeroForAnEmptyOrReversedInterval) {
  const auto t = At(tz_, 2026, 6, 8, 10);
  EXPECT_EQ(cal_.BusinessTimeBetween(t, t), milliseconds(0));
  EXPECT_EQ(cal_.BusinessTimeBetween(t + hours(2), t), milliseconds(0));
}

// Property: over a grid of starts (three weeks around the spring DST change,
// every 37 minutes) and budgets, the due time lies in working time, grows with
// the budget, and BusinessTimeBetween gives the budget back exactly.
TEST_F(BerlinCalendarTest, AddBusinessTimeAndBusinessTimeBetweenAreInverse) {
  const milliseconds budgets[] = {milliseconds(1), minutes(30), hours(4), hours(8), hours(48), hours(100)};
  for (auto start = At(tz_, 2026, 3, 20, 0); start < At(tz_, 2026, 4, 10, 0); start += minutes(37)) {
    Clock::TimePoint previous = start;
    for (const milliseconds budget : budgets) {
      const auto due = cal_.AddBusinessTime(start, budget);
      ASSERT_EQ(cal_.BusinessTimeBetween(start, due), budget) << Show(start, tz_) << " + " << budget.count();
      ASSERT_GT(due, previous);
      previous = due;
      const absl::CivilSecond local = tz_.At(absl::FromChrono(due)).cs;
      const int minute = local.hour() * 60 + local.minute();
      const auto weekday = absl::GetWeekday(absl::CivilDay(local));
      ASSERT_NE(weekday, absl::Weekday::saturday) << Show(due, tz_);
      ASSERT_NE(weekday, absl::Weekday::sunday) << Show(due, tz_);
      ASSERT_TRUE(minute >= 9 * 60 && minute <= 17 * 60) << Show(due, tz_);
      // The last millisecond before the due time was working time.
      ASSERT_EQ(cal_.BusinessTimeBetween(due - milliseconds(1), due), milliseconds(1)) << Show(due, tz_);
    }
  }
}

TEST_F(BerlinCalendarTest, PausedOnlyOutsideWorkingHoursLeavesDueUnchanged) {
  const auto due = At(tz_, 2026, 6, 8, 12);
  EXPECT_EQ(cal_.ExtendDue(due, At(tz_, 2026, 6, 5, 17, 30), At(tz_, 2026, 6, 8, 8)), due);
}

TEST_F(BerlinCalendarTest, PauseMovesDueByTheWorkingTimeThatPassed) {
  // Due Tuesday 12:00, held Monday 10:00-12:00: two working hours later.
  EXPECT_EQ(Show(cal_.ExtendDue(At(tz_, 2026, 6, 9, 12), At(tz_, 2026, 6, 8, 10), At(tz_, 2026, 6, 8, 12)), tz_),
            "2026-06-09 14:00 Tue");
  // Paused Friday 16:00 to Monday 10:00 (2 working hours); due Monday 16:00 moves into Tuesday.
  EXPECT_EQ(Show(cal_.ExtendDue(At(tz_, 2026, 6, 8, 16), At(tz_, 2026, 6, 5, 16), At(tz_, 2026, 6, 8, 10)), tz_),
            "2026-06-09 10:00 Tue");
}

TEST_F(BerlinCalendarTest, PauseThatOutlastsTheDueTimeStillExtendsByThePause) {
  // Due Tuesday 12:00, waiting from 11:00 to 15:00: 4 h paused, due 16:00.
  EXPECT_EQ(Show(cal_.ExtendDue(At(tz_, 2026, 6, 9, 12), At(tz_, 2026, 6, 9, 11), At(tz_, 2026, 6, 9, 15)), tz_),
            "2026-06-09 16:00 Tue");
}

// An item's life with a FakeClock: submitted, then waiting on its requester
// over a weekend, then back; the SLA clock only counted working hours.
TEST_F(BerlinCalendarTest, SlaClockPausesWhileWaitingOnTheRequester) {
  FakeClock clock(At(tz_, 2026, 6, 4, 15));  // Thursday 15:00
  const auto submitted = clock.Now();
  auto due = cal_.AddBusinessTime(submitted, hours(8));
  EXPECT_EQ(Show(due, tz_), "2026-06-05 15:00 Fri");

  clock.Advance(hours(1));  // Thursday 16:00: worker asks the requester a question
  const auto paused_from = clock.Now();
  clock.Advance(hours(24 * 3 + 18));  // answered Monday 10:00
  due = cal_.ExtendDue(due, paused_from, clock.Now());
  // Paused Thursday 16-17, Friday 9-17, Monday 9-10: 10 working hours. One
  // hour was used before the pause, so the other 7 run Monday 10:00-17:00.
  EXPECT_EQ(Show(due, tz_), "2026-06-08 17:00 Mon");
  // Working time the item was not paused still adds up to the budget.
  EXPECT_EQ(cal_.BusinessTimeBetween(submitted, due) - cal_.BusinessTimeBetween(paused_from, clock.Now()),
            hours(8));
}

TEST(BusinessCalendarTest, HolidaysAreSkipped) {
  catalog::Calendar c = Berlin();
  c.holidays = {"2026-12-24", "2026-12-25"};
  const BusinessCalendar cal = Make(c);
  const absl::TimeZone tz = Zone("Europe/Berlin");
  // Wednesday 16:00 + 4 h: Thursday and Friday are holidays, then the weekend.
  EXPECT_EQ(Show(cal.AddBusinessTime(At(tz, 2026, 12, 23, 16), hours(4)), tz), "2026-12-28 12:00 Mon");
  EXPECT_EQ(cal.BusinessTimeBetween(At(tz, 2026, 12, 24, 0), At(tz, 2026, 12, 26, 0)), hours(0));
  // Submitted on a holiday: the clock starts at the next working day.
  EXPECT_EQ(Show(cal.AddBusinessTime(At(tz, 2026, 12, 24, 10), hours(1)), tz), "2026-12-28 10:00 Mon");
}

TEST(BusinessCalendarTest, ALocalWindowThatContainsTheDstChangeLastsTheRealTimeItSpans) {
  catalog::Calendar c;
  c.name = "round-the-clock-berlin";
  c.timezone = "Europe/Berlin";
  c.start_minute = 0;
  c.end_minute = 24 * 60;
  c.weekdays = {0, 1, 2, 3, 4, 5, 6};
  const BusinessCalendar cal = Make(c);
  const absl::TimeZone tz = Zone("Europe/Berlin");
  EXPECT_EQ(cal.BusinessTimeBetween(At(tz, 2026, 3, 29, 0), At(tz, 2026, 3, 30, 0)), hours(23));
  EXPECT_EQ(cal.BusinessTimeBetween(At(tz, 2026, 10, 25, 0), At(tz, 2026, 10, 26, 0)), hours(25));
  // Budgets are real working time: 24 h from Saturday noon end Sunday 13:00 local.
  EXPECT_EQ(Show(cal.AddBusinessTime(At(tz, 2026, 3, 28, 12), hours(24)), tz), "2026-03-29 13:00 Sun");
}

TEST(BusinessCalendarTest, WindowStartingInTheSkippedHourIsShortened) {
  catalog::Calendar c = Berlin();
  c.start_minute = 2 * 60;  // 02:00-04:00: 02:00-03:00 does not exist on 2026-03-29
  c.end_minute = 4 * 60;
  c.weekdays = {0};
  const BusinessCalendar cal = Make(c);
  const absl::TimeZone tz = Zone("Europe/Berlin");
  EXPECT_EQ(cal.BusinessTimeBetween(At(tz, 2026, 3, 29, 0), At(tz, 2026, 3, 30, 0)), hours(1));
  EXPECT_EQ(cal.BusinessTimeBetween(At(tz, 2026, 4, 5, 0), At(tz, 2026, 4, 6, 0)), hours(2));
}

TEST(BusinessCalendarTest, TwentyFourSevenIsWallTime) {
  const BusinessCalendar cal = BusinessCalendar::TwentyFourSeven();
  EXPECT_TRUE(cal.always_open());
  const auto sat = At(absl::UTCTimeZone(), 2026, 6, 6, 23);
  EXPECT_EQ(cal.AddBusinessTime(sat, hours(4)), sat + hours(4));
  EXPECT_EQ(cal.BusinessTimeBetween(sat, sat + hours(30)), hours(30));
  EXPECT_EQ(cal.ExtendDue(sat, sat - hours(1), sat + hours(2)), sat + hours(3));
}

TEST(BusinessCalendarTest, HugeBudgetBeyondTheScanHorizonStaysDefinedAndInverse) {
  const BusinessCalendar cal = Make(Berlin());
  const absl::TimeZone tz = Zone("Europe/Berlin");
  const auto start = At(tz, 2026, 6, 1, 9);
  // About 15 years of 40 h weeks: past the 10-year horizon.
  const milliseconds budget = hours(40 * 52 * 15);
  const auto due = cal.AddBusinessTime(start, budget);
  EXPECT_GT(due, cal.AddBusinessTime(start, hours(40 * 52 * 9)));
  EXPECT_LT(due, start + hours(24 * 366 * 16));
  EXPECT_EQ(cal.BusinessTimeBetween(start, due), budget);
}

TEST(BusinessCalendarTest, CreateRefusesInvalidCalendars) {
  auto expect_invalid = [](catalog::Calendar c, const std::string& fragment) {
    const auto cal = BusinessCalendar::Create(c);
    ASSERT_FALSE(cal.ok()) << fragment;
    EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(cal.status().message()), ::testing::HasSubstr(fragment));
  };
  catalog::Calendar c = Berlin();
  c.timezone = "Mars/Olympus_Mons";
  expect_invalid(c, "time zone");
  c = Berlin();
  c.weekdays.clear();
  expect_invalid(c, "working day");
  c = Berlin();
  c.weekdays = {7};
  expect_invalid(c, "weekday 7");
  c = Berlin();
  c.end_minute = c.start_minute;
  expect_invalid(c, "start < end");
  c = Berlin();
  c.end_minute = 24 * 60 + 1;
  expect_invalid(c, "start < end");
  c = Berlin();
  c.holidays = {"2026-02-30"};
  expect_invalid(c, "2026-02-30");
  c = Berlin();
  c.holidays = {"25.12.2026"};
  expect_invalid(c, "25.12.2026");
}

class SampleCatalogCalendarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* src = std::getenv("DOCKET_SOURCE_DIR");
    ASSERT_NE(src, nullptr) << "DOCKET_SOURCE_DIR is set by ctest";
    auto loaded = catalog::Catalog::Load(std::string(src) + "/deploy/config/catalog.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    catalog_ = *std::move(loaded);
  }
  BusinessCalendar ForQueue(const std::string& name) {
    const catalog::Queue* q = catalog_.FindQueue(name);
    EXPECT_NE(q, nullptr) << name;
    auto cal = BusinessCalendar::ForQueue(catalog_, *q);
    EXPECT_TRUE(cal.ok()) << cal.status();
    return *std::move(cal);
  }
  catalog::Catalog catalog_;
};

TEST_F(SampleCatalogCalendarTest, EveryQueueHasAUsableCalendar) {
  for (const catalog::Queue& q : catalog_.queues()) {
    auto cal = BusinessCalendar::ForQueue(catalog_, q);
    EXPECT_TRUE(cal.ok()) << q.name << ": " << cal.status();
  }
}

TEST_F(SampleCatalogCalendarTest, AccountsPayableSkipsChristmas) {
  const absl::TimeZone tz = Zone("Europe/Berlin");
  const BusinessCalendar cal = ForQueue("accounts-payable");
  EXPECT_EQ(cal.name(), "emea-office");
  // invoice_approval's 8 h SLA from Wednesday 23 Dec 14:00: 3 h that day,
  // then 24-27 Dec are holidays and weekend, 5 h on Monday 28 Dec.
  EXPECT_EQ(Show(cal.AddBusinessTime(At(tz, 2026, 12, 23, 14), hours(8)), tz), "2026-12-28 14:00 Mon");
}

TEST_F(SampleCatalogCalendarTest, UkOfficeUsesLondonHours) {
  const absl::TimeZone tz = Zone("Europe/London");
  const BusinessCalendar cal = ForQueue("hr-operations");
  // 08:30-17:30 London: Friday 16:30 + 4 h = Monday 11:30 London (10:30 UTC in summer).
  const auto due = cal.AddBusinessTime(At(tz, 2026, 6, 5, 16, 30), hours(4));
  EXPECT_EQ(Show(due, tz), "2026-06-08 11:30 Mon");
  EXPECT_EQ(ShowUtc(due), "2026-06-08 10:30 Mon");
}

TEST_F(SampleCatalogCalendarTest, ComplianceDeskWorksSaturdays) {
  const absl::TimeZone tz = Zone("Europe/Berlin");
  const BusinessCalendar cal = ForQueue("kyc-review");
  // 07:00-19:00 Mon-Sat: Friday 18:00 + 4 h = Saturday 10:00.
  EXPECT_EQ(Show(cal.AddBusinessTime(At(tz, 2026, 6, 5, 18), hours(4)), tz), "2026-06-06 10:00 Sat");
  // Saturday 18:00 + 4 h skips Sunday.
  EXPECT_EQ(Show(cal.AddBusinessTime(At(tz, 2026, 6, 6, 18), hours(4)), tz), "2026-06-08 10:00 Mon");
}

TEST_F(SampleCatalogCalendarTest, QueueWithoutCalendarIsTwentyFourSevenAndUnknownCalendarIsNotFound) {
  catalog::Queue q;
  q.name = "night-shift";
  auto cal = BusinessCalendar::ForQueue(catalog_, q);
  ASSERT_TRUE(cal.ok());
  EXPECT_TRUE(cal->always_open());
  q.calendar = "nonexistent";
  cal = BusinessCalendar::ForQueue(catalog_, q);
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace docket::processing
