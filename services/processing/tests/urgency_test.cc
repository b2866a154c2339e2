#include "services/processing/src/urgency.h"

#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock/clock.h"
#include "gtest/gtest.h"

namespace docket::processing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using v1::Priority;

const Clock::TimePoint kT0 = Clock::TimePoint(milliseconds(1'750'000'000'000));  // June 2025

bool ServedFirst(Priority pa, Clock::TimePoint due_a, Priority pb, Clock::TimePoint due_b) {
  return UrgencyScore(pa, due_a) < UrgencyScore(pb, due_b);
}

TEST(UrgencyTest, ScoreIsDueMillisecondsMinusTheClassLeadExactly) {
  EXPECT_EQ(static_cast<int64_t>(UrgencyScore(v1::PRIORITY_NORMAL, kT0)), 1'750'000'000'000);
  EXPECT_EQ(static_cast<int64_t>(UrgencyScore(v1::PRIORITY_HIGH, kT0)), 1'750'000'000'000 - 4 * 3'600'000);
  EXPECT_EQ(static_cast<int64_t>(UrgencyScore(v1::PRIORITY_URGENT, kT0)), 1'750'000'000'000 - 8 * 3'600'000);
  EXPECT_EQ(static_cast<int64_t>(UrgencyScore(v1::PRIORITY_LOW, kT0)), 1'750'000'000'000 + 4 * 3'600'000);
  // One millisecond apart stays apart (a double holds epoch milliseconds exactly).
  EXPECT_LT(UrgencyScore(v1::PRIORITY_NORMAL, kT0), UrgencyScore(v1::PRIORITY_NORMAL, kT0 + milliseconds(1)));
}

TEST(UrgencyTest, ScoreDependsOnlyOnPriorityAndDueSoItIsComputedOnceAtEnqueue) {
  FakeClock clock(kT0);
  const double at_enqueue = UrgencyScore(v1::PRIORITY_HIGH, kT0 + hours(8));
  clock.Advance(hours(30));
  EXPECT_EQ(UrgencyScore(v1::PRIORITY_HIGH, kT0 + hours(8)), at_enqueue);
}

TEST(UrgencyTest, UnspecifiedAndUnknownPrioritiesCountAsNormal) {
  EXPECT_EQ(PriorityLead(v1::PRIORITY_UNSPECIFIED), PriorityLead(v1::PRIORITY_NORMAL));
  EXPECT_EQ(PriorityLead(static_cast<Priority>(99)), PriorityLead(v1::PRIORITY_NORMAL));
}

TEST(UrgencyTest, SamePriorityEarlierDueFirst) {
  for (Priority p : {v1::PRIORITY_LOW, v1::PRIORITY_NORMAL, v1::PRIORITY_HIGH, v1::PRIORITY_URGENT}) {
    EXPECT_TRUE(ServedFirst(p, kT0, p, kT0 + minutes(1))) << p;
    EXPECT_FALSE(ServedFirst(p, kT0 + minutes(1), p, kT0)) << p;
  }
}

TEST(UrgencyTest, HigherClassWinsWithSimilarDueTimes) {
  EXPECT_TRUE(ServedFirst(v1::PRIORITY_URGENT, kT0, v1::PRIORITY_HIGH, kT0));
  EXPECT_TRUE(ServedFirst(v1::PRIORITY_HIGH, kT0, v1::PRIORITY_NORMAL, kT0));
  EXPECT_TRUE(ServedFirst(v1::PRIORITY_NORMAL, kT0, v1::PRIORITY_LOW, kT0));
  // High due 3 h after normal still goes first...
  EXPECT_TRUE(ServedFirst(v1::PRIORITY_HIGH, kT0 + hours(3), v1::PRIORITY_NORMAL, kT0));
  // ...but not 5 h after: the lead is 4 h.
  EXPECT_TRUE(ServedFirst(v1::PRIORITY_NORMAL, kT0, v1::PRIORITY_HIGH, kT0 + hours(5)));
  // Low work due long before normal work is not parked forever either.
  EXPECT_TRUE(ServedFirst(v1::PRIORITY_LOW, kT0, v1::PRIORITY_NORMAL, kT0 + hours(5)));
}

// A queue as processing keeps it in Redis: a ZSET ordered by score, ties by
// member (ids are time-ordered, modelled by a sequence number).
struct QueuedItem {
  std::string id;
  Priority priority;
  Clock::TimePoint enqueued;
  Clock::TimePoint due;
};

struct SimulationResult {
  std::optional<Clock::TimePoint> old_item_served_at;
  std::vector<QueuedItem> served_before_old_item;
};

// One old normal item (8 h SLA) is waiting when a stream of fresh high items
// (8 h SLA) starts arriving every 10 minutes; one worker finishes an item
// every 15 minutes, so high work alone would keep the worker busy forever.
SimulationResult Simulate(const std::function<double(const QueuedItem&)>& score) {
  FakeClock clock(kT0);
  std::vector<QueuedItem> items;
  std::set<std::tuple<double, int, int>> zset;  // score, sequence, index
  auto enqueue = [&](Priority p, milliseconds sla) {
    const int index = static_cast<int>(items.size());
    items.push_back({"item-" + std::to_string(index), p, clock.Now(), clock.Now() + sla});
    zset.insert({score(items.back()), index, index});
  };
  enqueue(v1::PRIORITY_NORMAL, hours(8));  // index 0: the old item
  SimulationResult result;
  for (int minute = 1; minute <= 24 * 60; ++minute) {
    clock.Advance(minutes(1));
    if (minute % 10 == 0) enqueue(v1::PRIORITY_HIGH, hours(8));
    if (minute % 15 == 0 && !zset.empty()) {
      const int index = std::get<2>(*zset.begin());
      zset.erase(zset.begin());
      if (index == 0) {
        result.old_item_served_at = clock.Now();
        return result;
      }
      result.served_before_old_item.push_back(items[index]);
    }
  }
  return result;
}

TEST(UrgencyTest, OldNormalItemIsNotStarvedByAStreamOfFreshHighItems) {
  const SimulationResult r =
      Simulate([](const QueuedItem& i) { return UrgencyScore(i.priority, i.due); });
  ASSERT_TRUE(r.old_item_served_at.has_value()) << "starved";
  // Served before its own due time, although high work kept arriving faster than it was done.
  EXPECT_LE(*r.old_item_served_at, kT0 + hours(8));
  // Only high items whose due time is within the 4 h lead of its own went first.
  ASSERT_FALSE(r.served_before_old_item.empty());
  for (const QueuedItem& i : r.served_before_old_item) {
    EXPECT_EQ(i.priority, v1::PRIORITY_HIGH);
    EXPECT_LT(i.due, kT0 + hours(8) + hours(4)) << i.id;
  }
}

TEST(UrgencyTest, StrictPriorityOrderingWouldStarveTheSameItem) {
  // The contrast that motivates the lead: ordering by class first, then due.
  const SimulationResult r = Simulate([](const QueuedItem& i) {
    return -static_cast<double>(i.priority) * 1e15 +
           static_cast<double>(std::chrono::floor<milliseconds>(i.due.time_since_epoch()).count());
  });
  EXPECT_FALSE(r.old_item_served_at.has_value());
}

TEST(UrgencyTest, EscalationBumpMovesAnItemAhead) {
  // Four normal items due before ours; ours is due last.
  std::vector<double> others;
  for (int i = 0; i < 4; ++i) others.push_back(UrgencyScore(v1::PRIORITY_NORMAL, kT0 + hours(i)));
  const Clock::TimePoint due = kT0 + hours(3) + minutes(30);
  const auto rank = [&](double score) {
    int ahead = 0;
    for (double o : others) ahead += o < score ? 1 : 0;
    return ahead;
  };
  EXPECT_EQ(rank(UrgencyScore(v1::PRIORITY_NORMAL, due)), 4);
  const Priority bumped = BumpPriority(v1::PRIORITY_NORMAL, 1);
  EXPECT_EQ(bumped, v1::PRIORITY_HIGH);
  EXPECT_EQ(rank(UrgencyScore(bumped, due)), 0);
}

TEST(UrgencyTest, BumpPriorityRaisesAndClampsAtUrgent) {
  EXPECT_EQ(BumpPriority(v1::PRIORITY_LOW, 1), v1::PRIORITY_NORMAL);
  EXPECT_EQ(BumpPriority(v1::PRIORITY_NORMAL, 2), v1::PRIORITY_URGENT);
  EXPECT_EQ(BumpPriority(v1::PRIORITY_HIGH, 5), v1::PRIORITY_URGENT);
  EXPECT_EQ(BumpPriority(v1::PRIORITY_URGENT, 1), v1::PRIORITY_URGENT);
  EXPECT_EQ(BumpPriority(v1::PRIORITY_LOW, INT_MAX), v1::PRIORITY_URGENT);
  EXPECT_EQ(BumpPriority(v1::PRIORITY_UNSPECIFIED, 1), v1::PRIORITY_HIGH);
  EXPECT_EQ(BumpPriority(v1::PRIORITY_HIGH, 0), v1::PRIORITY_HIGH);
  EXPECT_EQ(BumpPriority(v1::PRIORITY_HIGH, -3), v1::PRIORITY_HIGH);
}

}  // namespace
}  // namespace docket::processing
