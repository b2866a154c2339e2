// Issue 5 across services: a card number in an invoice's free text, submitted
// through docket-intake's gRPC API, is masked by intake before admission (the
// shipped policy's `redact: true`), flagged by docket-compliance from the
// redaction record, and appears in no Kafka record (work, verdict, audit), no
// log line and no metric of either service.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/testing/fixtures.h"
#include "common/testing/http.h"
#include "common/testing/kafka_probe.h"
#include "common/testing/service_process.h"
#include "docket/v1/event.pb.h"
#include "docket/v1/intake_service.grpc.pb.h"

namespace docket {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kPublisherKey[] = "dk_demo_acme_publisher_LOCAL_STACK_ONLY";
constexpr char kCard[] = "4111 1111 1111 1111";
constexpr char kCardDigits[] = "4111111111111111";

docket::v1::AttributeValue Str(const std::string& s) {
  docket::v1::AttributeValue v;
  v.set_string_value(s);
  return v;
}

docket::v1::WorkSubmission InvoiceWithCardInNotes(const std::string& key) {
  docket::v1::WorkSubmission s;
  s.set_tenant("acme");
  s.set_kind("invoice_approval");
  s.set_idempotency_key(key);
  auto& a = *s.mutable_attributes();
  a["vendor_id"] = Str("V-1001");
  a["vendor_name"] = Str("Muster Buerobedarf GmbH");
  a["invoice_number"] = Str("INV-2026-0042");
  a["amount"].mutable_money_value()->set_minor_units(125000);
  a["amount"].mutable_money_value()->set_currency("EUR");
  auto* date = a["invoice_date"].mutable_date_value();
  date->set_year(2026);
  date->set_month(11);
  date->set_day(20);
  a["po_number"] = Str("PO-7781");
  a["notes"] = Str(std::string("vendor asks us to charge card ") + kCard + " instead of a transfer");
  return s;
}

// True if `text` holds the card number in any of its usual spellings.
bool HasCard(const std::string& text) {
  return text.find(kCard) != std::string::npos || text.find(kCardDigits) != std::string::npos;
}

class PiiRedactionItest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    auto kafka = testing::DevKafka::Start(3, 4);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
    for (const char* name : {"intake", "compliance"}) {
      auto svc = testing::StartService(name, kafka_->bootstrap(), redis_->url());
      ASSERT_TRUE(svc.ok()) << svc.status();
      services_.push_back(std::move(*svc));
    }
  }
  void TearDown() override {
    for (auto& s : services_) EXPECT_EQ(s.process->Stop(15s), 0) << s.process->log_path();
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::DevKafka> kafka_;
  std::vector<testing::ServiceProcess> services_;  // intake, compliance
};

TEST_F(PiiRedactionItest, CardNumberIsMaskedAtIntakeFlaggedByComplianceAndStoredNowhere) {
  auto stub = docket::v1::Intake::NewStub(
      grpc::CreateChannel(services_[0].grpc_address(), grpc::InsecureChannelCredentials()));
  docket::v1::SubmitRequest req;
  *req.mutable_submission() = InvoiceWithCardInNotes("pii-redaction-1");
  docket::v1::SubmitResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kPublisherKey);
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  grpc::Status s = stub->Submit(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string item = resp.item_id();

  // The admitted item carries the masked number and the redaction record.
  auto work = testing::ConsumeFromBeginning(kafka_->bootstrap(), "docket.work.v1", 1, 30s);
  ASSERT_TRUE(work.ok()) << work.status();
  docket::v1::Event submitted;
  ASSERT_TRUE(submitted.ParseFromString((*work)[0].value));
  ASSERT_TRUE(submitted.has_submitted());
  EXPECT_EQ(submitted.subject(), item);
  EXPECT_EQ(submitted.submitted().submission().attributes().at("notes").string_value(),
            "vendor asks us to charge card **** **** **** 1111 instead of a transfer");
  ASSERT_EQ(submitted.submitted().redactions_size(), 1);
  EXPECT_EQ(submitted.submitted().redactions(0).field(), "notes");
  EXPECT_EQ(submitted.submitted().redactions(0).rule_id(), "pii-payment-card");
  EXPECT_EQ(submitted.submitted().redactions(0).pii(), "card");

  // Compliance flags the item from the redaction record.
  auto verdicts = testing::ConsumeFromBeginning(kafka_->bootstrap(), "docket.compliance.v1", 1, 30s);
  ASSERT_TRUE(verdicts.ok()) << verdicts.status() << "; log: " << services_[1].process->log_path();
  docket::v1::Event verdict;
  ASSERT_TRUE(verdict.ParseFromString((*verdicts)[0].value));
  EXPECT_EQ(verdict.verdict().item_id(), item);
  EXPECT_EQ(verdict.verdict().outcome(), docket::v1::OUTCOME_FLAG);
  bool card_violation = false;
  for (const auto& v : verdict.verdict().violations()) {
    if (v.rule_id() != "pii-payment-card") continue;
    card_violation = true;
    EXPECT_EQ(v.field(), "attributes.notes");
    EXPECT_THAT(v.message(), HasSubstr("**** **** **** 1111"));
    EXPECT_THAT(v.message(), HasSubstr("redacted"));
  }
  EXPECT_TRUE(card_violation) << verdict.verdict().DebugString();
  auto audit = testing::ConsumeFromBeginning(kafka_->bootstrap(), "docket.audit.v1", 1, 30s);
  ASSERT_TRUE(audit.ok()) << audit.status();

  // The number is in no record of any topic (values and headers) ...
  for (const char* topic : {"docket.work.v1", "docket.compliance.v1", "docket.audit.v1"}) {
    auto n = testing::TopicRecordCount(kafka_->bootstrap(), topic);
    ASSERT_TRUE(n.ok()) << n.status();
    auto records = testing::ConsumeFromBeginning(kafka_->bootstrap(), topic, *n, 30s);
    ASSERT_TRUE(records.ok()) << records.status();
    for (const auto& r : *records) {
      EXPECT_FALSE(HasCard(r.value)) << topic << " offset " << r.offset;
      for (const auto& [name, value] : r.headers) EXPECT_FALSE(HasCard(value)) << topic << " " << name;
    }
  }
  // ... in no log line and no metric of either service.
  for (const auto& svc : services_) {
    EXPECT_FALSE(HasCard(testing::ReadFile(svc.process->log_path()))) << svc.process->log_path();
    auto metrics = testing::HttpGet(svc.metrics_port, "/metrics");
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    EXPECT_THAT(testing::MetricSeries(metrics->body), Not(HasSubstr("4111")));
  }
  auto intake_metrics = testing::HttpGet(services_[0].metrics_port, "/metrics");
  ASSERT_TRUE(intake_metrics.ok());
  EXPECT_THAT(intake_metrics->body,
              HasSubstr("docket_intake_redactions_total{kind=\"invoice_approval\",rule=\"pii-payment-card\"} 1"));
}

}  // namespace
}  // namespace docket
