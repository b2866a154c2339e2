#include "services/intake/src/admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "common/kafka/fake_event_publisher.h"
#include "common/policy/policy.h"

namespace docket::intake {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr char kCatalog[] = R"(version: 1
tenants: [{id: acme}, {id: globex}]
queues:
  - {name: ap, skills: [ap-clerk]}
kinds:
  - name: invoice
    queue: ap
    sla: 4h
    attributes:
      - {name: vendor, type: string, required: true}
  - name: expense
    queue: ap
    sla: 1d
)";

docket::v1::WorkSubmission Invoice(const std::string& key, const std::string& tenant = "acme") {
  docket::v1::WorkSubmission s;
  s.set_tenant(tenant);
  s.set_kind("invoice");
  s.set_idempotency_key(key);
  (*s.mutable_attributes())["vendor"].set_string_value("V-1");
  return s;
}

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest()
      : catalog_(*catalog::Catalog::Parse(kCatalog, "catalog.yaml")),
        clock_(Clock::TimePoint(1'700'000'000'000ms)),
        idem_(MakeInMemoryIdempotencyStore(clock_, {})),
        limiter_(clock_, {{"globex", {1, 1}}}),
        admission_(catalog_, *idem_, publisher_, limiter_, clock_, kafka::Topics(), nullptr) {}

  Outcome AdmitOne(const docket::v1::WorkSubmission& s,
                   const std::optional<Publisher>& p = Publisher{"erp", {"acme", "globex"}, {}}) {
    return admission_.Admit(p, {s}, "grpc", {"00-abc-def-01"})[0];
  }

  catalog::Catalog catalog_;
  FakeClock clock_;
  std::unique_ptr<IdempotencyStore> idem_;
  RateLimiter limiter_;
  kafka::FakeEventPublisher publisher_;
  Admission admission_;
};

TEST_F(AdmissionTest, AdmittedItemIsPublishedOnceAsSubmittedWithItsEnvelope) {
  Outcome o = AdmitOne(Invoice("k1"));
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_TRUE(IsUuidV7(o.item_id)) << o.item_id;
  EXPECT_FALSE(o.duplicate);
  auto events = publisher_.Events(kafka::Topics().work());
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.subject(), o.item_id);
  EXPECT_EQ(e.id(), o.item_id + ":submitted");
  EXPECT_EQ(e.tenant(), "acme");
  EXPECT_EQ(e.traceparent(), "00-abc-def-01");
  EXPECT_EQ(e.source(), "//docket/intake");
  ASSERT_TRUE(e.has_submitted());
  EXPECT_EQ(e.submitted().channel(), "grpc");
  EXPECT_EQ(e.submitted().submission().idempotency_key(), "k1");
  EXPECT_EQ(publisher_.RecordsOf(kafka::Topics().work())[0].key, o.item_id);
}

TEST_F(AdmissionTest, EachSubmissionOfABatchCarriesItsOwnTraceparent) {
  auto out = admission_.Admit(std::nullopt, {Invoice("k1"), Invoice("k2")}, "grpc",
                              {"00-aaa-111-01", "00-bbb-222-01"});
  ASSERT_TRUE(out[0].status.ok() && out[1].status.ok());
  auto events = publisher_.Events(kafka::Topics().work());
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) {
    EXPECT_EQ(e.traceparent(), e.subject() == out[0].item_id ? "00-aaa-111-01" : "00-bbb-222-01");
  }
}

TEST_F(AdmissionTest, TraceparentsNotOnePerSubmissionAreRefusedAndNothingIsPublished) {
  auto out = admission_.Admit(std::nullopt, {Invoice("k1"), Invoice("k2")}, "grpc", {"00-aaa-111-01"});
  ASSERT_EQ(out.size(), 2u);
  for (const auto& o : out) {
    EXPECT_EQ(o.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(o.status.message(), HasSubstr("1 traceparents for 2 submissions"));
  }
  EXPECT_TRUE(publisher_.records().empty());
}

TEST_F(AdmissionTest, DuplicateGetsTheOriginalIdAndPublishesNothing) {
  Outcome first = AdmitOne(Invoice("k1"));
  Outcome again = AdmitOne(Invoice("k1"));
  ASSERT_TRUE(again.status.ok());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.item_id, first.item_id);
  EXPECT_EQ(publisher_.records().size(), 1u);
}

TEST_F(AdmissionTest, SameKeyTwiceInOneBatchAdmitsOnce) {
  auto out = admission_.Admit(std::nullopt, {Invoice("k1"), Invoice("k1"), Invoice("k2")}, "kafka");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FALSE(out[0].duplicate);
  EXPECT_TRUE(out[1].duplicate);
  EXPECT_EQ(out[1].item_id, out[0].item_id);
  EXPECT_FALSE(out[2].duplicate);
  EXPECT_EQ(publisher_.records().size(), 2u);
}

TEST_F(AdmissionTest, FailedPublishIsRetryableAndTheRetryAdmitsWithTheSameId) {
  publisher_.FailNext(1, absl::UnavailableError("broker down"));
  Outcome failed = AdmitOne(Invoice("k1"));
  EXPECT_EQ(failed.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_GT(failed.retry_after.count(), 0);
  EXPECT_TRUE(publisher_.records().empty());
  Outcome retry = AdmitOne(Invoice("k1"));
  ASSERT_TRUE(retry.status.ok()) << retry.status;
  EXPECT_FALSE(retry.duplicate);
  ASSERT_EQ(publisher_.records().size(), 1u);
  EXPECT_EQ(AdmitOne(Invoice("k1")).item_id, retry.item_id);
  EXPECT_EQ(publisher_.records().size(), 1u);
}

TEST_F(AdmissionTest, InvalidSubmissionListsViolationsAndPublishesNothing) {
  auto s = Invoice("k1");
  s.mutable_attributes()->erase("vendor");
  (*s.mutable_attributes())["colour"].set_string_value("red");
  Outcome o = AdmitOne(s);
  EXPECT_EQ(o.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status.message(), HasSubstr("2 violations"));
  EXPECT_EQ(o.violations.size(), 2u);
  EXPECT_TRUE(publisher_.records().empty());
}

TEST_F(AdmissionTest, PublisherMayNotSubmitForAnotherTenantOrAKindNotAllowed) {
  Publisher acme_invoices{"acme-erp", {"acme"}, {"invoice"}};
  EXPECT_EQ(AdmitOne(Invoice("k1", "globex"), acme_invoices).status.code(),
            absl::StatusCode::kPermissionDenied);
  auto expense = Invoice("k2");
  expense.set_kind("expense");
  expense.clear_attributes();
  EXPECT_EQ(AdmitOne(expense, acme_invoices).status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(AdmitOne(Invoice("k3"), acme_invoices).status.ok());
  EXPECT_TRUE(AdmitOne(expense, Publisher{"any", {"*"}, {"*"}}).status.ok());
}

TEST_F(AdmissionTest, RateLimitedTenantGetsResourceExhaustedWithRetryHint) {
  EXPECT_TRUE(AdmitOne(Invoice("g1", "globex")).status.ok());
  Outcome limited = AdmitOne(Invoice("g2", "globex"));
  EXPECT_EQ(limited.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limited.retry_after, 1000ms);
  EXPECT_TRUE(AdmitOne(Invoice("a1", "acme")).status.ok()) << "other tenants are not limited";
  clock_.Advance(1s);
  EXPECT_TRUE(AdmitOne(Invoice("g2", "globex")).status.ok());
}

TEST_F(AdmissionTest, ConcurrentIdenticalSubmissionsAdmitExactlyOneItem) {
  std::vector<std::thread> threads;
  std::vector<Outcome> outcomes(50);
  for (int t = 0; t < 50; ++t) {
    threads.emplace_back([&, t] { outcomes[t] = AdmitOne(Invoice("same")); });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(publisher_.records().size(), 1u);
  int originals = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.status.ok()) << o.status;
    EXPECT_EQ(o.item_id, outcomes[0].item_id);
    originals += o.duplicate ? 0 : 1;
  }
  EXPECT_EQ(originals, 1);
}

TEST_F(AdmissionTest, InFlightLimitAnswersResourceExhausted) {
  Admission tiny(catalog_, *idem_, publisher_, limiter_, clock_, kafka::Topics(), nullptr,
                 AdmissionOptions{.max_in_flight = 2});
  auto out = tiny.Admit(std::nullopt, {Invoice("a"), Invoice("b"), Invoice("c")}, "grpc");
  for (const auto& o : out) EXPECT_EQ(o.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(publisher_.records().empty());
  EXPECT_TRUE(tiny.Admit(std::nullopt, {Invoice("a"), Invoice("b")}, "grpc")[1].status.ok());
}

// Keeps delivery callbacks until told to confirm: a broker that is down.
class UnconfirmedPublisher final : public kafka::EventPublisher {
 public:
  void PublishAsync(kafka::Record, Done done) override {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(done));
  }
  absl::Status Flush(std::chrono::milliseconds) override { return absl::OkStatus(); }
  absl::Status CheckConnection(std::chrono::milliseconds) override { return absl::OkStatus(); }
  void ConfirmAll() {
    std::vector<Done> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& done : held) done(absl::OkStatus());
  }

 private:
  std::mutex mu_;
  std::vector<Done> held_;
};

TEST_F(AdmissionTest, UnconfirmedPublishAnswersUnavailableAfterPublishWaitAndFreesTheKey) {
  UnconfirmedPublisher down;
  Admission admission(catalog_, *idem_, down, limiter_, clock_, kafka::Topics(), nullptr,
                      AdmissionOptions{.publish_wait = 20ms});
  Outcome o = admission.Admit(std::nullopt, {Invoice("slow")}, "grpc")[0];
  EXPECT_EQ(o.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(o.status.message(), HasSubstr("retry"));
  EXPECT_GT(o.retry_after.count(), 0);
  down.ConfirmAll();  // the late confirmation arrives after Admit returned

  // The key is free again: the retry goes through (with the same item id).
  Outcome retry = AdmitOne(Invoice("slow"));
  ASSERT_TRUE(retry.status.ok()) << retry.status;
  EXPECT_FALSE(retry.duplicate);
  EXPECT_EQ(publisher_.Events(kafka::Topics().work()).size(), 1u);
}

TEST_F(AdmissionTest, CardNumberInFreeTextIsMaskedBeforePublishAndTheRedactionRecorded) {
  auto policies = compliance::ParsePolicies(R"(version: "1"
rules:
  - {id: card, type: pii, kinds: ["*"], checkpoint: submit, detect: [card], redact: true}
  - {id: mail, type: pii, kinds: ["*"], checkpoint: submit, detect: [email]}
)", "policies.yaml", ".", nullptr);
  ASSERT_TRUE(policies.ok()) << policies.status();
  Redactor redactor(*policies);
  AdmissionOptions options;
  options.redactor = &redactor;
  Admission admission(catalog_, *idem_, publisher_, limiter_, clock_, kafka::Topics(), nullptr, options);
  docket::v1::WorkSubmission s = Invoice("pii-1");
  (*s.mutable_attributes())["vendor"].set_string_value("pay 4111-1111-1111-1111 or mail ap@example.com");
  const Outcome o = admission.Admit(Publisher{"erp", {"acme"}, {}}, {s}, "grpc")[0];
  ASSERT_TRUE(o.status.ok()) << o.status;
  const auto events = publisher_.Events(kafka::Topics().work());
  ASSERT_EQ(events.size(), 1u);
  const auto& sub = events[0].submitted();
  // Only the redact rule masks; the flag-only e-mail rule leaves it to compliance.
  EXPECT_EQ(sub.submission().attributes().at("vendor").string_value(),
            "pay ****-****-****-1111 or mail ap@example.com");
  ASSERT_EQ(sub.redactions_size(), 1);
  EXPECT_EQ(sub.redactions(0).field(), "vendor");
  EXPECT_EQ(sub.redactions(0).rule_id(), "card");
  EXPECT_EQ(sub.redactions(0).pii(), "card");
  EXPECT_EQ(sub.redactions(0).masked(), "****-****-****-1111");
  EXPECT_EQ(events[0].SerializeAsString().find("4111-1111-1111-1111"), std::string::npos);
}

}  // namespace
}  // namespace docket::intake
