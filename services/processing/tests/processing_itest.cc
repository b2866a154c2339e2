// docket-processing as its own process against a real redis-server and a
// Kafka broker: Submitted events in on docket.work.v1, verdicts on
// docket.compliance.v1, the Work API over real gRPC, lifecycle events out.
// Built twice: processing_itest runs against docket-devkafka,
// processing_apache_itest against the Apache Kafka broker of the ctest
// fixture (DOCKET_ITEST_APACHE_KAFKA), on topics and a consumer group of its own.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>
#include <thread>

#include "common/testing/fixtures.h"
#include "common/testing/http.h"
#include "common/testing/kafka_probe.h"
#include "common/testing/service_process.h"
#include "docket/v1/event.pb.h"
#include "docket/v1/work_service.grpc.pb.h"
#include "google/protobuf/util/time_util.h"

namespace docket::processing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using google::protobuf::util::TimeUtil;

constexpr char kDana[] = "dk_demo_dana_worker_LOCAL_STACK_ONLY";     // data-entry, acme
constexpr char kAlice[] = "dk_demo_alice_worker_LOCAL_STACK_ONLY";   // ap-clerk, acme
constexpr char kBob[] = "dk_demo_bob_supervisor_LOCAL_STACK_ONLY";   // supervisor, acme
constexpr char kPublisher[] = "dk_demo_acme_publisher_LOCAL_STACK_ONLY";
#ifdef DOCKET_ITEST_APACHE_KAFKA
constexpr bool kApacheKafka = true;
#define ProcessingItest ProcessingApacheKafkaItest
#else
constexpr bool kApacheKafka = false;
#endif

class ProcessingItest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = redis->release();
    auto kafka = testing::StartItestKafka(kApacheKafka, "processing-itest",
                                          {"work.v1", "compliance.v1", "dlq.v1"});
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    bootstrap_ = kafka->bootstrap;
    prefix_ = kafka->prefix;
    env_ = kafka->env;
    kafka_ = kafka->dev.release();
    config_dir_ = testing::LogPath("processing-config");
    std::filesystem::create_directories(config_dir_);
    for (const char* f : {"catalog.yaml", "api-keys.yaml"}) {
      std::filesystem::copy_file(testing::SourceDir() + "/deploy/config/" + f, config_dir_ + "/" + f);
    }
    std::ofstream(config_dir_ + "/processing.yaml") << "lease: 2s\n";
    env_.push_back("DOCKET_CONFIG_DIR=" + config_dir_);
    auto svc = testing::StartService("processing", bootstrap_, redis_->url(), env_);
    ASSERT_TRUE(svc.ok()) << svc.status();
    processing_ = new testing::ServiceProcess(std::move(*svc));
  }
  static void TearDownTestSuite() {
    if (processing_) {
      EXPECT_EQ(processing_->process->Stop(15s), 0) << processing_->process->log_path();
    }
    delete processing_;
    delete kafka_;
    delete redis_;
  }

  void SetUp() override {
    ASSERT_NE(processing_, nullptr);
    stub_ = docket::v1::Work::NewStub(
        grpc::CreateChannel(processing_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& key) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + key);
    ctx->set_deadline(std::chrono::system_clock::now() + 10s);
    return ctx;
  }

  // Produces a Submitted event the way intake does; returns the item id.
  std::string Submit(const std::string& kind, const std::map<std::string, docket::v1::AttributeValue>& attrs,
                     const std::string& tenant = "acme", std::string id = "") {
    if (id.empty()) id = testing::UniqueName("item");
    docket::v1::Event e;
    e.set_id(id + ":submitted");
    e.set_source("//docket/intake");
    e.set_type("docket.work.v1.Submitted");
    e.set_subject(id);
    e.set_tenant(tenant);
    auto* s = e.mutable_submitted();
    s->mutable_submission()->set_tenant(tenant);
    s->mutable_submission()->set_kind(kind);
    s->mutable_submission()->set_idempotency_key(id);
    for (const auto& [k, v] : attrs) (*s->mutable_submission()->mutable_attributes())[k] = v;
    *s->mutable_submitted_at() = TimeUtil::GetCurrentTime();
    s->set_channel("grpc");
    Produce(prefix_ + "work.v1", id, e);
    return id;
  }

  void Produce(const std::string& topic, const std::string& key, const docket::v1::Event& e) {
    auto r = testing::ProduceOne(bootstrap_, topic, key, e.SerializeAsString(), -1, {},
                                 {{"content-type", "application/protobuf"}});
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Claims and rejects what earlier tests of this process left in dana's
  // queues, so a test's own item is the head.
  void DrainQueue() {
    for (;;) {
      docket::v1::ClaimNextResponse r;
      ASSERT_TRUE(Claim(kDana, &r).ok());
      if (!r.has_item()) return;
      docket::v1::RejectRequest rej;
      rej.set_item_id(r.item().id());
      rej.set_reason("test cleanup");
      docket::v1::WorkItemResponse ignored;
      auto ctx = Ctx(kDana);
      ASSERT_TRUE(stub_->Reject(ctx.get(), rej, &ignored).ok());
    }
  }

  static std::map<std::string, docket::v1::AttributeValue> DataEntryAttrs(int pages = 2) {
    std::map<std::string, docket::v1::AttributeValue> a;
    a["document_id"].set_string_value("D-1");
    a["document_type"].set_enum_value("form");
    a["pages"].set_number_value(pages);
    return a;
  }

  absl::StatusOr<docket::v1::WorkItem> Get(const std::string& id, const std::string& key = kDana) {
    docket::v1::GetRequest req;
    req.set_item_id(id);
    docket::v1::WorkItemResponse resp;
    auto ctx = Ctx(key);
    grpc::Status s = stub_->Get(ctx.get(), req, &resp);
    if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return resp.item();
  }

  // Waits until the item is in `state`.
  bool WaitForState(const std::string& id, docket::v1::WorkState state, const std::string& key = kDana) {
    return testing::WaitFor(
        [&] {
          auto item = Get(id, key);
          return item.ok() && item->state() == state;
        },
        45s);
  }

  // The lifecycle events on docket.work.v1 of one item, by type.
  std::multimap<std::string, docket::v1::Event> EventsOf(const std::string& id) {
    std::multimap<std::string, docket::v1::Event> out;
    auto n = testing::TopicRecordCount(bootstrap_, prefix_ + "work.v1");
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) return out;
    auto records = testing::ConsumeFromBeginning(bootstrap_, prefix_ + "work.v1", *n, 30s);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return out;
    for (const auto& r : *records) {
      docket::v1::Event e;
      if (e.ParseFromString(r.value) && e.subject() == id) out.emplace(e.type(), e);
    }
    return out;
  }

  bool WaitForEvent(const std::string& id, const std::string& type, std::size_t count = 1) {
    return testing::WaitFor([&] { return EventsOf(id).count(type) >= count; }, 45s);
  }

  grpc::Status Claim(const std::string& key, docket::v1::ClaimNextResponse* resp,
                     const std::string& tenant = "acme") {
    docket::v1::ClaimNextRequest req;
    req.set_tenant(tenant);
    auto ctx = Ctx(key);
    return stub_->ClaimNext(ctx.get(), req, resp);
  }

  static testing::RedisServer* redis_;
  static testing::DevKafka* kafka_;
  static testing::ServiceProcess* processing_;
  static std::string config_dir_;
  static std::string bootstrap_;
  static std::string prefix_;            // topic prefix, e.g. "docket."
  static std::vector<std::string> env_;  // of every docket-processing this suite starts
  std::unique_ptr<docket::v1::Work::Stub> stub_;
};

testing::RedisServer* ProcessingItest::redis_ = nullptr;
testing::DevKafka* ProcessingItest::kafka_ = nullptr;
testing::ServiceProcess* ProcessingItest::processing_ = nullptr;
std::string ProcessingItest::config_dir_;
std::string ProcessingItest::bootstrap_;
std::string ProcessingItest::prefix_;
std::vector<std::string> ProcessingItest::env_;

TEST_F(ProcessingItest, SubmittedItemIsRoutedToItsKindsQueueWithADueTime) {
  const std::string id = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));
  auto item = Get(id);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->queue(), "data-entry");
  EXPECT_EQ(item->attempt(), 1);
  EXPECT_GT(TimeUtil::TimestampToMilliseconds(item->due_at()),
            TimeUtil::TimestampToMilliseconds(item->submitted_at()));
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.Routed"));
  const auto routed = EventsOf(id).find("docket.work.v1.Routed")->second.routed();
  EXPECT_EQ(routed.queue(), "data-entry");
  EXPECT_EQ(routed.kind(), "data_entry");
}

TEST_F(ProcessingItest, ClaimCompleteLifecycleEmitsEachEventOnceWithWhatDownstreamNeeds) {
  DrainQueue();
  const std::string id = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));
  docket::v1::ClaimNextResponse claimed;
  grpc::Status s = Claim(kDana, &claimed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(claimed.item().id(), id);
  EXPECT_EQ(claimed.item().state(), docket::v1::WORK_STATE_CLAIMED);
  EXPECT_EQ(claimed.item().worker(), "dana");

  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  (*done.mutable_outcome())["entered"].set_bool_value(true);
  docket::v1::WorkItemResponse resp;
  auto ctx = Ctx(kDana);
  s = stub_->Complete(ctx.get(), done, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.item().state(), docket::v1::WORK_STATE_COMPLETED);

  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.Completed"));
  auto events = EventsOf(id);
  EXPECT_EQ(events.count("docket.work.v1.Routed"), 1u);
  EXPECT_EQ(events.count("docket.work.v1.Claimed"), 1u);
  EXPECT_EQ(events.count("docket.work.v1.Completed"), 1u);
  const auto c = events.find("docket.work.v1.Completed")->second.completed();
  EXPECT_EQ(c.kind(), "data_entry");
  EXPECT_EQ(c.queue(), "data-entry");
  EXPECT_EQ(c.completer().id(), "dana");
  EXPECT_TRUE(c.has_submitted_at() && c.has_claimed_at() && c.has_completed_at() && c.has_due_at());
  EXPECT_TRUE(c.sla_met());
}

TEST_F(ProcessingItest, RedeliveredSubmittedChangesNothingTwice) {
  const std::string id = testing::UniqueName("dup");
  Submit("data_entry", DataEntryAttrs(), "acme", id);
  Submit("data_entry", DataEntryAttrs(), "acme", id);
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));
  // A later item on the same partition (same key) proves both copies were handled.
  Submit("data_entry", DataEntryAttrs(), "acme", id);
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.Routed"));
  auto item = Get(id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->version(), 1) << "the redelivered Submitted changed the item again";
  EXPECT_EQ(EventsOf(id).count("docket.work.v1.Routed"), 1u);
}

TEST_F(ProcessingItest, ConcurrentClaimsGiveEachItemToExactlyOneWorkerCall) {
  DrainQueue();
  std::set<std::string> submitted;
  for (int i = 0; i < 5; ++i) submitted.insert(Submit("data_entry", DataEntryAttrs()));
  for (const auto& id : submitted) ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));

  constexpr int kCalls = 10;
  std::vector<docket::v1::ClaimNextResponse> resp(kCalls);
  std::vector<grpc::Status> status(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) threads.emplace_back([&, i] { status[i] = Claim(kDana, &resp[i]); });
  for (auto& t : threads) t.join();
  std::multiset<std::string> claimed;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(status[i].ok()) << status[i].error_message();
    if (resp[i].has_item()) claimed.insert(resp[i].item().id());
  }
  EXPECT_EQ(claimed.size(), submitted.size());
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()), submitted)
      << "an item was claimed twice or not at all";
}

TEST_F(ProcessingItest, IllegalTransitionIsFailedPreconditionAndChangesNothing) {
  const std::string id = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));
  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  docket::v1::WorkItemResponse resp;
  auto ctx = Ctx(kDana);
  grpc::Status s = stub_->Complete(ctx.get(), done, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  auto item = Get(id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_EQ(item->version(), 1);
}

TEST_F(ProcessingItest, AnotherTenantsItemIsNotFoundAndPublishersMayNotUseTheWorkApi) {
  const std::string id = Submit("data_entry", DataEntryAttrs(), "globex");
  // Only an operator sees every tenant: wait through it.
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED, "dk_demo_operator_LOCAL_STACK_ONLY"));
  auto hidden = Get(id, kDana);
  EXPECT_EQ(hidden.status().code(), absl::StatusCode::kNotFound);
  auto publisher = Get(id, kPublisher);
  EXPECT_EQ(publisher.status().code(), absl::StatusCode::kPermissionDenied);
  docket::v1::ClaimNextResponse r;
  EXPECT_EQ(Claim(kDana, &r, "globex").error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ProcessingItest, WorkersAndTheRequestersPublisherCommentAndGiveFeedbackOverGrpc) {
  const std::string id = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED, kDana));
  const auto comment = [&](const std::string& key, const std::string& text) {
    docket::v1::CommentRequest req;
    req.set_item_id(id);
    req.set_text(text);
    docket::v1::WorkItemResponse resp;
    auto ctx = Ctx(key);
    return stub_->Comment(ctx.get(), req, &resp);
  };
  ASSERT_TRUE(comment(kDana, "page 2 is unreadable, asked for a rescan").ok());
  // The requester's side: the publisher key of the item's tenant and kind.
  ASSERT_TRUE(comment(kPublisher, "rescan uploaded").ok());
  // A publisher key for other kinds does not see the item; an operator only reads.
  EXPECT_EQ(comment("dk_demo_acme_invoices_LOCAL_STACK_ONLY", "hello").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(comment("dk_demo_operator_LOCAL_STACK_ONLY", "hello").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(comment(kDana, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto item = Get(id, kDana);
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_EQ(item->comments_size(), 2);
  EXPECT_EQ(item->comments(0).author().id(), "dana");
  EXPECT_EQ(item->comments(1).author().type(), docket::v1::Actor::TYPE_PUBLISHER);
  EXPECT_EQ(item->state(), docket::v1::WORK_STATE_QUEUED) << "a comment is not a transition";
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.Commented", 2));

  docket::v1::SubmitFeedbackRequest fb;
  fb.set_item_id(id);
  fb.set_category("missing-data");
  fb.set_text("scans arrive without their second page");
  docket::v1::SubmitFeedbackResponse fb_resp;
  auto ctx = Ctx(kDana);
  grpc::Status s = stub_->SubmitFeedback(ctx.get(), fb, &fb_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(fb_resp.event_id().empty());
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.Feedback"));
  const auto feedback = EventsOf(id).find("docket.work.v1.Feedback")->second;
  EXPECT_EQ(feedback.id(), fb_resp.event_id());
  EXPECT_EQ(feedback.feedback().kind(), "data_entry");
  EXPECT_EQ(feedback.feedback().category(), "missing-data");
  fb.set_category("complaint");
  auto ctx2 = Ctx(kDana);
  s = stub_->SubmitFeedback(ctx2.get(), fb, &fb_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("category"));
}

TEST_F(ProcessingItest, RoutineItemIsCompletedByAutomationWithoutAPerson) {
  auto attrs = DataEntryAttrs(1);
  attrs["document_type"].set_enum_value("receipt");
  attrs["ocr_confidence"].set_number_value(0.99);
  const std::string id = Submit("data_entry", attrs);
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_AUTO_COMPLETED));
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.AutoCompleted"));
  EXPECT_EQ(EventsOf(id).find("docket.work.v1.AutoCompleted")->second.auto_completed().rule_id(),
            "high-confidence-ocr");
}

TEST_F(ProcessingItest, FlaggedCompletionIsHeldUntilASecondPersonReleasesIt) {
  std::map<std::string, docket::v1::AttributeValue> a;
  a["vendor_id"].set_string_value("V-100");
  a["vendor_name"].set_string_value("Muster GmbH");
  a["invoice_number"].set_string_value("2026-0042");
  a["amount"].mutable_money_value()->set_minor_units(1234550);
  a["amount"].mutable_money_value()->set_currency("EUR");
  const std::string id = Submit("invoice_approval", a);
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED, kAlice));
  docket::v1::ClaimNextResponse claimed;
  ASSERT_TRUE(Claim(kAlice, &claimed).ok());
  ASSERT_EQ(claimed.item().id(), id);
  docket::v1::CompleteRequest done;
  done.set_item_id(id);
  docket::v1::WorkItemResponse resp;
  auto ctx = Ctx(kAlice);
  ASSERT_TRUE(stub_->Complete(ctx.get(), done, &resp).ok());
  EXPECT_EQ(resp.item().state(), docket::v1::WORK_STATE_COMPLETION_REQUESTED);
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.CompletionRequested"));
  const std::string request_id = EventsOf(id).find("docket.work.v1.CompletionRequested")->second.id();

  docket::v1::Event verdict;
  verdict.set_id(id + ":verdict");
  verdict.set_source("//docket/compliance");
  verdict.set_type("docket.compliance.v1.Verdict");
  verdict.set_subject(id);
  verdict.set_tenant("acme");
  auto* v = verdict.mutable_verdict();
  v->set_id(id + ":verdict");
  v->set_item_id(id);
  v->set_tenant("acme");
  v->set_kind("invoice_approval");
  v->set_checkpoint(docket::v1::CHECKPOINT_COMPLETE);
  v->set_outcome(docket::v1::OUTCOME_FLAG);
  v->set_source_event_id(request_id);
  Produce(prefix_ + "compliance.v1", id, verdict);
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_HELD, kAlice));

  docket::v1::ReleaseRequest rel;
  rel.set_item_id(id);
  auto ctx2 = Ctx(kAlice);
  EXPECT_EQ(stub_->Release(ctx2.get(), rel, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "a worker without the supervisor role released";
  auto ctx3 = Ctx(kBob);
  grpc::Status s = stub_->Release(ctx3.get(), rel, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.item().state(), docket::v1::WORK_STATE_COMPLETED);
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.Completed"));
  EXPECT_EQ(EventsOf(id).count("docket.work.v1.Released"), 1u);
}

TEST_F(ProcessingItest, ClaimWhoseWorkerVanishedReturnsToTheQueueWhenTheLeaseRunsOut) {
  DrainQueue();
  const std::string id = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));
  docket::v1::ClaimNextResponse claimed;
  ASSERT_TRUE(Claim(kDana, &claimed).ok());
  ASSERT_EQ(claimed.item().id(), id);
  // The lease is 2 s (processing.yaml of this test); nobody completes.
  ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.LeaseExpired"));
  auto item = Get(id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->state(), docket::v1::WORK_STATE_QUEUED);
  EXPECT_TRUE(item->worker().empty());
}

// Partitions a processing replica's consumer holds (-1: no scrape).
double AssignedPartitions(int metrics_port) {
  auto scrape = testing::HttpGet(metrics_port, "/metrics");
  if (!scrape.ok()) return -1;
  return testing::SeriesValue(scrape->body,
                              "docket_kafka_consumer_assigned_partitions{client=\"docket-processing-consumer\"}")
      .value_or(0);
}

TEST_F(ProcessingItest, TwoReplicasShareTheWorkAndEitherServesTheWorkerApi) {
  auto second = testing::StartService("processing", bootstrap_, redis_->url(), env_);
  ASSERT_TRUE(second.ok()) << second.status();
  // Both members of the group hold partitions, together all 8 (4 of each of
  // the two topics), before any work is submitted: the work is shared, and
  // no submission waits out the rebalance the second member caused.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const double a = AssignedPartitions(processing_->metrics_port);
        const double b = AssignedPartitions(second->metrics_port);
        return a > 0 && b > 0 && a + b == 8;
      },
      60s))
      << "partitions: " << AssignedPartitions(processing_->metrics_port) << " + "
      << AssignedPartitions(second->metrics_port);
  DrainQueue();
  std::set<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.insert(Submit("data_entry", DataEntryAttrs()));
  for (const auto& id : ids) ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitForEvent(id, "docket.work.v1.Routed"));
    EXPECT_EQ(EventsOf(id).count("docket.work.v1.Routed"), 1u) << "routed by both replicas";
  }
  // Claim through the second replica what either replica routed.
  auto stub = docket::v1::Work::NewStub(
      grpc::CreateChannel(second->grpc_address(), grpc::InsecureChannelCredentials()));
  std::set<std::string> claimed;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    docket::v1::ClaimNextRequest req;
    req.set_tenant("acme");
    docket::v1::ClaimNextResponse resp;
    auto ctx = Ctx(kDana);
    ASSERT_TRUE(stub->ClaimNext(ctx.get(), req, &resp).ok());
    ASSERT_TRUE(resp.has_item());
    claimed.insert(resp.item().id());
  }
  EXPECT_EQ(claimed, ids);
  EXPECT_EQ(second->process->Stop(15s), 0);
}

// "Complete and next": one call completes the item and claims the worker's
// next one; a claim that cannot be made is reported in the response and
// never undoes the completion.
TEST_F(ProcessingItest, CompleteWithClaimNextCompletesAndHandsOverTheNextItemInOneCall) {
  DrainQueue();
  const std::string a = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(a, docket::v1::WORK_STATE_QUEUED));
  const std::string b = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(b, docket::v1::WORK_STATE_QUEUED));
  docket::v1::ClaimNextResponse first;
  ASSERT_TRUE(Claim(kDana, &first).ok());
  ASSERT_EQ(first.item().id(), a);

  auto complete = [&](const std::string& id, const std::string& next_tenant) {
    docket::v1::CompleteRequest req;
    req.set_item_id(id);
    req.mutable_claim_next()->set_tenant(next_tenant);
    docket::v1::WorkItemResponse resp;
    auto ctx = Ctx(kDana);
    const grpc::Status s = stub_->Complete(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  const docket::v1::WorkItemResponse handed = complete(a, "acme");
  EXPECT_EQ(handed.item().id(), a);
  EXPECT_EQ(handed.item().state(), docket::v1::WORK_STATE_COMPLETED);
  ASSERT_TRUE(handed.has_next());
  EXPECT_EQ(handed.next().id(), b);
  EXPECT_EQ(handed.next().state(), docket::v1::WORK_STATE_CLAIMED);
  EXPECT_EQ(handed.next_code(), 0);
  auto stored = Get(b);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->state(), docket::v1::WORK_STATE_CLAIMED) << "the next item was not claimed for dana";

  // A claim dana may not make: b is completed all the same.
  const docket::v1::WorkItemResponse refused = complete(b, "globex");
  EXPECT_EQ(refused.item().state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_FALSE(refused.has_next());
  EXPECT_EQ(refused.next_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.next_message(), HasSubstr("globex"));

  // Nothing left to claim: no next, and no error either.
  const std::string c = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(c, docket::v1::WORK_STATE_QUEUED));
  docket::v1::ClaimNextResponse third;
  ASSERT_TRUE(Claim(kDana, &third).ok());
  ASSERT_EQ(third.item().id(), c);
  const docket::v1::WorkItemResponse empty = complete(c, "acme");
  EXPECT_EQ(empty.item().state(), docket::v1::WORK_STATE_COMPLETED);
  EXPECT_FALSE(empty.has_next());
  EXPECT_EQ(empty.next_code(), 0);
}

// The bot's way through routine work over gRPC: several items per
// ClaimNext (max_items), several completions per CompleteBatch, each
// completion answered on its own; a malformed batch is refused as a whole,
// naming the field; only worker keys may complete.
TEST_F(ProcessingItest, BotsClaimAndCompleteInBatchesAndABadBatchIsRefusedNamingTheField) {
  DrainQueue();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Submit("data_entry", DataEntryAttrs()));
    ASSERT_TRUE(WaitForState(ids.back(), docket::v1::WORK_STATE_QUEUED));
  }
  docket::v1::ClaimNextRequest claim;
  claim.set_tenant("acme");
  claim.set_max_items(5);
  docket::v1::ClaimNextResponse claimed;
  {
    auto ctx = Ctx(kDana);
    const grpc::Status s = stub_->ClaimNext(ctx.get(), claim, &claimed);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(claimed.items_size(), 3);
  EXPECT_EQ(claimed.item().id(), claimed.items(0).id());
  std::set<std::string> got;
  for (const auto& item : claimed.items()) {
    EXPECT_EQ(item.state(), docket::v1::WORK_STATE_CLAIMED);
    got.insert(item.id());
  }
  EXPECT_EQ(got, std::set<std::string>(ids.begin(), ids.end()));

  auto complete_batch = [&](const std::string& key, const docket::v1::CompleteBatchRequest& req,
                            docket::v1::CompleteBatchResponse* resp) {
    auto ctx = Ctx(key);
    return stub_->CompleteBatch(ctx.get(), req, resp);
  };
  docket::v1::CompleteBatchRequest batch;
  for (const auto& item : claimed.items()) batch.add_completions()->set_item_id(item.id());
  batch.add_completions()->set_item_id("no-such-item");
  *batch.mutable_claim_next() = claim;
  docket::v1::CompleteBatchResponse done;
  const grpc::Status s = complete_batch(kDana, batch, &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(done.results_size(), 4);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(done.results(i).code(), 0) << done.results(i).message();
    EXPECT_EQ(done.results(i).item().id(), claimed.items(i).id());
    EXPECT_EQ(done.results(i).item().state(), docket::v1::WORK_STATE_COMPLETED);
    auto stored = Get(claimed.items(i).id());
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->state(), docket::v1::WORK_STATE_COMPLETED);
  }
  EXPECT_EQ(done.results(3).code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(done.results(3).message(), HasSubstr("no-such-item"));
  EXPECT_EQ(done.next_size(), 0) << "nothing was waiting";
  EXPECT_EQ(done.next_code(), 0);

  auto refused = [&](const std::string& key, const docket::v1::CompleteBatchRequest& req) {
    docket::v1::CompleteBatchResponse resp;
    return complete_batch(key, req, &resp);
  };
  docket::v1::CompleteBatchRequest empty;
  grpc::Status bad = refused(kDana, empty);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("completions"));
  docket::v1::CompleteBatchRequest twice;
  twice.add_completions()->set_item_id(ids[0]);
  twice.add_completions()->set_item_id(ids[0]);
  bad = refused(kDana, twice);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("completions[1].item_id"));
  docket::v1::CompleteBatchRequest nested;
  nested.add_completions()->set_item_id(ids[0]);
  nested.mutable_completions(0)->mutable_claim_next()->set_tenant("acme");
  bad = refused(kDana, nested);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("completions[0].claim_next"));
  docket::v1::CompleteBatchRequest too_many;
  for (int i = 0; i <= 100; ++i) too_many.add_completions()->set_item_id("item-" + std::to_string(i));
  bad = refused(kDana, too_many);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("at most 100"));
  EXPECT_EQ(refused(kPublisher, twice).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused("dk_not_a_key", twice).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  claim.set_max_items(101);
  auto ctx = Ctx(kDana);
  const grpc::Status over = stub_->ClaimNext(ctx.get(), claim, &claimed);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(over.error_message(), HasSubstr("max_items"));
}

TEST_F(ProcessingItest, MetricsCountTransitionsWithBoundedLabels) {
  const std::string id = Submit("data_entry", DataEntryAttrs());
  ASSERT_TRUE(WaitForState(id, docket::v1::WORK_STATE_QUEUED));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto scrape = testing::HttpGet(processing_->metrics_port, "/metrics");
        return scrape.ok() && scrape->body.find("docket_processing_queue_depth{") != std::string::npos;
      },
      20s));
  auto scrape = testing::HttpGet(processing_->metrics_port, "/metrics");
  ASSERT_TRUE(scrape.ok());
  EXPECT_THAT(scrape->body, HasSubstr("docket_processing_transitions_total{"));
  EXPECT_THAT(scrape->body, HasSubstr("state=\"WORK_STATE_QUEUED\""));
  EXPECT_EQ(scrape->body.find(id), std::string::npos) << "an item id became a label";
  absl::Status lint = testing::PromtoolCheckMetrics(scrape->body);
  EXPECT_TRUE(lint.ok()) << lint;
}

// WorkService is a callback service whose calls finish on its own threads:
// gRPC's RED interceptor must still see each call's method and status code.
TEST_F(ProcessingItest, WorkCallsAreCountedInTheGrpcRedMetricsByMethodAndCode) {
  const auto handled = [](const std::string& code, const std::string& method) {
    return "docket_grpc_server_handled_total{code=\"" + code + "\",method=\"" + method +
           "\",service=\"docket.v1.Work\"}";
  };
  const std::vector<std::string> series = {
      handled("OK", "ListQueue"), handled("INVALID_ARGUMENT", "ListQueue"),
      handled("NOT_FOUND", "Get"), handled("PERMISSION_DENIED", "Get"),
      "docket_grpc_server_started_total{method=\"Get\",service=\"docket.v1.Work\"}",
      "docket_grpc_server_handling_seconds_count{method=\"Get\",service=\"docket.v1.Work\"}"};
  auto before = testing::HttpGet(processing_->metrics_port, "/metrics");
  ASSERT_TRUE(before.ok()) << before.status();

  const auto list = [&](const std::string& queue) {
    docket::v1::ListQueueRequest req;
    req.set_tenant("acme");
    req.set_queue(queue);
    docket::v1::ListQueueResponse resp;
    auto ctx = Ctx(kDana);
    return stub_->ListQueue(ctx.get(), req, &resp).error_code();
  };
  EXPECT_EQ(list("data-entry"), grpc::StatusCode::OK);
  EXPECT_EQ(list("no-such-queue"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get(testing::UniqueName("missing")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get(testing::UniqueName("missing")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get(testing::UniqueName("missing"), kPublisher).status().code(),
            absl::StatusCode::kPermissionDenied);

  // The status is counted before it is sent, so the scrape after the calls sees them all.
  auto after = testing::HttpGet(processing_->metrics_port, "/metrics");
  ASSERT_TRUE(after.ok()) << after.status();
  const std::vector<double> expected = {1, 1, 2, 1, 3, 3};
  for (std::size_t i = 0; i < series.size(); ++i) {
    EXPECT_EQ(testing::SeriesValue(after->body, series[i]).value_or(0) -
                  testing::SeriesValue(before->body, series[i]).value_or(0),
              expected[i])
        << series[i];
  }
}

}  // namespace
}  // namespace docket::processing
