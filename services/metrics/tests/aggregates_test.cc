#include "services/metrics/src/aggregates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <prometheus/metric_family.h>

#include "google/protobuf/util/time_util.h"

namespace docket::kpi {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

constexpr char kCatalog[] = R"(version: 1
tenants: [{id: acme}]
queues:
  - {name: ap, skills: [ap]}
  - {name: sup, skills: [sup]}
kinds:
  - {name: invoice, queue: ap, sla: 4h}
)";

constexpr std::int64_t kT0 = 1'795'000'000'000;  // ms

google::protobuf::Timestamp At(std::int64_t seconds) {
  return TimeUtil::MillisecondsToTimestamp(kT0 + seconds * 1000);
}

class AggregatesTest : public ::testing::Test {
 protected:
  AggregatesTest() : catalog_(*catalog::Catalog::Parse(kCatalog, "catalog.yaml")), agg_(catalog_) {}

  docket::v1::Event Base(const std::string& item, const std::string& what, std::int64_t at) {
    docket::v1::Event e;
    e.set_id(item + ":" + what);
    e.set_subject(item);
    e.set_tenant("acme");
    *e.mutable_time() = At(at);
    return e;
  }
  void Routed(const std::string& item, std::int64_t at = 0, const std::string& kind = "invoice") {
    auto e = Base(item, "routed", at);
    e.mutable_routed()->set_queue("ap");
    e.mutable_routed()->set_kind(kind);
    *e.mutable_routed()->mutable_submitted_at() = At(at);
    agg_.Apply(e);
  }
  void Claimed(const std::string& item, std::int64_t queued, std::int64_t at) {
    auto e = Base(item, "claimed", at);
    auto* p = e.mutable_claimed();
    p->set_queue("ap");
    p->set_kind("invoice");
    *p->mutable_queued_at() = At(queued);
    *p->mutable_claimed_at() = At(at);
    agg_.Apply(e);
  }
  docket::v1::Event Completed(const std::string& item, std::int64_t claimed, std::int64_t at,
                              bool sla_met = true, int reworks = 0) {
    auto e = Base(item, "completed", at);
    auto* p = e.mutable_completed();
    p->set_queue("ap");
    p->set_kind("invoice");
    *p->mutable_submitted_at() = At(0);
    *p->mutable_claimed_at() = At(claimed);
    *p->mutable_completed_at() = At(at);
    p->set_sla_met(sla_met);
    p->set_rework_count(reworks);
    return e;
  }

  docket::v1::KpiSnapshot Snap(const PartitionAggregates& a, std::int64_t now_s = 100000) {
    Query q;
    q.now_ms = kT0 + now_s * 1000;
    return Snapshot({&a}, q);
  }

  catalog::Catalog catalog_;
  PartitionAggregates agg_;
};

TEST_F(AggregatesTest, LifecycleCountsArrivalCompletionSlaFirstPassAndDurations) {
  Routed("i1");
  Claimed("i1", 0, 60);
  agg_.Apply(Completed("i1", 60, 360));
  const auto s = Snap(agg_);
  EXPECT_EQ(s.arrivals(), 1);
  EXPECT_EQ(s.completed(), 1);
  EXPECT_EQ(s.backlog(), 0);
  EXPECT_EQ(s.sla_met(), 1);
  EXPECT_DOUBLE_EQ(s.sla_attainment(), 1.0);
  EXPECT_DOUBLE_EQ(s.first_pass_yield(), 1.0);
  EXPECT_GT(s.cycle_time_p50_seconds(), 300 - 1);  // 360 s lies in the (300, 900] bucket
  EXPECT_LE(s.cycle_time_p50_seconds(), 900);
}

TEST_F(AggregatesTest, DuplicateEventIdIsNeverCountedTwice) {
  Routed("i1");
  Routed("i1");  // same id: an outbox re-publish
  auto done = Completed("i1", 0, 10);
  EXPECT_TRUE(agg_.Apply(done));
  EXPECT_FALSE(agg_.Apply(done));
  const auto s = Snap(agg_);
  EXPECT_EQ(s.arrivals(), 1);
  EXPECT_EQ(s.completed(), 1);
}

TEST_F(AggregatesTest, ReworkedCompletionIsNotFirstPassAndMissedSlaLowersAttainment) {
  Routed("a");
  Routed("b");
  agg_.Apply(Completed("a", 0, 10, true, 0));
  agg_.Apply(Completed("b", 0, 10, false, 1));
  const auto s = Snap(agg_);
  EXPECT_DOUBLE_EQ(s.first_pass_yield(), 0.5);
  EXPECT_DOUBLE_EQ(s.sla_attainment(), 0.5);
}

TEST_F(AggregatesTest, BacklogAndOldestAgeComeFromOpenItems) {
  Routed("old", 0);
  Routed("new", 50);
  const auto s = Snap(agg_, 100);
  EXPECT_EQ(s.backlog(), 2);
  EXPECT_DOUBLE_EQ(s.oldest_item_age_seconds(), 100);
}

TEST_F(AggregatesTest, SnapshotRoundTripKeepsEveryTotalAndTheSeenIds) {
  Routed("i1");
  Routed("i2");
  Claimed("i1", 0, 30);
  agg_.Apply(Completed("i1", 30, 90));
  agg_.next_offset = 42;
  auto restored = PartitionAggregates::Parse(agg_.Serialize(), catalog_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->next_offset, 42);
  EXPECT_EQ(Snap(*restored).DebugString(), Snap(agg_).DebugString());
  EXPECT_FALSE(restored->Apply(Completed("i1", 30, 90))) << "the seen ids were not restored";
}

TEST_F(AggregatesTest, UnknownKindFoldsIntoOtherSoLabelsStayBounded) {
  Routed("x", 0, "something_new");
  Query q;
  q.now_ms = kT0;
  q.kind = "other";
  EXPECT_EQ(Snapshot({&agg_}, q).arrivals(), 1);
  auto families = Families({{"docket.work.v1:0", &agg_}}, kT0);
  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) EXPECT_NE(l.value, "x") << f.name << " has an item id label";
    }
  }
}

TEST_F(AggregatesTest, ProcessMapCountsTransitionsAndRanksTheSlowestStateFirst) {
  for (const char* id : {"a", "b"}) {
    Routed(id, 0);
    Claimed(id, 0, 600);  // 10 minutes queued
    agg_.Apply(Completed(id, 600, 660));  // 1 minute claimed
  }
  Query q;
  q.now_ms = kT0 + 1000 * 1000;
  q.kind = "invoice";
  const auto m = ProcessMap({&agg_}, q);
  bool queued_to_claimed = false;
  for (const auto& t : m.transitions()) {
    if (t.from() == "QUEUED" && t.to() == "CLAIMED") {
      queued_to_claimed = true;
      EXPECT_EQ(t.count(), 2);
      EXPECT_DOUBLE_EQ(t.mean_seconds(), 600);
    }
  }
  EXPECT_TRUE(queued_to_claimed);
  ASSERT_GE(m.bottlenecks_size(), 1);
  EXPECT_EQ(m.bottlenecks(0).state(), "QUEUED");
  EXPECT_THAT(m.mermaid(), HasSubstr("QUEUED -->|2"));
  EXPECT_THAT(m.graphviz(), HasSubstr("\"QUEUED\" -> \"CLAIMED\""));
  EXPECT_THAT(m.json(), HasSubstr("\"bottlenecks\""));
}

TEST_F(AggregatesTest, WindowCountsOnlyRecentHours) {
  Routed("old", 0);
  Routed("recent", 10 * 3600);
  Query q;
  q.now_ms = kT0 + 10 * 3600 * 1000 + 1000;
  q.from_ms = q.now_ms - 3600 * 1000;
  EXPECT_EQ(Snapshot({&agg_}, q).arrivals(), 1);
}

TEST(HistogramTest, QuantileInterpolatesInsideTheBucketLikePrometheus) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.Observe(400);  // all in (300, 900]
  EXPECT_DOUBLE_EQ(h.Quantile(0.5), 600);          // halfway through the bucket
  EXPECT_DOUBLE_EQ(h.Quantile(1.0), 900);
}

}  // namespace
}  // namespace docket::kpi
