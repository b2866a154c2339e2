// Proves the test fixtures: real redis-server and docket-devkafka processes on
// free ports, and devkafka's fault controls as seen by a plain Kafka client.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fixtures.h"
#include "common/testing/kafka_probe.h"

namespace docket::testing {
namespace {

// One RESP command over a fresh connection; returns the first answer line.
std::string RedisCommand(int port, const std::vector<std::string>& args) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  std::string request = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) absl::StrAppend(&request, "$", a.size(), "\r\n", a, "\r\n");
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char c;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n') answer.push_back(c);
  ::close(fd);
  if (!answer.empty() && answer.back() == '\r') answer.pop_back();
  return answer;
}

TEST(RedisServerFixtureTest, StartServesPingOnAFreeLoopbackPort) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  EXPECT_GT((*redis)->port(), 0);
  EXPECT_EQ((*redis)->url(), absl::StrCat("redis://127.0.0.1:", (*redis)->port(), "/0"));
  EXPECT_EQ(RedisCommand((*redis)->port(), {"PING"}), "+PONG");
}

TEST(RedisServerFixtureTest, StopThenRestartServesAgainOnTheSamePortWithEmptyData) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  const int port = (*redis)->port();
  ASSERT_EQ(RedisCommand(port, {"SET", "k", "v"}), "+OK");

  ASSERT_TRUE((*redis)->Stop().ok());
  EXPECT_EQ(RedisCommand(port, {"PING"}), "<connect failed>");

  ASSERT_TRUE((*redis)->Restart().ok());
  EXPECT_EQ((*redis)->port(), port);
  EXPECT_EQ(RedisCommand(port, {"PING"}), "+PONG");
  // A new process without persistence: the key is gone ($-1 = nil).
  EXPECT_EQ(RedisCommand(port, {"GET", "k"}), "$-1");
}

TEST(RedisServerFixtureTest, RestartOfARunningServerKeepsThePort) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  const int port = (*redis)->port();
  ASSERT_TRUE((*redis)->Restart().ok());
  EXPECT_EQ((*redis)->port(), port);
  EXPECT_EQ(RedisCommand(port, {"PING"}), "+PONG");
}

class DevKafkaFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dk = DevKafka::Start(/*brokers=*/3, /*partitions=*/4, "docket.");
    ASSERT_TRUE(dk.ok()) << dk.status();
    dk_ = std::move(*dk);
  }
  std::unique_ptr<DevKafka> dk_;
};

TEST_F(DevKafkaFixtureTest, StartsThreeBrokersWithDocketsTopicsOfFourPartitions) {
  auto cluster = DescribeCluster(dk_->bootstrap());
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->broker_ids.size(), 3u);
  for (const char* topic :
       {"docket.intake.v1", "docket.work.v1", "docket.compliance.v1", "docket.audit.v1",
        "docket.dlq.v1"}) {
    ASSERT_TRUE(cluster->topics.count(topic)) << topic;
    EXPECT_EQ(cluster->topics[topic].size(), 4u) << topic;
  }
}

TEST_F(DevKafkaFixtureTest, ControlAnswersOkToPingAndAnErrorLineToBadCommands) {
  EXPECT_EQ(*dk_->ControlRaw("ping"), "ok");
  for (const char* bad : {"explode", "broker-down 99", "rtt 1 soon", "request-errors 0",
                          "create-topic bad/name 1", ""}) {
    auto answer = dk_->ControlRaw(bad);
    ASSERT_TRUE(answer.ok()) << bad << ": " << answer.status();
    EXPECT_TRUE(absl::StartsWith(*answer, "error ")) << bad << " -> " << *answer;
  }
  // Still serving after the bad input.
  EXPECT_EQ(*dk_->ControlRaw("ping"), "ok");
  EXPECT_EQ(dk_->BrokerDown(99).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DevKafkaFixtureTest, ProducedRecordIsConsumedBack) {
  const std::string topic = UniqueName("roundtrip");
  ASSERT_TRUE(dk_->CreateTopic(topic, 2).ok());
  auto produced = ProduceOne(dk_->bootstrap(), topic, "item-1", "hello devkafka");
  ASSERT_TRUE(produced.ok()) << produced.status();
  auto records = ConsumeFromBeginning(dk_->bootstrap(), topic, 1);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].key, "item-1");
  EXPECT_EQ((*records)[0].value, "hello devkafka");
  EXPECT_EQ((*records)[0].partition, produced->partition);
}

TEST_F(DevKafkaFixtureTest, CreateTopicTwiceIsAnError) {
  const std::string topic = UniqueName("twice");
  ASSERT_TRUE(dk_->CreateTopic(topic, 3).ok());
  auto cluster = DescribeCluster(dk_->bootstrap());
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->topics[topic].size(), 3u);
  EXPECT_FALSE(dk_->CreateTopic(topic, 3).ok());
}

TEST_F(DevKafkaFixtureTest, BrokerDownStopsDeliveryToItsPartitionAndBrokerUpRestoresIt) {
  const std::string topic = UniqueName("down");
  ASSERT_TRUE(dk_->CreateTopic(topic, 1).ok());
  auto cluster = DescribeCluster(dk_->bootstrap());
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const int leader = cluster->topics[topic].at(0).leader;
  ASSERT_GE(leader, 1);

  ASSERT_TRUE(dk_->BrokerDown(leader).ok());
  // The mock does not move leadership: the record cannot be delivered.
  auto while_down = ProduceOne(dk_->bootstrap(), topic, "k", "v", 0,
                               {{"message.timeout.ms", "2000"}});
  ASSERT_FALSE(while_down.ok());
  EXPECT_TRUE(absl::StrContains(while_down.status().message(), "_MSG_TIMED_OUT"))
      << while_down.status();

  ASSERT_TRUE(dk_->BrokerUp(leader).ok());
  auto after_up = ProduceOne(dk_->bootstrap(), topic, "k", "v", 0,
                             {{"message.timeout.ms", "30000"}});
  ASSERT_TRUE(after_up.ok()) << after_up.status();
  EXPECT_EQ(after_up->partition, 0);
}

TEST_F(DevKafkaFixtureTest, InjectedProduceErrorFailsTheNextProduceOnly) {
  const std::string topic = UniqueName("inject");
  ASSERT_TRUE(dk_->CreateTopic(topic, 1).ok());
  constexpr int kProduceApi = 0;
  constexpr int kTopicAuthorizationFailed = 29;  // not retriable: surfaces at once
  ASSERT_TRUE(dk_->PushRequestErrors(kProduceApi, kTopicAuthorizationFailed, 1).ok());
  const KafkaConfig plain = {{"enable.idempotence", "false"}, {"message.timeout.ms", "10000"}};
  auto failed = ProduceOne(dk_->bootstrap(), topic, "k", "v", 0, plain);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::StrContains(failed.status().message(), "TOPIC_AUTHORIZATION_FAILED"))
      << failed.status();
  auto next = ProduceOne(dk_->bootstrap(), topic, "k", "v", 0, plain);
  EXPECT_TRUE(next.ok()) << next.status();
}

TEST_F(DevKafkaFixtureTest, RttDelaysAProduceByAtLeastTheSetTime) {
  const std::string topic = UniqueName("rtt");
  ASSERT_TRUE(dk_->CreateTopic(topic, 1).ok());
  ASSERT_TRUE(dk_->SetRtt(-1, std::chrono::milliseconds(400)).ok());
  const auto start = std::chrono::steady_clock::now();
  auto slow = ProduceOne(dk_->bootstrap(), topic, "k", "v");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(slow.ok()) << slow.status();
  // A lower bound only: every answer waits the rtt, so this never depends on luck.
  EXPECT_GE(elapsed, std::chrono::milliseconds(400));
  EXPECT_TRUE(dk_->SetRtt(-1, std::chrono::milliseconds(0)).ok());
}

TEST_F(DevKafkaFixtureTest, StopOnSigtermExitsZero) {
  EXPECT_TRUE(dk_->Stop().ok());
  EXPECT_FALSE(dk_->ControlRaw("ping").ok());
}

}  // namespace
}  // namespace docket::testing
