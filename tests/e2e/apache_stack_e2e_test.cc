// The services on the Apache Kafka broker (what users run): each starts,
// serves health for its own name, and drains cleanly.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "common/testing/fixtures.h"
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
    const std::string ready = testing::LogPath(name + "-apache-ready");
    std::remove(ready.c_str());
    auto process = testing::ChildProcess::Spawn(
        {testing::Binary("docket-" + name)}, testing::LogPath(name + "-apache"),
        {"DOCKET_KAFKA_BROKERS=" + *brokers, "DOCKET_REDIS_URL=" + (*redis)->url(),
         "DOCKET_GRPC_LISTEN=127.0.0.1:0", "DOCKET_METRICS_LISTEN=127.0.0.1:0",
         "DOCKET_READY_FILE=" + ready});
    ASSERT_TRUE(process.ok()) << process.status();
    int grpc_port = 0;
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          std::ifstream in(ready);
          std::string line;
          while (std::getline(in, line)) {
            if (line.rfind("grpc_port=", 0) == 0) grpc_port = std::stoi(line.substr(10));
          }
          return grpc_port != 0 || !(*process)->Running();
        },
        60s));
    ASSERT_NE(grpc_port, 0) << "not ready; log: " << (*process)->log_path();
    auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(health_name);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    EXPECT_EQ((*process)->Stop(15s), 0);
  }
}

}  // namespace
}  // namespace docket
