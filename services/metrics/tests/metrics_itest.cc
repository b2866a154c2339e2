// docket-metrics as its own process against a real redis-server and a Kafka
// broker: lifecycle events in, exact KPIs out on /metrics and the Kpi API,
// across a kill -9 and restart. Built twice: metrics_itest runs against
// docket-devkafka, metrics_apache_itest against the Apache Kafka broker of
// the ctest fixture (DOCKET_ITEST_APACHE_KAFKA), on topics and a consumer
// group of its own.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/redis/redis_client.h"
#include "common/testing/fixtures.h"
#include "common/testing/http.h"
#include "common/testing/kafka_probe.h"
#include "common/testing/service_process.h"
#include "docket/v1/event.pb.h"
#include "docket/v1/kpi_service.grpc.pb.h"
#include "google/protobuf/util/time_util.h"

namespace docket::kpi {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using google::protobuf::util::TimeUtil;

constexpr char kOperator[] = "dk_demo_operator_LOCAL_STACK_ONLY";
constexpr char kAcme[] = "dk_demo_alice_worker_LOCAL_STACK_ONLY";
#ifdef DOCKET_ITEST_APACHE_KAFKA
constexpr bool kApacheKafka = true;
#define MetricsItest MetricsApacheKafkaItest
#else
constexpr bool kApacheKafka = false;
#endif

// Sum of every sample of `metric` whose labels contain `match`.
double Sum(const std::string& text, const std::string& metric, const std::string& match = "") {
  double total = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(metric + "{", 0) != 0 && line.rfind(metric + " ", 0) != 0) continue;
    if (!match.empty() && line.find(match) == std::string::npos) continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

class MetricsItest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    // Topics and group (on Apache) are kept across the restart of a test.
    auto kafka = testing::StartItestKafka(kApacheKafka, "metrics-itest",
                                          {"work.v1", "compliance.v1", "dlq.v1"});
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    bootstrap_ = kafka->bootstrap;
    prefix_ = kafka->prefix;
    env_ = kafka->env;
    kafka_ = std::move(kafka->dev);
    Start();
  }

  void Start() {
    // A killed member holds its partitions until its session times out
    // (45 s by default): shorten it so the restarted one takes over soon.
    // 6 s is the Apache broker's group.min.session.timeout.ms (its default).
    const std::string props = testing::LogPath("kafka-properties");
    std::ofstream(props) << "session.timeout.ms=6000\nheartbeat.interval.ms=1000\n";
    std::vector<std::string> env = env_;
    env.push_back("DOCKET_KAFKA_PROPERTIES_FILE=" + props);
    // On the Apache broker, two members of the group in one process: the
    // same exact counts with partitions folded in parallel. (Not on the mock
    // cluster: see DOCKET_CONSUMER_THREADS in docs/operations.md.)
    if (kApacheKafka) env.push_back("DOCKET_CONSUMER_THREADS=2");
    auto svc = testing::StartService("metrics", bootstrap_, redis_->url(), env);
    ASSERT_TRUE(svc.ok()) << svc.status();
    svc_ = std::make_unique<testing::ServiceProcess>(std::move(*svc));
  }

  void Produce(const docket::v1::Event& e) {
    auto r = testing::ProduceOne(bootstrap_, prefix_ + "work.v1", e.subject(), e.SerializeAsString(),
                                 -1, {}, {{"content-type", "application/protobuf"}});
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // One item's whole life: routed, claimed, completed.
  void Lifecycle(const std::string& id, bool sla_met = true) {
    const auto now = TimeUtil::GetCurrentTime();
    docket::v1::Event routed;
    routed.set_id(id + ":routed");
    routed.set_subject(id);
    routed.set_tenant("acme");
    *routed.mutable_time() = now;
    routed.mutable_routed()->set_queue("accounts-payable");
    routed.mutable_routed()->set_kind("invoice_approval");
    *routed.mutable_routed()->mutable_submitted_at() = now;
    Produce(routed);
    docket::v1::Event done = routed;
    done.set_id(id + ":completed");
    auto* c = done.mutable_completed();
    c->set_queue("accounts-payable");
    c->set_kind("invoice_approval");
    *c->mutable_submitted_at() = now;
    *c->mutable_claimed_at() = now;
    *c->mutable_completed_at() = now;
    c->set_sla_met(sla_met);
    Produce(done);
  }

  std::string Scrape() {
    auto r = testing::HttpGet(svc_->metrics_port, "/metrics");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->body : "";
  }

  bool WaitForCompletions(double n) {
    return testing::WaitFor(
        [&] { return Sum(Scrape(), "docket_kpi_completions_total", "path=\"person\"") >= n; }, 30s);
  }

  grpc::Status GetSnapshot(const std::string& key, const std::string& tenant, docket::v1::KpiSnapshot* out) {
    auto stub = docket::v1::Kpi::NewStub(
        grpc::CreateChannel(svc_->grpc_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + key);
    docket::v1::GetSnapshotRequest req;
    req.mutable_filter()->set_tenant(tenant);
    return stub->GetSnapshot(&ctx, req, out);
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::DevKafka> kafka_;  // null on the Apache broker
  std::string bootstrap_;
  std::string prefix_;            // topic prefix, e.g. "docket."
  std::vector<std::string> env_;  // of every docket-metrics this test starts
  std::unique_ptr<testing::ServiceProcess> svc_;
};

TEST_F(MetricsItest, KpisAreExactOnMetricsAndTheApiAndLabelsAreBounded) {
  for (int i = 0; i < 20; ++i) Lifecycle("item-" + std::to_string(i), i % 4 != 0);
  ASSERT_TRUE(WaitForCompletions(20));
  const std::string text = Scrape();
  EXPECT_EQ(Sum(text, "docket_kpi_arrivals_total"), 20);
  EXPECT_EQ(Sum(text, "docket_kpi_sla_met_total"), 15);
  EXPECT_EQ(Sum(text, "docket_kpi_sla_missed_total"), 5);
  EXPECT_EQ(text.find("item-1"), std::string::npos) << "an item id became a label";
  absl::Status lint = testing::PromtoolCheckMetrics(text);
  EXPECT_TRUE(lint.ok()) << lint;

  docket::v1::KpiSnapshot snap;
  grpc::Status s = GetSnapshot(kOperator, "acme", &snap);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(snap.arrivals(), 20);
  EXPECT_EQ(snap.completed(), 20);
  EXPECT_DOUBLE_EQ(snap.sla_attainment(), 0.75);
}

TEST_F(MetricsItest, TenantBoundKeyMayNotReadAnotherTenantOrAllTenants) {
  docket::v1::KpiSnapshot snap;
  EXPECT_EQ(GetSnapshot(kAcme, "globex", &snap).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetSnapshot(kAcme, "", &snap).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(GetSnapshot(kAcme, "acme", &snap).ok());
  EXPECT_EQ(GetSnapshot("dk_wrong", "acme", &snap).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(MetricsItest, CountersSurviveKillNineExactlyWithoutDoubleCounting) {
  for (int i = 0; i < 30; ++i) Lifecycle("a-" + std::to_string(i));
  ASSERT_TRUE(WaitForCompletions(30));
  svc_->process->Kill();  // kill -9: no drain, no final snapshot
  svc_.reset();
  // Duplicates (as an outbox re-publish would send) and new work while down.
  Lifecycle("a-3");
  for (int i = 0; i < 10; ++i) Lifecycle("b-" + std::to_string(i));
  Start();
  ASSERT_TRUE(testing::WaitFor([&] {
    return Sum(Scrape(), "docket_kpi_completions_total", "path=\"person\"") >= 40;
  }, 60s));
  const std::string text = Scrape();
  EXPECT_EQ(Sum(text, "docket_kpi_completions_total", "path=\"person\""), 40);
  EXPECT_EQ(Sum(text, "docket_kpi_arrivals_total"), 40);
  docket::v1::KpiSnapshot snap;
  ASSERT_TRUE(GetSnapshot(kOperator, "acme", &snap).ok());
  EXPECT_EQ(snap.completed(), 40);
}

// The seen ids of a restored snapshot come from their chunk keys: a
// re-published event from before the snapshot is not counted again, though
// its offset is never replayed.
TEST_F(MetricsItest, RePublishedEventAfterRestoreFromSnapshotChunksIsNotCountedAgain) {
  for (int i = 0; i < 30; ++i) Lifecycle("c-" + std::to_string(i));
  ASSERT_TRUE(WaitForCompletions(30));
  auto options = redis::ParseRedisUrl(redis_->url());
  ASSERT_TRUE(options.ok());
  auto redis = redis::MakeRedisClient(*options, nullptr);
  ASSERT_TRUE(redis.ok()) << redis.status();
  // Until the snapshots hold all 60 records and their seen ids are in chunks.
  ASSERT_TRUE(testing::WaitFor([&] {
    auto snaps = (*redis)->Command({"KEYS", "docket:kpi:snap:*"});
    auto chunks = (*redis)->Command({"KEYS", "docket:kpi:seen:*"});
    if (!snaps.ok() || !chunks.ok() || chunks->elements.empty()) return false;
    std::int64_t offsets = 0;
    for (const auto& k : snaps->elements) {
      auto v = (*redis)->Command({"GET", k.str});
      if (!v.ok() || v->is_nil()) return false;
      const auto j = nlohmann::json::parse(v->str);
      if (!j.at("seen_open").at("ids").empty()) return false;
      offsets += j.at("next_offset").get<std::int64_t>();
    }
    return offsets == 60;
  }, 30s)) << "no snapshot of all 60 records with its seen-id chunks";
  svc_->process->Kill();
  svc_.reset();
  Lifecycle("c-7");  // both events again, at new offsets
  Lifecycle("d-0");
  Start();
  // The restored consumer starts after the snapshot: it reads exactly the
  // four new records. Once it has, the counts are final.
  ASSERT_TRUE(testing::WaitFor([&] {
    return Sum(Scrape(), "docket_kafka_records_consumed_total", "client=\"docket-metrics-consumer\"") >= 4;
  }, 60s));
  const std::string text = Scrape();
  EXPECT_EQ(Sum(text, "docket_kafka_records_consumed_total", "client=\"docket-metrics-consumer\""), 4)
      << "the restored partitions replayed records already in their snapshot";
  EXPECT_EQ(Sum(text, "docket_kpi_completions_total", "path=\"person\""), 31);
  EXPECT_EQ(Sum(text, "docket_kpi_arrivals_total"), 31);
}

}  // namespace
}  // namespace docket::kpi
