// The Workflow against a real redis-server, with a fake clock (so SLA and
// lease timers are exact and instant) and an in-memory publisher that
// records the lifecycle events.

#include "services/processing/src/workflow.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/kafka/fake_event_publisher.h"
#include "common/metrics/metrics.h"
#include "common/testing/fixtures.h"
#include "google/protobuf/util/time_util.h"

namespace docket::processing {
namespace {

using namespace std::chrono_literals;
using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kCatalog[] = R"(version: 1
tenants: [{id: acme}, {id: globex}]
calendars:
  office:
    timezone: UTC
    hours: {start: "09:00", end: "17:00"}
    weekdays: [mon, tue, wed, thu, fri]
queues:
  - {name: ap, skills: [ap], calendar: office, at_risk_share: 0.5, escalation: {queue: sup, priority_bump: 1}}
  - {name: sup, skills: [sup], calendar: office}
kinds:
  - name: invoice
    queue: ap
    sla: 4h
    attributes:
      - {name: amount, type: number, required: true}
    automation:
      - id: tiny
        when:
          - {attribute: amount, op: lt, value: "1"}
  - name: checked
    queue: ap
    sla: 8h
    compliance: {complete: true}
  - name: memo
    queue: sup
    sla: 4h
    attributes:
      - {name: amount, type: number}
)";

Clock::TimePoint Utc(int y, int m, int d, int hh, int mm = 0) {
  return absl::ToChronoTime(absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone()));
}
std::int64_t Ms(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMilliseconds(t); }
std::int64_t Ms(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Sum of the samples of `metric` whose labels contain `match`.
double Sum(const std::string& text, const std::string& metric, const std::string& match) {
  double total = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(metric + "{", 0) != 0 || line.find(match) == std::string::npos) continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

class WorkflowItest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto options = redis::ParseRedisUrl(server_->url());
    ASSERT_TRUE(options.ok());
    auto client = redis::MakeRedisClient(*options, nullptr);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = std::move(*client);
    auto catalog = catalog::Catalog::Parse(kCatalog, "catalog.yaml");
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = std::make_unique<catalog::Catalog>(*std::move(catalog));
    clock_.Set(Utc(2026, 11, 20, 16));  // a Friday, 16:00 UTC
    auto wf = Workflow::Create(*catalog_, *redis_, publisher_, clock_, kafka::Topics(), nullptr,
                               WorkflowOptions{.lease = 10min, .default_wip_limit = 5});
    ASSERT_TRUE(wf.ok()) << wf.status();
    wf_ = std::move(*wf);
  }

  std::string Submit(const std::string& kind, double amount = 100,
                     docket::v1::Priority priority = docket::v1::PRIORITY_UNSPECIFIED) {
    const std::string id = "item-" + std::to_string(++n_);
    EXPECT_TRUE(wf_->Handle(Submitted(id, kind, amount, priority)).ok());
    return id;
  }

  docket::v1::Event Submitted(const std::string& id, const std::string& kind, double amount = 100,
                              docket::v1::Priority priority = docket::v1::PRIORITY_UNSPECIFIED) {
    docket::v1::Event e;
    e.set_id(id + ":submitted");
    e.set_subject(id);
    e.set_tenant("acme");
    auto* s = e.mutable_submitted();
    s->mutable_submission()->set_tenant("acme");
    s->mutable_submission()->set_kind(kind);
    s->mutable_submission()->set_priority(priority);
    (*s->mutable_submission()->mutable_attributes())["amount"].set_number_value(amount);
    *s->mutable_submitted_at() = TimeUtil::MillisecondsToTimestamp(Ms(clock_.Now()));
    return e;
  }

  docket::v1::WorkItem Item(const std::string& id) {
    auto item = wf_->Get(kOps, id);
    EXPECT_TRUE(item.ok()) << item.status();
    return item.ok() ? *item : docket::v1::WorkItem();
  }

  std::vector<docket::v1::Event> Events(const std::string& id, const std::string& type) {
    return Events(publisher_, id, type);
  }
  static std::vector<docket::v1::Event> Events(const kafka::FakeEventPublisher& publisher,
                                               const std::string& id, const std::string& type) {
    std::vector<docket::v1::Event> out;
    for (const auto& e : publisher.Events(kafka::Topics().work())) {
      if (e.subject() == id && e.type() == type) out.push_back(e);
    }
    return out;
  }

  std::string Claim(const Worker& w) {
    docket::v1::ClaimNextRequest req;
    req.set_tenant("acme");
    auto item = wf_->ClaimNext(w, req);
    EXPECT_TRUE(item.ok()) << item.status();
    return item.ok() && *item ? (*item)->id() : "";
  }

  // A second workflow on the same Redis (another replica), e.g. with a test hook.
  std::unique_ptr<Workflow> Replica(WorkflowOptions options) {
    auto wf = Workflow::Create(*catalog_, *redis_, publisher_, clock_, kafka::Topics(), nullptr,
                               std::move(options));
    EXPECT_TRUE(wf.ok()) << wf.status();
    return wf.ok() ? std::move(*wf) : nullptr;
  }

  // A client of the test's Redis that counts its commands in `registry`
  // (docket_redis_command_duration_seconds_count{command}).
  std::unique_ptr<redis::RedisClient> MeteredRedis(metrics::MetricsRegistry& registry) {
    auto options = redis::ParseRedisUrl(server_->url());
    EXPECT_TRUE(options.ok());
    auto client = options.ok() ? redis::MakeRedisClient(*options, &registry) : options.status();
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // A replica on a metered Redis client whose Kafka refuses every event
  // (so the outbox clearer's own pipelines stay out of the count) until
  // Publishing() lets them through for RelayOutbox.
  struct Metered {
    metrics::MetricsRegistry registry{{"processing", "test", "test"}};
    std::unique_ptr<redis::RedisClient> redis;
    kafka::FakeEventPublisher publisher;
    std::unique_ptr<Workflow> wf;
    // Commands of `command` (PIPELINE for a whole pipeline) sent so far.
    double Calls(const std::string& command) {
      return Sum(registry.Serialize(), "docket_redis_command_duration_seconds_count",
                 "command=\"" + command + "\"");
    }
    void Publishing() { publisher.FailNext(0, absl::UnavailableError("no longer")); }
  };
  std::unique_ptr<Metered> MeteredReplica(WorkflowOptions options) {
    auto m = std::make_unique<Metered>();
    m->redis = MeteredRedis(m->registry);
    if (!m->redis) return nullptr;
    m->publisher.FailNext(1000, absl::UnavailableError("held back"));
    auto wf = Workflow::Create(*catalog_, *m->redis, m->publisher, clock_, kafka::Topics(), nullptr,
                               std::move(options));
    EXPECT_TRUE(wf.ok()) << wf.status();
    if (!wf.ok()) return nullptr;
    m->wf = std::move(*wf);
    return m;
  }

  redis::Reply Redis(const std::vector<std::string>& args) {
    auto r = redis_->Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : redis::Reply();
  }
  // Nothing left mid-claim (docket:claiming and its restore hash are empty).
  void ExpectNoReservations() {
    EXPECT_EQ(Redis({"ZCARD", "docket:claiming"}).integer, 0);
    EXPECT_EQ(Redis({"HLEN", "docket:claiming:from"}).integer, 0);
  }

  // A "checked" item claimed and completed by alice: its id, and the id of
  // the CompletionRequested its verdict must name ("" if a step failed).
  std::pair<std::string, std::string> AwaitingVerdict() {
    const std::string id = Submit("checked");
    EXPECT_EQ(Claim(kAlice), id);
    docket::v1::CompleteRequest done;
    done.set_item_id(id);
    EXPECT_TRUE(wf_->Complete(kAlice, done).ok());
    const auto requested = Events(id, "docket.work.v1.CompletionRequested");
    return {id, requested.empty() ? "" : requested[0].id()};
  }

  docket::v1::Event Verdict(const std::string& id, docket::v1::Outcome outcome, const std::string& source) {
    docket::v1::Event e;
    e.set_id(id + ":verdict:" + source);
    e.set_subject(id);
    auto* v = e.mutable_verdict();
    v->set_id(e.id());
    v->set_item_id(id);
    v->set_checkpoint(docket::v1::CHECKPOINT_COMPLETE);
    v->set_outcome(outcome);
    v->set_source_event_id(source);
    return e;
  }

  const Worker kAlice{.id = "alice", .tenants = {"acme"}, .skills = {"ap"}};
  const Worker kBob{.id = "bob", .tenants = {"acme"}, .skills = {"ap", "sup"}, .supervisor = true};
  const Worker kOps{.id = "ops", .tenants = {"*"}};
  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<catalog::Catalog> catalog_;
  FakeClock clock_;
  kafka::FakeEventPublisher publisher_;
  std::unique_ptr<Workflow> wf_;
  int n_ = 0;
};

TEST_F(WorkflowItest, FourHourSlaSubmittedFriday1600IsDueMonday1200) {
  const std::string id = Submit("invoice");
  const auto item = Item(id);
  EXPECT_EQ(item.state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_EQ(Ms(item.due_at()), Ms(Utc(2026, 11, 23, 12)));
}

TEST_F(WorkflowItest, WatchdogWarnsAtRiskThenBreachesAndEscalatesExactlyOnce) {
  const std::string id = Submit("invoice");
  // At-risk share 0.5 of 4 h working time: Monday 10:00.
  clock_.Set(Utc(2026, 11, 23, 9, 59));
  ASSERT_TRUE(wf_->Tick().ok());
  EXPECT_TRUE(Events(id, "docket.work.v1.SlaAtRisk").empty());
  clock_.Set(Utc(2026, 11, 23, 10, 0));
  ASSERT_EQ(*wf_->Tick(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.SlaAtRisk").size(), 1u);

  clock_.Set(Utc(2026, 11, 23, 12, 0));
  ASSERT_EQ(*wf_->Tick(), 1);
  ASSERT_EQ(Events(id, "docket.work.v1.SlaBreached").size(), 1u);
  ASSERT_EQ(Events(id, "docket.work.v1.Escalated").size(), 1u);
  const auto item = Item(id);
  EXPECT_EQ(item.queue(), "sup");
  EXPECT_EQ(item.priority(), docket::v1::PRIORITY_HIGH);
  EXPECT_EQ(item.escalation_count(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.Escalated")[0].escalated().actor().type(),
            docket::v1::Actor::TYPE_SYSTEM);

  clock_.Advance(1h);
  EXPECT_EQ(*wf_->Tick(), 0) << "a breach is reported once";
  EXPECT_EQ(Events(id, "docket.work.v1.SlaBreached").size(), 1u);
}

TEST_F(WorkflowItest, AnItemRecordsWhenTheWatchdogFoundItBreachedAndWhenItFinishedAsItsEventsSay) {
  const std::string id = Submit("invoice");  // due Monday 12:00
  EXPECT_FALSE(Item(id).has_sla_breached_at());
  clock_.Set(Utc(2026, 11, 23, 10, 0));
  ASSERT_EQ(*wf_->Tick(), 1);  // at risk only
  EXPECT_FALSE(Item(id).has_sla_breached_at()) << "a warning is not a breach";
  clock_.Set(Utc(2026, 11, 23, 12, 5));
  ASSERT_EQ(*wf_->Tick(), 1);
  const auto breached = Events(id, "docket.work.v1.SlaBreached");
  ASSERT_EQ(breached.size(), 1u);
  EXPECT_EQ(Ms(Item(id).sla_breached_at()), Ms(breached[0].sla_breached().breached_at()));
  EXPECT_FALSE(Item(id).has_finished_at()) << "an open item has not finished";

  clock_.Set(Utc(2026, 11, 23, 12, 30));
  const std::string escalated_to = Item(id).queue();
  ASSERT_EQ(Claim(kBob), id) << "escalated to " << escalated_to;
  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  auto completed = wf_->Complete(kBob, done);
  ASSERT_TRUE(completed.ok()) << completed.status();
  const auto events = Events(id, "docket.work.v1.Completed");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].completed().sla_met());
  EXPECT_EQ(Ms(completed->finished_at()), Ms(events[0].completed().completed_at()));
  EXPECT_EQ(Ms(Item(id).finished_at()), Ms(Utc(2026, 11, 23, 12, 30)));
  EXPECT_GT(Ms(Item(id).finished_at()), Ms(Item(id).due_at())) << "late: finished after its due time";
  EXPECT_EQ(Ms(Item(id).sla_breached_at()), Ms(breached[0].sla_breached().breached_at()));

  const std::string automated = Submit("invoice", 0.5);
  const auto auto_events = Events(automated, "docket.work.v1.AutoCompleted");
  ASSERT_EQ(auto_events.size(), 1u);
  EXPECT_EQ(Ms(Item(automated).finished_at()), Ms(auto_events[0].auto_completed().completed_at()));
  EXPECT_LE(Ms(Item(automated).finished_at()), Ms(Item(automated).due_at()));

  const std::string dropped = Submit("invoice");
  clock_.Advance(3min);
  auto rejected = wf_->Reject(kBob, dropped, "duplicate invoice");
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(Ms(rejected->finished_at()), Ms(Item(dropped).finished_at()));
  ASSERT_EQ(Events(dropped, "docket.work.v1.Rejected").size(), 1u);
  EXPECT_EQ(Ms(Item(dropped).finished_at()),
            Ms(Events(dropped, "docket.work.v1.Rejected")[0].rejected().rejected_at()));
}

TEST_F(WorkflowItest, AnItemBreachesOnceAndQueuedAgainPastItsDueTimeIsEscalatedWithoutASecondBreach) {
  const std::string id = Submit("invoice");  // due Monday 12:00, queue ap escalates to sup
  clock_.Set(Utc(2026, 11, 23, 11, 58));
  ASSERT_EQ(Claim(kAlice), id);  // a 10-minute lease
  clock_.Set(Utc(2026, 11, 23, 12, 5));
  ASSERT_EQ(*wf_->Tick(), 1);  // at risk
  ASSERT_EQ(*wf_->Tick(), 1);  // breached while claimed: nothing to escalate
  ASSERT_EQ(Events(id, "docket.work.v1.SlaBreached").size(), 1u);
  EXPECT_TRUE(Events(id, "docket.work.v1.Escalated").empty());

  ASSERT_TRUE(wf_->Return(kAlice, id, "missing PO").ok());  // queued again, past due
  clock_.Advance(1min);
  ASSERT_EQ(*wf_->Tick(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.SlaBreached").size(), 1u) << "a breach is counted once per item";
  ASSERT_EQ(Events(id, "docket.work.v1.Escalated").size(), 1u) << "overdue queued work still escalates";
  EXPECT_EQ(Item(id).queue(), "sup");
  EXPECT_EQ(*wf_->Tick(), 0);
  EXPECT_TRUE(Redis({"ZSCORE", "docket:sla", id}).is_nil());
}

TEST_F(WorkflowItest, EachItemHasOneSlaTimerAtItsAtRiskTimeThenAtItsDueTime) {
  const std::string id = Submit("invoice");
  EXPECT_EQ(Redis({"ZCARD", "docket:sla"}).integer, 1);
  EXPECT_EQ(std::stoll(Redis({"ZSCORE", "docket:sla", id}).str), Ms(Utc(2026, 11, 23, 10)));
  clock_.Set(Utc(2026, 11, 23, 10, 0));
  ASSERT_EQ(*wf_->Tick(), 1);  // at risk
  EXPECT_EQ(std::stoll(Redis({"ZSCORE", "docket:sla", id}).str), Ms(Utc(2026, 11, 23, 12)))
      << "after the warning the timer waits for the due time";
  ASSERT_EQ(Claim(kAlice), id);
  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  ASSERT_TRUE(wf_->Complete(kAlice, done).ok());
  EXPECT_EQ(Redis({"ZCARD", "docket:sla"}).integer, 0) << "a completed item keeps no SLA timer";
}

TEST_F(WorkflowItest, AnItemPastItsDueTimeBeforeAnyTickIsWarnedOnceThenBreachedOnce) {
  const std::string id = Submit("invoice");
  clock_.Set(Utc(2026, 11, 23, 13, 0));  // the watchdog was down past 10:00 and 12:00
  ASSERT_EQ(*wf_->Tick(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.SlaAtRisk").size(), 1u);
  EXPECT_TRUE(Events(id, "docket.work.v1.SlaBreached").empty());
  ASSERT_EQ(*wf_->Tick(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.SlaBreached").size(), 1u);
  EXPECT_EQ(*wf_->Tick(), 0);
  EXPECT_EQ(Events(id, "docket.work.v1.SlaAtRisk").size(), 1u);
}

TEST_F(WorkflowItest, SlaTimersInTheTwoZsetsOfEarlierVersionsAreMergedAndStillFire) {
  const std::string id = Submit("invoice");
  // As a replica of an earlier version left them: at-risk and due in two zsets.
  Redis({"ZREM", "docket:sla", id});
  Redis({"ZADD", "docket:sla:risk", std::to_string(Ms(Utc(2026, 11, 23, 10))), id});
  Redis({"ZADD", "docket:sla:due", std::to_string(Ms(Utc(2026, 11, 23, 12))), id});
  ASSERT_EQ(*wf_->Tick(), 0);
  EXPECT_EQ(Redis({"EXISTS", "docket:sla:risk", "docket:sla:due"}).integer, 0);
  EXPECT_EQ(std::stoll(Redis({"ZSCORE", "docket:sla", id}).str), Ms(Utc(2026, 11, 23, 10)));
  clock_.Set(Utc(2026, 11, 23, 10, 0));
  ASSERT_EQ(*wf_->Tick(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.SlaAtRisk").size(), 1u);
  clock_.Set(Utc(2026, 11, 23, 12, 0));
  ASSERT_EQ(*wf_->Tick(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.SlaBreached").size(), 1u);
}


TEST_F(WorkflowItest, SlaWarningAndBreachAreNotCountedAsTransitionsButTheEscalationIs) {
  Submit("invoice");
  // The watchdog of a replica with metrics (the fixture's has none).
  metrics::MetricsRegistry registry({"processing", "test", "test"});
  auto wf = Workflow::Create(*catalog_, *redis_, publisher_, clock_, kafka::Topics(), &registry,
                             WorkflowOptions{});
  ASSERT_TRUE(wf.ok()) << wf.status();
  const std::string queued = "state=\"WORK_STATE_QUEUED\"";
  clock_.Set(Utc(2026, 11, 23, 10, 0));
  ASSERT_EQ(*(*wf)->Tick(), 1);  // at risk
  EXPECT_EQ(Sum(registry.Serialize(), "docket_processing_sla_events_total", "event=\"at_risk\""), 1);
  EXPECT_EQ(Sum(registry.Serialize(), "docket_processing_transitions_total", queued), 0)
      << "an at-risk warning was counted as entering QUEUED again";
  clock_.Set(Utc(2026, 11, 23, 12, 0));
  ASSERT_EQ(*(*wf)->Tick(), 1);  // breached, escalated to sup: QUEUED there
  EXPECT_EQ(Sum(registry.Serialize(), "docket_processing_transitions_total", queued), 1)
      << "the escalation is one transition, the breach none";
}

TEST_F(WorkflowItest, TransitionsAreCountedOncePerKindAndStateAndAnUnknownKindIsNeverALabel) {
  metrics::MetricsRegistry registry({"processing", "test", "test"});
  auto wf = Workflow::Create(*catalog_, *redis_, publisher_, clock_, kafka::Topics(), &registry,
                             WorkflowOptions{});
  ASSERT_TRUE(wf.ok()) << wf.status();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*wf)->Handle(Submitted("count-" + std::to_string(i), "invoice")).ok());
  (void)(*wf)->Handle(Submitted("count-unknown", "mystery-kind"));
  const std::string text = registry.Serialize();
  EXPECT_EQ(Sum(text, "docket_processing_transitions_total", "kind=\"invoice\",state=\"WORK_STATE_QUEUED\""), 3)
      << "each transition counted once, on the same series";
  EXPECT_EQ(text.find("mystery-kind"), std::string::npos) << "an unknown kind became a label value";
}

TEST_F(WorkflowItest, HeldTimeDoesNotCountAgainstTheSla) {
  const std::string id = Submit("checked");  // 8 h: 1 h on Friday, 7 h on Monday
  ASSERT_EQ(Ms(Item(id).due_at()), Ms(Utc(2026, 11, 23, 16)));
  clock_.Set(Utc(2026, 11, 23, 9));
  ASSERT_EQ(Claim(kAlice), id);
  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  ASSERT_TRUE(wf_->Complete(kAlice, done).ok());
  const std::string request = Events(id, "docket.work.v1.CompletionRequested")[0].id();
  ASSERT_TRUE(wf_->Handle(Verdict(id, docket::v1::OUTCOME_FAIL, request)).ok());
  ASSERT_EQ(Item(id).state(), docket::v1::WORK_STATE_HELD);
  clock_.Set(Utc(2026, 11, 23, 11));
  EXPECT_EQ(*wf_->Tick(), 0) << "no SLA events for a held item";

  // Held from 09:00 for two working hours, then sent back for rework: the
  // due time moves two working hours out, past Monday's close.
  auto back = wf_->Return(kBob, id, "missing PO");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_EQ(back->rework_count(), 1);
  EXPECT_EQ(back->attempt(), 2);
  EXPECT_EQ(Ms(back->due_at()), Ms(Utc(2026, 11, 24, 10)));
}

TEST_F(WorkflowItest, StaleOrRedeliveredVerdictChangesNothing) {
  const auto [id, request] = AwaitingVerdict();
  ASSERT_FALSE(request.empty());
  ASSERT_TRUE(wf_->Handle(Verdict(id, docket::v1::OUTCOME_PASS, "some-older-request")).ok());
  EXPECT_EQ(Item(id).state(), docket::v1::WORK_STATE_COMPLETION_REQUESTED);
  ASSERT_TRUE(wf_->Handle(Verdict(id, docket::v1::OUTCOME_PASS, request)).ok());
  const auto version = Item(id).version();
  EXPECT_EQ(Item(id).state(), docket::v1::WORK_STATE_COMPLETED);
  ASSERT_TRUE(wf_->Handle(Verdict(id, docket::v1::OUTCOME_PASS, request)).ok());
  EXPECT_EQ(Item(id).version(), version);
  EXPECT_EQ(Events(id, "docket.work.v1.Completed").size(), 1u);
}

// A batch (what the consumer fetched together) has the effects of its
// events handled one by one: each once, a second event of one item after the
// first, a bad event failing alone.
TEST_F(WorkflowItest, BatchAppliesEachEventOnceInOrderPerItemAndFailsOnlyTheBadOne) {
  const auto [checked, request] = AwaitingVerdict();
  ASSERT_FALSE(request.empty());
  const auto checked_version = Item(checked).version();

  docket::v1::Event ignored = Submitted("item-x", "invoice");
  ignored.mutable_routed()->set_queue("ap");  // our own lifecycle event: not an input
  const std::vector<docket::v1::Event> events = {
      Submitted("item-a", "invoice"),
      Submitted("item-b", "invoice", 0.5),  // automated
      Submitted("item-a", "invoice"),       // redelivered in the same batch
      Verdict(checked, docket::v1::OUTCOME_PASS, request),
      Verdict(checked, docket::v1::OUTCOME_PASS, request),  // redelivered
      Submitted("item-c", "no-such-kind"),
      Verdict("item-unknown", docket::v1::OUTCOME_PASS, "whatever"),
      ignored,
      Submitted("item-d", "memo"),
  };
  std::vector<const docket::v1::Event*> batch;
  for (const auto& e : events) batch.push_back(&e);
  const std::vector<absl::Status> statuses = wf_->HandleBatch(batch);
  ASSERT_EQ(statuses.size(), events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i == 5) continue;
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i];
  }
  EXPECT_EQ(statuses[5].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(statuses[5].message()), HasSubstr("no-such-kind"));

  EXPECT_EQ(Item("item-a").state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_EQ(Item("item-a").version(), 1);
  EXPECT_EQ(Events("item-a", "docket.work.v1.Routed").size(), 1u);
  EXPECT_EQ(Item("item-b").state(), docket::v1::WORK_STATE_AUTO_COMPLETED);
  EXPECT_EQ(Item("item-d").queue(), "sup");
  EXPECT_EQ(Item(checked).state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_EQ(Item(checked).version(), checked_version + 1);
  EXPECT_EQ(Events(checked, "docket.work.v1.Completed").size(), 1u);
  EXPECT_FALSE(wf_->Get(kOps, "item-c").ok());
  EXPECT_FALSE(wf_->Get(kOps, "item-x").ok());
}

// The point of a batch: Redis round trips per batch, not per event. Routing
// needs no read at all (the CAS creates an item only if it is new).
TEST_F(WorkflowItest, BatchOfSubmissionsCommitsInOneRedisRoundTripWithoutReadingTheItems) {
  metrics::MetricsRegistry registry({"processing", "test", "test"});
  // Kafka refuses: nothing is confirmed, so the outbox clearer's own
  // pipelines stay out of the count (the events wait in the outbox).
  kafka::FakeEventPublisher refusing;
  refusing.FailNext(1000, absl::UnavailableError("held back"));
  const std::unique_ptr<redis::RedisClient> metered = MeteredRedis(registry);
  ASSERT_NE(metered, nullptr);
  auto wf = Workflow::Create(*catalog_, *metered, refusing, clock_, kafka::Topics(), nullptr, WorkflowOptions{});
  ASSERT_TRUE(wf.ok()) << wf.status();
  ASSERT_TRUE((*wf)->Handle(Submitted("warm-up", "invoice")).ok());  // the script is cached now
  auto calls = [&](const std::string& command) {
    return Sum(registry.Serialize(), "docket_redis_command_duration_seconds_count",
               "command=\"" + command + "\"");
  };
  const double pipelines = calls("PIPELINE");
  const double hmgets = calls("HMGET");
  const double evals = calls("EVALSHA");

  std::vector<docket::v1::Event> events;
  for (int i = 0; i < 50; ++i) events.push_back(Submitted("batch-" + std::to_string(i), "invoice", i % 2 ? 100 : 0.5));
  std::vector<const docket::v1::Event*> batch;
  for (const auto& e : events) batch.push_back(&e);
  for (const auto& s : (*wf)->HandleBatch(batch)) EXPECT_TRUE(s.ok()) << s;

  EXPECT_EQ(calls("PIPELINE") - pipelines, 1) << "one round trip for the 50 changes";
  EXPECT_EQ(calls("HMGET") - hmgets, 0);
  EXPECT_EQ(calls("EVALSHA") - evals, 0);
  EXPECT_EQ(Redis({"ZCARD", "docket:q:acme:ap"}).integer, 25 + 1);
  // Routed for each, AutoCompleted too for the 25 automated.
  EXPECT_EQ(Redis({"XLEN", "docket:outbox:log"}).integer, 1 + 50 + 25) << "every event kept for the relay";
  EXPECT_EQ(Item("batch-0").state(), docket::v1::WORK_STATE_AUTO_COMPLETED);
  EXPECT_EQ(Item("batch-1").state(), docket::v1::WORK_STATE_QUEUED);
}

// Complete after a claim on the same replica uses the claim's copy of the
// item (no read); a copy made stale by another replica's change is never
// committed over it: the CAS refuses it and the item as stored decides.
TEST_F(WorkflowItest, CompleteAfterAClaimHereReadsNothingAndAStaleCopyNeverOverwritesTheStoredItem) {
  metrics::MetricsRegistry registry({"processing", "test", "test"});
  const std::unique_ptr<redis::RedisClient> metered = MeteredRedis(registry);
  ASSERT_NE(metered, nullptr);
  auto here = Workflow::Create(*catalog_, *metered, publisher_, clock_, kafka::Topics(), nullptr,
                               WorkflowOptions{.lease = 10min, .default_wip_limit = 5});
  ASSERT_TRUE(here.ok()) << here.status();
  auto hmgets = [&] {
    return Sum(registry.Serialize(), "docket_redis_command_duration_seconds_count", "command=\"HMGET\"");
  };
  docket::v1::ClaimNextRequest claim;
  claim.set_tenant("acme");
  docket::v1::CompleteRequest done;

  // Claimed and completed here: the completion reads nothing.
  const std::string fresh = Submit("invoice");
  ASSERT_EQ((*(*here)->ClaimNext(kAlice, claim))->id(), fresh);
  const double before = hmgets();
  done.set_item_id(fresh);
  ASSERT_TRUE((*here)->Complete(kAlice, done).ok());
  EXPECT_EQ(hmgets() - before, 0);
  EXPECT_EQ(Item(fresh).state(), docket::v1::WORK_STATE_COMPLETED);

  // Commented on another replica after the claim: the copy is stale, the
  // comment survives the completion.
  const std::string commented = Submit("invoice");
  ASSERT_EQ((*(*here)->ClaimNext(kAlice, claim))->id(), commented);
  ASSERT_TRUE(wf_->Comment(kBob, commented, "please check the VAT").ok());
  done.set_item_id(commented);
  auto completed = (*here)->Complete(kAlice, done);
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(Item(commented).state(), docket::v1::WORK_STATE_COMPLETED);
  ASSERT_EQ(Item(commented).comments_size(), 1) << "a stale copy overwrote the stored item";

  // Its lease ran out and bob claimed it elsewhere: alice's copy says she
  // holds it, the stored item says bob does.
  const std::string moved = Submit("invoice");
  ASSERT_EQ((*(*here)->ClaimNext(kAlice, claim))->id(), moved);
  clock_.Advance(11min);
  ASSERT_TRUE(wf_->Tick().ok());
  ASSERT_EQ(Claim(kBob), moved);
  done.set_item_id(moved);
  EXPECT_EQ((*here)->Complete(kAlice, done).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Item(moved).worker(), "bob");
  EXPECT_EQ(Item(moved).state(), docket::v1::WORK_STATE_CLAIMED);
}

// Complete and next on the replica that made the claim: the completion's
// CAS and the next item's reservation go in one round trip, the reservation
// seeing the WIP slot the completion freed; when the completion loses (a
// stale copy), the reservation goes back and the completion is decided on
// the stored item, then the claim is made as usual.
TEST_F(WorkflowItest, CompleteAndClaimNextSharesOneRoundTripAndGivesTheReservationBackWhenTheCompletionLoses) {
  const std::unique_ptr<Metered> metered = MeteredReplica({.lease = 10min, .default_wip_limit = 1});
  ASSERT_NE(metered, nullptr);
  Workflow* here = metered->wf.get();
  auto calls = [&](const std::string& command) { return metered->Calls(command); };
  const std::string a = Submit("invoice");
  const std::string b = Submit("invoice");
  const std::string c = Submit("invoice");
  docket::v1::CompleteRequest done;
  done.mutable_claim_next()->set_tenant("acme");
  ASSERT_EQ((*here->ClaimNext(kAlice, done.claim_next()))->id(), a);

  const double pipelines = calls("PIPELINE"), evals = calls("EVALSHA"), hmgets = calls("HMGET");
  done.set_item_id(a);
  Workflow::Completed out = here->CompleteBatch(kAlice, {&done}, &done.claim_next());
  ASSERT_TRUE(out.completed[0].ok()) << out.completed[0].status();
  ASSERT_TRUE(out.next.has_value() && out.next->ok());
  ASSERT_EQ(out.next->value().size(), 1u) << "the freed WIP slot (cap 1) was not seen";
  EXPECT_EQ(out.next->value()[0].id(), b);
  EXPECT_EQ(calls("PIPELINE") - pipelines, 1) << "completion + reservation in one round trip";
  EXPECT_EQ(calls("EVALSHA") - evals, 1) << "then only the claim's CAS";
  EXPECT_EQ(calls("HMGET") - hmgets, 0);
  EXPECT_EQ(Item(a).state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_EQ(Item(b).worker(), "alice");

  // b commented on another replica: alice's copy is stale. The pipelined
  // completion loses, c's reservation goes back, b completes on the stored
  // item (the comment survives) and c is claimed after all.
  // (A cap of 5 this time, so the pipelined reservation does take c.)
  ASSERT_TRUE(wf_->Comment(kBob, b, "please check the VAT").ok());
  done.set_item_id(b);
  Worker alice = kAlice;
  alice.wip_limit = 5;
  out = here->CompleteBatch(alice, {&done}, &done.claim_next());
  ASSERT_TRUE(out.completed[0].ok()) << out.completed[0].status();
  EXPECT_EQ(Item(b).state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_EQ(Item(b).comments_size(), 1) << "a stale copy overwrote the stored item";
  ASSERT_TRUE(out.next.has_value() && out.next->ok()) << out.next->status();
  ASSERT_EQ(out.next->value().size(), 1u);
  EXPECT_EQ(out.next->value()[0].id(), c);
  EXPECT_EQ(Item(c).state(), docket::v1::WORK_STATE_CLAIMED);
  EXPECT_EQ(Redis({"ZCARD", "docket:claiming"}).integer, 0) << "a reservation was left behind";
  EXPECT_EQ(Redis({"ZCARD", "docket:q:acme:ap"}).integer, 0);

  // Nothing left to claim: the completion stands, next is empty.
  done.set_item_id(c);
  out = here->CompleteBatch(alice, {&done}, &done.claim_next());
  ASSERT_TRUE(out.completed[0].ok()) << out.completed[0].status();
  ASSERT_TRUE(out.next.has_value() && out.next->ok());
  EXPECT_TRUE(out.next->value().empty());
  EXPECT_EQ(Item(c).state(), docket::v1::WORK_STATE_COMPLETED);
}

TEST_F(WorkflowItest, FourEyesRefusesTheCompleterAsReleaser) {
  const std::string id = Submit("checked");
  ASSERT_EQ(Claim(kBob), id);
  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  ASSERT_TRUE(wf_->Complete(kBob, done).ok());
  const std::string request = Events(id, "docket.work.v1.CompletionRequested")[0].id();
  ASSERT_TRUE(wf_->Handle(Verdict(id, docket::v1::OUTCOME_FLAG, request)).ok());
  auto released = wf_->Release(kBob, id, "looks fine to me");
  EXPECT_EQ(released.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Item(id).state(), docket::v1::WORK_STATE_HELD);
}

TEST_F(WorkflowItest, HighPriorityIsServedFirstButOldNormalWorkIsNotStarved) {
  const std::string old_normal = Submit("invoice");  // due Mon 12:00
  clock_.Set(Utc(2026, 11, 23, 9));
  const std::string fresh_high = Submit("invoice", 100, docket::v1::PRIORITY_HIGH);  // due Mon 13:00
  EXPECT_EQ(Claim(kAlice), fresh_high) << "high beats normal due within the 4 h lead";
  clock_.Set(Utc(2026, 11, 25, 9));  // Wednesday: the old item is long overdue
  const std::string newer_high = Submit("invoice", 100, docket::v1::PRIORITY_HIGH);
  EXPECT_EQ(Claim(kAlice), old_normal) << "old normal work was starved by fresh high work";
  EXPECT_EQ(Claim(kAlice), newer_high);
}

TEST_F(WorkflowItest, ClaimBeyondTheWipCapIsResourceExhausted) {
  Submit("invoice");
  Submit("invoice");
  const Worker capped{.id = "carl", .tenants = {"acme"}, .skills = {"ap"}, .wip_limit = 1};
  ASSERT_FALSE(Claim(capped).empty());
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  EXPECT_EQ(wf_->ClaimNext(capped, req).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(WorkflowItest, ABotsClaimCompletionAndExpiredLeaseNameABotActorAndAPersonsNameAPerson) {
  const Worker bot{.id = "scanbot", .tenants = {"acme"}, .skills = {"ap"}, .bot = true};
  for (const Worker* w : {&kAlice, &bot}) {
    const std::string id = Submit("invoice");
    ASSERT_EQ(Claim(*w), id);
    docket::v1::CompleteRequest done;
    done.set_item_id(id);
    ASSERT_TRUE(wf_->Complete(*w, done).ok());
    const auto want = w->bot ? docket::v1::Actor::TYPE_BOT : docket::v1::Actor::TYPE_PERSON;
    const auto claimed = Events(id, "docket.work.v1.Claimed");
    const auto completed = Events(id, "docket.work.v1.Completed");
    ASSERT_EQ(claimed.size(), 1u);
    ASSERT_EQ(completed.size(), 1u);
    EXPECT_EQ(claimed[0].claimed().worker().type(), want) << w->id;
    EXPECT_EQ(claimed[0].claimed().worker().id(), w->id);
    EXPECT_EQ(completed[0].completed().completer().type(), want) << w->id;
    EXPECT_EQ(Item(id).completer().type(), want) << w->id;
  }
  // A bot's claim that runs out is the bot's too.
  const std::string id = Submit("invoice");
  ASSERT_EQ(Claim(bot), id);
  EXPECT_EQ(Item(id).worker_type(), docket::v1::Actor::TYPE_BOT);
  clock_.Advance(11min);  // past the fixture's 10-minute lease
  ASSERT_TRUE(wf_->Tick().ok());
  const auto expired = Events(id, "docket.work.v1.LeaseExpired");
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].lease_expired().worker().type(), docket::v1::Actor::TYPE_BOT);
  EXPECT_EQ(expired[0].lease_expired().worker().id(), "scanbot");
  EXPECT_EQ(Item(id).worker_type(), docket::v1::Actor::TYPE_UNSPECIFIED) << "cleared with the worker";
}

TEST_F(WorkflowItest, RoutineItemIsAutoCompletedByItsRule) {
  const std::string id = Submit("invoice", 0.5);
  EXPECT_EQ(Item(id).state(), docket::v1::WORK_STATE_AUTO_COMPLETED);
  ASSERT_EQ(Events(id, "docket.work.v1.AutoCompleted").size(), 1u);
  EXPECT_EQ(Events(id, "docket.work.v1.AutoCompleted")[0].auto_completed().rule_id(), "tiny");
}

TEST_F(WorkflowItest, EventThatKafkaRefusedIsRelayedFromTheOutbox) {
  publisher_.FailNext(1, absl::UnavailableError("broker down"));
  const std::string id = Submit("invoice");
  EXPECT_TRUE(Events(id, "docket.work.v1.Routed").empty());
  auto relayed = wf_->RelayOutbox(0ms);
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ(*relayed, 1);
  EXPECT_EQ(Events(id, "docket.work.v1.Routed").size(), 1u);
  EXPECT_EQ(*wf_->RelayOutbox(0ms), 0) << "a relayed event leaves the outbox";
}

TEST_F(WorkflowItest, TheRelayPublishesAPageAtOnceClearsWhatKafkaConfirmedAndKeepsWhatItRefused) {
  publisher_.FailNext(3, absl::UnavailableError("broker down"));
  const std::vector<std::string> ids = {Submit("invoice"), Submit("invoice"), Submit("invoice")};
  for (const auto& id : ids) ASSERT_TRUE(Events(id, "docket.work.v1.Routed").empty());
  publisher_.FailNext(1, absl::UnavailableError("still down"));
  auto relayed = wf_->RelayOutbox(0ms);
  ASSERT_FALSE(relayed.ok()) << "a refused event is reported";
  EXPECT_NE(relayed.status().message().find("still down"), std::string::npos) << relayed.status();
  EXPECT_EQ(Redis({"XLEN", "docket:outbox:log"}).integer, 1) << "only the refused event stays";
  relayed = wf_->RelayOutbox(0ms);
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ(*relayed, 1);
  for (const auto& id : ids) EXPECT_EQ(Events(id, "docket.work.v1.Routed").size(), 1u) << id;
  EXPECT_EQ(Redis({"XLEN", "docket:outbox:log"}).integer, 0);
}

TEST_F(WorkflowItest, TheRelayReplaysEachItemsEventsInTheOrderTheyWereCommitted) {
  // An automated item's Routed and AutoCompleted commit in one script; the
  // relay must send them in that order (a consumer reading AutoCompleted
  // first would see an item finish before it was routed).
  constexpr int kItems = 8;
  publisher_.FailNext(2 * kItems, absl::UnavailableError("broker down"));
  std::vector<std::string> ids;
  for (int i = 0; i < kItems; ++i) ids.push_back(Submit("invoice", 0.5));
  ASSERT_EQ(Redis({"XLEN", "docket:outbox:log"}).integer, 2 * kItems);
  auto relayed = wf_->RelayOutbox(0ms);
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ(*relayed, 2 * kItems);
  for (const auto& id : ids) {
    std::vector<std::string> types;
    for (const auto& e : publisher_.Events(kafka::Topics().work())) {
      if (e.subject() == id && e.type() != "docket.work.v1.Submitted") types.push_back(e.type());
    }
    EXPECT_EQ(types, (std::vector<std::string>{"docket.work.v1.Routed", "docket.work.v1.AutoCompleted"})) << id;
  }
}

TEST_F(WorkflowItest, TheRelayDrainsTheOutboxHashAReplicaOfThePreviousVersionLeft) {
  // Before the stream, the outbox was a hash by event id with a zset of
  // when each was written; a rolling upgrade can leave events there.
  docket::v1::Event e = Submitted("legacy-1", "invoice", 100);
  e.set_id("legacy-event-1");
  e.set_type(kafka::EventType(e));
  Redis({"HSET", "docket:outbox", e.id(), e.SerializeAsString()});
  Redis({"ZADD", "docket:outbox:at", "1", e.id()});
  Redis({"HSET", "docket:outbox", "legacy-garbage", "not an event"});
  Redis({"ZADD", "docket:outbox:at", "2", "legacy-garbage"});
  auto relayed = wf_->RelayOutbox(0ms);
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ(*relayed, 1);
  const auto sent = publisher_.Events(kafka::Topics().work());
  EXPECT_EQ(std::count_if(sent.begin(), sent.end(), [](const auto& x) { return x.id() == "legacy-event-1"; }), 1);
  EXPECT_EQ(Redis({"EXISTS", "docket:outbox", "docket:outbox:at"}).integer, 0)
      << "the relayed event and the unreadable one are both gone";
}

TEST_F(WorkflowItest, ConfirmedEventsLeaveTheOutboxInBatchesAndAreNotRelayedAgain) {
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(Submit("invoice"));
  const auto published = publisher_.Events(kafka::Topics().work()).size();
  ASSERT_GE(published, 40u);
  // RelayOutbox first waits for the clearer: nothing confirmed is sent twice.
  auto relayed = wf_->RelayOutbox(0ms);
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ(*relayed, 0) << "confirmed events were still in the outbox";
  EXPECT_EQ(publisher_.Events(kafka::Topics().work()).size(), published);
  auto left = redis_->Command({"XLEN", "docket:outbox:log"});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->integer, 0);
}

TEST_F(WorkflowItest, ListQueuePagesThroughTheQueueInUrgencyOrder) {
  for (int i = 0; i < 5; ++i) {
    Submit("invoice");
    clock_.Advance(1min);
  }
  docket::v1::ListQueueRequest req;
  req.set_tenant("acme");
  req.set_queue("ap");
  req.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto resp = wf_->ListQueue(kAlice, req);
    ASSERT_TRUE(resp.ok()) << resp.status();
    for (const auto& item : resp->items()) seen.push_back(item.id());
    if (resp->next_page_token().empty()) break;
    req.set_page_token(resp->next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"item-1", "item-2", "item-3", "item-4", "item-5"}));
  req.set_tenant("globex");
  EXPECT_EQ(wf_->ListQueue(kAlice, req).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(WorkflowItest, RejectIsTerminalAndLaterActionsAreFailedPrecondition) {
  const std::string id = Submit("invoice");
  auto rejected = wf_->Reject(kBob, id, "duplicate invoice");
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(rejected->state(), docket::v1::WORK_STATE_REJECTED);
  EXPECT_EQ(Claim(kAlice), "") << "a rejected item left in its queue";
  auto again = wf_->Reject(kBob, id, "again");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("REJECTED"));
}

TEST_F(WorkflowItest, ReplayingEveryInputFromTheBeginningChangesNoStateAndEmitsNoNewEventIds) {
  // A partition's inputs: submissions (one automated), and the verdicts on
  // the completions that needed a check.
  std::vector<docket::v1::Event> inputs;
  auto submit = [&](const std::string& kind, double amount) {
    const std::string id = Submit(kind, amount);
    docket::v1::Event e;
    e.set_id(id + ":submitted");
    e.set_subject(id);
    e.set_tenant("acme");
    auto* s = e.mutable_submitted();
    s->mutable_submission()->set_tenant("acme");
    s->mutable_submission()->set_kind(kind);
    (*s->mutable_submission()->mutable_attributes())["amount"].set_number_value(amount);
    *s->mutable_submitted_at() = Item(id).submitted_at();
    inputs.push_back(e);
    return id;
  };
  const std::string plain = submit("invoice", 100);
  submit("invoice", 0.5);  // automated
  const std::string checked = submit("checked", 100);
  ASSERT_EQ(Claim(kAlice), plain);
  ASSERT_EQ(Claim(kAlice), checked);
  docket::v1::CompleteRequest done;
  done.set_item_id(checked);
  ASSERT_TRUE(wf_->Complete(kAlice, done).ok());
  const std::string request = Events(checked, "docket.work.v1.CompletionRequested")[0].id();
  inputs.push_back(Verdict(checked, docket::v1::OUTCOME_PASS, request));
  ASSERT_TRUE(wf_->Handle(inputs.back()).ok());

  std::map<std::string, std::int64_t> versions;
  for (const auto& e : inputs) versions[e.subject()] = Item(e.subject()).version();
  std::set<std::string> ids;
  for (const auto& e : publisher_.Events(kafka::Topics().work())) ids.insert(e.id());
  const auto published = publisher_.Events(kafka::Topics().work()).size();

  for (const auto& e : inputs) ASSERT_TRUE(wf_->Handle(e).ok());  // the replay
  for (const auto& [id, version] : versions) EXPECT_EQ(Item(id).version(), version) << id;
  EXPECT_EQ(publisher_.Events(kafka::Topics().work()).size(), published) << "the replay emitted events";
  for (const auto& e : publisher_.Events(kafka::Topics().work())) EXPECT_TRUE(ids.contains(e.id()));
}

TEST_F(WorkflowItest, CommentIsKeptOnTheItemEmittedAsAnEventAndChangesNoState) {
  const std::string id = Submit("invoice");
  ASSERT_EQ(Claim(kAlice), id);
  const auto before = Item(id);
  auto commented = wf_->Comment(kAlice, id, "vendor called: PO follows tomorrow");
  ASSERT_TRUE(commented.ok()) << commented.status();
  EXPECT_EQ(commented->state(), docket::v1::WORK_STATE_CLAIMED);
  EXPECT_EQ(commented->worker(), "alice");
  EXPECT_EQ(commented->version(), before.version() + 1);

  const auto stored = Item(id);
  ASSERT_EQ(stored.comments_size(), 1);
  EXPECT_EQ(stored.comments(0).text(), "vendor called: PO follows tomorrow");
  EXPECT_EQ(stored.comments(0).author().id(), "alice");
  EXPECT_EQ(Ms(stored.comments(0).at()), Ms(clock_.Now()));
  const auto events = Events(id, "docket.work.v1.Commented");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].commented().text(), "vendor called: PO follows tomorrow");
  EXPECT_EQ(events[0].commented().queue(), "ap");

  // The claim still works as before: the comment did not disturb it.
  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  auto completed = wf_->Complete(kAlice, done);
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(completed->comments_size(), 1);
  // A finished item still takes notes (its history stays open).
  EXPECT_TRUE(wf_->Comment(kBob, id, "checked the payment run").ok());
  EXPECT_EQ(Item(id).comments_size(), 2);
}

TEST_F(WorkflowItest, CommentIsRefusedWhenEmptyTooLongOrOnAnotherTenantsItem) {
  const std::string id = Submit("invoice");
  auto empty = wf_->Comment(kAlice, id, "");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("text"));
  auto too_long = wf_->Comment(kAlice, id, std::string(kMaxNoteBytes + 1, 'x'));
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.status().message(), HasSubstr("4096"));
  const Worker globex{.id = "gina", .tenants = {"globex"}, .skills = {"ap"}};
  EXPECT_EQ(wf_->Comment(globex, id, "hello").status().code(), absl::StatusCode::kNotFound);
  // A publisher key sees only its kinds.
  Worker publisher{.id = "acme-erp", .tenants = {"acme"}, .publisher = true, .kinds = {"checked"}};
  EXPECT_EQ(wf_->Comment(publisher, id, "any news?").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Item(id).comments_size(), 0);
  EXPECT_TRUE(Events(id, "docket.work.v1.Commented").empty());
  publisher.kinds = {"invoice"};
  auto requester = wf_->Comment(publisher, id, "any news?");
  ASSERT_TRUE(requester.ok()) << requester.status();
  EXPECT_EQ(requester->comments(0).author().type(), docket::v1::Actor::TYPE_PUBLISHER);
}

TEST_F(WorkflowItest, ItemKeepsOnlyTheNewestCommentsSoItsSizeStaysBounded) {
  const std::string id = Submit("invoice");
  for (int i = 0; i < kMaxCommentsPerItem + 5; ++i) {
    ASSERT_TRUE(wf_->Comment(kAlice, id, "note " + std::to_string(i)).ok()) << i;
  }
  const auto item = Item(id);
  ASSERT_EQ(item.comments_size(), kMaxCommentsPerItem);
  EXPECT_EQ(item.comments(0).text(), "note 5");
  EXPECT_EQ(item.comments(kMaxCommentsPerItem - 1).text(),
            "note " + std::to_string(kMaxCommentsPerItem + 4));
  EXPECT_EQ(Events(id, "docket.work.v1.Commented").size(), static_cast<std::size_t>(kMaxCommentsPerItem + 5));
}

TEST_F(WorkflowItest, FeedbackOnAnItemIsPublishedWithItsKindAndQueue) {
  const std::string id = Submit("invoice");
  docket::v1::SubmitFeedbackRequest req;
  req.set_item_id(id);
  req.set_category("missing-data");
  req.set_text("no purchase order number on the scan");
  auto event_id = wf_->SubmitFeedback(kAlice, req);
  ASSERT_TRUE(event_id.ok()) << event_id.status();
  const auto events = Events(id, "docket.work.v1.Feedback");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id(), *event_id);
  EXPECT_EQ(events[0].tenant(), "acme");
  const auto& f = events[0].feedback();
  EXPECT_EQ(f.kind(), "invoice");
  EXPECT_EQ(f.queue(), "ap");
  EXPECT_EQ(f.category(), "missing-data");
  EXPECT_EQ(f.item_id(), id);
  EXPECT_EQ(f.actor().id(), "alice");
}

TEST_F(WorkflowItest, FeedbackOnAKindFillsItsQueueAndBadFeedbackNamesTheField) {
  docket::v1::SubmitFeedbackRequest req;
  req.set_tenant("acme");
  req.set_kind("checked");
  req.set_category("unclear-instructions");
  auto ok = wf_->SubmitFeedback(kAlice, req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  bool found = false;
  for (const auto& e : publisher_.Events(kafka::Topics().work())) {
    if (e.id() == *ok) {
      found = true;
      EXPECT_EQ(e.feedback().queue(), "ap");
      EXPECT_TRUE(e.subject().empty());
    }
  }
  EXPECT_TRUE(found);

  auto expect_invalid = [&](docket::v1::SubmitFeedbackRequest r, const std::string& field) {
    auto s = wf_->SubmitFeedback(kAlice, r);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(s.status().message(), HasSubstr(field));
  };
  auto bad = req;
  bad.set_category("rant");
  expect_invalid(bad, "category");
  bad = req;
  bad.set_kind("no_such_kind");
  expect_invalid(bad, "kind");
  bad = req;
  bad.clear_kind();
  expect_invalid(bad, "kind, queue");
  bad = req;
  bad.clear_kind();
  bad.set_queue("nowhere");
  expect_invalid(bad, "queue");
  bad = req;
  bad.set_text(std::string(kMaxNoteBytes + 1, 'x'));
  expect_invalid(bad, "text");
  bad = req;
  bad.set_tenant("globex");
  EXPECT_EQ(wf_->SubmitFeedback(kAlice, bad).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(WorkflowItest, FeedbackIsAnErrorNotASilentDropWhenKafkaRefusesIt) {
  docket::v1::SubmitFeedbackRequest req;
  req.set_tenant("acme");
  req.set_queue("sup");
  req.set_category("workload");
  publisher_.FailNext(1, absl::UnavailableError("broker down"));
  EXPECT_EQ(wf_->SubmitFeedback(kBob, req).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(wf_->SubmitFeedback(kBob, req).ok()) << "the retry succeeds";
}


TEST_F(WorkflowItest, FinishedItemsExpireFromRedisAfterTheRetentionOpenOnesNever) {
  const std::string open = Submit("invoice");
  const std::string automated = Submit("invoice", 0.5);  // created and completed in one step
  const std::string rejected = Submit("invoice");
  ASSERT_EQ(Item(automated).state(), docket::v1::WORK_STATE_AUTO_COMPLETED);
  ASSERT_TRUE(wf_->Reject(kBob, rejected, "duplicate invoice").ok());
  auto ttl = [&](const std::string& id) {
    auto r = redis_->Command({"PTTL", "docket:item:" + id});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->integer : -3;
  };
  EXPECT_EQ(ttl(open), -1) << "an open item must never expire";
  const std::int64_t retention = std::chrono::milliseconds(std::chrono::hours(24 * 30)).count();
  for (const auto& id : {automated, rejected}) {
    EXPECT_GT(ttl(id), retention - 60'000) << id;
    EXPECT_LE(ttl(id), retention) << id;
  }
  // A note on a finished item keeps it finished and expiring.
  ASSERT_TRUE(wf_->Comment(kBob, rejected, "vendor confirmed the duplicate").ok());
  EXPECT_GT(ttl(rejected), retention - 60'000);
}


TEST_F(WorkflowItest, SixteenConcurrentWorkersClaimDistinctItemsWithoutAnyAbort) {
  constexpr int kItems = 160;
  constexpr int kWorkers = 16;
  for (int i = 0; i < kItems; ++i) Submit("invoice");
  std::mutex mu;
  std::vector<std::string> claimed;
  std::vector<absl::Status> errors;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      const Worker me{.id = "w" + std::to_string(w), .tenants = {"acme"}, .skills = {"ap"}, .wip_limit = kItems};
      docket::v1::ClaimNextRequest req;
      req.set_tenant("acme");
      for (;;) {
        auto item = wf_->ClaimNext(me, req);
        std::lock_guard lock(mu);
        if (!item.ok()) {
          errors.push_back(item.status());
          if (errors.size() > 100) return;
          continue;  // keep claiming: an error must not hide the rest
        }
        if (!*item) return;
        claimed.push_back((*item)->id());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kItems));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(), static_cast<std::size_t>(kItems))
      << "an item was claimed twice";
  for (const auto& id : claimed) {
    ASSERT_EQ(Item(id).state(), docket::v1::WORK_STATE_CLAIMED);
    ASSERT_EQ(Events(id, "docket.work.v1.Claimed").size(), 1u);
  }
  EXPECT_EQ(Redis({"ZCARD", "docket:q:acme:ap"}).integer, 0);
  ExpectNoReservations();
}

TEST_F(WorkflowItest, ClaimTakesTheMostUrgentItemAcrossAllTheWorkersQueues) {
  const std::string old_ap = Submit("invoice");  // due Mon 12:00
  clock_.Set(Utc(2026, 11, 23, 9));
  const std::string low_ap = Submit("invoice", 100, docket::v1::PRIORITY_LOW);  // due 13:00, served as 17:00
  const std::string normal_sup = Submit("memo");                                 // due 13:00
  const std::string high_sup = Submit("memo", 100, docket::v1::PRIORITY_HIGH);   // due 13:00, served as 09:00
  ASSERT_EQ(Item(high_sup).queue(), "sup");
  EXPECT_EQ(Claim(kBob), high_sup);
  EXPECT_EQ(Claim(kBob), old_ap);
  EXPECT_EQ(Claim(kAlice), low_ap) << "alice has no skill for sup, where the more urgent item waits";
  EXPECT_EQ(Claim(kBob), normal_sup);
  EXPECT_EQ(Claim(kBob), "");
  ExpectNoReservations();
}

TEST_F(WorkflowItest, ClaimReservationOfADeadReplicaGoesBackToItsQueueWhenItRunsOut) {
  const std::string first = Submit("invoice");
  const std::string second = Submit("invoice");
  const std::string score = Redis({"ZSCORE", "docket:q:acme:ap", first}).str;
  // The replica reserves the head item, then dies before its claim commits.
  auto dead = Replica({.lease = 10min, .claim_reserved_hook = [](const std::string&) {
                         return absl::UnavailableError("replica died");
                       }});
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  ASSERT_EQ(dead->ClaimNext(kAlice, req).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Item(first).state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_TRUE(Redis({"ZSCORE", "docket:q:acme:ap", first}).is_nil());
  EXPECT_FALSE(Redis({"ZSCORE", "docket:claiming", first}).is_nil());
  EXPECT_EQ(Claim(kBob), second) << "a reserved item is not claimed by another worker";

  clock_.Advance(29s);
  EXPECT_EQ(*wf_->Tick(), 0) << "the reservation has not run out yet";
  EXPECT_FALSE(Redis({"ZSCORE", "docket:claiming", first}).is_nil());
  clock_.Advance(2s);
  ASSERT_EQ(*wf_->Tick(), 1);
  EXPECT_EQ(Redis({"ZSCORE", "docket:q:acme:ap", first}).str, score) << "back with its original score";
  ExpectNoReservations();
  EXPECT_EQ(Claim(kAlice), first);
  EXPECT_EQ(*wf_->Tick(), 0);
}

// A replica that dies in the middle of a batch claim (after reserving the
// batch, before committing it) leaves every reserved item to the watchdog:
// no other worker gets them meanwhile, none is lost, and each goes back with
// its own score when the reservation runs out.
TEST_F(WorkflowItest, BatchClaimOfADeadReplicaLeavesEveryReservedItemToTheWatchdogWhichRequeuesThem) {
  std::vector<std::string> ids;
  std::vector<std::string> scores;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Submit("invoice"));
    scores.push_back(Redis({"ZSCORE", "docket:q:acme:ap", ids.back()}).str);
  }
  int reserved = 0;
  auto dead = Replica({.lease = 10min, .claim_reserved_hook = [&reserved](const std::string&) {
                         return ++reserved == 2 ? absl::UnavailableError("replica died") : absl::OkStatus();
                       }});
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  req.set_max_items(4);
  ASSERT_EQ(dead->ClaimItems(kAlice, req).status().code(), absl::StatusCode::kUnavailable);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Item(ids[i]).state(), docket::v1::WORK_STATE_QUEUED) << ids[i];
    EXPECT_FALSE(Redis({"ZSCORE", "docket:claiming", ids[i]}).is_nil()) << ids[i];
  }
  EXPECT_EQ(Claim(kBob), ids[4]) << "reserved items are not claimed by another worker";
  EXPECT_EQ(Claim(kBob), "");

  clock_.Advance(31s);
  ASSERT_EQ(*wf_->Tick(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Redis({"ZSCORE", "docket:q:acme:ap", ids[i]}).str, scores[i]) << "back with its own score";
  }
  ExpectNoReservations();
  auto again = wf_->ClaimItems(kAlice, req);
  ASSERT_TRUE(again.ok()) << again.status();
  std::vector<std::string> claimed;
  for (const auto& item : *again) claimed.push_back(item.id());
  EXPECT_THAT(claimed, ElementsAre(ids[0], ids[1], ids[2], ids[3]));
}

// Claims of one worker made elsewhere at the same moment (a bot fleet
// sharing a key) can fill its WIP cap between the reservation and the
// commit: the claims past the cap are refused and their items go back to
// their queues with their scores, all in one round trip, without reading
// them again; the claims within the cap stand.
TEST_F(WorkflowItest, BatchClaimsPastTheWipCapGiveTheirItemsBackInOneRoundTrip) {
  {  // Loads the reservation and give-back scripts, so the count below has no NOSCRIPT retry.
    Submit("memo");
    auto dead = Replica({.lease = 10min, .claim_reserved_hook = [](const std::string&) {
                           return absl::UnavailableError("replica died");
                         }});
    docket::v1::ClaimNextRequest sup;
    sup.set_tenant("acme");
    sup.add_queues("sup");
    ASSERT_EQ(dead->ClaimItems(kBob, sup).status().code(), absl::StatusCode::kUnavailable);
    clock_.Advance(31s);
    ASSERT_EQ(*wf_->Tick(), 1);
  }
  std::vector<std::string> ids;
  std::vector<std::string> scores;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Submit("invoice"));
    scores.push_back(Redis({"ZSCORE", "docket:q:acme:ap", ids.back()}).str);
  }
  bool filled = false;
  const std::unique_ptr<Metered> metered = MeteredReplica(
      {.lease = 10min, .default_wip_limit = 5, .claim_reserved_hook = [&](const std::string&) {
         if (!filled) Redis({"SADD", "docket:wip:acme:alice", "elsewhere-1", "elsewhere-2", "elsewhere-3"});
         filled = true;
         return absl::OkStatus();
       }});
  ASSERT_NE(metered, nullptr);
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  req.set_max_items(5);
  const double pipelines = metered->Calls("PIPELINE"), evals = metered->Calls("EVALSHA"),
               hmgets = metered->Calls("HMGET");
  auto items = metered->wf->ClaimItems(kAlice, req);
  ASSERT_TRUE(items.ok()) << items.status();
  std::vector<std::string> claimed;
  for (const auto& item : *items) claimed.push_back(item.id());
  EXPECT_THAT(claimed, ElementsAre(ids[0], ids[1])) << "room for two once the other claims came in";
  EXPECT_EQ(metered->Calls("EVALSHA") - evals, 1) << "the reservation";
  EXPECT_EQ(metered->Calls("PIPELINE") - pipelines, 2) << "the claims, then the give-back";
  EXPECT_EQ(metered->Calls("HMGET") - hmgets, 0) << "given back from what the reservation read";
  for (int i = 2; i < 5; ++i) {
    EXPECT_EQ(Redis({"ZSCORE", "docket:q:acme:ap", ids[i]}).str, scores[i]) << ids[i];
    EXPECT_EQ(Item(ids[i]).state(), docket::v1::WORK_STATE_QUEUED);
  }
  EXPECT_EQ(Redis({"SCARD", "docket:wip:acme:alice"}).integer, 5);
  ExpectNoReservations();
}

// A failure in the middle of a batch claim stops it: the items claimed
// before it are returned (they are the caller's now), the ones reserved
// after it go back to their queue, and nothing stays reserved.
TEST_F(WorkflowItest, BatchClaimStoppedByABadItemReturnsWhatItClaimedAndPutsTheRestBack) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Submit("invoice"));
  const std::string score = Redis({"ZSCORE", "docket:q:acme:ap", ids[2]}).str;
  Redis({"HSET", "docket:item:" + ids[1], "pb", "not a work item"});
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  req.set_max_items(3);
  auto items = wf_->ClaimItems(kAlice, req);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].id(), ids[0]);
  EXPECT_EQ(Redis({"ZSCORE", "docket:q:acme:ap", ids[2]}).str, score) << "put back with its score";
  EXPECT_TRUE(Redis({"ZSCORE", "docket:q:acme:ap", ids[1]}).is_nil()) << "an unreadable item is not queued again";
  ExpectNoReservations();
  // The next call gets what was put back.
  auto next = wf_->ClaimItems(kAlice, req);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].id(), ids[2]);
}

TEST_F(WorkflowItest, RunOutReservationOfAnItemThatLeftItsQueueIsDroppedNotRequeued) {
  const std::string id = Submit("invoice");
  auto dead = Replica({.lease = 10min, .claim_reserved_hook = [](const std::string&) {
                         return absl::UnavailableError("replica died");
                       }});
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  ASSERT_EQ(dead->ClaimNext(kAlice, req).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(wf_->Reject(kBob, id, "duplicate").ok());
  clock_.Advance(31s);
  EXPECT_EQ(*wf_->Tick(), 0);
  ExpectNoReservations();
  EXPECT_EQ(Redis({"ZCARD", "docket:q:acme:ap"}).integer, 0);
  EXPECT_EQ(Claim(kAlice), "");
}

TEST_F(WorkflowItest, ClaimWhoseCommitFailsPutsTheItemBackWithItsScore) {
  const std::string id = Submit("invoice");
  const std::string score = Redis({"ZSCORE", "docket:q:acme:ap", id}).str;
  // The worker's WIP fills up between the reservation and the commit.
  auto replica = Replica({.lease = 10min, .claim_reserved_hook = [this](const std::string&) {
                            Redis({"SADD", "docket:wip:acme:carl", "elsewhere"});
                            return absl::OkStatus();
                          }});
  const Worker capped{.id = "carl", .tenants = {"acme"}, .skills = {"ap"}, .wip_limit = 1};
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  EXPECT_EQ(replica->ClaimNext(capped, req).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Redis({"ZSCORE", "docket:q:acme:ap", id}).str, score);
  ExpectNoReservations();
  EXPECT_EQ(Item(id).state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_EQ(Claim(kAlice), id);
}

TEST_F(WorkflowItest, ClaimOfAnItemChangedMidClaimPutsItBackAndRetries) {
  const std::string id = Submit("invoice");
  int comments = 0;
  auto replica = Replica({.lease = 10min, .claim_reserved_hook = [&](const std::string& reserved) {
                            // Someone comments on the item once: the claim's CAS loses.
                            if (comments++ == 0) {
                              EXPECT_TRUE(wf_->Comment(kBob, reserved, "hi").ok());
                            }
                            return absl::OkStatus();
                          }});
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  auto item = replica->ClaimNext(kAlice, req);
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_TRUE(*item);
  EXPECT_EQ((*item)->id(), id);
  EXPECT_EQ(comments, 2) << "one lost commit, then the retry";
  EXPECT_EQ(Item(id).state(), docket::v1::WORK_STATE_CLAIMED);
  EXPECT_EQ(Item(id).comments_size(), 1);
  EXPECT_EQ(Events(id, "docket.work.v1.Claimed").size(), 1u);
  ExpectNoReservations();
}

TEST_F(WorkflowItest, ClaimAtTheWipCapReservesNothingAndAnEmptyQueueAnswersNothing) {
  const Worker capped{.id = "carl", .tenants = {"acme"}, .skills = {"ap"}, .wip_limit = 1};
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  Redis({"SADD", "docket:wip:acme:carl", "elsewhere"});
  auto none = wf_->ClaimNext(capped, req);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(*none) << "nothing queued: no item, not a cap error";
  const std::string id = Submit("invoice");
  EXPECT_EQ(wf_->ClaimNext(capped, req).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Redis({"ZSCORE", "docket:q:acme:ap", id}).is_nil());
  ExpectNoReservations();
}

// A bot's batch claim: one reservation script takes the most urgent items of
// every queue the worker may work, in urgency order, no more than its WIP
// cap leaves room for, and one pipeline commits their claims. Each is a
// claim of its own (state, lease, WIP slot, one Claimed event).
TEST_F(WorkflowItest, BatchClaimTakesTheMostUrgentItemsInOrderUpToTheWipCapInTwoRoundTrips) {
  const std::unique_ptr<Metered> metered = MeteredReplica({.lease = 10min, .default_wip_limit = 5});
  ASSERT_NE(metered, nullptr);
  Workflow* here = metered->wf.get();
  auto calls = [&](const std::string& command) { return metered->Calls(command); };
  Worker bot = kBob;
  bot.wip_limit = 3;
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  req.set_max_items(10);
  auto nothing = here->ClaimItems(bot, req);  // loads the script; nothing queued yet
  ASSERT_TRUE(nothing.ok() && nothing->empty());
  const std::string old_ap = Submit("invoice");  // due Mon 12:00
  clock_.Set(Utc(2026, 11, 23, 9));
  const std::string low_ap = Submit("invoice", 100, docket::v1::PRIORITY_LOW);  // served as 17:00
  const std::string normal_sup = Submit("memo");                                 // due 13:00
  const std::string high_sup = Submit("memo", 100, docket::v1::PRIORITY_HIGH);   // served as 09:00

  const double pipelines = calls("PIPELINE"), evals = calls("EVALSHA");
  auto items = here->ClaimItems(bot, req);
  ASSERT_TRUE(items.ok()) << items.status();
  std::vector<std::string> ids;
  for (const auto& item : *items) ids.push_back(item.id());
  EXPECT_THAT(ids, ElementsAre(high_sup, old_ap, normal_sup)) << "urgency order, cut at the WIP cap of 3";
  EXPECT_EQ(calls("EVALSHA") - evals, 1) << "one reservation for the whole batch";
  EXPECT_EQ(calls("PIPELINE") - pipelines, 1) << "one pipeline of claims";
  metered->Publishing();
  ASSERT_TRUE(here->RelayOutbox(0ms).ok());
  for (const auto& item : *items) {
    EXPECT_EQ(item.state(), docket::v1::WORK_STATE_CLAIMED);
    EXPECT_EQ(Item(item.id()).worker(), "bob");
    EXPECT_EQ(Item(item.id()).version(), item.version()) << "the answer carries the stored version";
    EXPECT_EQ(Events(metered->publisher, item.id(), "docket.work.v1.Claimed").size(), 1u);
    EXPECT_FALSE(Redis({"ZSCORE", "docket:leases", item.id()}).is_nil());
  }
  EXPECT_EQ(Redis({"SCARD", "docket:wip:acme:bob"}).integer, 3);
  EXPECT_EQ(Item(low_ap).state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_FALSE(Redis({"ZSCORE", "docket:q:acme:ap", low_ap}).is_nil());
  ExpectNoReservations();

  // At the cap: refused, nothing reserved.
  EXPECT_EQ(here->ClaimItems(bot, req).status().code(), absl::StatusCode::kResourceExhausted);
  ExpectNoReservations();
  req.set_max_items(kMaxClaimBatch + 1);
  auto too_many = here->ClaimItems(bot, req);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_many.status().message()), HasSubstr("max_items"));
}

// A batch completion: each completion is decided on its own (another
// worker's item is refused, the others stand), the ones this replica
// claimed share one pipeline with the reservation of the next items, and
// the reservation sees the WIP slots they free.
TEST_F(WorkflowItest, BatchCompletionDecidesEachOnItsOwnAndClaimsTheNextItemsInTheSameRoundTrip) {
  const std::unique_ptr<Metered> metered = MeteredReplica({.lease = 10min, .default_wip_limit = 5});
  ASSERT_NE(metered, nullptr);
  Workflow* here = metered->wf.get();
  auto calls = [&](const std::string& command) { return metered->Calls(command); };
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Submit("invoice"));
  const std::string bobs = ids[3];
  Worker bot = kAlice;
  bot.wip_limit = 3;
  docket::v1::ClaimNextRequest req;
  req.set_tenant("acme");
  req.set_max_items(3);
  auto first = here->ClaimItems(bot, req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 3u);
  ASSERT_EQ(Claim(kBob), bobs);

  std::vector<docket::v1::CompleteRequest> done(3);
  done[0].set_item_id(ids[0]);
  (*done[0].mutable_outcome())["approved"].set_bool_value(true);
  done[1].set_item_id(bobs);
  done[2].set_item_id(ids[1]);
  req.set_max_items(5);
  const double pipelines = calls("PIPELINE"), evals = calls("EVALSHA"), hmgets = calls("HMGET");
  Workflow::Completed out = here->CompleteBatch(bot, {&done[0], &done[1], &done[2]}, &req);
  const double batch_pipelines = calls("PIPELINE") - pipelines, batch_evals = calls("EVALSHA") - evals,
               batch_hmgets = calls("HMGET") - hmgets;
  ASSERT_EQ(out.completed.size(), 3u);
  ASSERT_TRUE(out.completed[0].ok()) << out.completed[0].status();
  EXPECT_EQ(out.completed[0]->state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_TRUE(out.completed[0]->outcome().at("approved").bool_value());
  EXPECT_EQ(out.completed[1].status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(out.completed[2].ok()) << out.completed[2].status();
  EXPECT_EQ(Item(ids[0]).state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_EQ(Item(ids[1]).state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_EQ(Item(bobs).state(), docket::v1::WORK_STATE_CLAIMED);
  EXPECT_EQ(Item(bobs).worker(), "bob");
  metered->Publishing();
  ASSERT_TRUE(here->RelayOutbox(0ms).ok());
  EXPECT_EQ(Events(metered->publisher, ids[0], "docket.work.v1.Completed").size(), 1u);
  EXPECT_EQ(Events(metered->publisher, ids[1], "docket.work.v1.Completed").size(), 1u);
  EXPECT_EQ(Events(metered->publisher, bobs, "docket.work.v1.Completed").size(), 0u);
  // alice still holds ids[2]: the two freed slots take the next two items.
  ASSERT_TRUE(out.next.has_value() && out.next->ok()) << out.next->status();
  std::vector<std::string> next;
  for (const auto& item : out.next->value()) next.push_back(item.id());
  EXPECT_THAT(next, ElementsAre(ids[4], ids[5]));
  EXPECT_EQ(Item(ids[4]).worker(), "alice");
  EXPECT_EQ(Redis({"SCARD", "docket:wip:acme:alice"}).integer, 3);
  // bob's item is not alice's claim: read (HMGET) and refused on its own,
  // before the pipeline of alice's two completions and the reservation;
  // then one pipeline of the two claims.
  EXPECT_EQ(batch_hmgets, 1);
  EXPECT_EQ(batch_pipelines, 2);
  EXPECT_EQ(batch_evals, 0);
  ExpectNoReservations();
}

// Bots claiming batches on two replicas at once: every item goes to exactly
// one claim, none is lost, none is left reserved.
TEST_F(WorkflowItest, ConcurrentBatchClaimsOnTwoReplicasGiveEachItemToExactlyOneWorker) {
  constexpr int kItems = 300;
  constexpr int kWorkersPerReplica = 6;
  for (int i = 0; i < kItems; ++i) Submit("invoice");
  std::unique_ptr<Workflow> other = Replica({.lease = 10min, .default_wip_limit = 5});
  ASSERT_NE(other, nullptr);
  std::mutex mu;
  std::vector<std::string> claimed;
  std::vector<absl::Status> errors;
  std::vector<std::thread> threads;
  for (int w = 0; w < 2 * kWorkersPerReplica; ++w) {
    Workflow* replica = w % 2 == 0 ? wf_.get() : other.get();
    threads.emplace_back([&, w, replica] {
      const Worker me{.id = "bot" + std::to_string(w), .tenants = {"acme"}, .skills = {"ap"}, .wip_limit = kItems};
      docket::v1::ClaimNextRequest req;
      req.set_tenant("acme");
      req.set_max_items(7);
      for (;;) {
        auto items = replica->ClaimItems(me, req);
        std::lock_guard lock(mu);
        if (!items.ok()) {
          errors.push_back(items.status());
          if (errors.size() > 100) return;
          continue;
        }
        if (items->empty()) return;
        for (const auto& item : *items) claimed.push_back(item.id());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kItems));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(), static_cast<std::size_t>(kItems))
      << "an item was claimed twice";
  for (const auto& id : claimed) ASSERT_EQ(Events(id, "docket.work.v1.Claimed").size(), 1u);
  EXPECT_EQ(Redis({"ZCARD", "docket:q:acme:ap"}).integer, 0);
  ExpectNoReservations();
}

}  // namespace
}  // namespace docket::processing
