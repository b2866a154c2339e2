// The docket.v1.Intake contract used from a client not written in C++:
// starts redis-server, docket-devkafka and docket-intake (the shipped
// deploy/config, demo keys included), then runs the Node test
// intake_client.test.mjs (@grpc/grpc-js loading proto/docket/v1) against it.
// Its npm dependencies come from the ctest fixture node_client_modules
// (npm ci, see CMakeLists.txt).

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/testing/fixtures.h"
#include "common/testing/service_process.h"

namespace docket {
namespace {

using namespace std::chrono_literals;

TEST(NodeClientItest, NodeGrpcJsClientPassesEveryIntakeContractCheck) {
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto kafka = testing::DevKafka::Start(3, 4);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  auto intake = testing::StartService("intake", (*kafka)->bootstrap(), (*redis)->url());
  ASSERT_TRUE(intake.ok()) << intake.status();

  const std::string script = testing::SourceDir() + "/tests/node_client/intake_client.test.mjs";
  const std::string log = testing::LogPath("node");
  auto node = testing::ChildProcess::Spawn({DOCKET_NODE_EXECUTABLE, script}, log,
                                           {"DOCKET_INTAKE_ADDR=" + intake->grpc_address()});
  ASSERT_TRUE(node.ok()) << node.status();
  // node:test ends the process when its tests are done; the limit is for a hang.
  const bool exited = testing::WaitFor([&] { return !(*node)->Running(); }, 120s);
  const int code = (*node)->Stop();
  EXPECT_TRUE(exited) << "node did not finish within 120 s";
  EXPECT_EQ(code, 0) << "node's test output (" << log << "):\n" << testing::ReadFile(log);
  EXPECT_EQ(intake->process->Stop(15s), 0) << intake->process->log_path();
}

}  // namespace
}  // namespace docket
