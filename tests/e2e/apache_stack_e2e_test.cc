// The services on the Apache Kafka broker (what users run): each starts,
// serves health for its own name, and drains cleanly.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>

#include "common/testing/fixtures.h"
#include "common/testing/service_process.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace docket {
namespace {

using namespace std::chrono_literals;

TEST(ApacheStackE2eTest, AllFourServicesServeHealthOnTheApacheBroker) {
  auto brokers = testing::ApacheKafkaBootstrap();
  ASSERT_TRUE(brokers.ok()) << brokers.status();
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  const std::pair<std::string, std::string> services[] = {
      {"intake", "docket.v1.Intake"}, {"processing", "docket.v1.Work"},
      {"compliance", "docket.v1.Compliance"}, {"metrics", "docket.v1.Kpi"}};
  for (const auto& [name, health_name] : services) {
    SCOPED_TRACE(name);
    auto svc = testing::StartService(name, *brokers, (*redis)->url());
    ASSERT_TRUE(svc.ok()) << svc.status();
    auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        svc->grpc_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(health_name);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    EXPECT_EQ(svc->process->Stop(15s), 0);
  }
}

}  // namespace
}  // namespace docket
