// The event stream fed to docket-metrics: each path's events in the order
// the services write them, valid CloudEvents records, and the counts the
// metrics-drain mode expects.

#include "tools/loadgen/src/lifecycle_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/kafka/record.h"
#include "tools/loadgen/src/pipeline.h"

namespace docket::loadgen {
namespace {

std::vector<std::string> Types(const std::vector<StreamEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(kafka::EventType(e.event));
  return out;
}

TEST(LifecycleEventsTest, PathsMixSevenTwoOne) {
  int person = 0, automated = 0, checked = 0;
  for (std::uint64_t n = 0; n < 1000; ++n) {
    switch (PathOf(n)) {
      case ItemPath::kPerson: ++person; break;
      case ItemPath::kAutomated: ++automated; break;
      case ItemPath::kChecked: ++checked; break;
    }
  }
  EXPECT_EQ(person, 700);
  EXPECT_EQ(automated, 200);
  EXPECT_EQ(checked, 100);
}

TEST(LifecycleEventsTest, EachPathHasTheServicesEventsInOrder) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Types(ItemLife("i1", "acme", ItemPath::kPerson, 1700000000000)),
            (V{"docket.work.v1.Submitted", "docket.work.v1.Routed", "docket.work.v1.Claimed",
               "docket.work.v1.Completed"}));
  EXPECT_EQ(Types(ItemLife("i2", "acme", ItemPath::kAutomated, 1700000000000)),
            (V{"docket.work.v1.Submitted", "docket.work.v1.Routed", "docket.work.v1.AutoCompleted"}));
  EXPECT_EQ(Types(ItemLife("i3", "acme", ItemPath::kChecked, 1700000000000)),
            (V{"docket.work.v1.Submitted", "docket.work.v1.Routed", "docket.work.v1.Claimed",
               "docket.work.v1.CompletionRequested", "docket.compliance.v1.Verdict",
               "docket.work.v1.Completed"}));
}

TEST(LifecycleEventsTest, EventsAreValidRecordsOfTheirItemWithUniqueIds) {
  std::set<std::string> ids;
  for (ItemPath path : {ItemPath::kPerson, ItemPath::kAutomated, ItemPath::kChecked}) {
    for (const auto& e : ItemLife("item-7", "acme", path, 1700000000000)) {
      EXPECT_EQ(e.event.subject(), "item-7");
      EXPECT_EQ(e.event.tenant(), "acme");
      EXPECT_EQ(e.compliance_topic, e.event.has_verdict());
      const kafka::Record record = kafka::EncodeEvent("docket.work.v1", e.event);
      EXPECT_EQ(record.key, "item-7");
      auto decoded = kafka::DecodeEvent(record);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(decoded->id(), e.event.id());
      ids.insert(path == ItemPath::kChecked ? e.event.id() : "");
    }
  }
  EXPECT_EQ(ids.size(), 7u) << "6 distinct ids on the checked path, plus the empty marker";
}

TEST(LifecycleEventsTest, CompletedEventsCarryWhatMetricsCountsThemBy) {
  const auto life = ItemLife("i", "acme", ItemPath::kChecked, 1700000000000);
  const auto& done = life.back().event.completed();
  EXPECT_EQ(done.kind(), "shipping_documents");
  EXPECT_EQ(done.queue(), "logistics-docs");
  EXPECT_TRUE(done.sla_met());
  EXPECT_EQ(done.verdict_id(), life[4].event.id());
  const auto probe = ProbeCompleted("p", "globex", 1700000000000);
  EXPECT_EQ(probe.tenant(), "globex");
  EXPECT_EQ(probe.completed().kind(), "data_entry");
}

TEST(LifecycleEventsTest, ExpectedCountsMatchTheEventsWritten) {
  for (std::uint64_t items : {0, 1, 7, 8, 9, 10, 23, 100}) {
    std::uint64_t events = 0, person = 0, automated = 0;
    for (std::uint64_t n = 0; n < items; ++n) {
      for (const auto& e : ItemLife("i", "acme", PathOf(n), 0)) {
        ++events;
        person += e.event.has_completed();
        automated += e.event.has_auto_completed();
      }
    }
    EXPECT_EQ(EventsFor(items), events) << items;
    EXPECT_EQ(PersonCompletionsFor(items), person) << items;
    EXPECT_EQ(AutoCompletionsFor(items), automated) << items;
  }
  EXPECT_EQ(EventsFor(250000), 1000000u);
}

TEST(LifecycleEventsTest, RedisKeysGroupByTheirFirstTwoParts) {
  EXPECT_EQ(KeyFamily("docket:item:0190f1a2-7b3c"), "docket:item");
  EXPECT_EQ(KeyFamily("docket:idem:{acme}:ab12"), "docket:idem");
  EXPECT_EQ(KeyFamily("docket:leases"), "docket:leases");
  EXPECT_EQ(KeyFamily("plain"), "plain");
}

// A held item is never counted done: the lifecycle run stops at the first
// one, saying why, instead of waiting out --timeout.
TEST(LifecycleRunTest, AHeldItemEndsTheRunWithAnErrorNamingTheCountAndWhereToLook) {
  EXPECT_TRUE(NoneHeld(0).ok());
  const absl::Status held = NoneHeld(8302);
  EXPECT_EQ(held.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(held.message()), ::testing::HasSubstr("8302 items were held"));
  EXPECT_THAT(std::string(held.message()), ::testing::HasSubstr("docket_compliance_violations_total"));
  EXPECT_THAT(std::string(held.message()), ::testing::HasSubstr("submission-unknown"));
}

}  // namespace
}  // namespace docket::loadgen
