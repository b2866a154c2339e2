// EventPublisher / EventConsumer through a broker outage, with
// docket-devkafka's fault controls (librdkafka's mock cluster in its own
// process): a broker down and back costs retries, not records.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_test_util.h"
#include "common/metrics/metrics.h"
#include "common/testing/fixtures.h"
#include "common/testing/http.h"

namespace docket::kafka {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testutil::RunningConsumer;
using testutil::TestConfig;
using testutil::TestConsumerConfig;
using testutil::TestEvent;

constexpr int kBrokers = 3;

bool IsRetryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

std::set<std::string> EventIds(const std::vector<Record>& records) {
  std::set<std::string> ids;
  for (const auto& r : records) {
    if (auto e = DecodeEvent(r); e.ok()) ids.insert(e->id());
  }
  return ids;
}

TEST(KafkaFaultItest, BrokerDownAndBackCostsRetriesNotRecords) {
  auto dk = docket::testing::DevKafka::Start(kBrokers, 4);
  ASSERT_TRUE(dk.ok()) << dk.status();
  const std::string bootstrap = (*dk)->bootstrap();
  const std::string topic = docket::testing::UniqueName("kafka-fault");
  // One partition: its leader is one of the brokers, all of which go down.
  ASSERT_TRUE((*dk)->CreateTopic(topic, 1).ok());
  ASSERT_TRUE((*dk)->CreateTopic(topic + ".dlq", 1).ok());

  auto publisher = MakeKafkaPublisher(TestConfig(bootstrap, "kafka-fault"), nullptr);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE((*publisher)->Publish(topic, TestEvent("warm-up", "item-w")).ok());

  ConsumerOptions o;
  o.kafka = TestConsumerConfig(bootstrap, "kafka-fault-consumer");
  o.group_id = docket::testing::UniqueName("kafka-fault-group");
  o.topics = {topic};
  o.dlq_topic = topic + ".dlq";
  o.handler = DecodingHandler([](const docket::v1::Event&, const Record&) {
    return absl::OkStatus();
  });
  auto consumer = RunningConsumer::Start(std::move(o), **publisher);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(docket::testing::WaitFor(
      [&] { return EventIds((*consumer)->succeeded()).count("warm-up") > 0; }, seconds(60)));

  EXPECT_TRUE((*publisher)->CheckConnection(seconds(5)).ok());
  for (int b = 1; b <= kBrokers; ++b) ASSERT_TRUE((*dk)->BrokerDown(b).ok());
  EXPECT_EQ((*publisher)->CheckConnection(milliseconds(500)).code(),
            absl::StatusCode::kUnavailable);

  // While the brokers are down, a publish that cannot wait fails retryably.
  {
    KafkaConfig impatient = TestConfig(bootstrap, "kafka-fault-impatient");
    impatient.delivery_timeout_ms = 1500;
    auto p = MakeKafkaPublisher(impatient, nullptr);
    ASSERT_TRUE(p.ok()) << p.status();
    const absl::Status s = (*p)->Publish(topic, TestEvent("impatient", "item-i"));
    EXPECT_TRUE(IsRetryable(s)) << s;
    std::cout << "[ info ] publish during the outage: " << s << "\n";
  }

  // Records published during the outage wait in the producer.
  constexpr int kRecords = 30;
  std::mutex mu;
  std::vector<std::pair<int, absl::Status>> results;
  for (int i = 0; i < kRecords; ++i) {
    (*publisher)->PublishAsync(EncodeEvent(topic, TestEvent(absl::StrCat("r", i),
                                                            absl::StrCat("item-", i))),
                               [&mu, &results, i](absl::Status s) {
                                 std::lock_guard<std::mutex> lock(mu);
                                 results.emplace_back(i, std::move(s));
                               });
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(results.empty()) << "confirmed while every broker was down";
  }
  for (int b = 1; b <= kBrokers; ++b) ASSERT_TRUE((*dk)->BrokerUp(b).ok());

  ASSERT_TRUE(docket::testing::WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return results.size() == kRecords;
      },
      seconds(90)));
  // OK, or a retryable error that succeeds when published again.
  int retried = 0;
  for (const auto& [i, status] : results) {
    if (status.ok()) continue;
    ASSERT_TRUE(IsRetryable(status)) << status;
    ++retried;
    absl::Status again = (*publisher)->Publish(
        topic, TestEvent(absl::StrCat("r", i), absl::StrCat("item-", i)));
    ASSERT_TRUE(again.ok()) << again;
  }
  std::cout << "[ info ] " << retried << " of " << kRecords
            << " publishes needed a retry by the caller\n";

  std::set<std::string> want;
  for (int i = 0; i < kRecords; ++i) want.insert(absl::StrCat("r", i));
  ASSERT_TRUE(docket::testing::WaitFor(
      [&] {
        auto got = EventIds((*consumer)->succeeded());
        return std::includes(got.begin(), got.end(), want.begin(), want.end());
      },
      seconds(90)))
      << "consumed " << EventIds((*consumer)->succeeded()).size() << " distinct events";
  EXPECT_TRUE((*consumer)->Stop().ok());
  EXPECT_TRUE((*publisher)->Flush(seconds(10)).ok());
  EXPECT_TRUE((*publisher)->CheckConnection(seconds(5)).ok());
}

// The publisher's failure paths, with no broker at all (a loopback port that
// nothing listens on): every `done` runs once, on the publisher's thread, with
// the documented code.
class KafkaPublisherWithoutBrokerItest : public ::testing::Test {
 protected:
  KafkaConfig Config(int delivery_timeout_ms) {
    KafkaConfig c = TestConfig(absl::StrCat("127.0.0.1:", docket::testing::FreePort()),
                               "kafka-no-broker");
    c.delivery_timeout_ms = delivery_timeout_ms;
    return c;
  }
};

TEST_F(KafkaPublisherWithoutBrokerItest, OversizedRecordFailsAtOnceAsInvalidArgument) {
  auto p = MakeKafkaPublisher(Config(60000), nullptr);
  ASSERT_TRUE(p.ok()) << p.status();
  Record big;
  big.topic = "docket.work.v1";
  big.value.assign(2 * 1024 * 1024, 'x');  // over message.max.bytes (1 MB)
  std::mutex mu;
  absl::Status result;
  std::thread::id done_thread;
  int calls = 0;
  (*p)->PublishAsync(big, [&](absl::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    result = s;
    done_thread = std::this_thread::get_id();
    ++calls;
  });
  ASSERT_TRUE(docket::testing::WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return calls > 0;
      },
      seconds(5)));
  EXPECT_TRUE((*p)->Flush(seconds(1)).ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result.code(), absl::StatusCode::kInvalidArgument) << result;
  EXPECT_NE(std::string(result.message()).find("MSG_SIZE_TOO_LARGE"), std::string::npos) << result;
  EXPECT_NE(done_thread, std::this_thread::get_id()) << "done ran on the caller's thread";
}

TEST_F(KafkaPublisherWithoutBrokerItest, UnconfirmedRecordTimesOutAsDeadlineExceeded) {
  auto p = MakeKafkaPublisher(Config(1000), nullptr);
  ASSERT_TRUE(p.ok()) << p.status();
  const absl::Status s = (*p)->Publish("docket.work.v1", TestEvent("t1", "item-t"));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ((*p)->CheckConnection(milliseconds(300)).code(), absl::StatusCode::kUnavailable);
}

TEST_F(KafkaPublisherWithoutBrokerItest, FullQueueIsUnavailableAfterABriefRetry) {
  KafkaConfig c = Config(3000);
  c.extra["queue.buffering.max.messages"] = "1";
  auto p = MakeKafkaPublisher(c, nullptr);
  ASSERT_TRUE(p.ok()) << p.status();
  std::mutex mu;
  std::vector<absl::Status> first;
  (*p)->PublishAsync(EncodeEvent("docket.work.v1", TestEvent("q1", "item-q")),
                     [&](absl::Status s) {
                       std::lock_guard<std::mutex> lock(mu);
                       first.push_back(s);
                     });
  const absl::Status second = (*p)->Publish("docket.work.v1", TestEvent("q2", "item-q"));
  EXPECT_EQ(second.code(), absl::StatusCode::kUnavailable) << second;
  EXPECT_NE(std::string(second.message()).find("QUEUE_FULL"), std::string::npos) << second;
  // A Flush shorter than the delivery timeout gives up; a longer one sees the
  // first record fail (it could never be delivered).
  EXPECT_EQ((*p)->Flush(milliseconds(10)).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE((*p)->Flush(seconds(10)).ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].code(), absl::StatusCode::kDeadlineExceeded) << first[0];
}

// The counter of one client and topic in `registry`; nullopt: no such series.
std::optional<double> OffsetResets(const metrics::MetricsRegistry& registry, const std::string& client,
                                   const std::string& topic) {
  return docket::testing::SeriesValue(
      registry.Serialize(),
      absl::StrCat("docket_kafka_consumer_offset_resets_total{client=\"", client, "\",topic=\"", topic, "\"}"));
}

// A group whose committed position was deleted by retention (devkafka keeps
// 5 MiB per partition) skips records when it comes back: librdkafka moves it
// to the oldest record left. That must be a counted, alertable event, not
// only a librdkafka warning.
TEST(KafkaFaultItest, AGroupWhosePositionRetentionDeletedCountsTheSkipOnItsOffsetResetMetric) {
  auto dk = docket::testing::DevKafka::Start(1, 1);
  ASSERT_TRUE(dk.ok()) << dk.status();
  const std::string bootstrap = (*dk)->bootstrap();
  const std::string topic = docket::testing::UniqueName("kafka-reset");
  ASSERT_TRUE((*dk)->CreateTopic(topic, 1).ok());
  ASSERT_TRUE((*dk)->CreateTopic(topic + ".dlq", 1).ok());
  auto publisher = MakeKafkaPublisher(TestConfig(bootstrap, "kafka-reset"), nullptr);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE((*publisher)->Publish(topic, TestEvent("first", "item-0")).ok());

  const std::string group = docket::testing::UniqueName("kafka-reset-group");
  auto options = [&] {
    ConsumerOptions o;
    o.kafka = TestConsumerConfig(bootstrap, "kafka-reset-consumer");
    o.group_id = group;
    o.topics = {topic};
    o.dlq_topic = topic + ".dlq";
    o.handler = DecodingHandler([](const docket::v1::Event&, const Record&) { return absl::OkStatus(); });
    return o;
  };
  {
    // The group handles (and commits) the first record, then goes away.
    auto consumer = RunningConsumer::Start(options(), **publisher);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    ASSERT_TRUE(docket::testing::WaitFor([&] { return EventIds((*consumer)->succeeded()).count("first") > 0; },
                                         seconds(60)));
    ASSERT_TRUE((*consumer)->Stop().ok());
  }
  // Past the partition's 5 MiB: the record after the committed position goes.
  for (int i = 0; i < 120; ++i) {
    docket::v1::Event e = TestEvent(absl::StrCat("bulk-", i), absl::StrCat("item-", i + 1));
    (*e.mutable_submitted()->mutable_submission()->mutable_attributes())["notes"].set_string_value(
        std::string(60 * 1024, 'x'));
    ASSERT_TRUE((*publisher)->Publish(topic, e).ok());
  }

  metrics::MetricsRegistry registry({"kafka-fault-itest", "", ""});
  auto consumer = RunningConsumer::Start(options(), **publisher, &registry);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  // Present before any reset (its value may already be 1 if the consumer was quick).
  EXPECT_TRUE(OffsetResets(registry, "kafka-reset-consumer", topic).has_value()) << "the series exists from the start";
  ASSERT_TRUE(docket::testing::WaitFor(
      [&] { return OffsetResets(registry, "kafka-reset-consumer", topic) >= 1; }, seconds(60)))
      << registry.Serialize();
  // It goes on from the oldest record left, which is not the one after its
  // position: bulk-0 was deleted.
  ASSERT_TRUE(docket::testing::WaitFor([&] { return EventIds((*consumer)->succeeded()).count("bulk-119") > 0; },
                                       seconds(60)));
  EXPECT_EQ(EventIds((*consumer)->succeeded()).count("bulk-0"), 0u);
  EXPECT_TRUE((*consumer)->Stop().ok());
}

TEST_F(KafkaPublisherWithoutBrokerItest, ExtraPropertyErrorsNameTheKeyNotTheValue) {
  KafkaConfig c = Config(1000);
  c.extra["sasl.password"] = "hunter2";
  c.extra["no.such.property"] = "s3cr3t";
  auto p = MakeKafkaPublisher(c, nullptr);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(p.status().message()).find("no.such.property"), std::string::npos);
  EXPECT_EQ(std::string(p.status().message()).find("s3cr3t"), std::string::npos);
}

}  // namespace
}  // namespace docket::kafka
