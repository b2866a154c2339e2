#include "services/metrics/src/aggregates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <prometheus/metric_family.h>

#include <map>
#include <vector>

#include "common/kafka/record.h"
#include "google/protobuf/util/time_util.h"
#include "services/metrics/src/kpi_store.h"

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
  - {name: payslip, queue: sup, sla: 4h}
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

TEST_F(AggregatesTest, CompletionByABotsKeyIsCountedAsPathBotNotPersonAndSurvivesTheSnapshot) {
  for (const char* id : {"p", "b1", "b2"}) Routed(id);
  agg_.Apply(Completed("p", 0, 10));
  for (const char* id : {"b1", "b2"}) {
    auto e = Completed(id, 0, 10);
    e.mutable_completed()->mutable_completer()->set_type(docket::v1::Actor::TYPE_BOT);
    e.mutable_completed()->mutable_completer()->set_id("databot");
    agg_.Apply(e);
  }
  auto paths = [](const PartitionAggregates& a) {
    std::map<std::string, double> out;
    for (const auto& f : Families({{"docket.work.v1:0", &a}}, kT0)) {
      if (f.name != "docket_kpi_completions_total") continue;
      for (const auto& m : f.metric) {
        for (const auto& l : m.label) {
          if (l.name == "path") out[l.value] += m.counter.value;
        }
      }
    }
    return out;
  };
  const std::map<std::string, double> want = {{"person", 1}, {"bot", 2}, {"automated", 0}, {"rejected", 0}};
  EXPECT_EQ(paths(agg_), want);
  const auto s = Snap(agg_);
  EXPECT_EQ(s.completed(), 3) << "completed counts every Work API completion";
  EXPECT_EQ(s.bot_completed(), 2);
  EXPECT_DOUBLE_EQ(s.automation_rate(), 0) << "automation rate is the catalog's rules only";

  auto restored = PartitionAggregates::Parse(agg_.Serialize(), catalog_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(paths(*restored), want);
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

// An event that counts nothing but is remembered, like every event.
docket::v1::Event Submitted(int n) {
  docket::v1::Event e;
  e.set_id("evt-" + std::to_string(n));
  e.set_subject("item-" + std::to_string(n));
  e.set_tenant("acme");
  e.mutable_submitted();
  return e;
}

TEST_F(AggregatesTest, SeenIdsLiveInChunksSoTheSnapshotStaysSmallAndTheWindowIsKept) {
  constexpr int kEvents = static_cast<int>(kSeenEventIds) + 20000;
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(agg_.Apply(Submitted(i)));
  const auto delta = agg_.SealSeen();
  const std::string json = agg_.Serialize();
  EXPECT_LT(json.size(), 4096u) << "the snapshot must not carry the seen ids themselves";

  std::size_t ids = 0;
  for (const auto& [seq, bytes] : delta.put) ids += bytes.size() / 8;
  EXPECT_GE(ids, kSeenEventIds);
  EXPECT_LT(ids, kSeenEventIds + 4096) << "the window must stay bounded";
  EXPECT_FALSE(delta.drop.empty()) << "chunks that left the window must be deleted";

  auto restored = PartitionAggregates::Parse(json, catalog_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_EQ(restored->SeenChunks().size(), delta.put.size());
  for (const auto& [seq, bytes] : delta.put) ASSERT_TRUE(restored->RestoreSeenChunk(seq, bytes).ok());
  EXPECT_FALSE(restored->Apply(Submitted(kEvents - 1))) << "the newest id was forgotten";
  EXPECT_FALSE(restored->Apply(Submitted(kEvents - static_cast<int>(kSeenEventIds))))
      << "an id inside the window was forgotten";
  EXPECT_TRUE(restored->Apply(Submitted(0))) << "the oldest id should have left the window";
}

TEST_F(AggregatesTest, SeenChunksAreWrittenUntilConfirmedAndDroppedOnce) {
  for (int i = 0; i < 10; ++i) agg_.Apply(Submitted(i));
  const auto first = agg_.SealSeen();
  ASSERT_EQ(first.put.size(), 1u);
  // The store's write failed: the next snapshot must write the chunk again.
  for (int i = 10; i < 20; ++i) agg_.Apply(Submitted(i));
  const auto second = agg_.SealSeen();
  EXPECT_EQ(second.put.size(), 2u);
  agg_.SeenWritten(second);
  EXPECT_TRUE(agg_.SealSeen().put.empty()) << "confirmed chunks are not written again";
}

TEST_F(AggregatesTest, SnapshotWithPlainSeenIdsFromBeforeHashingStillRecognisesThem) {
  Routed("i1");
  nlohmann::json j = nlohmann::json::parse(agg_.Serialize());
  j.erase("seen_chunks");
  j.erase("seen_open");
  j["seen"] = {"i1:routed", "closed\x1fi9"};
  auto restored = PartitionAggregates::Parse(j.dump(), catalog_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->seen_ids(), 2u);
  EXPECT_FALSE(restored->Apply(Base("i1", "routed", 0))) << "an old plain id was not recognised";
  // i9 was finished: a late Routed counts the arrival but opens no backlog.
  auto late = Base("i9", "routed", 0);
  late.mutable_routed()->set_queue("ap");
  late.mutable_routed()->set_kind("invoice");
  EXPECT_TRUE(restored->Apply(late));
  EXPECT_EQ(Snap(*restored).backlog(), 1) << "only i1 is open";
}

TEST_F(AggregatesTest, MalformedSeenChunkIsDataLossNamingTheChunk) {
  for (int i = 0; i < 3; ++i) agg_.Apply(Submitted(i));
  const auto delta = agg_.SealSeen();
  auto restored = PartitionAggregates::Parse(agg_.Serialize(), catalog_);
  ASSERT_TRUE(restored.ok());
  const auto s = restored->RestoreSeenChunk(delta.put[0].first, "123");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("chunk 0"));
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

// Items are keyed by id, so each item's events stay in one partition, but
// partitions are consumed independently: one replica may fold in hours of
// partition 1 before partition 0's earlier events. The totals over the
// partitions must not depend on that interleaving.
TEST_F(AggregatesTest, TotalsAcrossPartitionsDoNotDependOnTheOrderPartitionsAreConsumed) {
  struct Step {
    int partition;
    docket::v1::Event event;
  };
  std::vector<Step> steps;
  auto routed = [&](int p, const std::string& id, std::int64_t at) {
    auto e = Base(id, "routed", at);
    e.mutable_routed()->set_queue("ap");
    e.mutable_routed()->set_kind("invoice");
    *e.mutable_routed()->mutable_submitted_at() = At(at);
    steps.push_back({p, e});
  };
  auto done = [&](int p, const std::string& id, std::int64_t at, bool met) {
    auto e = Completed(id, at - 10, at, met);
    *e.mutable_completed()->mutable_submitted_at() = At(at - 100);
    steps.push_back({p, e});
  };
  // Partition 0: early in the day; partition 1: hours later.
  routed(0, "a", 0);
  done(0, "a", 3000, true);
  routed(0, "b", 10);
  routed(1, "c", 5 * 3600);
  done(1, "c", 5 * 3600 + 200, false);
  routed(1, "d", 6 * 3600);

  auto fold = [&](const std::vector<int>& order) {
    std::vector<PartitionAggregates> parts(2, PartitionAggregates(catalog_));
    for (int i : order) parts[steps[i].partition].Apply(steps[i].event);
    return parts;
  };
  const auto in_time_order = fold({0, 1, 2, 3, 4, 5});
  const auto late_first = fold({3, 4, 5, 0, 1, 2});            // partition 1 drained first
  const auto interleaved = fold({3, 0, 4, 1, 5, 2});
  Query q;
  q.now_ms = kT0 + 7 * 3600 * 1000;
  const auto expected = Snapshot({&in_time_order[0], &in_time_order[1]}, q);
  EXPECT_EQ(expected.arrivals(), 4);
  EXPECT_EQ(expected.completed(), 2);
  EXPECT_EQ(expected.backlog(), 2);
  EXPECT_EQ(expected.sla_met(), 1);
  EXPECT_EQ(expected.sla_missed(), 1);
  for (const auto* parts : {&late_first, &interleaved}) {
    EXPECT_EQ(Snapshot({&(*parts)[0], &(*parts)[1]}, q).DebugString(), expected.DebugString());
  }
}

// The outbox relay may re-publish an item's Routed after its Completed.
TEST_F(AggregatesTest, RoutedArrivingAfterTheItemFinishedCountsTheArrivalButLeavesNoBacklog) {
  agg_.Apply(Completed("late", 0, 60));
  Routed("late", 0);
  const auto s = Snap(agg_);
  EXPECT_EQ(s.arrivals(), 1);
  EXPECT_EQ(s.completed(), 1);
  EXPECT_EQ(s.backlog(), 0) << "a finished item was reopened by its late Routed event";
}

TEST_F(AggregatesTest, FeedbackIsCountedByKindQueueAndCategoryWithUnknownCategoriesFoldedIntoOther) {
  auto feedback = [&](const std::string& id, const std::string& kind, const std::string& queue,
                      const std::string& category) {
    docket::v1::Event e = Base("", id, 0);
    e.set_id(id);
    auto* f = e.mutable_feedback();
    f->set_kind(kind);
    f->set_queue(queue);
    f->set_category(category);
    f->set_text("the scan of page 2 is missing: call +44 20 7946 0958");
    agg_.Apply(e);
  };
  feedback("f1", "invoice", "ap", "missing-data");
  feedback("f2", "invoice", "ap", "missing-data");
  feedback("f3", "", "sup", "workload");
  feedback("f4", "invoice", "ap", "a free-text category nobody configured");
  std::map<std::string, double> counts;
  for (const auto& f : Families({{"docket.work.v1:0", &agg_}}, kT0)) {
    if (f.name != "docket_kpi_feedback_total") continue;
    for (const auto& m : f.metric) {
      std::map<std::string, std::string> l;
      for (const auto& p : m.label) l[p.name] = p.value;
      counts[l["kind"] + "/" + l["queue"] + "/" + l["category"]] += m.counter.value;
      for (const auto& [name, value] : l) EXPECT_THAT(value, ::testing::Not(HasSubstr("7946"))) << name;
    }
  }
  EXPECT_EQ(counts, (std::map<std::string, double>{{"invoice/ap/missing-data", 2},
                                                    {"invoice/ap/other", 1},
                                                    {"other/sup/workload", 1}}));
}

TEST_F(AggregatesTest, SnapshotFromBeforeFeedbackHadAQueueIsReadWithQueueOther) {
  agg_.next_offset = 1;
  std::string old = agg_.Serialize();
  const std::string empty = "\"feedback\":{}";
  ASSERT_NE(old.find(empty), std::string::npos) << old;
  old.replace(old.find(empty), empty.size(), "\"feedback\":{\"acme\\u001finvoice\\u001ftooling\":3}");
  auto restored = PartitionAggregates::Parse(old, catalog_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->feedback().at("acme\x1finvoice\x1fother\x1ftooling"), 3);
}

// The fold finds hourly entries by their parts (HourKeyView); that must
// order exactly as the joined keys do, or a lookup would miss its entry and
// split one series in two.
TEST(HourKeyLessTest, LookupByPartsOrdersExactlyAsTheJoinedKeys) {
  const std::vector<std::string> values = {"", "a", "ab", "a\x1e", "a\x20", "b", "\x1f", "\xff"};
  std::vector<HourKey> keys;
  std::vector<HourKeyView> views;
  for (const auto& x : values) {
    for (const auto& y : values) {
      for (const auto& z : values) {
        for (std::int64_t hour : {1, 2}) {
          keys.push_back({x + "\x1f" + y + "\x1f" + z, hour});
          views.push_back({{x, y, z}, 3, hour});
        }
      }
    }
  }
  const HourKeyLess less;
  int disagreements = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t j = 0; j < keys.size(); ++j) {
      const bool want = keys[i] < keys[j];
      if (less(keys[i], views[j]) != want || less(views[i], keys[j]) != want) ++disagreements;
    }
  }
  EXPECT_EQ(disagreements, 0);
  HourlyMap<int> map;
  for (std::size_t i = 0; i < keys.size(); ++i) map.emplace(keys[i], static_cast<int>(i));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto it = map.find(views[i]);
    ASSERT_NE(it, map.end()) << keys[i].first;
    // Equal joined keys (a value holding the separator) share an entry.
    EXPECT_EQ(it->first, keys[i]);
  }
}

kafka::Record RecordOf(const docket::v1::Event& e) { return kafka::EncodeEvent("docket.work.v1", e); }

TEST(DecodeForKpisTest, SubmittedIsSkippedByItsTypeHeaderWithoutDecoding) {
  docket::v1::Event submitted;
  submitted.set_id("e1");
  submitted.mutable_submitted()->mutable_submission()->set_kind("invoice");
  auto skipped = DecodeForKpis(RecordOf(submitted));
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(*skipped, nullptr);
  // Not decoded at all: even a value that does not parse.
  kafka::Record garbage = RecordOf(submitted);
  garbage.value = "not-an-event";
  auto still_skipped = DecodeForKpis(garbage);
  ASSERT_TRUE(still_skipped.ok()) << still_skipped.status();
  EXPECT_EQ(*still_skipped, nullptr);
}

TEST(DecodeForKpisTest, RecordWithoutTypeHeaderIsDecodedSoBadInputStillFails) {
  docket::v1::Event submitted;
  submitted.set_id("e1");
  submitted.mutable_submitted()->mutable_submission()->set_kind("invoice");
  kafka::Record bare = RecordOf(submitted);
  bare.headers.clear();
  auto decoded = DecodeForKpis(bare);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_NE(*decoded, nullptr);
  EXPECT_EQ((*decoded)->id(), "e1");
  bare.value = "not-an-event";
  auto bad = DecodeForKpis(bare);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("is not a serialized docket.v1.Event"));
}

TEST(DecodeForKpisTest, ReusedEnvelopeKeepsNothingOfTheRecordBefore) {
  docket::v1::Event completed;
  completed.set_id("e1");
  completed.set_subject("item-1");
  completed.set_tenant("acme");
  completed.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  completed.mutable_completed()->set_queue("ap");
  completed.mutable_completed()->set_verdict_id("v1");
  docket::v1::Event routed;
  routed.set_id("e2");
  routed.mutable_routed()->set_kind("invoice");
  ASSERT_TRUE(DecodeForKpis(RecordOf(completed)).ok());
  auto decoded = DecodeForKpis(RecordOf(routed));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  routed.set_type("docket.work.v1.Routed");
  EXPECT_EQ((*decoded)->SerializeAsString(), routed.SerializeAsString()) << (*decoded)->DebugString();
}

TEST(HistogramTest, QuantileInterpolatesInsideTheBucketLikePrometheus) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.Observe(400);  // all in (300, 900]
  EXPECT_DOUBLE_EQ(h.Quantile(0.5), 600);          // halfway through the bucket
  EXPECT_DOUBLE_EQ(h.Quantile(1.0), 900);
}

}  // namespace
}  // namespace docket::kpi
