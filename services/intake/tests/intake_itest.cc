// docket-intake as its own process against a real redis-server and a Kafka
// broker, called over real gRPC on loopback: what a publishing service sees,
// and what lands on Kafka. Built twice: intake_itest runs against
// docket-devkafka (with fault injection), intake_apache_itest against the
// Apache Kafka broker of the ctest fixture (DOCKET_ITEST_APACHE_KAFKA).

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/testing/fixtures.h"
#include "common/testing/http.h"
#include "common/testing/kafka_probe.h"
#include "common/testing/service_process.h"
#include "docket/v1/event.pb.h"
#include "docket/v1/intake_service.grpc.pb.h"
#include "common/ids/uuid7.h"

namespace docket::intake {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kAcmeKey[] = "dk_demo_acme_publisher_LOCAL_STACK_ONLY";
constexpr char kAcmeInvoicesKey[] = "dk_demo_acme_invoices_LOCAL_STACK_ONLY";
#ifdef DOCKET_ITEST_APACHE_KAFKA
constexpr bool kApacheKafka = true;
#define IntakeItest IntakeApacheKafkaItest
#else
constexpr bool kApacheKafka = false;
#endif

docket::v1::WorkSubmission DataEntry(const std::string& key, const std::string& tenant = "acme") {
  docket::v1::WorkSubmission s;
  s.set_tenant(tenant);
  s.set_kind("data_entry");
  s.set_idempotency_key(key);
  auto& a = *s.mutable_attributes();
  a["document_id"].set_string_value("D-" + key);
  a["document_type"].set_enum_value("receipt");
  a["pages"].set_number_value(2);
  return s;
}

// Every Submitted event on the work topic, by idempotency key.
std::multimap<std::string, docket::v1::Event> SubmittedByKey(const std::string& bootstrap,
                                                             const std::string& topic,
                                                             std::int64_t count) {
  std::multimap<std::string, docket::v1::Event> out;
  auto records = testing::ConsumeFromBeginning(bootstrap, topic, count, 30s);
  EXPECT_TRUE(records.ok()) << records.status();
  if (!records.ok()) return out;
  for (const auto& r : *records) {
    docket::v1::Event e;
    EXPECT_TRUE(e.ParseFromString(r.value));
    if (e.has_submitted()) out.emplace(e.submitted().submission().idempotency_key(), e);
  }
  return out;
}

class IntakeItest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = redis->release();
    auto kafka = testing::StartItestKafka(kApacheKafka, "intake-itest",
                                          {"intake.v1", "work.v1", "dlq.v1"}, 3);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    bootstrap_ = kafka->bootstrap;
    prefix_ = kafka->prefix;
    std::vector<std::string> env = kafka->env;
    kafka_ = kafka->dev.release();
    // The shipped config, with a short publish wait so an outage test is quick.
    config_dir_ = testing::LogPath("intake-config");
    std::filesystem::create_directories(config_dir_);
    for (const char* f : {"catalog.yaml", "api-keys.yaml"}) {
      std::filesystem::copy_file(testing::SourceDir() + "/deploy/config/" + f,
                                 config_dir_ + "/" + f);
    }
    std::ofstream(config_dir_ + "/intake.yaml")
        << "admission: {max_batch: 100, publish_wait: 1500ms}\n"
           "rate_limits:\n  globex: {per_second: 1, burst: 2}\n";
    env.push_back("DOCKET_CONFIG_DIR=" + config_dir_);
    auto svc = testing::StartService("intake", bootstrap_, redis_->url(), env);
    ASSERT_TRUE(svc.ok()) << svc.status();
    intake_ = new testing::ServiceProcess(std::move(*svc));
  }
  static void TearDownTestSuite() {
    if (intake_) {
      EXPECT_EQ(intake_->process->Stop(15s), 0) << intake_->process->log_path();
    }
    delete intake_;
    delete kafka_;
    delete redis_;
  }

  void SetUp() override {
    ASSERT_NE(intake_, nullptr);
    stub_ = docket::v1::Intake::NewStub(
        grpc::CreateChannel(intake_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& key = kAcmeKey) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!key.empty()) ctx->AddMetadata("authorization", "Bearer " + key);
    ctx->set_deadline(std::chrono::system_clock::now() + 20s);
    return ctx;
  }

  grpc::Status Submit(const docket::v1::WorkSubmission& s, docket::v1::SubmitResponse* out,
                      const std::string& key = kAcmeKey) {
    auto ctx = Context(key);
    docket::v1::SubmitRequest req;
    *req.mutable_submission() = s;
    return stub_->Submit(ctx.get(), req, out);
  }

  std::int64_t WorkRecords() {
    auto n = testing::TopicRecordCount(bootstrap_, prefix_ + "work.v1");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  static testing::RedisServer* redis_;
  static testing::DevKafka* kafka_;
  static testing::ServiceProcess* intake_;
  static std::string config_dir_;
  static std::string bootstrap_;
  static std::string prefix_;  // topic prefix, e.g. "docket."
  std::unique_ptr<docket::v1::Intake::Stub> stub_;
};

testing::RedisServer* IntakeItest::redis_ = nullptr;
testing::DevKafka* IntakeItest::kafka_ = nullptr;
testing::ServiceProcess* IntakeItest::intake_ = nullptr;
std::string IntakeItest::config_dir_;
std::string IntakeItest::bootstrap_;
std::string IntakeItest::prefix_;

TEST_F(IntakeItest, SubmitIsOnKafkaAsExactlyOneSubmittedEventWhenItAnswersOk) {
  const auto before = WorkRecords();
  docket::v1::SubmitResponse resp;
  grpc::Status s = Submit(DataEntry("one-event"), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(IsUuidV7(resp.item_id())) << resp.item_id();
  EXPECT_FALSE(resp.duplicate());
  // OK means acks=all confirmed: the record is counted right away.
  EXPECT_EQ(WorkRecords(), before + 1);
  auto records = testing::ConsumeFromBeginning(bootstrap_, prefix_ + "work.v1", before + 1, 30s);
  ASSERT_TRUE(records.ok()) << records.status();
  int found = 0;
  for (const auto& r : *records) {
    docket::v1::Event e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    if (e.subject() != resp.item_id()) continue;
    ++found;
    EXPECT_EQ(r.key, resp.item_id()) << "keyed by item, so one item's events stay in order";
    EXPECT_EQ(e.id(), resp.item_id() + ":submitted");
    EXPECT_EQ(e.tenant(), "acme");
    EXPECT_EQ(e.source(), "//docket/intake");
    EXPECT_EQ(e.submitted().channel(), "grpc");
    EXPECT_EQ(e.submitted().submission().idempotency_key(), "one-event");
    std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
    EXPECT_EQ(h["ce_specversion"], "1.0");
    EXPECT_EQ(h["ce_id"], e.id());
    EXPECT_EQ(h["ce_type"], "docket.work.v1.Submitted");
    EXPECT_EQ(h["ce_subject"], resp.item_id());
    EXPECT_EQ(h["ce_tenant"], "acme");
    EXPECT_FALSE(h["ce_time"].empty());
    EXPECT_EQ(h["content-type"], "application/protobuf");
  }
  EXPECT_EQ(found, 1);
}

TEST_F(IntakeItest, FiftyConcurrentIdenticalSubmitsAdmitExactlyOneItem) {
  const auto before = WorkRecords();
  constexpr int kCalls = 50;
  std::vector<docket::v1::SubmitResponse> resp(kCalls);
  std::vector<grpc::Status> status(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { status[i] = Submit(DataEntry("fifty-same"), &resp[i]); });
  }
  for (auto& t : threads) t.join();
  int originals = 0;
  std::set<std::string> ids;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(status[i].ok()) << i << ": " << status[i].error_message();
    ids.insert(resp[i].item_id());
    originals += resp[i].duplicate() ? 0 : 1;
  }
  EXPECT_EQ(ids.size(), 1u) << "every duplicate must get the original id";
  EXPECT_EQ(originals, 1);
  EXPECT_EQ(WorkRecords(), before + 1);
}

TEST_F(IntakeItest, MissingOrUnknownKeyIsUnauthenticatedWithoutEchoingTheKey) {
  docket::v1::SubmitResponse resp;
  grpc::Status none = Submit(DataEntry("auth-1"), &resp, "");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status wrong = Submit(DataEntry("auth-1"), &resp, "dk_not_a_real_key_SECRET123");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.error_message(), Not(HasSubstr("SECRET123")));
}

TEST_F(IntakeItest, OtherTenantOrKindNotAllowedIsPermissionDeniedAndNothingIsPublished) {
  const auto before = WorkRecords();
  docket::v1::SubmitResponse resp;
  grpc::Status tenant = Submit(DataEntry("perm-1", "globex"), &resp);
  EXPECT_EQ(tenant.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(tenant.error_message(), HasSubstr("globex"));
  grpc::Status kind = Submit(DataEntry("perm-2"), &resp, kAcmeInvoicesKey);
  EXPECT_EQ(kind.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(kind.error_message(), HasSubstr("data_entry"));
  EXPECT_EQ(WorkRecords(), before);
}

TEST_F(IntakeItest, InvalidSubmissionIsRejectedListingEveryViolatedField) {
  auto sub = DataEntry("invalid-1");
  sub.mutable_attributes()->erase("document_id");
  (*sub.mutable_attributes())["pages"].set_string_value("two");
  docket::v1::SubmitResponse resp;
  grpc::Status s = Submit(sub, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("attributes.document_id"));
  EXPECT_THAT(s.error_message(), HasSubstr("attributes.pages"));
}

TEST_F(IntakeItest, SubmitBatchAnswersEachItemAndRefusesAnOversizedBatch) {
  docket::v1::SubmitBatchRequest req;
  auto add = [&](const docket::v1::WorkSubmission& s, const std::string& ref) {
    auto* item = req.add_items();
    *item->mutable_submission() = s;
    item->set_client_ref(ref);
  };
  add(DataEntry("batch-a"), "a");
  auto bad = DataEntry("batch-b");
  bad.set_kind("no_such_kind");
  add(bad, "b");
  add(DataEntry("batch-a"), "a-again");
  docket::v1::SubmitBatchResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->SubmitBatch(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).client_ref(), "a");
  EXPECT_EQ(resp.results(0).code(), 0);
  EXPECT_EQ(resp.results(1).code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_FALSE(resp.results(1).violations().empty());
  EXPECT_TRUE(resp.results(2).duplicate());
  EXPECT_EQ(resp.results(2).item_id(), resp.results(0).item_id());

  docket::v1::SubmitBatchRequest big;
  for (int i = 0; i < 101; ++i) *big.add_items()->mutable_submission() = DataEntry("big-" + std::to_string(i));
  auto ctx2 = Context();
  grpc::Status too_big = stub_->SubmitBatch(ctx2.get(), big, &resp);
  EXPECT_EQ(too_big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(too_big.error_message(), HasSubstr("100"));
}

TEST_F(IntakeItest, SubmitStreamAcksEveryItemInOrder) {
  const auto before = WorkRecords();
  constexpr int kItems = 300;
  auto ctx = Context();
  auto stream = stub_->SubmitStream(ctx.get());
  std::thread writer([&] {
    for (int i = 0; i < kItems; ++i) {
      docket::v1::SubmitRequest req;
      *req.mutable_submission() = DataEntry("stream-" + std::to_string(i));
      req.set_client_ref(std::to_string(i));
      if (!stream->Write(req)) break;
    }
    stream->WritesDone();
  });
  docket::v1::SubmitResult result;
  int next = 0;
  while (stream->Read(&result)) {
    EXPECT_EQ(result.client_ref(), std::to_string(next)) << "acks out of order";
    EXPECT_EQ(result.code(), 0) << result.message();
    ++next;
  }
  writer.join();
  grpc::Status s = stream->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(next, kItems);
  EXPECT_EQ(WorkRecords(), before + kItems);
}

TEST_F(IntakeItest, TenantOverItsRateIsResourceExhaustedWithARetryHint) {
  // globex: 1/s, burst 2 (intake.yaml of this test).
  docket::v1::SubmitBatchRequest req;
  for (int i = 0; i < 3; ++i) {
    *req.add_items()->mutable_submission() = DataEntry("rate-" + std::to_string(i), "globex");
  }
  docket::v1::SubmitBatchResponse resp;
  auto ctx = Context("dk_demo_globex_publisher_LOCAL_STACK_ONLY");
  grpc::Status s = stub_->SubmitBatch(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(2).code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_GT(resp.results(2).retry_after_ms(), 0);
}

TEST_F(IntakeItest, KafkaNativeJsonCloudEventIsAdmittedAndGarbageGoesToTheDlqWithItsReason) {
  const auto before = WorkRecords();
  const testing::Headers binary = {{"ce_specversion", "1.0"},
                                   {"ce_id", "scan-0001"},
                                   {"ce_source", "//scanner.acme.example"},
                                   {"ce_type", "docket.work.submit.v1"},
                                   {"ce_tenant", "acme"},
                                   {"content-type", "application/json"}};
  ASSERT_TRUE(testing::ProduceOne(bootstrap_, prefix_ + "intake.v1", "k",
                                  R"({"kind":"data_entry","attributes":{"document_id":"D-9",)"
                                  R"("document_type":"receipt","pages":1}})",
                                  -1, {}, binary)
                  .ok());
  const std::string structured =
      R"({"specversion":"1.0","id":"evt-77","source":"//erp.acme.example",)"
      R"("type":"docket.work.submit.v1","tenant":"acme",)"
      R"("data":{"kind":"data_entry","idempotency_key":"structured-77",)"
      R"("attributes":{"document_id":"D-77","document_type":"form","pages":3}}})";
  ASSERT_TRUE(testing::ProduceOne(bootstrap_, prefix_ + "intake.v1", "k", structured, -1, {},
                                  {{"content-type", "application/cloudevents+json"}})
                  .ok());
  ASSERT_TRUE(testing::ProduceOne(bootstrap_, prefix_ + "intake.v1", "k", "\x01garbage", -1,
                                  {}, {{"content-type", "application/json"}})
                  .ok());

  // Both admitted: two Submitted events, from the kafka channel.
  ASSERT_TRUE(testing::WaitFor([&] { return WorkRecords() >= before + 2; }, 30s));
  auto events = SubmittedByKey(bootstrap_, prefix_ + "work.v1", before + 2);
  ASSERT_EQ(events.count("//scanner.acme.example/scan-0001"), 1u);
  ASSERT_EQ(events.count("structured-77"), 1u);
  EXPECT_EQ(events.find("structured-77")->second.submitted().channel(), "kafka");

  auto dead = testing::ConsumeFromBeginning(bootstrap_, prefix_ + "dlq.v1", 1, 30s);
  ASSERT_TRUE(dead.ok()) << dead.status();
  std::map<std::string, std::string> headers((*dead)[0].headers.begin(), (*dead)[0].headers.end());
  EXPECT_THAT(headers["docket_dlq_reason"], HasSubstr("INVALID_ARGUMENT"));
  EXPECT_EQ(headers["docket_dlq_source_topic"], prefix_ + "intake.v1");
  EXPECT_EQ(WorkRecords(), before + 2) << "garbage must not be admitted";
}

TEST_F(IntakeItest, MetricsCountSubmissionsByTenantKindAndResult) {
  docket::v1::SubmitResponse resp;
  ASSERT_TRUE(Submit(DataEntry("metrics-1"), &resp).ok());
  auto scrape = testing::HttpGet(intake_->metrics_port, "/metrics");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_THAT(scrape->body, HasSubstr("docket_intake_submissions_total{"));
  EXPECT_THAT(scrape->body, HasSubstr("result=\"admitted\""));
  EXPECT_THAT(scrape->body, HasSubstr("docket_intake_submit_duration_seconds_bucket"));
  EXPECT_THAT(scrape->body, Not(HasSubstr("metrics-1"))) << "an idempotency key became a label";
  absl::Status lint = testing::PromtoolCheckMetrics(scrape->body);
  EXPECT_TRUE(lint.ok()) << lint;
}

// Takes every broker down and up again (each test runs in its own process and stack).
TEST_F(IntakeItest, KafkaOutageAnswersUnavailableQuicklyAndTheRetryWithTheSameKeySucceeds) {
  if (kApacheKafka) GTEST_SKIP() << "needs docket-devkafka's broker controls";
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE(kafka_->BrokerDown(b).ok());
  docket::v1::SubmitResponse resp;
  const auto started = std::chrono::steady_clock::now();
  grpc::Status down = Submit(DataEntry("outage-1"), &resp);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE) << down.error_message();
  EXPECT_LT(took, 10s) << "publish_wait is 1.5 s; the caller must not hang for the delivery timeout";
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE(kafka_->BrokerUp(b).ok());

  grpc::Status retry;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        retry = Submit(DataEntry("outage-1"), &resp);
        return retry.error_code() != grpc::StatusCode::UNAVAILABLE;
      },
      60s))
      << retry.error_message();
  ASSERT_TRUE(retry.ok()) << retry.error_message();
  // The unconfirmed first attempt may still have landed; if so it carries the
  // same item and event id as the retry, so downstream counts one item.
  const auto total = WorkRecords();
  auto events = SubmittedByKey(bootstrap_, prefix_ + "work.v1", total);
  ASSERT_GE(events.count("outage-1"), 1u);
  for (auto [it, end] = events.equal_range("outage-1"); it != end; ++it) {
    EXPECT_EQ(it->second.subject(), resp.item_id());
    EXPECT_EQ(it->second.id(), resp.item_id() + ":submitted");
  }
}

}  // namespace
}  // namespace docket::intake
