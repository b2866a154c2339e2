// docket-compliance as its own process against a real redis-server and a
// Kafka broker: work events in on docket.work.v1, verdicts out on
// docket.compliance.v1, the hash chain on docket.audit.v1, and the gRPC API
// with the demo keys of deploy/config/api-keys.yaml. Built twice:
// compliance_itest runs against docket-devkafka, compliance_apache_itest
// against the Apache Kafka broker of the ctest fixture
// (DOCKET_ITEST_APACHE_KAFKA), on topics and a consumer group of its own.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/redis/redis_client.h"
#include "common/testing/fixtures.h"
#include "common/testing/http.h"
#include "common/testing/kafka_probe.h"
#include "common/testing/service_process.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "docket/v1/compliance_service.grpc.pb.h"
#include "docket/v1/event.pb.h"
#include "services/compliance/src/evaluator.h"
#include "services/compliance/src/ledger.h"
#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kCard[] = "4111 1111 1111 1111";
constexpr char kCardDigits[] = "4111111111111111";
constexpr char kAcmePublisherKey[] = "dk_demo_acme_publisher_LOCAL_STACK_ONLY";
constexpr char kBobSupervisorKey[] = "dk_demo_bob_supervisor_LOCAL_STACK_ONLY";
constexpr char kOperatorKey[] = "dk_demo_operator_LOCAL_STACK_ONLY";
#ifdef DOCKET_ITEST_APACHE_KAFKA
constexpr bool kApacheKafka = true;
#define ComplianceItest ComplianceApacheKafkaItest
#define ComplianceParallelItest ComplianceParallelApacheKafkaItest
#else
constexpr bool kApacheKafka = false;
#endif

// Each test gets its own Redis, Kafka and service: the tests count what is
// on the topics and in the ledger, so one must not see another's records
// (ctest runs each test in a process of its own; so can anyone running the
// binary whole).
class ComplianceItest : public ::testing::Test {
 protected:
  void StartStack() {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    auto kafka = testing::StartItestKafka(kApacheKafka, "compliance-itest",
                                          {"work.v1", "compliance.v1", "audit.v1", "dlq.v1"}, 3);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    bootstrap_ = kafka->bootstrap;
    prefix_ = kafka->prefix;
    std::vector<std::string> env = kafka->env;
    kafka_ = std::move(kafka->dev);
    auto svc = testing::StartService("compliance", bootstrap_, redis_->url(), env);
    ASSERT_TRUE(svc.ok()) << svc.status();
    service_ = std::make_unique<testing::ServiceProcess>(std::move(*svc));
  }
  void TearDown() override {
    if (service_) {
      EXPECT_EQ(service_->process->Stop(15s), 0) << service_->process->log_path();
    }
  }

  void SetUp() override {
    StartStack();
    ASSERT_NE(service_, nullptr);
    stub_ = docket::v1::Compliance::NewStub(
        grpc::CreateChannel(service_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& key) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + key);
    ctx->set_deadline(std::chrono::system_clock::now() + 20s);
    return ctx;
  }

  void Produce(const docket::v1::Event& e) {
    auto produced = testing::ProduceOne(bootstrap_, prefix_ + "work.v1", e.subject(),
                                        e.SerializeAsString());
    ASSERT_TRUE(produced.ok()) << produced.status();
  }

  // Waits until `topic` holds `count` records, then reads them all.
  std::vector<docket::v1::Event> WaitForEvents(const std::string& topic, std::int64_t count) {
    std::vector<docket::v1::Event> out;
    const bool there = testing::WaitFor(
        [&] {
          auto n = testing::TopicRecordCount(bootstrap_, topic);
          return n.ok() && *n >= count;
        },
        30s);
    EXPECT_TRUE(there) << topic << " never held " << count << " records; log: "
                       << service_->process->log_path();
    if (!there) return out;
    auto records = testing::ConsumeFromBeginning(bootstrap_, topic, count, 30s);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return out;
    for (const auto& r : *records) {
      EXPECT_THAT(r.value, Not(HasSubstr(kCard)));
      EXPECT_THAT(r.value, Not(HasSubstr(kCardDigits)));
      docket::v1::Event e;
      EXPECT_TRUE(e.ParseFromString(r.value));
      out.push_back(std::move(e));
    }
    return out;
  }

  static docket::v1::Event SubmittedWithCard(const std::string& item) {
    docket::v1::Event e;
    e.set_id(item + ":submitted");
    e.set_source("//docket/intake");
    e.set_type("docket.work.v1.Submitted");
    e.set_subject(item);
    e.set_tenant("acme");
    auto sub = testutil::Invoice();
    (*sub.mutable_attributes())["notes"] = testutil::Str(std::string("vendor asked to charge card ") + kCard);
    *e.mutable_submitted()->mutable_submission() = sub;
    e.mutable_submitted()->set_channel("grpc");
    return e;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::DevKafka> kafka_;
  std::unique_ptr<testing::ServiceProcess> service_;
  std::string bootstrap_;
  std::string prefix_;  // topic prefix, e.g. "docket."
  std::unique_ptr<docket::v1::Compliance::Stub> stub_;
};

// One test walks the whole path, because each step reads what the previous
// one left on the topics.
TEST_F(ComplianceItest, CardInFreeTextIsFlaggedAuditedOnceAndTheLedgerVerifiesFromTheTopic) {
  const std::string item = "0190f1a2-7b3c-7d4e-8f00-00000000c0de";
  const docket::v1::Event submitted = SubmittedWithCard(item);
  Produce(submitted);

  auto verdicts = WaitForEvents(prefix_ + "compliance.v1", 1);
  ASSERT_EQ(verdicts.size(), 1u);
  const docket::v1::Verdict& v = verdicts[0].verdict();
  EXPECT_EQ(v.item_id(), item);
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FLAG);
  EXPECT_EQ(verdicts[0].id(), VerdictId(submitted.id(), docket::v1::CHECKPOINT_SUBMIT));
  bool card_rule = false;
  for (const auto& x : v.violations()) card_rule |= x.rule_id() == "pii-payment-card";
  EXPECT_TRUE(card_rule) << v.DebugString();

  auto audits = WaitForEvents(prefix_ + "audit.v1", 1);
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].audit_record().subject_event_id(), v.id());

  // Redelivery of the same event, then a reject of the same item (same key,
  // same partition, so it is handled after the duplicate).
  Produce(submitted);
  docket::v1::Event rejected;
  rejected.set_id(item + ":rejected");
  rejected.set_type("docket.work.v1.Rejected");
  rejected.set_subject(item);
  rejected.set_tenant("acme");
  rejected.mutable_rejected()->set_queue("accounts-payable");
  rejected.mutable_rejected()->mutable_actor()->set_id("bob");
  Produce(rejected);
  audits = WaitForEvents(prefix_ + "audit.v1", 2);
  ASSERT_EQ(audits.size(), 2u);
  EXPECT_EQ(audits[1].audit_record().type(), docket::v1::AuditRecord::TYPE_REJECT);
  auto total = testing::TopicRecordCount(bootstrap_, prefix_ + "audit.v1");
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(*total, 2) << "the redelivered event appended nothing";
  // The redelivery re-sent the recorded verdict under the same id.
  verdicts = WaitForEvents(prefix_ + "compliance.v1", 2);
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts[1].id(), verdicts[0].id());

  // The chain verifies from the topic alone.
  std::map<std::string, std::vector<docket::v1::AuditRecord>> chains;
  for (const auto& e : audits) chains[e.audit_record().chain()].push_back(e.audit_record());
  for (const auto& [chain, records] : chains) {
    VerifyResult r = VerifyChain(chain, records, {}, "");
    EXPECT_TRUE(r.ok) << chain << ": " << r.problem << " at " << r.first_bad_sequence;
  }
  EXPECT_EQ(audits[1].audit_record().prev_hash(), audits[0].audit_record().hash());

  // ... and over gRPC.
  docket::v1::VerifyAuditResponse verify;
  auto ctx = Context(kOperatorKey);
  grpc::Status s = stub_->VerifyAudit(ctx.get(), docket::v1::VerifyAuditRequest(), &verify);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(verify.ok()) << verify.problem();
  EXPECT_EQ(verify.records_checked(), 2u);

  docket::v1::GetAuditTrailRequest trail_req;
  trail_req.set_item_id(item);
  docket::v1::GetAuditTrailResponse trail;
  auto ctx2 = Context(kBobSupervisorKey);
  s = stub_->GetAuditTrail(ctx2.get(), trail_req, &trail);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(trail.records_size(), 2);

  // Neither the log nor the metrics ever saw the number.
  const std::string log = testing::ReadFile(service_->process->log_path());
  EXPECT_THAT(log, Not(HasSubstr(kCard)));
  EXPECT_THAT(log, Not(HasSubstr(kCardDigits)));
  auto metrics = testing::HttpGet(service_->metrics_port, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(testing::MetricSeries(metrics->body), Not(HasSubstr("4111")));
  EXPECT_THAT(metrics->body, HasSubstr("docket_compliance_violations_total{rule=\"pii-payment-card\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("docket_compliance_ledger_duplicates_total 1"));
}

// VerifyAudit with SOURCE_AUDIT_TOPIC reads docket.audit.v1 itself (what
// auditors and downstream consumers see, including what Redis trimmed): a
// rewritten copy produced to the topic is named, though Redis never saw it.
TEST_F(ComplianceItest, TheAuditTopicVerifiesWholeAndARewrittenCopyProducedToItIsNamed) {
  const std::string item = "0190f1a2-7b3c-7d4e-8f00-00000000a0d1";
  Produce(SubmittedWithCard(item));
  auto audits = WaitForEvents(prefix_ + "audit.v1", 1);
  ASSERT_EQ(audits.size(), 1u);

  docket::v1::VerifyAuditRequest req;
  req.set_source(docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  docket::v1::VerifyAuditResponse verify;
  auto ctx = Context(kOperatorKey);
  grpc::Status s = stub_->VerifyAudit(ctx.get(), req, &verify);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(verify.ok()) << verify.problem();
  EXPECT_EQ(verify.records_checked(), 1u);

  docket::v1::Event forged = audits[0];
  forged.mutable_audit_record()->set_summary("verdict checkpoint=submit outcome=pass rules=");
  forged.mutable_audit_record()->set_hash(RecordHash(forged.audit_record(), ""));
  auto produced = testing::ProduceOne(bootstrap_, prefix_ + "audit.v1", forged.audit_record().chain(),
                                      forged.SerializeAsString());
  ASSERT_TRUE(produced.ok()) << produced.status();
  auto ctx2 = Context(kOperatorKey);
  s = stub_->VerifyAudit(ctx2.get(), req, &verify);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(verify.ok());
  EXPECT_EQ(verify.first_bad_chain(), forged.audit_record().chain());
  EXPECT_EQ(verify.first_bad_sequence(), 1u);
  EXPECT_THAT(verify.problem(), HasSubstr("two different records with sequence 1"));

  auto ctx3 = Context(kOperatorKey);
  s = stub_->VerifyAudit(ctx3.get(), docket::v1::VerifyAuditRequest(), &verify);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(verify.ok()) << "the ledger in Redis never held the copy: " << verify.problem();
}

// The service verifies the ledger and the topic by itself shortly after
// start (policies.yaml ledger.verify_every / verify_topic_every), once per
// period across replicas, and says so on /metrics for the alerts.
TEST_F(ComplianceItest, TheServiceVerifiesTheLedgerOnItsOwnScheduleAndExportsWhenItPassed) {
  const bool ran = testing::WaitFor(
      [&] {
        return testing::ReadFile(service_->process->log_path()).find("scheduled audit verification passed") !=
               std::string::npos;
      },
      60s);
  ASSERT_TRUE(ran) << "no scheduled verification within 60 s; see " << service_->process->log_path();
  auto metrics = testing::HttpGet(service_->metrics_port, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(metrics->body, HasSubstr("docket_compliance_audit_verification_timestamp_seconds{result=\"verified\",source=\"ledger\"}"));
  EXPECT_THAT(metrics->body,
              HasSubstr("docket_compliance_audit_verifications_total{result=\"verified\",source=\"ledger\"} 1"));
  auto options = redis::ParseRedisUrl(redis_->url());
  ASSERT_TRUE(options.ok()) << options.status();
  auto client = redis::MakeRedisClient(*options, nullptr);
  ASSERT_TRUE(client.ok()) << client.status();
  auto claim = (*client)->Command({"GET", "docket:audit:verify:ledger"});
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_FALSE(claim->is_nil()) << "this period's claim is held (by this replica)";
}

TEST_F(ComplianceItest, EvaluateIsADryRunWithTheDemoPublisherKey) {
  docket::v1::EvaluateRequest req;
  *req.mutable_submission() = testutil::Invoice();
  (*req.mutable_submission()->mutable_attributes())["notes"] = testutil::Str(std::string("card ") + kCard);
  req.set_checkpoint(docket::v1::CHECKPOINT_SUBMIT);
  const auto before = testing::TopicRecordCount(bootstrap_, prefix_ + "compliance.v1");
  docket::v1::EvaluateResponse resp;
  auto ctx = Context(kAcmePublisherKey);
  grpc::Status s = stub_->Evaluate(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.verdict().outcome(), docket::v1::OUTCOME_FLAG);
  EXPECT_THAT(resp.SerializeAsString(), Not(HasSubstr(kCard)));
  EXPECT_EQ(testing::TopicRecordCount(bootstrap_, prefix_ + "compliance.v1").value_or(-1),
            before.value_or(-2))
      << "a dry run publishes nothing";

  auto ctx2 = Context("dk_not_a_key");
  EXPECT_EQ(stub_->Evaluate(ctx2.get(), req, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  req.mutable_submission()->set_tenant("globex");
  auto ctx3 = Context(kAcmePublisherKey);
  EXPECT_EQ(stub_->Evaluate(ctx3.get(), req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}


#ifdef DOCKET_ITEST_APACHE_KAFKA
// Only against the Apache broker: librdkafka's mock cluster (docket-devkafka)
// can hold a group of several members that join at once in a rebalance for
// tens of seconds (seen: a JoinGroup blocked for 30+ s), which is why
// DOCKET_CONSUMER_THREADS defaults to 1.
//
// DOCKET_CONSUMER_THREADS=4 against a 4-partition docket.work.v1:
// four members of the group in one process, one partition each, handling
// CompletionRequested events of every partition at once. Its own Redis,
// Kafka topics and service process, so the counts are exact.
class ComplianceParallelItest : public ::testing::Test {
 protected:
  static constexpr int kPartitions = 4;
  static constexpr int kThreads = 4;

  static void SetUpTestSuite() {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = redis->release();
    auto kafka = testing::StartItestKafka(kApacheKafka, "compliance-parallel-itest",
                                          {"work.v1", "compliance.v1", "audit.v1", "dlq.v1"}, 3,
                                          kPartitions);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    bootstrap_ = kafka->bootstrap;
    prefix_ = kafka->prefix;
    kafka_ = kafka->dev.release();
    std::vector<std::string> env = kafka->env;
    env.push_back(absl::StrCat("DOCKET_CONSUMER_THREADS=", kThreads));
    auto svc = testing::StartService("compliance", bootstrap_, redis_->url(), env);
    ASSERT_TRUE(svc.ok()) << svc.status();
    service_ = new testing::ServiceProcess(std::move(*svc));
  }
  static void TearDownTestSuite() {
    if (service_) {
      EXPECT_EQ(service_->process->Stop(15s), 0) << service_->process->log_path();
    }
    delete service_;
    delete kafka_;
    delete redis_;
  }

  // The value of the one series of `name` whose labels are exactly `labels`
  // ("" = not exported); *series counts the series with those labels.
  static std::string MetricLine(const std::string& body, const std::string& name_and_labels,
                                int* series) {
    std::string value;
    *series = 0;
    for (absl::string_view line : absl::StrSplit(body, '\n')) {
      if (absl::StartsWith(line, name_and_labels + " ")) {
        ++*series;
        value = std::string(line.substr(name_and_labels.size() + 1));
      }
    }
    return value;
  }

  static testing::RedisServer* redis_;
  static testing::DevKafka* kafka_;
  static testing::ServiceProcess* service_;
  static std::string bootstrap_;
  static std::string prefix_;
};

testing::RedisServer* ComplianceParallelItest::redis_ = nullptr;
testing::DevKafka* ComplianceParallelItest::kafka_ = nullptr;
testing::ServiceProcess* ComplianceParallelItest::service_ = nullptr;
std::string ComplianceParallelItest::bootstrap_;
std::string ComplianceParallelItest::prefix_;

TEST_F(ComplianceParallelItest,
       FourConsumerThreadsGiveEveryCompletionOfEveryPartitionOneVerdictOneRecordAndSoundChains) {
  ASSERT_NE(service_, nullptr);
  const std::string work = prefix_ + "work.v1";
  // Every member of the group started (they share the client id).
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const std::string log = testing::ReadFile(service_->process->log_path());
        std::size_t n = 0;
        for (std::size_t at = log.find("kafka consumer started"); at != std::string::npos;
             at = log.find("kafka consumer started", at + 1)) {
          ++n;
        }
        return n == static_cast<std::size_t>(kThreads);
      },
      30s))
      << "expected " << kThreads << " consumers; log: " << service_->process->log_path();

  constexpr int kPerPartition = 12;
  constexpr int kEvents = kPartitions * kPerPartition;
  std::set<std::string> expected_verdicts;
  std::map<std::string, int> per_chain;  // "<work topic>/<partition>" -> events
  for (int i = 0; i < kEvents; ++i) {
    docket::v1::Event e;
    const std::string item = absl::StrCat("0190f1a2-7b3c-7d4e-8f00-", 100000000000 + i);
    e.set_id(item + ":completion-requested");
    e.set_source("//docket/processing");
    e.set_type("docket.work.v1.CompletionRequested");
    e.set_subject(item);
    e.set_tenant("acme");
    auto* done = e.mutable_completion_requested();
    done->set_kind("shipping_documents");
    done->set_queue("logistics-docs");
    done->mutable_completer()->set_id("dana");
    const int partition = i % kPartitions;
    auto produced = testing::ProduceOne(bootstrap_, work, item, e.SerializeAsString(), partition);
    ASSERT_TRUE(produced.ok()) << produced.status();
    ASSERT_EQ(produced->partition, partition);
    expected_verdicts.insert(VerdictId(e.id(), docket::v1::CHECKPOINT_COMPLETE));
    ++per_chain[absl::StrCat(work, "/", partition)];
  }

  // Every record handled once: the members' shared series of records
  // consumed (one series, summed over the four) reaches the count.
  const std::string consumed = absl::StrCat(
      "docket_kafka_records_consumed_total{client=\"docket-compliance-consumer\",result=\"ok\",topic=\"",
      work, "\"}");
  std::string body;
  const bool handled = testing::WaitFor(
      [&] {
        auto m = testing::HttpGet(service_->metrics_port, "/metrics");
        if (!m.ok()) return false;
        body = m->body;
        int series = 0;
        double v = 0;
        return absl::SimpleAtod(MetricLine(body, consumed, &series), &v) && v >= kEvents;
      },
      60s);
  ASSERT_TRUE(handled) << "not every record was handled; log: " << service_->process->log_path()
                       << "\n" << body;
  int series = 0;
  EXPECT_EQ(MetricLine(body, consumed, &series), std::to_string(kEvents));
  EXPECT_EQ(series, 1);

  // Exactly one verdict and one audit record per event: no loss, no copy.
  EXPECT_EQ(testing::TopicRecordCount(bootstrap_, prefix_ + "compliance.v1").value_or(-1), kEvents);
  EXPECT_EQ(testing::TopicRecordCount(bootstrap_, prefix_ + "audit.v1").value_or(-1), kEvents);
  auto verdicts = testing::ConsumeFromBeginning(bootstrap_, prefix_ + "compliance.v1", kEvents, 30s);
  ASSERT_TRUE(verdicts.ok()) << verdicts.status();
  std::multiset<std::string> verdict_ids;
  for (const auto& r : *verdicts) {
    docket::v1::Event e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    verdict_ids.insert(e.id());
  }
  EXPECT_EQ(verdict_ids, std::multiset<std::string>(expected_verdicts.begin(), expected_verdicts.end()));

  auto audits = testing::ConsumeFromBeginning(bootstrap_, prefix_ + "audit.v1", kEvents, 30s);
  ASSERT_TRUE(audits.ok()) << audits.status();
  std::multiset<std::string> subjects;
  std::map<std::string, std::vector<docket::v1::AuditRecord>> chains;
  for (const auto& r : *audits) {  // in offset order within each partition of audit.v1
    docket::v1::Event e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    subjects.insert(e.audit_record().subject_event_id());
    chains[e.audit_record().chain()].push_back(e.audit_record());
  }
  EXPECT_EQ(subjects, std::multiset<std::string>(expected_verdicts.begin(), expected_verdicts.end()));
  ASSERT_EQ(chains.size(), static_cast<std::size_t>(kPartitions));
  for (const auto& [chain, records] : chains) {
    EXPECT_EQ(static_cast<int>(records.size()), per_chain[chain]) << chain;
    VerifyResult r = VerifyChain(chain, records, {}, "");
    EXPECT_TRUE(r.ok) << chain << ": " << r.problem << " at " << r.first_bad_sequence;
    EXPECT_EQ(records.back().sequence(), static_cast<std::uint64_t>(per_chain[chain])) << chain;
  }

  // The chains Redis holds verify too (VerifyAudit = VerifyStoredChains).
  auto stub = docket::v1::Compliance::NewStub(
      grpc::CreateChannel(service_->grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kOperatorKey);
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  docket::v1::VerifyAuditResponse verify;
  grpc::Status s = stub->VerifyAudit(&ctx, docket::v1::VerifyAuditRequest(), &verify);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(verify.ok()) << verify.problem();
  EXPECT_EQ(verify.records_checked(), static_cast<std::uint64_t>(kEvents));
}

#endif  // DOCKET_ITEST_APACHE_KAFKA

}  // namespace
}  // namespace docket::compliance
