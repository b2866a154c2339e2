#include "services/compliance/src/audit_schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "common/kafka/fake_event_publisher.h"
#include "common/metrics/metrics.h"
#include "services/compliance/src/compliance_metrics.h"
#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr auto kLedger = docket::v1::VerifyAuditRequest::SOURCE_LEDGER;
constexpr auto kTopic = docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC;

// A ComplianceApi over the in-memory store with metrics, and a claim shared
// by "replicas" the way Redis's SET NX PX would be: held until it expires on
// the fake clock.
class AuditScheduleTest : public ::testing::Test {
 protected:
  AuditScheduleTest()
      : policies_(*LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml",
                                &testutil::ShippedCatalog())),
        evaluator_(policies_),
        registry_(metrics::BuildInfo{"compliance", "", ""}),
        metrics_(registry_, &testutil::ShippedCatalog(), policies_),
        handler_(&testutil::ShippedCatalog(), evaluator_, store_, publisher_, topics_, clock_, nullptr),
        api_(handler_, store_, "", nullptr,
             [this](const std::function<absl::Status(const kafka::Record&)>& each) {
               ++topic_reads_;
               std::vector<kafka::Record> topic = publisher_.RecordsOf(topics_.audit());
               for (std::size_t i = 0; i < topic.size(); ++i) {
                 topic[i].offset = static_cast<std::int64_t>(i);
                 if (absl::Status s = each(topic[i]); !s.ok()) return s;
               }
               return absl::OkStatus();
             },
             &metrics_) {}

  AuditSchedule::Claim SharedClaim() {
    return [this](const std::string& name, std::chrono::milliseconds ttl) -> absl::StatusOr<bool> {
      if (claim_error_) return absl::UnavailableError("redis down");
      auto now = clock_.Monotonic();
      auto it = claims_.find(name);
      if (it != claims_.end() && it->second > now) return false;
      claims_[name] = now + ttl;
      return true;
    };
  }

  void SubmitItem(const std::string& item) {
    docket::v1::Event e;
    e.set_id(item + ":submitted");
    e.set_subject(item);
    e.set_tenant("acme");
    *e.mutable_submitted()->mutable_submission() = testutil::Invoice();
    kafka::Record r;
    r.topic = "docket.work.v1";
    r.partition = 0;
    ASSERT_TRUE(handler_.Handle(e, r).ok());
  }

  // The sample of docket_compliance_audit_verifications_total{source,result}.
  std::string Count(const std::string& source, const std::string& result) const {
    const std::string text = registry_.Serialize();
    const std::string series = "docket_compliance_audit_verifications_total{result=\"" + result +
                               "\",source=\"" + source + "\"} ";
    auto at = text.find(series);
    if (at == std::string::npos) return "absent";
    at += series.size();
    return text.substr(at, text.find('\n', at) - at);
  }

  PolicySet policies_;
  Evaluator evaluator_;
  FakeClock clock_;
  InMemoryComplianceStore store_;
  kafka::FakeEventPublisher publisher_;
  kafka::Topics topics_;
  metrics::MetricsRegistry registry_;
  ComplianceMetrics metrics_;
  ComplianceHandler handler_;
  ComplianceApi api_;
  std::map<std::string, std::chrono::steady_clock::time_point> claims_;
  bool claim_error_ = false;
  int topic_reads_ = 0;
};

TEST_F(AuditScheduleTest, EachSourceIsVerifiedWhenDueThenEveryPeriodAndTheOutcomeIsCounted) {
  SubmitItem("a");
  AuditSchedule schedule(api_, SharedClaim(), clock_, {{kLedger, 6h}, {kTopic, 24h}}, 1min);
  const auto start = clock_.Monotonic();
  EXPECT_EQ(schedule.RunDue(), start + 1min) << "nothing before the first delay";
  EXPECT_EQ(Count("ledger", "verified"), "0");
  EXPECT_THAT(registry_.Serialize(), Not(HasSubstr("docket_compliance_audit_verification_timestamp_seconds{result=\"verified\"")));

  clock_.Advance(1min);
  EXPECT_EQ(schedule.RunDue(), start + 1min + 6h);
  EXPECT_EQ(Count("ledger", "verified"), "1");
  EXPECT_EQ(Count("audit_topic", "verified"), "1");
  EXPECT_EQ(topic_reads_, 1);
  EXPECT_THAT(registry_.Serialize(), HasSubstr("docket_compliance_audit_verification_timestamp_seconds{result=\"verified\",source=\"ledger\"} "));

  clock_.Advance(6h);
  EXPECT_EQ(schedule.RunDue(), start + 1min + 12h) << "the ledger again; the topic is due at 24h";
  EXPECT_EQ(Count("ledger", "verified"), "2");
  EXPECT_EQ(Count("audit_topic", "verified"), "1");
}

TEST_F(AuditScheduleTest, OnlyTheReplicaThatTakesThePeriodsClaimVerifies) {
  AuditSchedule first(api_, SharedClaim(), clock_, {{kTopic, 24h}}, 1min);
  AuditSchedule second(api_, SharedClaim(), clock_, {{kTopic, 24h}}, 1min);
  clock_.Advance(1min);
  first.RunDue();
  second.RunDue();
  EXPECT_EQ(topic_reads_, 1) << "the second replica found this period's claim taken";
  EXPECT_EQ(Count("audit_topic", "verified"), "1");
  clock_.Advance(24h);
  second.RunDue();
  first.RunDue();
  EXPECT_EQ(topic_reads_, 2) << "next period: whoever comes first, once";
}

TEST_F(AuditScheduleTest, ALoneReplicasOwnClaimHasLapsedWhenItsNextPeriodComes) {
  std::vector<std::chrono::milliseconds> ttls;
  AuditSchedule schedule(
      api_,
      [&](const std::string& name, std::chrono::milliseconds ttl) {
        ttls.push_back(ttl);
        return SharedClaim()(name, ttl);
      },
      clock_, {{kLedger, 6h}}, 0s);
  for (int period = 0; period < 3; ++period) {
    schedule.RunDue();
    clock_.Advance(6h);
  }
  EXPECT_EQ(Count("ledger", "verified"), "3") << "no period skipped";
  ASSERT_EQ(ttls.size(), 3u);
  EXPECT_LT(ttls[0], std::chrono::milliseconds(6h)) << "the claim must lapse before the next period starts";
  EXPECT_GE(ttls[0], std::chrono::milliseconds(5h));
}

TEST_F(AuditScheduleTest, ABrokenLedgerIsCountedBrokenAndTimedAsBrokenNotAsVerified) {
  SubmitItem("a");
  SubmitItem("b");
  auto* record = store_.MutableRecord("docket.work.v1/0", 2);
  ASSERT_NE(record, nullptr);
  record->set_actor_id("mallory");
  AuditSchedule schedule(api_, SharedClaim(), clock_, {{kLedger, 6h}}, 0s);
  schedule.RunDue();
  EXPECT_EQ(Count("ledger", "broken"), "1");
  EXPECT_EQ(Count("ledger", "verified"), "0");
  const std::string text = registry_.Serialize();
  EXPECT_THAT(text, Not(HasSubstr("docket_compliance_audit_verification_timestamp_seconds{result=\"verified\"")));
  EXPECT_THAT(text, HasSubstr("docket_compliance_audit_verification_timestamp_seconds{result=\"broken\",source=\"ledger\"} "));
}

TEST_F(AuditScheduleTest, WithoutTheClaimNothingRunsAndTheNextPeriodTriesAgain) {
  claim_error_ = true;
  AuditSchedule schedule(api_, SharedClaim(), clock_, {{kLedger, 6h}}, 0s);
  const auto start = clock_.Monotonic();
  EXPECT_EQ(schedule.RunDue(), start + 6h);
  EXPECT_EQ(Count("ledger", "verified"), "0");
  EXPECT_EQ(Count("ledger", "error"), "0") << "not a verification that failed: none ran";
  claim_error_ = false;
  clock_.Advance(6h);
  schedule.RunDue();
  EXPECT_EQ(Count("ledger", "verified"), "1");
}

TEST_F(AuditScheduleTest, APeriodOfZeroIsNeverScheduledAndNoThreadStarts) {
  AuditSchedule schedule(api_, SharedClaim(), clock_, {{kLedger, 0s}, {kTopic, 0s}}, 0s);
  EXPECT_EQ(schedule.RunDue(), std::chrono::steady_clock::time_point::max());
  schedule.Start();
  schedule.Stop();
  EXPECT_EQ(topic_reads_, 0);
  EXPECT_EQ(Count("ledger", "verified"), "0");
}

TEST_F(AuditScheduleTest, AVerificationAskedForOneChainCountsButDoesNotMoveTheWholeTimestamp) {
  SubmitItem("a");
  docket::v1::VerifyAuditRequest one;
  one.set_chain("docket.work.v1/0");
  auto result = api_.Verify(one);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok);
  EXPECT_EQ(Count("ledger", "verified"), "1");
  EXPECT_THAT(registry_.Serialize(), Not(HasSubstr("docket_compliance_audit_verification_timestamp_seconds{result=\"verified\"")));
}

TEST_F(AuditScheduleTest, ACancelledTopicReadIsNoOutcome) {
  SubmitItem("a");
  api_.CancelVerifications();
  docket::v1::VerifyAuditRequest topic;
  topic.set_source(kTopic);
  auto result = api_.Verify(topic);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_EQ(Count("audit_topic", "error"), "0");
  EXPECT_EQ(Count("audit_topic", "verified"), "0");
}

}  // namespace
}  // namespace docket::compliance
