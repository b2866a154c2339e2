// The four service binaries against a real redis-server and Kafka protocol
// broker: each serves gRPC health for its own name and valid Prometheus
// metrics, follows its dependencies' health, drains on SIGTERM, and refuses a
// bad configuration with a message that names the setting.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "common/testing/fixtures.h"
#include "common/testing/http.h"
#include "common/testing/service_process.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace docket {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct ServiceSpec {
  std::string name;         // binary suffix and service label
  std::string health_name;  // its gRPC service
};

const ServiceSpec kServices[] = {
    {"intake", "docket.v1.Intake"},
    {"processing", "docket.v1.Work"},
    {"compliance", "docket.v1.Compliance"},
    {"metrics", "docket.v1.Kpi"},
};

// One running service binary, with a gRPC health probe.
struct RunningService : testing::ServiceProcess {
  HealthCheckResponse::ServingStatus Health(const std::string& name) const {
    auto channel = grpc::CreateChannel(grpc_address(), grpc::InsecureChannelCredentials());
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(name);
    HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) return HealthCheckResponse::SERVICE_UNKNOWN;
    return s.ok() ? resp.status() : HealthCheckResponse::UNKNOWN;
  }
};

absl::StatusOr<RunningService> StartService(const std::string& name, const std::string& brokers,
                                            const std::string& redis_url) {
  auto svc = testing::StartService(name, brokers, redis_url);
  if (!svc.ok()) return svc.status();
  RunningService out;
  static_cast<testing::ServiceProcess&>(out) = std::move(*svc);
  return out;
}

class ServiceStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    auto kafka = testing::DevKafka::Start(3, 4);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::DevKafka> kafka_;
};

TEST_F(ServiceStackTest, EveryServiceIsServingUnderItsOwnNameAndExportsValidMetrics) {
  for (const ServiceSpec& spec : kServices) {
    SCOPED_TRACE(spec.name);
    auto svc = StartService(spec.name, kafka_->bootstrap(), redis_->url());
    ASSERT_TRUE(svc.ok()) << svc.status();
    EXPECT_EQ(svc->Health(spec.health_name), HealthCheckResponse::SERVING);
    EXPECT_EQ(svc->Health(""), HealthCheckResponse::SERVING);
    EXPECT_EQ(svc->Health("docket.v1.NoSuchService"), HealthCheckResponse::SERVICE_UNKNOWN);

    auto scrape = testing::HttpGet(svc->metrics_port, "/metrics");
    ASSERT_TRUE(scrape.ok()) << scrape.status();
    EXPECT_EQ(scrape->status, 200);
    EXPECT_THAT(scrape->body, HasSubstr("docket_build_info{"));
    EXPECT_THAT(scrape->body, HasSubstr("service=\"" + spec.name + "\""));
    EXPECT_THAT(scrape->body, HasSubstr("process_resident_memory_bytes"));
    absl::Status lint = testing::PromtoolCheckMetrics(scrape->body);
    EXPECT_TRUE(lint.ok()) << lint;

    EXPECT_EQ(svc->process->Stop(15s), 0) << "drain did not exit 0; log: "
                                          << svc->process->log_path();
  }
}

TEST_F(ServiceStackTest, HealthIsNotServingWhileRedisIsDownAndRecoversWhenItReturns) {
  auto svc = StartService("intake", kafka_->bootstrap(), redis_->url());
  ASSERT_TRUE(svc.ok()) << svc.status();
  ASSERT_EQ(svc->Health("docket.v1.Intake"), HealthCheckResponse::SERVING);

  ASSERT_TRUE(redis_->Stop().ok());
  EXPECT_TRUE(testing::WaitFor(
      [&] { return svc->Health("docket.v1.Intake") == HealthCheckResponse::NOT_SERVING; }, 20s));
  EXPECT_TRUE(svc->process->Running()) << "a Redis outage must not crash the service";

  ASSERT_TRUE(redis_->Restart().ok());
  EXPECT_TRUE(testing::WaitFor(
      [&] { return svc->Health("docket.v1.Intake") == HealthCheckResponse::SERVING; }, 20s));
  EXPECT_EQ(svc->process->Stop(15s), 0);
}

TEST_F(ServiceStackTest, SigtermWhileServingDrainsAndExitsZero) {
  auto svc = StartService("processing", kafka_->bootstrap(), redis_->url());
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ(svc->process->Stop(15s), 0);
  std::ifstream log(svc->process->log_path());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("\"msg\":\"draining\""));
  EXPECT_THAT(text, HasSubstr("\"msg\":\"stopped\""));
}

TEST(ServiceConfigE2eTest, MissingKafkaBrokersExitsTwoNamingTheVariable) {
  auto process = testing::ChildProcess::Spawn(
      {testing::Binary("docket-compliance")}, testing::LogPath("compliance-bad-config"),
      {"DOCKET_KAFKA_BROKERS=", "DOCKET_REDIS_URL=redis://127.0.0.1:1/0"});
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE(testing::WaitFor([&] { return !(*process)->Running(); }, 10s));
  EXPECT_EQ((*process)->Stop(1s), 2);
  std::ifstream log((*process)->log_path());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("DOCKET_KAFKA_BROKERS is required"));
}

TEST(ServiceConfigE2eTest, UnreachableRedisFailsStartWithMessageNamingRedis) {
  auto kafka = testing::DevKafka::Start(1, 1);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  const int dead_port = testing::FreePort();
  auto process = testing::ChildProcess::Spawn(
      {testing::Binary("docket-metrics"), "--grpc-listen=127.0.0.1:0",
       "--metrics-listen=127.0.0.1:0"},
      testing::LogPath("metrics-no-redis"),
      {"DOCKET_KAFKA_BROKERS=" + (*kafka)->bootstrap(),
       "DOCKET_CONFIG_DIR=" + testing::SourceDir() + "/deploy/config",
       "DOCKET_REDIS_URL=redis://:hunter2@127.0.0.1:" + std::to_string(dead_port) + "/0"});
  ASSERT_TRUE(process.ok()) << process.status();
  // Start-up waits up to 30 s for Redis before giving up.
  ASSERT_TRUE(testing::WaitFor([&] { return !(*process)->Running(); }, 60s));
  EXPECT_EQ((*process)->Stop(1s), 1);
  std::ifstream log((*process)->log_path());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("Redis at redis://:***@127.0.0.1"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("hunter2"))) << "the password leaked into the log";
}

}  // namespace
}  // namespace docket
