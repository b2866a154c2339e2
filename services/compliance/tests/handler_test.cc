#include "services/compliance/src/handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include "common/kafka/fake_event_publisher.h"
#include "services/compliance/tests/handler_test_util.h"
#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using docket::v1::AuditRecord;
using docket::v1::Event;
using testutil::At;
using testutil::CompletionRequested;
using testutil::Consumed;
using testutil::ExpectEveryVerdictAfterItsAuditRecord;
using testutil::HandleAll;
using testutil::Submitted;

constexpr char kCard[] = "4111 1111 1111 1111";

// Wraps the fake publisher to fail publishes to one topic only, or only
// those of one item (ce_subject) on it (the fake's FailNext fails whatever
// comes next).
class TopicFailingPublisher final : public kafka::EventPublisher {
 public:
  explicit TopicFailingPublisher(kafka::FakeEventPublisher& inner) : inner_(inner) {}
  void FailTopic(const std::string& topic, int count, const std::string& item = "") {
    topic_ = topic;
    item_ = item;
    count_ = count;
  }
  void PublishAsync(kafka::Record record, Done done) override {
    if (record.topic == topic_ && count_ > 0 &&
        (item_.empty() || record.Header("ce_subject") == std::optional<std::string>(item_))) {
      --count_;
      done(absl::UnavailableError("injected publish failure"));
      return;
    }
    inner_.PublishAsync(std::move(record), std::move(done));
  }
  absl::Status Flush(std::chrono::milliseconds t) override { return inner_.Flush(t); }
  absl::Status CheckConnection(std::chrono::milliseconds t) override { return inner_.CheckConnection(t); }

 private:
  kafka::FakeEventPublisher& inner_;
  std::string topic_;
  std::string item_;
  int count_ = 0;
};

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest()
      : policies_(*LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml",
                                &testutil::ShippedCatalog())),
        evaluator_(policies_),
        clock_(std::chrono::system_clock::time_point(std::chrono::seconds(1714564800))),
        handler_(&testutil::ShippedCatalog(), evaluator_, store_, publisher_, topics_, clock_, nullptr) {}

  static Event Released(const std::string& item, const std::string& releaser) {
    Event e;
    e.set_id(item + ":released");
    e.set_subject(item);
    e.set_tenant("acme");
    e.mutable_released()->set_kind("invoice_approval");
    e.mutable_released()->set_queue("finance-supervisors");
    e.mutable_released()->mutable_releaser()->set_id(releaser);
    return e;
  }

  static Event Rejected(const std::string& item, const std::string& actor) {
    Event e;
    e.set_id(item + ":rejected");
    e.set_subject(item);
    e.set_tenant("acme");
    e.mutable_rejected()->set_queue("accounts-payable");
    e.mutable_rejected()->set_reason("wrong vendor");
    e.mutable_rejected()->mutable_actor()->set_id(actor);
    return e;
  }

  static Event Escalated(const std::string& item) {
    Event e;
    e.set_id(item + ":escalated");
    e.set_subject(item);
    e.set_tenant("acme");
    e.mutable_escalated()->set_from_queue("accounts-payable");
    e.mutable_escalated()->set_to_queue("finance-supervisors");
    return e;
  }

  // Each chain as the store holds it, serialized, by chain name.
  static std::map<std::string, std::vector<std::string>> Ledger(InMemoryComplianceStore& store) {
    std::map<std::string, std::vector<std::string>> out;
    const std::vector<std::string> chains = store.Chains().value();
    for (const auto& chain : chains) {
      const std::vector<AuditRecord> records = store.Range(chain, 1, 0, 1000).value();
      for (const auto& r : records) out[chain].push_back(r.SerializeAsString());
    }
    return out;
  }

  static std::vector<std::string> Serialized(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.SerializeAsString());
    return out;
  }

  std::vector<Event> Verdicts() { return fake_.Events(topics_.compliance()); }
  std::vector<Event> Audits() { return fake_.Events(topics_.audit()); }

  PolicySet policies_;
  Evaluator evaluator_;
  FakeClock clock_;
  InMemoryComplianceStore store_;
  kafka::FakeEventPublisher fake_;
  TopicFailingPublisher publisher_{fake_};
  kafka::Topics topics_;
  ComplianceHandler handler_;
};

TEST_F(HandlerTest, CardInNotesGivesAFlagVerdictPublishedAfterItsAuditRecordWithoutTheNumber) {
  auto sub = testutil::Invoice();
  (*sub.mutable_attributes())["notes"] = testutil::Str(std::string("pay by card ") + kCard);
  ASSERT_TRUE(handler_.Handle(Submitted("item-1", sub), At(2)).ok());

  const auto records = fake_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].topic, topics_.audit()) << "the ledger is written before the verdict";
  EXPECT_EQ(records[0].key, "docket.work.v1/2") << "audit records are keyed by chain";
  EXPECT_EQ(records[1].topic, topics_.compliance());
  EXPECT_EQ(records[1].key, "item-1");
  for (const auto& r : records) {
    EXPECT_THAT(r.value, Not(HasSubstr(kCard)));
    EXPECT_THAT(r.value, Not(HasSubstr("4111111111111111")));
  }
  const auto verdict = Verdicts().at(0);
  EXPECT_EQ(verdict.verdict().outcome(), docket::v1::OUTCOME_FLAG);
  EXPECT_EQ(verdict.id(), VerdictId("item-1:submitted", docket::v1::CHECKPOINT_SUBMIT));
  EXPECT_EQ(verdict.verdict().violations(0).rule_id(), "pii-payment-card");
  const AuditRecord audit = Audits().at(0).audit_record();
  EXPECT_EQ(audit.chain(), "docket.work.v1/2");
  EXPECT_EQ(audit.sequence(), 1u);
  EXPECT_EQ(audit.subject_event_id(), verdict.id());
  EXPECT_EQ(audit.type(), AuditRecord::TYPE_VERDICT);
  EXPECT_THAT(audit.summary(), HasSubstr("outcome=flag"));
  EXPECT_THAT(audit.summary(), HasSubstr("pii-payment-card"));
  EXPECT_EQ(audit.hash(), RecordHash(audit, ""));
}

TEST_F(HandlerTest, RecordsPastTheRetentionAreTrimmedAndTheRetainedChainVerifiesFromItsAnchor) {
  using google::protobuf::util::TimeUtil;
  const std::string chain = "docket.work.v1/0";
  std::vector<google::protobuf::Timestamp> at;  // each record's time: one a day
  for (int i = 0; i < 6; ++i) {
    at.push_back(TimeUtil::NanosecondsToTimestamp(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count()));
    ASSERT_TRUE(handler_.Handle(Submitted("item-" + std::to_string(i)), At(0, i)).ok());
    clock_.Advance(std::chrono::hours(24));
  }
  EXPECT_EQ(store_.Range(chain, 1, 0, 100)->size(), 6u) << "nothing is past the 90-day retention yet";

  // Everything recorded before day 3 goes; the chain now starts at record 4.
  auto trimmed = TrimStoredChain(store_, chain, at[3], 1000, "");
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(*trimmed, 3u);
  const auto kept = store_.Range(chain, 1, 0, 100).value();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept.front().sequence(), 4u);
  EXPECT_EQ(store_.Anchor(chain)->sequence, 3u);
  auto verified = VerifyStoredChains(store_, chain, 0, 0, "");
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok) << verified->problem;
  EXPECT_EQ(verified->records_checked, 3u);
  EXPECT_EQ(*TrimStoredChain(store_, chain, at[3], 1000, ""), 0u) << "trimming again changes nothing";

  // `max` bounds a round; a cutoff past everything still keeps the head's record.
  EXPECT_EQ(*TrimStoredChain(store_, chain, at[5], 1, ""), 1u) << "only record 4";
  auto far = TimeUtil::NanosecondsToTimestamp(TimeUtil::TimestampToNanoseconds(at[5]) + 1);
  EXPECT_EQ(*TrimStoredChain(store_, chain, far, 1000, ""), 1u) << "record 5, not the head (6)";
  EXPECT_EQ(*TrimStoredChain(store_, chain, far, 1000, ""), 0u);
  EXPECT_EQ(store_.Range(chain, 1, 0, 100)->size(), 1u);
  EXPECT_EQ(store_.Head(chain)->sequence, 6u);
  EXPECT_TRUE(VerifyStoredChains(store_, chain, 0, 0, "")->ok);
}

TEST(AuditTrimTest, WithAnHmacKeyAnAnchorMovedToHideRecordsIsDetected) {
  using google::protobuf::util::TimeUtil;
  const std::string key = "an-hmac-key-of-32-bytes-for-tests";
  InMemoryComplianceStore store;
  ChainHead head;
  for (int i = 0; i < 5; ++i) {
    AuditRecord r;
    r.set_chain("c");
    r.set_type(AuditRecord::TYPE_VERDICT);
    r.set_item_id("item-" + std::to_string(i));
    r.set_tenant("acme");
    r.set_subject_event_id("verdict-" + std::to_string(i));
    *r.mutable_recorded_at() = TimeUtil::SecondsToTimestamp(1000 + i);
    Seal(head, key, &r);
    ASSERT_TRUE(store.Append({AppendRequest{r, ""}})[0].ok());
    head = {r.sequence(), r.hash()};
  }
  ASSERT_EQ(*TrimStoredChain(store, "c", TimeUtil::SecondsToTimestamp(1002), 100, key), 2u);
  auto ok = VerifyStoredChains(store, "c", 0, 0, key);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok) << ok->problem;
  EXPECT_EQ(store.Anchor("c")->mac, AnchorMac("c", 2, store.Anchor("c")->hash, key));

  // Someone with write access to Redis drops record 3 and moves the anchor
  // over it: the chain links again, but the anchor's mac gives it away.
  const AuditRecord third = store.Range("c", 3, 3, 1)->front();
  ASSERT_EQ(*store.TrimTo("c", ChainAnchor{3, third.hash(), "forged"}), 1u);
  auto tampered = VerifyStoredChains(store, "c", 0, 0, key);
  ASSERT_TRUE(tampered.ok());
  EXPECT_FALSE(tampered->ok);
  EXPECT_EQ(tampered->first_bad_sequence, 3u);
  EXPECT_THAT(tampered->problem, HasSubstr("anchor"));
}

TEST_F(HandlerTest, RedeliveryAppendsNothingTwiceAndResendsTheSameVerdict) {
  const Event e = Submitted("item-1", testutil::Invoice());
  ASSERT_TRUE(handler_.Handle(e, At(0)).ok());
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_TRUE(handler_.Handle(e, At(0)).ok());
  auto head = store_.Head("docket.work.v1/0");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->sequence, 1u);
  EXPECT_EQ(Audits().size(), 1u) << "a confirmed record is not published again";
  const auto verdicts = Verdicts();
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts[0].SerializeAsString(), verdicts[1].SerializeAsString())
      << "the redelivery re-sends the recorded verdict, same id and time";
}

// The submission is kept only while the item lives: the completion checks
// and four-eyes need it, nothing does once the item ended.
TEST_F(HandlerTest, AnItemsRememberedSubmissionIsDroppedWhenItIsCompletedAutoCompletedOrRejected) {
  for (const std::string id : {"done", "auto", "rejected", "live"}) {
    ASSERT_TRUE(handler_.Handle(Submitted(id), At(0)).ok());
  }
  ASSERT_TRUE(handler_.Handle(CompletionRequested("done", "bob"), At(0)).ok());
  ASSERT_TRUE(handler_.Handle(testutil::Ended("done"), At(0)).ok());
  ASSERT_TRUE(handler_.Handle(testutil::Ended("auto", /*automated=*/true), At(0)).ok());
  ASSERT_TRUE(handler_.Handle(Rejected("rejected", "carol"), At(0)).ok());
  const auto items = store_.LoadItems({"done", "auto", "rejected", "live"});
  EXPECT_FALSE(items[0].value().has_value()) << "completed";
  EXPECT_FALSE(items[1].value().has_value()) << "auto-completed";
  EXPECT_FALSE(items[2].value().has_value()) << "rejected";
  ASSERT_TRUE(items[3].value().has_value()) << "an item still in progress keeps its submission";
  EXPECT_EQ(items[3]->value().requester().id(), testutil::Invoice().requester().id());
}

// Only a kind checked at completion reads its submission again (the
// completion check, four-eyes on release): other kinds' items, most of them
// automated, cost no write and no delete.
TEST_F(HandlerTest, AKindNotCheckedAtCompletionKeepsNoCopyOfItsSubmissionAndDropsNoneWhenItEnds) {
  auto entry = testutil::Invoice();
  entry.set_kind("data_entry");
  ASSERT_FALSE(testutil::ShippedCatalog().FindKind("data_entry")->check_on_complete);
  // Any write for the item would fail: the handler must not make one.
  store_.FailFor(InMemoryComplianceStore::Operation::kWriteItems, "d", 2, absl::UnavailableError("no write expected"));
  ASSERT_TRUE(handler_.Handle(Submitted("d", entry), At(0)).ok()) << "the submission was written";
  EXPECT_FALSE(store_.LoadItems({"d"})[0].value().has_value());
  auto ended = testutil::Ended("d", /*automated=*/true);
  ended.mutable_auto_completed()->set_kind("data_entry");
  ASSERT_TRUE(handler_.Handle(ended, At(0)).ok()) << "a copy that was never kept was dropped";
  // An invoice (checked at completion) still keeps its submission.
  ASSERT_TRUE(handler_.Handle(Submitted("i"), At(0)).ok());
  EXPECT_TRUE(store_.LoadItems({"i"})[0].value().has_value());
}

TEST_F(HandlerTest, APassedCompletionLeavesTheStoredCopyAsItWasAndAHeldOneStoresItsCompleter) {
  ASSERT_TRUE(handler_.Handle(Submitted("p", testutil::Invoice("alice")), At(0, 0)).ok());
  // Any write for p would fail: a passed completion must not make one.
  store_.FailFor(InMemoryComplianceStore::Operation::kWriteItems, "p", 1, absl::UnavailableError("no write expected"));
  ASSERT_TRUE(handler_.Handle(CompletionRequested("p", "bob"), At(0, 1)).ok()) << "a passed completion wrote its copy";
  ASSERT_EQ(Verdicts().back().verdict().outcome(), docket::v1::OUTCOME_PASS);
  const auto kept = store_.LoadItems({"p"})[0].value();
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->requester().id(), "alice") << "the submission is still there for a later check";

  // A completion that holds the item (four-eyes) stores who completed it:
  // the release's segregation check reads it.
  auto big = testutil::Invoice("alice");
  (*big.mutable_attributes())["amount"] = testutil::Money(2500000, "EUR");
  ASSERT_TRUE(handler_.Handle(Submitted("h", big), At(0, 2)).ok());
  ASSERT_TRUE(handler_.Handle(CompletionRequested("h", "alice"), At(0, 3)).ok());
  ASSERT_NE(Verdicts().back().verdict().outcome(), docket::v1::OUTCOME_PASS);
  const auto held = store_.LoadItems({"h"})[0].value();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->completer().id(), "alice");
}

TEST_F(HandlerTest, AnItemSubmittedAndEndedInOneBatchLeavesNoCopyAndItsVerdictsStillSawTheSubmission) {
  auto big = testutil::Invoice();
  (*big.mutable_attributes())["notes"] = testutil::Str(std::string("card ") + kCard);
  const std::vector<Consumed> batch = {{Submitted("a", big), At(0, 0)},
                                       {CompletionRequested("a", "bob"), At(0, 1)},
                                       {testutil::Ended("a"), At(0, 2)},
                                       {Submitted("b"), At(0, 3)}};
  for (const auto& st : HandleAll(handler_, batch)) ASSERT_TRUE(st.ok()) << st;
  const auto items = store_.LoadItems({"a", "b"});
  EXPECT_FALSE(items[0].value().has_value());
  EXPECT_TRUE(items[1].value().has_value());
  const auto verdicts = Verdicts();
  ASSERT_EQ(verdicts.size(), 3u);
  for (const auto& v : verdicts) {
    if (v.subject() != "a") continue;
    for (const auto& violation : v.verdict().violations()) {
      EXPECT_NE(violation.rule_id(), "submission-unknown")
          << "the completion check of a was judged without its submission";
    }
  }
}

TEST_F(HandlerTest, AFailedDropIsRetriedAndARedeliveredCompletionAfterItResendsTheRecordedVerdict) {
  ASSERT_TRUE(handler_.Handle(Submitted("a"), At(0)).ok());
  ASSERT_TRUE(handler_.Handle(CompletionRequested("a", "bob"), At(0)).ok());
  store_.FailFor(InMemoryComplianceStore::Operation::kWriteItems, "a", 1, absl::UnavailableError("redis down"));
  EXPECT_EQ(handler_.Handle(testutil::Ended("a"), At(0)).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store_.LoadItems({"a"})[0].value().has_value()) << "the failed drop left the copy";
  ASSERT_TRUE(handler_.Handle(testutil::Ended("a"), At(0)).ok());
  EXPECT_FALSE(store_.LoadItems({"a"})[0].value().has_value());

  // A replay of the partition from before the completion, once the copy is gone.
  ASSERT_TRUE(handler_.Handle(CompletionRequested("a", "bob"), At(0)).ok());
  const auto verdicts = Verdicts();
  ASSERT_EQ(verdicts.size(), 3u) << "submit, complete, complete again";
  EXPECT_EQ(verdicts[2].SerializeAsString(), verdicts[1].SerializeAsString())
      << "the redelivery re-sends the recorded verdict, not one judged without the submission";
}

TEST_F(HandlerTest, StoreOutageIsRetryableAndPublishesNothing) {
  store_.FailNext(1, absl::UnavailableError("redis down"));
  absl::Status s = handler_.Handle(Submitted("item-1", testutil::Invoice()), At(0));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(fake_.records().empty());
}

TEST_F(HandlerTest, AuditTopicFailureHoldsTheVerdictBackUntilTheRetryWritesTheRecord) {
  const Event e = Submitted("item-1", testutil::Invoice());
  fake_.FailNext(1, absl::UnavailableError("broker down"));
  EXPECT_EQ(handler_.Handle(e, At(0)).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Verdicts().empty()) << "no verdict without its ledger record";
  ASSERT_TRUE(handler_.Handle(e, At(0)).ok());
  EXPECT_EQ(Audits().size(), 1u);
  EXPECT_EQ(Verdicts().size(), 1u);
  EXPECT_EQ(store_.Head("docket.work.v1/0")->sequence, 1u);
}

TEST_F(HandlerTest, VerdictTopicFailureIsRetriedWithoutANewAuditRecord) {
  const Event e = Submitted("item-1", testutil::Invoice());
  publisher_.FailTopic(topics_.compliance(), 1);
  EXPECT_EQ(handler_.Handle(e, At(0)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Audits().size(), 1u);
  EXPECT_TRUE(Verdicts().empty());
  ASSERT_TRUE(handler_.Handle(e, At(0)).ok());
  EXPECT_EQ(Audits().size(), 1u) << "the confirmed record is not re-published";
  EXPECT_EQ(Verdicts().size(), 1u);
  EXPECT_EQ(store_.Head("docket.work.v1/0")->sequence, 1u);
}

TEST_F(HandlerTest, OverThresholdInvoiceCompletedByItsRequesterFailsFourEyes) {
  auto sub = testutil::Invoice("alice");
  (*sub.mutable_attributes())["amount"] = testutil::Money(2500000, "EUR");
  ASSERT_TRUE(handler_.Handle(Submitted("item-1", sub), At(0, 0)).ok());
  ASSERT_TRUE(handler_.Handle(CompletionRequested("item-1", "alice"), At(0, 1)).ok());
  const auto verdicts = Verdicts();
  ASSERT_EQ(verdicts.size(), 2u);
  const auto& v = verdicts[1].verdict();
  EXPECT_EQ(v.checkpoint(), docket::v1::CHECKPOINT_COMPLETE);
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FAIL);
  std::set<std::string> rules;
  for (const auto& x : v.violations()) rules.insert(x.rule_id());
  EXPECT_TRUE(rules.count("invoice-second-approver"));
  EXPECT_TRUE(rules.count("four-eyes-submitter-completer"));
  EXPECT_EQ(Audits().at(1).audit_record().sequence(), 2u);
  EXPECT_EQ(Audits().at(1).audit_record().actor_id(), "alice");
}

TEST_F(HandlerTest, ReleaseByTheCompleterIsRecordedAsASegregationViolation) {
  auto sub = testutil::Invoice("erp-bot");
  (*sub.mutable_attributes())["amount"] = testutil::Money(2500000, "EUR");
  ASSERT_TRUE(handler_.Handle(Submitted("item-1", sub), At(0, 0)).ok());
  ASSERT_TRUE(handler_.Handle(CompletionRequested("item-1", "alice"), At(0, 1)).ok());
  ASSERT_TRUE(handler_.Handle(Released("item-1", "alice"), At(0, 2)).ok());
  const auto audits = Audits();
  ASSERT_EQ(audits.size(), 3u);
  const AuditRecord& release = audits[2].audit_record();
  EXPECT_EQ(release.type(), AuditRecord::TYPE_RELEASE);
  EXPECT_EQ(release.actor_id(), "alice");
  EXPECT_THAT(release.summary(), HasSubstr("segregation=violated:four-eyes-release"));
  EXPECT_EQ(Verdicts().size(), 2u) << "a release is audited, not given a verdict";
  ASSERT_TRUE(handler_.Handle(Released("item-2", "bob"), At(0, 3)).ok());
  EXPECT_THAT(Audits().back().audit_record().summary(), HasSubstr("segregation=ok"));
}

TEST_F(HandlerTest, RejectAndEscalationAreAuditedWithoutTheirFreeTextReason) {
  Event rej;
  rej.set_id("item-1:rejected");
  rej.set_subject("item-1");
  rej.set_tenant("acme");
  rej.mutable_rejected()->set_queue("accounts-payable");
  rej.mutable_rejected()->set_reason("customer jane.doe@example.com complained");
  rej.mutable_rejected()->mutable_actor()->set_id("bob");
  Event esc;
  esc.set_id("item-2:escalated");
  esc.set_subject("item-2");
  esc.set_tenant("acme");
  esc.mutable_escalated()->set_from_queue("accounts-payable");
  esc.mutable_escalated()->set_to_queue("finance-supervisors");
  ASSERT_TRUE(handler_.Handle(rej, At(3)).ok());
  ASSERT_TRUE(handler_.Handle(esc, At(3)).ok());
  const auto audits = Audits();
  ASSERT_EQ(audits.size(), 2u);
  EXPECT_EQ(audits[0].audit_record().type(), AuditRecord::TYPE_REJECT);
  EXPECT_THAT(audits[0].SerializeAsString(), Not(HasSubstr("jane.doe")));
  EXPECT_EQ(audits[1].audit_record().type(), AuditRecord::TYPE_ESCALATION);
  EXPECT_EQ(audits[1].audit_record().summary(), "escalation from=accounts-payable to=finance-supervisors");
  EXPECT_EQ(audits[1].audit_record().prev_hash(), audits[0].audit_record().hash());
  EXPECT_TRUE(Verdicts().empty());
}

TEST_F(HandlerTest, KindsTheCatalogDoesNotCheckGetNoVerdictAndOtherEventsAreIgnored) {
  docket::v1::WorkSubmission s;
  s.set_tenant("acme");
  s.set_kind("data_entry");
  (*s.mutable_attributes())["document_id"] = testutil::Str(kCard);
  ASSERT_TRUE(handler_.Handle(Submitted("item-9", s), At(0)).ok());
  Event routed;
  routed.set_id("item-9:routed");
  routed.set_subject("item-9");
  routed.mutable_routed()->set_queue("data-entry");
  ASSERT_TRUE(handler_.Handle(routed, At(0)).ok());
  EXPECT_TRUE(fake_.records().empty());
}

TEST_F(HandlerTest, EventWithoutSubjectIsPoison) {
  Event e = Submitted("", testutil::Invoice());
  EXPECT_EQ(handler_.Handle(e, At(0)).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(HandlerTest, EachPartitionHasItsOwnChain) {
  ASSERT_TRUE(handler_.Handle(Submitted("a", testutil::Invoice()), At(0)).ok());
  ASSERT_TRUE(handler_.Handle(Submitted("b", testutil::Invoice()), At(1)).ok());
  ASSERT_TRUE(handler_.Handle(Submitted("c", testutil::Invoice()), At(1)).ok());
  EXPECT_EQ(store_.Head("docket.work.v1/0")->sequence, 1u);
  EXPECT_EQ(store_.Head("docket.work.v1/1")->sequence, 2u);
  auto chains = store_.Chains();
  ASSERT_TRUE(chains.ok());
  EXPECT_EQ(*chains, (std::vector<std::string>{"docket.work.v1/0", "docket.work.v1/1"}));
}

TEST_F(HandlerTest, CompletionOfAnItemComplianceNeverSawIsFlagged) {
  ASSERT_TRUE(handler_.Handle(CompletionRequested("ghost", "alice"), At(0)).ok());
  const auto v = Verdicts().at(0).verdict();
  EXPECT_NE(v.outcome(), docket::v1::OUTCOME_PASS);
  EXPECT_EQ(v.violations(v.violations_size() - 1).rule_id(), "submission-unknown");
}

TEST_F(HandlerTest, StoredChainsVerifyAndTamperingIsNamed) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(handler_.Handle(Submitted("item-" + std::to_string(i), testutil::Invoice()), At(0)).ok());
  }
  auto ok = VerifyStoredChains(store_, "", 0, 0, "");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok) << ok->problem;
  EXPECT_EQ(ok->records_checked, 5u);
  auto range = VerifyStoredChains(store_, "docket.work.v1/0", 3, 4, "");
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->ok) << range->problem;
  EXPECT_EQ(range->records_checked, 2u);

  auto* record = store_.MutableRecord("docket.work.v1/0", 3);
  ASSERT_NE(record, nullptr);
  record->set_summary("verdict outcome=pass");
  auto changed = VerifyStoredChains(store_, "", 0, 0, "");
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->ok);
  EXPECT_EQ(changed->first_bad_sequence, 3u);
}

TEST_F(HandlerTest, DroppingTheNewestStoredRecordIsCaughtByTheHead) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(handler_.Handle(Submitted("item-" + std::to_string(i), testutil::Invoice()), At(0)).ok());
  }
  store_.EraseRecord("docket.work.v1/0", 3);
  auto r = VerifyStoredChains(store_, "", 0, 0, "");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->first_bad_sequence, 3u);
}

TEST_F(HandlerTest, ABatchGivesTheSameLedgerVerdictsAndAuditEventsAsHandlingItsEventsOneByOne) {
  auto big = testutil::Invoice("alice");
  (*big.mutable_attributes())["amount"] = testutil::Money(2500000, "EUR");
  auto carded = testutil::Invoice();
  (*carded.mutable_attributes())["notes"] = testutil::Str(std::string("card ") + kCard);
  docket::v1::WorkSubmission unchecked;
  unchecked.set_tenant("acme");
  unchecked.set_kind("data_entry");
  Event routed;
  routed.set_id("a:routed");
  routed.set_subject("a");
  routed.mutable_routed()->set_queue("accounts-payable");
  // Item "a" was submitted before the batch; "f" is submitted and completed
  // (by its own requester) within it; "ghost" was never submitted.
  ASSERT_TRUE(handler_.Handle(Submitted("a", testutil::Invoice("erp-bot")), At(0, 0)).ok());
  const std::vector<Consumed> batch = {
      {Submitted("b", carded), At(1, 0)},
      {CompletionRequested("a", "alice"), At(0, 1)},
      {routed, At(0, 2)},
      {Submitted("f", big), At(2, 0)},
      {Released("a", "alice"), At(0, 3)},
      {Submitted("e", unchecked), At(0, 4)},
      {CompletionRequested("f", "alice"), At(2, 1)},
      {Rejected("c", "bob"), At(1, 1)},
      {CompletionRequested("ghost", "carol"), At(1, 2)},
      {Escalated("d"), At(2, 2)},
      {Released("f", "alice"), At(2, 3)},
      {Submitted("g", testutil::Invoice()), At(0, 5)},
  };

  InMemoryComplianceStore one_store;
  kafka::FakeEventPublisher one_fake;
  ComplianceHandler one(&testutil::ShippedCatalog(), evaluator_, one_store, one_fake, topics_, clock_, nullptr);
  ASSERT_TRUE(one.Handle(Submitted("a", testutil::Invoice("erp-bot")), At(0, 0)).ok());
  for (const auto& c : batch) ASSERT_TRUE(one.Handle(c.event, c.record).ok()) << c.event.id();

  const std::vector<absl::Status> statuses = HandleAll(handler_, batch);
  ASSERT_EQ(statuses.size(), batch.size());
  for (std::size_t i = 0; i < statuses.size(); ++i) EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i];

  EXPECT_EQ(Ledger(store_), Ledger(one_store));
  EXPECT_EQ(Ledger(store_).size(), 3u);
  EXPECT_EQ(Serialized(Audits()), Serialized(one_fake.Events(topics_.audit())));
  EXPECT_EQ(Serialized(Verdicts()), Serialized(one_fake.Events(topics_.compliance())));
  for (const std::string item : {"a", "b", "c", "d", "f", "ghost"}) {
    std::vector<std::string> batched, single;
    const std::vector<AuditRecord> batched_trail = store_.Trail(item).value();
    const std::vector<AuditRecord> single_trail = one_store.Trail(item).value();
    for (const auto& r : batched_trail) batched.push_back(r.SerializeAsString());
    for (const auto& r : single_trail) single.push_back(r.SerializeAsString());
    EXPECT_EQ(batched, single) << item;
    EXPECT_FALSE(batched.empty()) << item;
  }
  // What the batch saw of "f" came from its own Submitted: four-eyes and
  // the release's segregation were checked against it.
  std::set<std::string> f_rules;
  for (const auto& v : Verdicts()) {
    if (v.subject() != "f" || v.verdict().checkpoint() != docket::v1::CHECKPOINT_COMPLETE) continue;
    for (const auto& x : v.verdict().violations()) f_rules.insert(x.rule_id());
  }
  EXPECT_TRUE(f_rules.count("four-eyes-submitter-completer"));
  const auto f_trail = *store_.Trail("f");
  ASSERT_EQ(f_trail.size(), 3u);
  EXPECT_THAT(f_trail[2].summary(), HasSubstr("segregation=violated:four-eyes-release"));
  ExpectEveryVerdictAfterItsAuditRecord(fake_, topics_);
  auto verified = VerifyStoredChains(store_, "", 0, 0, "");
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->problem;
}

TEST_F(HandlerTest, ARedeliveredBatchAppendsNothingTwiceAndResendsTheRecordedVerdicts) {
  const std::vector<Consumed> batch = {
      {Submitted("a", testutil::Invoice()), At(0, 0)},
      {Submitted("b", testutil::Invoice()), At(1, 0)},
      {CompletionRequested("a", "alice"), At(0, 1)},
      {Rejected("b", "bob"), At(1, 1)},
  };
  for (const auto& s : HandleAll(handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  const auto ledger = Ledger(store_);
  const auto first_verdicts = Serialized(Verdicts());
  ASSERT_EQ(first_verdicts.size(), 3u);
  const std::size_t audits = Audits().size();

  clock_.Advance(std::chrono::seconds(5));  // a new evaluation would differ
  for (const auto& s : HandleAll(handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Ledger(store_), ledger) << "nothing appended twice";
  EXPECT_EQ(Audits().size(), audits) << "confirmed records are not published again";
  const auto verdicts = Serialized(Verdicts());
  ASSERT_EQ(verdicts.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(verdicts.begin() + 3, verdicts.end()), first_verdicts)
      << "the redelivery re-sends the recorded verdicts, same ids and times";

  // Redelivered with new events behind the recorded ones: only the new ones
  // are appended, in order, right after them.
  std::vector<Consumed> longer = batch;
  longer.push_back({Submitted("c", testutil::Invoice()), At(0, 2)});
  longer.push_back({Escalated("a"), At(0, 3)});
  for (const auto& s : HandleAll(handler_, longer)) ASSERT_TRUE(s.ok()) << s;
  const auto chain0 = *store_.Range("docket.work.v1/0", 1, 0, 100);
  ASSERT_EQ(chain0.size(), 4u);
  EXPECT_EQ(chain0[2].item_id(), "c");
  EXPECT_EQ(chain0[3].type(), AuditRecord::TYPE_ESCALATION);
  EXPECT_EQ(store_.Head("docket.work.v1/1")->sequence, 2u);
  auto verified = VerifyStoredChains(store_, "", 0, 0, "");
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->problem;
}

TEST_F(HandlerTest, AStoreFailureInABatchFailsThatEventAndTheLaterOnesOfItsPartitionOnlyAndTheRetryCompletesThem) {
  const std::vector<Consumed> batch = {
      {Submitted("a", testutil::Invoice()), At(0, 0)},
      {Submitted("d", testutil::Invoice()), At(1, 0)},
      {Submitted("b", testutil::Invoice()), At(0, 1)},
      {Submitted("e", testutil::Invoice()), At(1, 1)},
      {Submitted("c", testutil::Invoice()), At(0, 2)},
      {Submitted("g", testutil::Invoice()), At(2, 0)},
      {Submitted("h", testutil::Invoice()), At(2, 1)},
  };
  store_.FailFor(InMemoryComplianceStore::Operation::kWriteItems, "b", 1, absl::UnavailableError("redis down"));
  store_.FailFor(InMemoryComplianceStore::Operation::kAppend,
                 VerdictId("e:submitted", docket::v1::CHECKPOINT_SUBMIT), 1, absl::UnavailableError("redis down"));
  const auto s = HandleAll(handler_, batch);
  ASSERT_EQ(s.size(), batch.size());
  EXPECT_TRUE(s[0].ok()) << s[0];
  EXPECT_TRUE(s[1].ok()) << s[1];
  EXPECT_EQ(s[2].code(), absl::StatusCode::kUnavailable) << "b: its item could not be saved";
  EXPECT_EQ(s[3].code(), absl::StatusCode::kUnavailable) << "e: its record could not be appended";
  EXPECT_EQ(s[4].code(), absl::StatusCode::kUnavailable) << "c is held behind b";
  EXPECT_THAT(std::string(s[4].message()), HasSubstr("held behind event b:submitted"));
  EXPECT_TRUE(s[5].ok()) << s[5];
  EXPECT_TRUE(s[6].ok()) << s[6];
  std::set<std::string> out;
  for (const auto& v : Verdicts()) out.insert(v.subject());
  EXPECT_EQ(out, (std::set<std::string>{"a", "d", "g", "h"}));
  EXPECT_EQ(store_.Head("docket.work.v1/0")->sequence, 1u) << "nothing of c went ahead of b";
  ExpectEveryVerdictAfterItsAuditRecord(fake_, topics_);

  // The consumer delivers each partition again from its failed record.
  const std::vector<Consumed> again = {batch[2], batch[3], batch[4]};
  for (const auto& st : HandleAll(handler_, again)) EXPECT_TRUE(st.ok()) << st;
  const auto chain0 = *store_.Range("docket.work.v1/0", 1, 0, 100);
  ASSERT_EQ(chain0.size(), 3u);
  EXPECT_EQ(chain0[1].item_id(), "b");
  EXPECT_EQ(chain0[2].item_id(), "c");
  EXPECT_EQ(Verdicts().size(), 7u);
  ExpectEveryVerdictAfterItsAuditRecord(fake_, topics_);
  auto verified = VerifyStoredChains(store_, "", 0, 0, "");
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->problem;
}

TEST_F(HandlerTest, AnAuditPublishFailureInABatchSendsNoVerdictWithoutItsAuditRecordAndFailsOnlyItsPartitionFromThere) {
  const std::vector<Consumed> batch = {
      {Submitted("a", testutil::Invoice()), At(0, 0)},
      {Submitted("b", testutil::Invoice()), At(0, 1)},
      {Submitted("d", testutil::Invoice()), At(1, 0)},
      {Submitted("c", testutil::Invoice()), At(0, 2)},
  };
  publisher_.FailTopic(topics_.audit(), 1, "b");
  const auto s = HandleAll(handler_, batch);
  ASSERT_EQ(s.size(), batch.size());
  EXPECT_TRUE(s[0].ok()) << s[0];
  EXPECT_EQ(s[1].code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s[1].message()), HasSubstr("publishing the audit record"));
  EXPECT_TRUE(s[2].ok()) << s[2];
  EXPECT_EQ(s[3].code(), absl::StatusCode::kUnavailable) << "c is held behind b";
  std::set<std::string> out;
  for (const auto& v : Verdicts()) out.insert(v.subject());
  EXPECT_EQ(out, (std::set<std::string>{"a", "d"})) << "no verdict for b, nor for c behind it";
  ExpectEveryVerdictAfterItsAuditRecord(fake_, topics_);

  // c's record was confirmed in the first attempt but not marked (c stopped
  // behind b): the retry publishes it again after b's, an identical copy.
  for (const auto& st : HandleAll(handler_, {batch[1], batch[3]})) EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(Verdicts().size(), 4u);
  EXPECT_EQ(store_.Head("docket.work.v1/0")->sequence, 3u) << "the retry appended nothing again";
  ExpectEveryVerdictAfterItsAuditRecord(fake_, topics_);
}

TEST_F(HandlerTest, AVerdictPublishFailureInABatchIsRetriedWithoutNewAuditRecords) {
  const std::vector<Consumed> batch = {
      {Submitted("a", testutil::Invoice()), At(0, 0)},
      {Submitted("b", testutil::Invoice()), At(0, 1)},
      {Submitted("d", testutil::Invoice()), At(1, 0)},
  };
  publisher_.FailTopic(topics_.compliance(), 1, "b");
  const auto s = HandleAll(handler_, batch);
  EXPECT_TRUE(s[0].ok()) << s[0];
  EXPECT_EQ(s[1].code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(s[2].ok()) << s[2];
  EXPECT_EQ(Audits().size(), 3u);
  EXPECT_EQ(Verdicts().size(), 2u);
  ASSERT_TRUE(handler_.Handle(batch[1].event, batch[1].record).ok());
  EXPECT_EQ(Audits().size(), 3u) << "the confirmed record is not re-published";
  EXPECT_EQ(Verdicts().size(), 3u);
}

TEST_F(HandlerTest, DryRunRecordsNothingAndRejectsUnknownKinds) {
  auto sub = testutil::Invoice();
  (*sub.mutable_attributes())["notes"] = testutil::Str(std::string("card ") + kCard);
  auto v = handler_.DryRun(sub, docket::v1::CHECKPOINT_SUBMIT);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->outcome(), docket::v1::OUTCOME_FLAG);
  EXPECT_TRUE(fake_.records().empty());
  EXPECT_TRUE(store_.Chains()->empty());
  sub.set_kind("nope");
  EXPECT_EQ(handler_.DryRun(sub, docket::v1::CHECKPOINT_SUBMIT).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace docket::compliance
