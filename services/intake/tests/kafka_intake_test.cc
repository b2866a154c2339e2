#include "services/intake/src/kafka_intake.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/kafka/fake_event_publisher.h"
#include "services/intake/tests/recording_idempotency_store.h"
#include "services/intake/src/cloudevents.h"

namespace docket::intake {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

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
      - {name: pages, type: number, required: true}
)";

kafka::Record BinaryJson(const std::string& id, const std::string& data) {
  kafka::Record r;
  r.topic = "docket.intake.v1";
  r.value = data;
  r.headers = {{"ce_specversion", "1.0"},
               {"ce_id", id},
               {"ce_source", "//erp.acme.example"},
               {"ce_type", std::string(kSubmitEventType)},
               {"content-type", "application/json"}};
  return r;
}

class KafkaIntakeTest : public ::testing::Test {
 protected:
  KafkaIntakeTest()
      : catalog_(*catalog::Catalog::Parse(kCatalog, "catalog.yaml")),
        clock_(Clock::TimePoint(1'700'000'000'000ms)),
        idem_(clock_),
        limiter_(clock_, {{"globex", {1, 1}}}),
        admission_(catalog_, idem_, publisher_, limiter_, clock_, kafka::Topics(), nullptr),
        batch_(KafkaIntakeHandler(admission_, nullptr)) {}

  catalog::Catalog catalog_;
  FakeClock clock_;
  RecordingStore idem_;
  RateLimiter limiter_;
  kafka::FakeEventPublisher publisher_;
  Admission admission_;
  kafka::BatchHandler batch_;
  // One record alone, as a batch of one.
  absl::Status handler_(const kafka::Record& record) { return batch_({&record})[0]; }
};

TEST_F(KafkaIntakeTest, ValidEventIsAdmittedOnceEvenWhenRedelivered) {
  const auto record = BinaryJson(
      "evt-1", R"({"tenant":"acme","kind":"invoice","attributes":{"vendor":"V-1","pages":2}})");
  ASSERT_TRUE(handler_(record).ok());
  ASSERT_TRUE(handler_(record).ok());  // at-least-once redelivery
  auto events = publisher_.Events(kafka::Topics().work());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].submitted().channel(), "kafka");
  // No idempotency key in the data: source/id stands in for it.
  EXPECT_EQ(events[0].submitted().submission().idempotency_key(), "//erp.acme.example/evt-1");
}

TEST_F(KafkaIntakeTest, InvalidEventIsPoisonNamingEveryViolationAndTheEvent) {
  auto status = handler_(BinaryJson("evt-2", R"({"tenant":"acme","kind":"invoice","attributes":{}})"));
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("//erp.acme.example/evt-2"));
  EXPECT_THAT(status.message(), HasSubstr("attributes.vendor"));
  EXPECT_THAT(status.message(), HasSubstr("attributes.pages"));
  EXPECT_TRUE(publisher_.Events(kafka::Topics().work()).empty());
}

TEST_F(KafkaIntakeTest, UndecodableRecordIsPoisonWithoutEchoingItsContent) {
  auto status = handler_(BinaryJson("evt-3", "{not json SECRET-4111"));
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), Not(HasSubstr("SECRET-4111")));
  EXPECT_TRUE(publisher_.Events(kafka::Topics().work()).empty());
}

TEST_F(KafkaIntakeTest, KafkaFailureIsRetryableAndTheRetryAdmitsTheSameItem) {
  const auto record = BinaryJson(
      "evt-4", R"({"tenant":"acme","kind":"invoice","attributes":{"vendor":"V-1","pages":1}})");
  publisher_.FailNext(1, absl::UnavailableError("broker down"));
  auto first = handler_(record);
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(handler_(record).ok());
  EXPECT_EQ(publisher_.Events(kafka::Topics().work()).size(), 1u);
}

TEST_F(KafkaIntakeTest, RateLimitedTenantIsRetriedNotDeadLettered) {
  const std::string data = R"({"tenant":"globex","kind":"invoice","attributes":{"vendor":"V","pages":1}})";
  ASSERT_TRUE(handler_(BinaryJson("g-1", data)).ok());
  EXPECT_EQ(handler_(BinaryJson("g-2", data)).code(), absl::StatusCode::kResourceExhausted);
  clock_.Advance(1s);
  EXPECT_TRUE(handler_(BinaryJson("g-2", data)).ok());
}

TEST_F(KafkaIntakeTest, ABatchIsAdmittedInOneAdmissionAndEachRecordGetsItsOwnStatus) {
  const std::string ok = R"({"tenant":"acme","kind":"invoice","attributes":{"vendor":"V-1","pages":1}})";
  const std::string globex = R"({"tenant":"globex","kind":"invoice","attributes":{"vendor":"V","pages":1}})";
  const auto a = BinaryJson("b-1", ok);
  const auto bad = BinaryJson("b-2", R"({"tenant":"acme","kind":"invoice","attributes":{}})");
  const auto garbage = BinaryJson("b-3", "{not json");
  const auto g1 = BinaryJson("b-4", globex);
  const auto g2 = BinaryJson("b-5", globex);  // over globex's rate of 1/s
  const auto b = BinaryJson("b-6", ok);
  const auto statuses = batch_({&a, &bad, &garbage, &g1, &g2, &b});
  ASSERT_EQ(statuses.size(), 6u);
  EXPECT_TRUE(statuses[0].ok()) << statuses[0];
  EXPECT_EQ(statuses[1].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(statuses[1].message(), HasSubstr("//erp.acme.example/b-2"));
  EXPECT_EQ(statuses[2].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(statuses[3].ok()) << statuses[3];
  EXPECT_EQ(statuses[4].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(statuses[5].ok()) << statuses[5];
  // The three admitted ones shared one idempotency round trip.
  EXPECT_THAT(idem_.groups(), ElementsAre(3u));
  std::vector<std::string> keys;
  for (const auto& e : publisher_.Events(kafka::Topics().work())) {
    keys.push_back(e.submitted().submission().idempotency_key());
  }
  EXPECT_THAT(keys, ElementsAre("//erp.acme.example/b-1", "//erp.acme.example/b-4",
                                "//erp.acme.example/b-6"));
}

}  // namespace
}  // namespace docket::intake
