#include "common/kafka/internal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace docket::kafka::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;

std::map<std::string, std::string> AsMap(const Properties& p) {
  return std::map<std::string, std::string>(p.begin(), p.end());
}

KafkaConfig Config() {
  KafkaConfig c;
  c.brokers = "127.0.0.1:9092";
  c.client_id = "intake";
  c.delivery_timeout_ms = 12000;
  return c;
}

TEST(PublisherPropertiesTest, AreIdempotentAcksAllWithShortLinger) {
  auto p = PublisherProperties(Config(), /*statistics=*/true);
  ASSERT_TRUE(p.ok()) << p.status();
  auto m = AsMap(*p);
  EXPECT_EQ(m["bootstrap.servers"], "127.0.0.1:9092");
  EXPECT_EQ(m["client.id"], "intake");
  EXPECT_EQ(m["enable.idempotence"], "true");
  EXPECT_EQ(m["acks"], "all");
  EXPECT_EQ(m["linger.ms"], "5");
  EXPECT_EQ(m["message.timeout.ms"], "12000");
  EXPECT_EQ(m["statistics.interval.ms"], "5000");
  EXPECT_EQ(AsMap(*PublisherProperties(Config(), false)).count("statistics.interval.ms"), 0u);
}

TEST(PublisherPropertiesTest, LingerComesFromTheConfigAndExtraStillOverridesIt) {
  KafkaConfig c = Config();
  c.linger_ms = 0;
  EXPECT_EQ(AsMap(*PublisherProperties(c, false))["linger.ms"], "0");
  c.extra = {{"linger.ms", "7"}};
  EXPECT_EQ(AsMap(*PublisherProperties(c, false))["linger.ms"], "7");
}

TEST(PublisherPropertiesTest, ExtraIsAppliedLastButCannotWeakenDelivery) {
  KafkaConfig c = Config();
  c.extra = {{"linger.ms", "20"}, {"sasl.password", "hunter2"}, {"acks", "all"}};
  auto p = PublisherProperties(c, false);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(AsMap(*p)["linger.ms"], "20");
  EXPECT_EQ(AsMap(*p)["sasl.password"], "hunter2");

  c.extra = {{"acks", "1"}};
  auto weak = PublisherProperties(c, false);
  ASSERT_EQ(weak.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(weak.status().message()), HasSubstr("acks"));

  c.extra = {{"enable.idempotence", "false"}};
  EXPECT_EQ(PublisherProperties(c, false).status().code(), absl::StatusCode::kInvalidArgument);

  c.extra = {{"bootstrap.servers", "elsewhere:9092"}};
  EXPECT_EQ(PublisherProperties(c, false).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PublisherPropertiesTest, ErrorsNeverEchoExtraValues) {
  KafkaConfig c = Config();
  c.extra = {{"acks", "s3cr3t-value"}};
  auto p = PublisherProperties(c, false);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), Not(HasSubstr("s3cr3t-value")));
}

TEST(PublisherPropertiesTest, RequireBrokers) {
  KafkaConfig c = Config();
  c.brokers.clear();
  EXPECT_EQ(PublisherProperties(c, false).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConsumerPropertiesTest, CommitOnlyWhatTheConsumerMarksDone) {
  ConsumerOptions o;
  o.kafka = Config();
  o.group_id = "docket-processing";
  auto p = ConsumerProperties(o, true);
  ASSERT_TRUE(p.ok()) << p.status();
  auto m = AsMap(*p);
  EXPECT_EQ(m["group.id"], "docket-processing");
  EXPECT_EQ(m["enable.auto.commit"], "false");
  EXPECT_EQ(m["enable.auto.offset.store"], "false");
  EXPECT_EQ(m["auto.offset.reset"], "earliest");
  EXPECT_EQ(m["statistics.interval.ms"], "5000");

  o.kafka.extra = {{"enable.auto.commit", "true"}};
  EXPECT_EQ(ConsumerProperties(o, false).status().code(), absl::StatusCode::kInvalidArgument);
  o.kafka.extra = {{"partition.assignment.strategy", "cooperative-sticky"},
                   {"auto.offset.reset", "latest"}};
  auto coop = ConsumerProperties(o, false);
  ASSERT_TRUE(coop.ok()) << coop.status();
  EXPECT_EQ(AsMap(*coop)["partition.assignment.strategy"], "cooperative-sticky");
  EXPECT_EQ(AsMap(*coop)["auto.offset.reset"], "latest");

  o.group_id.clear();
  o.kafka.extra.clear();
  EXPECT_EQ(ConsumerProperties(o, false).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExtraPropertiesTest, ConsumerAndProducerPrefixesApplyToThatSideOnly) {
  ConsumerOptions o;
  o.kafka = Config();
  o.group_id = "docket-metrics";
  o.kafka.extra = {{"consumer.fetch.wait.max.ms", "10"},
                   {"producer.batch.num.messages", "500"},
                   {"security.protocol", "ssl"}};
  auto consumer = ConsumerProperties(o, false);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto c = AsMap(*consumer);
  EXPECT_EQ(c["fetch.wait.max.ms"], "10");
  EXPECT_EQ(c.count("batch.num.messages"), 0u);
  EXPECT_EQ(c.count("consumer.fetch.wait.max.ms"), 0u) << "the prefix must be stripped";
  EXPECT_EQ(c["security.protocol"], "ssl");

  auto producer = PublisherProperties(o.kafka, false);
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto p = AsMap(*producer);
  EXPECT_EQ(p["batch.num.messages"], "500");
  EXPECT_EQ(p.count("fetch.wait.max.ms"), 0u);
  EXPECT_EQ(p["security.protocol"], "ssl");

  // A prefix does not get around the guarded properties.
  o.kafka.extra = {{"consumer.enable.auto.commit", "true"}};
  EXPECT_EQ(ConsumerProperties(o, false).status().code(), absl::StatusCode::kInvalidArgument);
  o.kafka.extra = {{"producer.acks", "1"}};
  EXPECT_EQ(PublisherProperties(o.kafka, false).status().code(), absl::StatusCode::kInvalidArgument);
}

// Kafka protocol and librdkafka error codes, as rd_kafka_resp_err_t numbers
// (tests stay free of rdkafka.h).
constexpr int kMsgTimedOut = -192;
constexpr int kTransport = -195;
constexpr int kAllBrokersDown = -187;
constexpr int kQueueFull = -184;
constexpr int kUnknownTopic = -188;
constexpr int kFatal = -150;
constexpr int kUnknownTopicOrPart = 3;
constexpr int kMsgSizeTooLarge = 10;
constexpr int kNotEnoughReplicas = 19;
constexpr int kRequestTimedOut = 7;
constexpr int kTopicAuthorizationFailed = 29;

TEST(StatusFromKafkaErrorTest, TimeoutsAreDeadlineExceeded) {
  EXPECT_EQ(StatusFromKafkaError(kMsgTimedOut, "p").code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusFromKafkaError(kRequestTimedOut, "p").code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(StatusFromKafkaErrorTest, TransientFailuresAreUnavailable) {
  for (int err : {kTransport, kAllBrokersDown, kQueueFull, kNotEnoughReplicas}) {
    EXPECT_EQ(StatusFromKafkaError(err, "p").code(), absl::StatusCode::kUnavailable) << err;
  }
}

TEST(StatusFromKafkaErrorTest, RecordsTheBrokerCanNeverTakeAreInvalidArgument) {
  for (int err : {kMsgSizeTooLarge, kUnknownTopic, kUnknownTopicOrPart}) {
    EXPECT_EQ(StatusFromKafkaError(err, "p").code(), absl::StatusCode::kInvalidArgument) << err;
  }
}

TEST(StatusFromKafkaErrorTest, OtherClassesAndTheMessage) {
  EXPECT_EQ(StatusFromKafkaError(kTopicAuthorizationFailed, "p").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromKafkaError(kFatal, "p").code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(StatusFromKafkaError(0, "p").ok());
  const absl::Status s = StatusFromKafkaError(kMsgSizeTooLarge, "publish to docket.work.v1");
  EXPECT_THAT(std::string(s.message()), HasSubstr("publish to docket.work.v1"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("MSG_SIZE_TOO_LARGE"));
}

TEST(KafkaErrorReasonTest, IsALowerCaseNameWithoutLeadingUnderscores) {
  EXPECT_EQ(KafkaErrorReason(kMsgTimedOut), "msg_timed_out");
  EXPECT_EQ(KafkaErrorReason(kMsgSizeTooLarge), "msg_size_too_large");
}

TEST(PoisonTest, OnlyInvalidArgumentAndDataLossArePoison) {
  EXPECT_TRUE(IsPoison(absl::InvalidArgumentError("x")));
  EXPECT_TRUE(IsPoison(absl::DataLossError("x")));
  EXPECT_FALSE(IsPoison(absl::UnavailableError("x")));
  EXPECT_FALSE(IsPoison(absl::FailedPreconditionError("x")));
  EXPECT_FALSE(IsPoison(absl::OkStatus()));
  EXPECT_EQ(PoisonClass(absl::DataLossError("x")), "data_loss");
  EXPECT_EQ(PoisonClass(absl::InvalidArgumentError("x")), "invalid_argument");
}

TEST(MakeDlqRecordTest, KeepsKeyValueAndHeadersAndAddsTheReasonAndSource) {
  Record src;
  src.topic = "docket.work.v1";
  src.partition = 3;
  src.offset = 1234;
  src.key = "item-1";
  src.value = std::string("\x00\x01garbage", 9);
  src.headers = {{"ce_id", "e1"}, {"docket_dlq_reason", "an earlier trip"}};
  const Record dlq = MakeDlqRecord(src, absl::InvalidArgumentError("undecodable record: bad"),
                                   "docket.dlq.v1", "docket-processing");
  EXPECT_EQ(dlq.topic, "docket.dlq.v1");
  EXPECT_EQ(dlq.partition, -1);
  EXPECT_EQ(dlq.key, "item-1");
  EXPECT_EQ(dlq.value, src.value);
  EXPECT_EQ(dlq.Header("ce_id"), "e1");
  EXPECT_EQ(dlq.Header("docket_dlq_reason"), "INVALID_ARGUMENT: undecodable record: bad");
  EXPECT_EQ(dlq.Header("docket_dlq_source_topic"), "docket.work.v1");
  EXPECT_EQ(dlq.Header("docket_dlq_source_partition"), "3");
  EXPECT_EQ(dlq.Header("docket_dlq_source_offset"), "1234");
  EXPECT_EQ(dlq.Header("docket_dlq_consumer_group"), "docket-processing");
  EXPECT_EQ(dlq.headers.size(), 6u);  // the earlier trip's reason is replaced
}

TEST(RetryBackoffTest, DoublesFromInitialAndIsCapped) {
  EXPECT_EQ(RetryBackoff(1, milliseconds(100), milliseconds(5000)), milliseconds(100));
  EXPECT_EQ(RetryBackoff(2, milliseconds(100), milliseconds(5000)), milliseconds(200));
  EXPECT_EQ(RetryBackoff(4, milliseconds(100), milliseconds(5000)), milliseconds(800));
  EXPECT_EQ(RetryBackoff(7, milliseconds(100), milliseconds(5000)), milliseconds(5000));
  EXPECT_EQ(RetryBackoff(1000, milliseconds(100), milliseconds(5000)), milliseconds(5000));
  EXPECT_EQ(RetryBackoff(1, milliseconds(0), milliseconds(0)), milliseconds(1));
}

TEST(ParseConsumerLagTest, ReadsAssignedPartitionLagAndSkipsUnknowns) {
  const char* stats = R"({
    "name": "c#consumer-1", "type": "consumer", "msg_cnt": 0,
    "topics": {
      "docket.work.v1": {
        "topic": "docket.work.v1",
        "partitions": {
          "0": {"partition": 0, "consumer_lag": 5, "hi_offset": 10},
          "1": {"partition": 1, "consumer_lag": -1},
          "-1": {"partition": -1, "consumer_lag": -1}
        }
      },
      "docket.compliance.v1": {
        "partitions": {"2": {"partition": 2, "consumer_lag": 0}}
      }
    }
  })";
  auto lags = ParseConsumerLag(stats);
  std::vector<PartitionLag> want = {{"docket.compliance.v1", 2, 0}, {"docket.work.v1", 0, 5}};
  EXPECT_THAT(lags, ::testing::UnorderedElementsAreArray(want));
  EXPECT_TRUE(ParseConsumerLag("{not json").empty());
  EXPECT_TRUE(ParseConsumerLag(R"({"topics": []})").empty());
}

TEST(ParseProducerQueueMessagesTest, ReadsMsgCnt) {
  EXPECT_EQ(ParseProducerQueueMessages(R"({"msg_cnt": 17})"), 17);
  EXPECT_EQ(ParseProducerQueueMessages(R"({})"), std::nullopt);
  EXPECT_EQ(ParseProducerQueueMessages("garbage"), std::nullopt);
}

TEST(OffsetResetTopicTest, NamesTheTopicOfAResetWarningAndNothingElse) {
  // As librdkafka 2.0.2 writes it when the group's position was deleted.
  EXPECT_EQ(OffsetResetTopic(4, "OFFSET",
                             "[thrd:main]: docket.work.v1 [2]: offset reset (at offset 81234 (leader epoch 0), broker 1) to "
                             "offset BEGINNING (leader epoch -1): fetch failed due to requested offset not "
                             "available on the broker: Broker: Offset out of range"),
            "docket.work.v1");
  EXPECT_EQ(OffsetResetTopic(4, "OFFSET", "t [0]: offset reset (at offset 5, broker 2) to offset END: x: y"), "t");
  // A new group's first position is debug-logged: not a loss.
  EXPECT_EQ(OffsetResetTopic(7, "OFFSET", "t [0]: offset reset (at offset INVALID, broker 1) to offset BEGINNING"),
            std::nullopt);
  EXPECT_EQ(OffsetResetTopic(4, "FETCH", "t [0]: offset reset (at offset 5, broker 2) to offset END: x: y"),
            std::nullopt);
  EXPECT_EQ(OffsetResetTopic(4, "OFFSET", "t [0]: offset 5 committed"), std::nullopt);
  EXPECT_EQ(OffsetResetTopic(4, "OFFSET", " [0]: offset reset (at offset 5) to END"), std::nullopt);
  EXPECT_EQ(OffsetResetTopic(4, "OFFSET", ""), std::nullopt);
  EXPECT_EQ(OffsetResetTopic(4, "OFFSET", "[thrd:main"), std::nullopt);
}

}  // namespace
}  // namespace docket::kafka::internal
