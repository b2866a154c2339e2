#include "services/compliance/src/compliance_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utility>

#include "common/kafka/fake_event_publisher.h"
#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;

grpcutil::Principal Caller(std::vector<std::string> roles, std::vector<std::string> tenants) {
  grpcutil::Principal p;
  p.id = "test-key";
  p.roles = std::move(roles);
  p.tenants = std::move(tenants);
  return p;
}

class ComplianceApiTest : public ::testing::Test {
 protected:
  ComplianceApiTest()
      : policies_(*LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml",
                                &testutil::ShippedCatalog())),
        evaluator_(policies_),
        handler_(&testutil::ShippedCatalog(), evaluator_, store_, publisher_, topics_, clock_, nullptr),
        api_(handler_, store_, "", [this](const grpcutil::Principal&) { return key_; },
             [this](const std::function<absl::Status(const kafka::Record&)>& each) {
               // The audit topic: what the handler published to it, then anything a test adds.
               if (during_read_) std::exchange(during_read_, nullptr)();  // once
               if (topic_missing_) return absl::NotFoundError("topic docket.audit.v1 is not in the cluster");
               std::vector<kafka::Record> topic = publisher_.RecordsOf(topics_.audit());
               topic.resize(topic.size() - std::min(drop_newest_, topic.size()));
               topic.insert(topic.end(), extra_audit_.begin(), extra_audit_.end());
               for (std::size_t i = 0; i < topic.size(); ++i) {
                 topic[i].offset = static_cast<std::int64_t>(i);
                 if (absl::Status s = each(topic[i]); !s.ok()) return s;
               }
               return absl::OkStatus();
             }) {}

  void SubmitItem(const std::string& item, const std::string& tenant) {
    docket::v1::Event e;
    e.set_id(item + ":submitted");
    e.set_subject(item);
    e.set_tenant(tenant);
    auto sub = testutil::Invoice();
    sub.set_tenant(tenant);
    *e.mutable_submitted()->mutable_submission() = sub;
    kafka::Record r;
    r.topic = "docket.work.v1";
    r.partition = 0;
    ASSERT_TRUE(handler_.Handle(e, r).ok());
  }

  PolicySet policies_;
  Evaluator evaluator_;
  FakeClock clock_;
  InMemoryComplianceStore store_;
  kafka::FakeEventPublisher publisher_;
  kafka::Topics topics_;
  ComplianceHandler handler_;
  const auth::ApiKey* key_ = nullptr;
  std::vector<kafka::Record> extra_audit_;  // appended to the audit topic
  std::function<void()> during_read_;        // runs once, while the topic is being read
  bool topic_missing_ = false;               // the cluster does not know the audit topic
  std::size_t drop_newest_ = 0;              // published records the topic lost, newest first
  ComplianceApi api_;
};

TEST_F(ComplianceApiTest, EvaluateIsADryRunForAnyKeyOfTheTenant) {
  docket::v1::EvaluateRequest req;
  *req.mutable_submission() = testutil::Invoice();
  (*req.mutable_submission()->mutable_attributes())["notes"] = testutil::Str("card 4111111111111111");
  auto resp = api_.Evaluate(Caller({"publisher"}, {"acme"}), req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->verdict().outcome(), docket::v1::OUTCOME_FLAG);
  EXPECT_EQ(resp->verdict().checkpoint(), docket::v1::CHECKPOINT_SUBMIT);
  EXPECT_TRUE(publisher_.records().empty());
  EXPECT_EQ(api_.Evaluate(Caller({"publisher"}, {"globex"}), req).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ComplianceApiTest, EvaluateHonoursAPublisherKeysKinds) {
  auth::ApiKey key;
  key.id = "test-key";
  key.roles = {"publisher"};
  key.tenants = {"acme"};
  key.kinds = {"expense_review"};
  key_ = &key;
  docket::v1::EvaluateRequest req;
  *req.mutable_submission() = testutil::Invoice();
  auto resp = api_.Evaluate(Caller({"publisher"}, {"acme"}), req);
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(resp.status().message(), HasSubstr("invoice_approval"));
}

TEST_F(ComplianceApiTest, AuditTrailIsForSupervisorsOfTheItemsTenantOnly) {
  SubmitItem("item-acme", "acme");
  docket::v1::GetAuditTrailRequest req;
  req.set_item_id("item-acme");
  auto trail = api_.GetAuditTrail(Caller({"supervisor"}, {"acme"}), req);
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->records_size(), 1);
  EXPECT_EQ(trail->records(0).item_id(), "item-acme");
  EXPECT_EQ(api_.GetAuditTrail(Caller({"supervisor"}, {"globex"}), req).status().code(),
            absl::StatusCode::kNotFound)
      << "another tenant's item looks like a missing one";
  EXPECT_EQ(api_.GetAuditTrail(Caller({"publisher"}, {"acme"}), req).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(api_.GetAuditTrail(Caller({"operator"}, {"*"}), req).ok());
  req.set_item_id("unknown");
  EXPECT_EQ(api_.GetAuditTrail(Caller({"operator"}, {"*"}), req).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ComplianceApiTest, VerifyAuditReportsTheFirstBadRecord) {
  SubmitItem("a", "acme");
  SubmitItem("b", "acme");
  docket::v1::VerifyAuditRequest req;
  auto ok = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->ok());
  EXPECT_EQ(ok->records_checked(), 2u);
  auto* record = store_.MutableRecord("docket.work.v1/0", 2);
  ASSERT_NE(record, nullptr);
  record->set_actor_id("mallory");
  auto bad = api_.VerifyAudit(Caller({"supervisor"}, {"acme"}), req);
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->ok());
  EXPECT_EQ(bad->first_bad_chain(), "docket.work.v1/0");
  EXPECT_EQ(bad->first_bad_sequence(), 2u);
  EXPECT_EQ(api_.VerifyAudit(Caller({"worker"}, {"acme"}), req).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ComplianceApiTest, VerifyAuditOfTheTopicReadsWhatWasPublishedAndNamesAForgedCopy) {
  SubmitItem("a", "acme");
  SubmitItem("b", "acme");
  docket::v1::VerifyAuditRequest req;
  req.set_source(docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  auto ok = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->ok()) << ok->problem();
  EXPECT_EQ(ok->records_checked(), 2u);

  // Redis holds no trace of this: a rewritten copy of record 1 on the topic.
  const std::vector<docket::v1::Event> published = publisher_.Events(topics_.audit());
  ASSERT_EQ(published.size(), 2u);
  docket::v1::Event forged = published[0];
  forged.mutable_audit_record()->set_actor_id("mallory");
  forged.mutable_audit_record()->set_hash(RecordHash(forged.audit_record(), ""));
  extra_audit_.push_back(kafka::EncodeEvent(topics_.audit(), forged));
  auto bad = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_FALSE(bad->ok());
  EXPECT_EQ(bad->first_bad_chain(), "docket.work.v1/0");
  EXPECT_EQ(bad->first_bad_sequence(), 1u);
  EXPECT_THAT(bad->problem(), HasSubstr("two different records with sequence 1"));
  EXPECT_TRUE(api_.VerifyAudit(Caller({"operator"}, {"*"}), docket::v1::VerifyAuditRequest()).value().ok())
      << "the ledger in Redis is intact";
}

TEST_F(ComplianceApiTest, VerifyAuditOfTheTopicNamesARecordThatIsNoAuditRecordAndRefusesARange) {
  SubmitItem("a", "acme");
  docket::v1::VerifyAuditRequest req;
  req.set_source(docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  docket::v1::Event stray;
  stray.set_id("stray");
  stray.mutable_routed()->set_queue("ap");
  extra_audit_.push_back(kafka::EncodeEvent(topics_.audit(), stray));
  auto bad = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_FALSE(bad->ok());
  EXPECT_THAT(bad->problem(), HasSubstr("offset 1 is a docket.work.v1.Routed event, not an audit record"));

  req.set_from_sequence(1);
  EXPECT_EQ(api_.VerifyAudit(Caller({"operator"}, {"*"}), req).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(api_.VerifyAudit(Caller({"worker"}, {"acme"}), docket::v1::VerifyAuditRequest()).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ComplianceApiTest, VerifyAuditOfTheTopicRunsOneAtATimeAndTheNextOneMayRunAfterIt) {
  SubmitItem("a", "acme");
  docket::v1::VerifyAuditRequest req;
  req.set_source(docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  absl::Status while_running;
  during_read_ = [&] {
    while_running = api_.VerifyAudit(Caller({"operator"}, {"*"}), req).status();
  };
  auto first = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->ok());
  EXPECT_EQ(while_running.code(), absl::StatusCode::kResourceExhausted) << while_running;
  EXPECT_THAT(std::string(while_running.message()), HasSubstr("already running"));
  auto after = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->ok());
}

// The scan of the topic alone cannot see its newest records gone (after an
// unclean leader election, or a topic recreated from a prefix): the ledger
// knows which records the topic confirmed, and each must be there.
TEST_F(ComplianceApiTest, VerifyAuditOfTheTopicNamesNewestRecordsTheTopicConfirmedAndLost) {
  SubmitItem("a", "acme");
  SubmitItem("b", "acme");
  SubmitItem("c", "acme");
  docket::v1::VerifyAuditRequest req;
  req.set_source(docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  ASSERT_TRUE(api_.VerifyAudit(Caller({"operator"}, {"*"}), req).value().ok());

  drop_newest_ = 1;
  auto lost = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_FALSE(lost->ok());
  EXPECT_EQ(lost->first_bad_chain(), "docket.work.v1/0");
  EXPECT_EQ(lost->first_bad_sequence(), 3u);
  EXPECT_THAT(lost->problem(), HasSubstr("sequence 3 was confirmed on the audit topic, but the topic holds the "
                                         "chain only up to sequence 2: its newest records were lost"));
  drop_newest_ = 3;
  auto empty = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->ok());
  EXPECT_EQ(empty->first_bad_sequence(), 1u);
  EXPECT_THAT(empty->problem(), HasSubstr("but the topic holds no record of the chain"));
}

// A record appended to the ledger and not yet confirmed by the topic (its
// publish is pending or retried) is legitimately not there yet.
TEST_F(ComplianceApiTest, VerifyAuditOfTheTopicWaitsForARecordTheTopicHasNotConfirmedYet) {
  SubmitItem("a", "acme");
  const std::string chain = "docket.work.v1/0";
  docket::v1::AuditRecord pending;
  pending.set_chain(chain);
  pending.set_subject_event_id("pending-publish");
  pending.set_item_id("z");
  Seal(*store_.Head(chain), "", &pending);
  ASSERT_EQ(store_.Append({AppendRequest{pending, ""}})[0]->status, AppendStatus::kAppended);
  docket::v1::VerifyAuditRequest req;
  req.set_source(docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  auto waiting = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_TRUE(waiting->ok()) << waiting->problem();

  ASSERT_TRUE(store_.MarkPublished({&pending})[0].ok());  // confirmed, yet not on the topic
  auto lost = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_FALSE(lost->ok());
  EXPECT_EQ(lost->first_bad_sequence(), 2u);

  store_.FailNext(1, absl::UnavailableError("redis down"));
  auto unreadable = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  EXPECT_EQ(unreadable.status().code(), absl::StatusCode::kUnavailable) << unreadable.status();
  EXPECT_THAT(std::string(unreadable.status().message()), HasSubstr("audit ledger: redis down"));
}

// A cluster whose topics are created on first use has no audit topic until
// something was audited: that is nothing to verify, not an error that would
// page after 30 h. Once the ledger recorded a chain, a missing topic lost it.
TEST_F(ComplianceApiTest, AMissingAuditTopicIsVerifiedWhileNothingWasAuditedAndBrokenOnceTheLedgerHoldsRecords) {
  topic_missing_ = true;
  docket::v1::VerifyAuditRequest req;
  req.set_source(docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  auto empty = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->ok()) << empty->problem();
  EXPECT_EQ(empty->records_checked(), 0u);

  SubmitItem("a", "acme");
  auto gone = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(gone->ok());
  EXPECT_EQ(gone->first_bad_chain(), "docket.work.v1/0");
  EXPECT_THAT(gone->problem(), HasSubstr("the audit topic is gone (topic docket.audit.v1 is not in the cluster)"));
  EXPECT_THAT(gone->problem(), HasSubstr("the ledger holds 1 chain(s)"));

  req.set_chain("docket.work.v1/7");
  auto other = api_.VerifyAudit(Caller({"operator"}, {"*"}), req);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(other->ok());
  EXPECT_THAT(other->problem(), HasSubstr("the topic holds no record of this chain"));
}

}  // namespace
}  // namespace docket::compliance
