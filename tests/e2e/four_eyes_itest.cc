// Four-eyes across services (issue 5): docket-processing and
// docket-compliance as their own processes on one redis-server and
// docket-devkafka, talking only through Kafka, driven over their gRPC APIs
// with the demo keys of deploy/config/api-keys.yaml.
//
// The scenario of deploy/config: an invoice_approval above EUR 10,000 is
// checked on completion (catalog.yaml: compliance.complete) and flagged by
// the threshold rule invoice-second-approver (policies.yaml), so processing
// holds it until a supervisor releases it. No demo key has both the ap-clerk
// skill of accounts-payable and the supervisor role, so the supervisor who
// completes it gets it the way the shipped config allows: alice (ap-clerk)
// claims it and escalates it to finance-supervisors (the queue's escalation),
// where bob (supervisor, finance-supervisor) claims and completes it. Bob
// may then not release it (four-eyes); sam, the other finance supervisor, may.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/testing/fixtures.h"
#include "common/testing/kafka_probe.h"
#include "common/testing/service_process.h"
#include "docket/v1/compliance_service.grpc.pb.h"
#include "docket/v1/event.pb.h"
#include "docket/v1/work_service.grpc.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace docket {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
using google::protobuf::util::TimeUtil;
using v1::AuditRecord;

constexpr char kAlice[] = "dk_demo_alice_worker_LOCAL_STACK_ONLY";    // ap-clerk, acme
constexpr char kBob[] = "dk_demo_bob_supervisor_LOCAL_STACK_ONLY";    // supervisor, finance-supervisor
constexpr char kSam[] = "dk_demo_sam_supervisor_LOCAL_STACK_ONLY";    // supervisor, finance-supervisor
constexpr char kOperator[] = "dk_demo_operator_LOCAL_STACK_ONLY";
constexpr char kWorkTopic[] = "docket.work.v1";
constexpr char kComplianceTopic[] = "docket.compliance.v1";
constexpr char kAuditTopic[] = "docket.audit.v1";
// Waits for what a service does after a Kafka round trip; generous for a loaded machine.
constexpr auto kWait = 60s;

// Every record of a topic, parsed; empty (with a test failure) if it cannot be read.
std::vector<v1::Event> ReadTopic(const std::string& bootstrap, const std::string& topic) {
  std::vector<v1::Event> out;
  auto n = testing::TopicRecordCount(bootstrap, topic);
  EXPECT_TRUE(n.ok()) << n.status();
  if (!n.ok() || *n == 0) return out;
  auto records = testing::ConsumeFromBeginning(bootstrap, topic, *n, 30s);
  EXPECT_TRUE(records.ok()) << records.status();
  if (!records.ok()) return out;
  for (const auto& r : *records) {
    v1::Event e;
    EXPECT_TRUE(e.ParseFromString(r.value)) << topic << " offset " << r.offset;
    out.push_back(std::move(e));
  }
  return out;
}

class FourEyesItest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    auto kafka = testing::DevKafka::Start(1, 4);  // creates the docket.* topics
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
    // One Redis for both, as deploy/local runs them.
    auto compliance = testing::StartService("compliance", kafka_->bootstrap(), redis_->url());
    ASSERT_TRUE(compliance.ok()) << compliance.status();
    compliance_ = std::make_unique<testing::ServiceProcess>(std::move(*compliance));
    auto processing = testing::StartService("processing", kafka_->bootstrap(), redis_->url());
    ASSERT_TRUE(processing.ok()) << processing.status();
    processing_ = std::make_unique<testing::ServiceProcess>(std::move(*processing));
    work_ = v1::Work::NewStub(
        grpc::CreateChannel(processing_->grpc_address(), grpc::InsecureChannelCredentials()));
    audit_ = v1::Compliance::NewStub(
        grpc::CreateChannel(compliance_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    // Both must drain cleanly: stop in reverse order of start.
    if (processing_) {
      EXPECT_EQ(processing_->process->Stop(15s), 0) << processing_->process->log_path();
    }
    if (compliance_) {
      EXPECT_EQ(compliance_->process->Stop(15s), 0) << compliance_->process->log_path();
    }
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& key) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + key);
    ctx->set_deadline(std::chrono::system_clock::now() + 10s);
    return ctx;
  }

  // An invoice of EUR 12,345.50, produced as intake would: complete and
  // clean apart from its amount (it has a purchase order, a known category
  // and no personal data), so invoice-second-approver is the only rule it
  // can break on completion. Returns the item id.
  std::string SubmitOverThresholdInvoice() {
    const std::string id = testing::UniqueName("invoice");
    v1::Event e;
    e.set_id(id + ":submitted");
    e.set_source("//docket/intake");
    e.set_type("docket.work.v1.Submitted");
    e.set_subject(id);
    e.set_tenant("acme");
    auto* s = e.mutable_submitted();
    auto* sub = s->mutable_submission();
    sub->set_tenant("acme");
    sub->set_kind("invoice_approval");
    sub->set_idempotency_key(id);
    sub->mutable_requester()->set_type(v1::Actor::TYPE_PUBLISHER);
    sub->mutable_requester()->set_id("acme-demo");
    auto& a = *sub->mutable_attributes();
    a["vendor_id"].set_string_value("V-1001");
    a["vendor_name"].set_string_value("Muster Maschinenbau GmbH");
    a["invoice_number"].set_string_value("INV-2026-0815");
    a["amount"].mutable_money_value()->set_minor_units(1234550);
    a["amount"].mutable_money_value()->set_currency("EUR");
    a["invoice_date"].mutable_date_value()->set_year(2026);
    a["invoice_date"].mutable_date_value()->set_month(5);
    a["invoice_date"].mutable_date_value()->set_day(4);
    a["po_number"].set_string_value("PO-7781");
    a["category"].set_enum_value("goods");
    *s->mutable_submitted_at() = TimeUtil::GetCurrentTime();
    s->set_channel("grpc");
    auto produced = testing::ProduceOne(kafka_->bootstrap(), kWorkTopic, id, e.SerializeAsString(), -1,
                                        {}, {{"content-type", "application/protobuf"}});
    EXPECT_TRUE(produced.ok()) << produced.status();
    return id;
  }

  absl::StatusOr<v1::WorkItem> Get(const std::string& id) {
    v1::GetRequest req;
    req.set_item_id(id);
    v1::WorkItemResponse resp;
    auto ctx = Ctx(kBob);
    grpc::Status s = work_->Get(ctx.get(), req, &resp);
    if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return resp.item();
  }

  bool WaitForState(const std::string& id, v1::WorkState state) {
    return testing::WaitFor(
        [&] {
          auto item = Get(id);
          return item.ok() && item->state() == state;
        },
        kWait);
  }

  // Claims the head of `queue` with `key`; the item id, or "" if none.
  std::string Claim(const std::string& key, const std::string& queue) {
    v1::ClaimNextRequest req;
    req.set_tenant("acme");
    req.add_queues(queue);
    v1::ClaimNextResponse resp;
    auto ctx = Ctx(key);
    grpc::Status s = work_->ClaimNext(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.item().id();
  }

  grpc::Status Release(const std::string& key, const std::string& id, v1::WorkItemResponse* resp) {
    v1::ReleaseRequest req;
    req.set_item_id(id);
    req.set_comment("second approver: amount matches the purchase order");
    auto ctx = Ctx(key);
    return work_->Release(ctx.get(), req, resp);
  }

  // Steps 1 and 2: the invoice is submitted and routed, reaches bob by
  // escalation, bob completes it, compliance flags the completion and
  // processing holds it. Returns the item id ("" after a fatal failure).
  std::string HeldInvoiceCompletedByBob() {
    const std::string id = SubmitOverThresholdInvoice();
    if (!WaitForState(id, v1::WORK_STATE_QUEUED)) {
      ADD_FAILURE() << "never routed; log: " << processing_->process->log_path();
      return "";
    }
    auto routed = Get(id);
    EXPECT_TRUE(routed.ok()) << routed.status();
    EXPECT_EQ(routed->queue(), "accounts-payable");

    // alice works accounts-payable but may not approve this amount: she
    // escalates it to the finance supervisors.
    if (Claim(kAlice, "accounts-payable") != id) {
      ADD_FAILURE() << "alice did not get the invoice";
      return "";
    }
    v1::EscalateRequest esc;
    esc.set_item_id(id);
    esc.set_reason("above my approval limit");
    v1::WorkItemResponse resp;
    auto ctx = Ctx(kAlice);
    grpc::Status s = work_->Escalate(ctx.get(), esc, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.item().queue(), "finance-supervisors");

    if (Claim(kBob, "finance-supervisors") != id) {
      ADD_FAILURE() << "bob did not get the escalated invoice";
      return "";
    }
    v1::CompleteRequest done;
    done.set_item_id(id);
    (*done.mutable_outcome())["approved"].set_bool_value(true);
    auto ctx2 = Ctx(kBob);
    s = work_->Complete(ctx2.get(), done, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.item().state(), v1::WORK_STATE_COMPLETION_REQUESTED)
        << "invoice_approval is checked by compliance on completion";
    EXPECT_EQ(resp.item().completer().id(), "bob");

    if (!WaitForState(id, v1::WORK_STATE_HELD)) {
      auto item = Get(id);
      ADD_FAILURE() << "never held; state " << (item.ok() ? v1::WorkState_Name(item->state()) : "?")
                    << "; logs: " << compliance_->process->log_path() << " "
                    << processing_->process->log_path();
      return "";
    }
    return id;
  }

  // The verdicts compliance published for the item at `checkpoint`.
  std::vector<v1::Verdict> VerdictsOf(const std::string& id, v1::Checkpoint checkpoint) {
    std::vector<v1::Verdict> out;
    for (const auto& e : ReadTopic(kafka_->bootstrap(), kComplianceTopic)) {
      if (e.has_verdict() && e.verdict().item_id() == id && e.verdict().checkpoint() == checkpoint) {
        out.push_back(e.verdict());
      }
    }
    return out;
  }

  // The item's lifecycle events on docket.work.v1, by type.
  std::multimap<std::string, v1::Event> EventsOf(const std::string& id) {
    std::multimap<std::string, v1::Event> out;
    for (auto& e : ReadTopic(kafka_->bootstrap(), kWorkTopic)) {
      if (e.subject() == id) out.emplace(e.type(), std::move(e));
    }
    return out;
  }

  grpc::Status AuditTrail(const std::string& id, v1::GetAuditTrailResponse* trail) {
    v1::GetAuditTrailRequest req;
    req.set_item_id(id);
    auto ctx = Ctx(kSam);
    return audit_->GetAuditTrail(ctx.get(), req, trail);
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::DevKafka> kafka_;
  std::unique_ptr<testing::ServiceProcess> compliance_;
  std::unique_ptr<testing::ServiceProcess> processing_;
  std::unique_ptr<v1::Work::Stub> work_;
  std::unique_ptr<v1::Compliance::Stub> audit_;
};

TEST_F(FourEyesItest, OverThresholdInvoiceCompletedByASupervisorIsHeldOnComplianceFlag) {
  const std::string id = HeldInvoiceCompletedByBob();
  ASSERT_FALSE(id.empty());
  // The hold is compliance's answer to this completion, for the threshold rule.
  const auto verdicts = VerdictsOf(id, v1::CHECKPOINT_COMPLETE);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_THAT(verdicts[0].outcome(), AnyOf(v1::OUTCOME_FLAG, v1::OUTCOME_FAIL));
  std::set<std::string> rules;
  for (const auto& v : verdicts[0].violations()) rules.insert(v.rule_id());
  EXPECT_EQ(rules, std::set<std::string>{"invoice-second-approver"}) << verdicts[0].DebugString();
  ASSERT_TRUE(testing::WaitFor([&] { return EventsOf(id).count("docket.work.v1.Held") > 0; }, kWait));
  const auto events = EventsOf(id);
  ASSERT_EQ(events.count("docket.work.v1.Held"), 1u);
  EXPECT_EQ(events.find("docket.work.v1.Held")->second.held().verdict_id(), verdicts[0].id());
  EXPECT_EQ(events.count("docket.work.v1.Completed"), 0u);
  auto item = Get(id);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->state(), v1::WORK_STATE_HELD);
  EXPECT_EQ(item->completer().id(), "bob");
}

TEST_F(FourEyesItest, CompleterMayNotReleaseTheHeldInvoiceAndTheRefusalChangesNothing) {
  const std::string id = HeldInvoiceCompletedByBob();
  ASSERT_FALSE(id.empty());
  auto before = Get(id);
  ASSERT_TRUE(before.ok()) << before.status();

  v1::WorkItemResponse resp;
  grpc::Status refused = Release(kBob, id, &resp);
  EXPECT_THAT(refused.error_code(),
              AnyOf(grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::FAILED_PRECONDITION))
      << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("four-eyes"));

  auto after = Get(id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->state(), v1::WORK_STATE_HELD);
  EXPECT_EQ(after->version(), before->version()) << "the refused release changed the item";
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*after, *before))
      << "before: " << before->DebugString() << "after: " << after->DebugString();
}

// Steps 1 to 5 in one walk: each step reads what the previous one left.
TEST_F(FourEyesItest, SecondSupervisorReleasesTheHeldInvoiceOnceAndTheVerifiedLedgerShowsVerdictAndRelease) {
  const std::string id = HeldInvoiceCompletedByBob();
  ASSERT_FALSE(id.empty());
  const auto verdicts = VerdictsOf(id, v1::CHECKPOINT_COMPLETE);
  ASSERT_EQ(verdicts.size(), 1u);
  const std::string verdict_id = verdicts[0].id();
  auto held = Get(id);
  ASSERT_TRUE(held.ok()) << held.status();

  v1::WorkItemResponse resp;
  grpc::Status refused = Release(kBob, id, &resp);
  ASSERT_FALSE(refused.ok()) << "bob released what he completed himself";
  EXPECT_THAT(refused.error_message(), HasSubstr("four-eyes"));
  auto still_held = Get(id);
  ASSERT_TRUE(still_held.ok()) << still_held.status();
  EXPECT_EQ(still_held->version(), held->version());

  grpc::Status released = Release(kSam, id, &resp);
  ASSERT_TRUE(released.ok()) << released.error_message();
  EXPECT_EQ(resp.item().state(), v1::WORK_STATE_COMPLETED);
  EXPECT_EQ(resp.item().version(), held->version() + 1);
  auto done = Get(id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::WORK_STATE_COMPLETED);

  // Compliance records the override; by then processing's Released and
  // Completed (one commit, in order on the item's partition) are on the topic.
  v1::GetAuditTrailResponse trail;
  const bool recorded = testing::WaitFor(
      [&] {
        trail.Clear();
        if (!AuditTrail(id, &trail).ok()) return false;
        for (const auto& r : trail.records()) {
          if (r.type() == AuditRecord::TYPE_RELEASE) return true;
        }
        return false;
      },
      kWait);
  ASSERT_TRUE(recorded) << "no release record; log: " << compliance_->process->log_path();
  std::vector<AuditRecord> verdict_records, release_records;
  for (const auto& r : trail.records()) {
    EXPECT_EQ(r.item_id(), id);
    if (r.type() == AuditRecord::TYPE_VERDICT && r.subject_event_id() == verdict_id) verdict_records.push_back(r);
    if (r.type() == AuditRecord::TYPE_RELEASE) release_records.push_back(r);
  }
  ASSERT_EQ(verdict_records.size(), 1u) << "the completion verdict is not in the trail";
  EXPECT_EQ(verdict_records[0].actor_id(), "bob");
  EXPECT_THAT(verdict_records[0].summary(), HasSubstr("checkpoint=complete"));
  EXPECT_THAT(verdict_records[0].summary(), HasSubstr("invoice-second-approver"));
  ASSERT_EQ(release_records.size(), 1u) << "the refused release must leave no record";
  EXPECT_EQ(release_records[0].actor_id(), "sam");
  EXPECT_THAT(release_records[0].summary(), HasSubstr("segregation=ok"));
  // The submit verdict, alice's escalation, the completion verdict, sam's release.
  std::multiset<AuditRecord::Type> types;
  for (const auto& r : trail.records()) types.insert(r.type());
  EXPECT_EQ(types, (std::multiset<AuditRecord::Type>{AuditRecord::TYPE_VERDICT, AuditRecord::TYPE_VERDICT,
                                                     AuditRecord::TYPE_ESCALATION, AuditRecord::TYPE_RELEASE}));

  // The whole ledger verifies, every record compliance published included.
  v1::VerifyAuditResponse verify;
  auto ctx = Ctx(kOperator);
  grpc::Status s = audit_->VerifyAudit(ctx.get(), v1::VerifyAuditRequest(), &verify);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(verify.ok()) << verify.problem() << " at " << verify.first_bad_chain() << "#"
                           << verify.first_bad_sequence();
  EXPECT_EQ(verify.records_checked(), static_cast<std::uint64_t>(trail.records_size()))
      << "this stack audited only this item";
  // ... and so does what compliance published: the same records on docket.audit.v1.
  std::set<std::string> audited;  // distinct subjects: a re-publish may repeat a record
  const bool published = testing::WaitFor(
      [&] {
        audited.clear();
        for (const auto& e : ReadTopic(kafka_->bootstrap(), kAuditTopic)) {
          audited.insert(e.audit_record().subject_event_id());
        }
        return audited.size() >= verify.records_checked();
      },
      kWait);
  EXPECT_TRUE(published) << audited.size() << " of " << verify.records_checked() << " on the topic";

  // Exactly one completion reached the topic, by sam's release.
  ASSERT_TRUE(testing::WaitFor([&] { return EventsOf(id).count("docket.work.v1.Completed") > 0; }, kWait));
  const auto events = EventsOf(id);
  ASSERT_EQ(events.count("docket.work.v1.Completed"), 1u);
  EXPECT_EQ(events.find("docket.work.v1.Completed")->second.completed().completer().id(), "bob")
      << "the completion stays bob's; sam only released it";
  ASSERT_EQ(events.count("docket.work.v1.Released"), 1u);
  EXPECT_EQ(events.find("docket.work.v1.Released")->second.released().releaser().id(), "sam");
  EXPECT_EQ(events.count("docket.work.v1.AutoCompleted"), 0u);
}

}  // namespace
}  // namespace docket
