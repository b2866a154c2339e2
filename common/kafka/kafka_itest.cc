// EventPublisher / EventConsumer against the Apache Kafka broker of the ctest
// run (fixture apache_kafka): delivery across processes, the DLQ, commit only
// after success, retries that hold one partition only, and rebalances.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_test_util.h"
#include "common/kafka/topic_reader.h"
#include "common/metrics/metrics.h"
#include "common/testing/fixtures.h"
#include "common/testing/kafka_probe.h"
#include "google/protobuf/util/message_differencer.h"

namespace docket::kafka {
namespace {

using ::testing::HasSubstr;
using testutil::RunningConsumer;
using testutil::TestConfig;
using testutil::TestConsumerConfig;
using testutil::TestEvent;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kWait = seconds(60);

std::set<std::string> EventIds(const std::vector<Record>& records) {
  std::set<std::string> ids;
  for (const auto& r : records) {
    if (auto e = DecodeEvent(r); e.ok()) ids.insert(e->id());
  }
  return ids;
}

std::map<std::string, std::string> HeaderMap(const std::vector<Header>& headers) {
  std::map<std::string, std::string> out;
  for (const auto& h : headers) out[h.key] = h.value;
  return out;
}

class KafkaItest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bootstrap = docket::testing::ApacheKafkaBootstrap();
    ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
    bootstrap_ = *bootstrap;
    auto publisher = MakeKafkaPublisher(TestConfig(bootstrap_, "kafka-itest"), nullptr);
    ASSERT_TRUE(publisher.ok()) << publisher.status();
    publisher_ = std::move(*publisher);
  }

  // A fresh topic (and its DLQ) with `partitions` partitions.
  void MakeTopics(int partitions) {
    topic_ = docket::testing::UniqueName("kafka-itest");
    dlq_ = topic_ + ".dlq";
    group_ = docket::testing::UniqueName("kafka-itest-group");
    absl::Status s = docket::testing::CreateTopics(bootstrap_, {topic_}, partitions);
    ASSERT_TRUE(s.ok()) << s;
    s = docket::testing::CreateTopics(bootstrap_, {dlq_}, 1);
    ASSERT_TRUE(s.ok()) << s;
  }

  ConsumerOptions Options(RecordHandler handler) {
    ConsumerOptions o;
    o.kafka = TestConsumerConfig(bootstrap_, "kafka-itest-consumer");
    o.group_id = group_;
    o.topics = {topic_};
    o.dlq_topic = dlq_;
    o.handler = std::move(handler);
    o.retry_backoff_initial = milliseconds(50);
    o.retry_backoff_max = milliseconds(400);
    return o;
  }

  std::unique_ptr<RunningConsumer> StartConsumer(ConsumerOptions o,
                                                 metrics::MetricsRegistry* m = nullptr) {
    auto c = RunningConsumer::Start(std::move(o), *publisher_, m);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  void Publish(const docket::v1::Event& e, std::int32_t partition = -1) {
    Record r = EncodeEvent(topic_, e);
    r.partition = partition;
    absl::Status s = publisher_->Publish(std::move(r));
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string bootstrap_;
  std::string topic_;
  std::string dlq_;
  std::string group_;
  std::unique_ptr<EventPublisher> publisher_;
};

RecordHandler AcceptAll() {
  return DecodingHandler([](const docket::v1::Event&, const Record&) { return absl::OkStatus(); });
}

// (a) Published by a second process, consumed here through a consumer group.
TEST_F(KafkaItest, EventPublishedByAnotherProcessArrivesWithEnvelopeAndCeHeadersIntact) {
  MakeTopics(3);
  docket::v1::Event want;
  want.set_id(docket::testing::UniqueName("evt"));
  want.set_source("//docket/kafka-roundtrip-helper");
  want.set_subject("item-7");
  want.set_tenant("globex");
  want.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  want.mutable_time()->set_seconds(1714564800);
  want.mutable_time()->set_nanos(987654000);
  want.mutable_routed()->set_queue("ap-clerks");
  want.set_type("docket.work.v1.Routed");

  auto helper = docket::testing::ChildProcess::Spawn(
      {KAFKA_ROUNDTRIP_HELPER, "produce", "--brokers=" + bootstrap_, "--topic=" + topic_,
       "--id=" + want.id(), "--source=" + want.source(), "--subject=" + want.subject(),
       "--tenant=" + want.tenant(), "--traceparent=" + want.traceparent(),
       "--time-seconds=1714564800", "--time-nanos=987654000", "--queue=ap-clerks"},
      docket::testing::LogPath("producer-helper"));
  ASSERT_TRUE(helper.ok()) << helper.status();
  ASSERT_TRUE(docket::testing::WaitFor([&] { return !(*helper)->Running(); }, kWait));
  ASSERT_EQ((*helper)->Stop(), 0) << "see " << (*helper)->log_path();

  auto consumer = StartConsumer(Options(AcceptAll()));
  ASSERT_TRUE(consumer->WaitUntil([](const auto& calls) { return !calls.empty(); }, kWait));
  ASSERT_TRUE(consumer->Stop().ok());

  const auto calls = consumer->calls();
  ASSERT_EQ(calls.size(), 1u);
  const Record& got = calls[0].record;
  ASSERT_TRUE(calls[0].status.ok()) << calls[0].status;
  EXPECT_EQ(got.topic, topic_);
  EXPECT_EQ(got.key, "item-7");
  auto event = DecodeEvent(got);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*event, want))
      << event->DebugString();
  auto h = HeaderMap(got.headers);
  EXPECT_EQ(h["ce_specversion"], "1.0");
  EXPECT_EQ(h["ce_id"], want.id());
  EXPECT_EQ(h["ce_source"], "//docket/kafka-roundtrip-helper");
  EXPECT_EQ(h["ce_type"], "docket.work.v1.Routed");
  EXPECT_EQ(h["ce_time"], "2024-05-01T12:00:00.987654Z");
  EXPECT_EQ(h["ce_subject"], "item-7");
  EXPECT_EQ(h["ce_tenant"], "globex");
  EXPECT_EQ(h["ce_traceparent"], want.traceparent());
  EXPECT_EQ(h["content-type"], "application/protobuf");
}

// (a) Published here, consumed by a second process through a consumer group.
TEST_F(KafkaItest, EventPublishedHereIsConsumedByAnotherProcessWithEnvelopeAndCeHeadersIntact) {
  MakeTopics(3);
  const docket::v1::Event sent = TestEvent(docket::testing::UniqueName("evt"), "item-9");
  Publish(sent);
  const std::string out = docket::testing::LogPath("consumed.jsonl");
  auto helper = docket::testing::ChildProcess::Spawn(
      {KAFKA_ROUNDTRIP_HELPER, "consume", "--brokers=" + bootstrap_, "--topic=" + topic_,
       "--group=" + group_, "--dlq=" + dlq_, "--count=1", "--out=" + out, "--timeout-ms=60000"},
      docket::testing::LogPath("consumer-helper"));
  ASSERT_TRUE(helper.ok()) << helper.status();
  ASSERT_TRUE(docket::testing::WaitFor([&] { return !(*helper)->Running(); }, seconds(90)));
  ASSERT_EQ((*helper)->Stop(), 0) << "see " << (*helper)->log_path();

  std::ifstream in(out);
  std::string line;
  ASSERT_TRUE(std::getline(in, line)) << "no output in " << out;
  const auto j = nlohmann::json::parse(line);
  Record got;
  got.value = absl::HexStringToBytes(j["value_hex"].get<std::string>());
  for (const auto& [k, v] : j["headers"].items()) got.headers.push_back({k, v.get<std::string>()});
  EXPECT_EQ(j["key"], "item-9");
  auto event = DecodeEvent(got);
  ASSERT_TRUE(event.ok()) << event.status();
  docket::v1::Event want = sent;
  want.set_type("docket.work.v1.Submitted");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*event, want))
      << event->DebugString();
  EXPECT_EQ(HeaderMap(got.headers), HeaderMap(EncodeEvent(topic_, sent).headers));
}

// The consumer refills one Record for every message: nothing of a record
// (key, value, headers) may show through in the next one.
TEST_F(KafkaItest, EachRecordCarriesOnlyItsOwnKeyValueAndHeaders) {
  MakeTopics(1);
  Record first;
  first.topic = topic_;
  first.key = "item-with-a-long-key-0123456789";
  first.value = std::string(300, 'v');
  first.headers = {{"a", "1"}, {"b", std::string(40, 'b')}, {"c", "3"}};
  ASSERT_TRUE(publisher_->Publish(first).ok());
  Record second;
  second.topic = topic_;
  second.value = "w";
  second.headers = {{"only", "x"}};
  ASSERT_TRUE(publisher_->Publish(second).ok());
  Record third;
  third.topic = topic_;
  third.key = "k3";
  third.value = "z";
  ASSERT_TRUE(publisher_->Publish(third).ok());

  auto consumer = StartConsumer(Options([](const Record&) { return absl::OkStatus(); }));
  ASSERT_TRUE(consumer->WaitUntil([](const auto& calls) { return calls.size() >= 3; }, kWait));
  ASSERT_TRUE(consumer->Stop().ok());
  const auto calls = consumer->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].record.key, first.key);
  EXPECT_EQ(calls[0].record.value, first.value);
  EXPECT_EQ(calls[0].record.headers, first.headers);
  EXPECT_EQ(calls[1].record.key, "");
  EXPECT_EQ(calls[1].record.value, "w");
  EXPECT_EQ(calls[1].record.headers, second.headers);
  EXPECT_EQ(calls[2].record.key, "k3");
  EXPECT_EQ(calls[2].record.value, "z");
  EXPECT_TRUE(calls[2].record.headers.empty());
}

// Tests produce an item's first event with the plain-librdkafka probe and
// let a service publish the rest: both must put a key on one partition, or
// the item's events reach consumers out of order.
TEST_F(KafkaItest, TestProbePutsEachKeyOnThePartitionDocketsPublisherDoes) {
  MakeTopics(4);
  std::map<std::string, std::int32_t> probe;
  for (int i = 0; i < 16; ++i) {
    const std::string key = absl::StrCat("invoice-", i);
    Publish(TestEvent(key + ":published", key));
    auto produced = docket::testing::ProduceOne(bootstrap_, topic_, key, "probe");
    ASSERT_TRUE(produced.ok()) << produced.status();
    probe[key] = produced->partition;
  }
  auto records = docket::testing::ConsumeFromBeginning(bootstrap_, topic_, 32);
  ASSERT_TRUE(records.ok()) << records.status();
  std::set<std::int32_t> used;
  int published = 0;
  for (const auto& r : *records) {
    if (r.value == "probe") continue;
    ++published;
    used.insert(r.partition);
    EXPECT_EQ(r.partition, probe.at(r.key)) << "key " << r.key;
  }
  EXPECT_EQ(published, 16);
  EXPECT_GT(used.size(), 1u) << "16 keys on one partition prove nothing about the partitioner";
}

// (b) A poison record goes to the DLQ with its reason; the consumer goes on,
// and its offset is committed with the others.
TEST_F(KafkaItest, UndecodableRecordLandsOnTheDlqWithReasonHeadersAndConsumerMovesOn) {
  MakeTopics(1);
  Publish(TestEvent("e1", "item-1"));
  Record garbage;
  garbage.topic = topic_;
  garbage.key = "item-bad";
  garbage.value = "not-an-event";
  garbage.headers = {{"ce_id", "bad-1"}, {"origin", "a-foreign-producer"}};
  ASSERT_TRUE(publisher_->Publish(garbage).ok());
  Publish(TestEvent("e2", "item-2"));

  auto consumer = StartConsumer(Options(AcceptAll()));
  ASSERT_TRUE(consumer->WaitUntil([](const auto& calls) { return calls.size() >= 3; }, kWait));

  // The DLQ, read back raw.
  ConsumerOptions dlq_reader = Options([](const Record&) { return absl::OkStatus(); });
  dlq_reader.topics = {dlq_};
  dlq_reader.group_id = group_ + "-dlq-reader";
  dlq_reader.dlq_topic = dlq_ + ".unused";
  auto reader = StartConsumer(std::move(dlq_reader));
  ASSERT_TRUE(reader->WaitUntil([](const auto& calls) { return !calls.empty(); }, kWait));
  const Record dead = reader->calls()[0].record;
  EXPECT_EQ(dead.key, "item-bad");
  EXPECT_EQ(dead.value, "not-an-event");
  EXPECT_EQ(dead.Header("ce_id"), "bad-1");
  EXPECT_EQ(dead.Header("origin"), "a-foreign-producer");
  ASSERT_TRUE(dead.Header("docket_dlq_reason").has_value());
  EXPECT_THAT(*dead.Header("docket_dlq_reason"), HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(*dead.Header("docket_dlq_reason"), HasSubstr("is not a serialized docket.v1.Event"));
  EXPECT_EQ(dead.Header("docket_dlq_source_topic"), topic_);
  EXPECT_EQ(dead.Header("docket_dlq_source_partition"), "0");
  EXPECT_EQ(dead.Header("docket_dlq_source_offset"), "1");
  EXPECT_EQ(dead.Header("docket_dlq_consumer_group"), group_);

  // The consumer handled the record after the poison one.
  const auto calls = consumer->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_TRUE(calls[0].status.ok());
  EXPECT_EQ(calls[1].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls[1].record.offset, 1);
  EXPECT_TRUE(calls[2].status.ok());
  EXPECT_EQ(EventIds({calls[2].record}), std::set<std::string>{"e2"});
  ASSERT_TRUE(consumer->Stop().ok());

  // Everything up to e2, the DLQ'd record included, was committed: the next
  // member of the group starts after it.
  Publish(TestEvent("e3", "item-3"));
  auto next = StartConsumer(Options(AcceptAll()));
  ASSERT_TRUE(next->WaitUntil([](const auto& calls) { return !calls.empty(); }, kWait));
  ASSERT_TRUE(next->Stop().ok());
  const auto next_calls = next->calls();
  ASSERT_EQ(next_calls.size(), 1u);
  EXPECT_EQ(next_calls[0].record.offset, 3);
  EXPECT_EQ(EventIds({next_calls[0].record}), std::set<std::string>{"e3"});
}

// (c) A failing handler commits nothing: the record is offered again, the
// partition waits, and a new member of the group gets the same record.
TEST_F(KafkaItest, FailingHandlerDoesNotCommitAndTheRecordComesBackAfterRestart) {
  MakeTopics(1);
  Publish(TestEvent("x", "item-x"));
  Publish(TestEvent("y", "item-y"));

  auto failing = StartConsumer(Options([](const Record&) {
    return absl::UnavailableError("downstream is down");
  }));
  ASSERT_TRUE(failing->WaitUntil([](const auto& calls) { return calls.size() >= 3; }, kWait));
  ASSERT_TRUE(failing->Stop().ok());
  for (const auto& call : failing->calls()) {
    EXPECT_EQ(call.record.offset, 0) << "the partition must wait for the failing record";
    EXPECT_EQ(call.status.code(), absl::StatusCode::kUnavailable);
  }

  auto next = StartConsumer(Options(AcceptAll()));
  ASSERT_TRUE(next->WaitUntil([](const auto& calls) { return calls.size() >= 2; }, kWait));
  ASSERT_TRUE(next->Stop().ok());
  const auto calls = next->calls();
  EXPECT_EQ(calls[0].record.offset, 0);
  EXPECT_EQ(EventIds({calls[0].record}), std::set<std::string>{"x"});
  EXPECT_EQ(EventIds({calls[1].record}), std::set<std::string>{"y"});
}

// A retry holds its own partition only.
TEST_F(KafkaItest, RetryingRecordHoldsItsPartitionWhileOtherPartitionsContinue) {
  MakeTopics(2);
  Publish(TestEvent("stuck", "item-a"), /*partition=*/0);
  Publish(TestEvent("behind-stuck", "item-b"), /*partition=*/0);
  Publish(TestEvent("free", "item-c"), /*partition=*/1);

  auto consumer = StartConsumer(Options(DecodingHandler([](const docket::v1::Event& e,
                                                           const Record&) {
    return e.id() == "stuck" ? absl::UnavailableError("not yet") : absl::OkStatus();
  })));
  ASSERT_TRUE(consumer->WaitUntil(
      [](const auto& calls) {
        int stuck = 0;
        bool free = false;
        for (const auto& c : calls) {
          stuck += c.record.partition == 0 && !c.status.ok();
          free |= c.record.partition == 1 && c.status.ok();
        }
        return stuck >= 3 && free;
      },
      kWait));
  ASSERT_TRUE(consumer->Stop().ok());
  for (const auto& c : consumer->calls()) {
    if (c.record.partition == 0) {
      EXPECT_EQ(c.record.offset, 0) << "record behind a retry ran";
    }
  }
}

// A partition paused for a retry backoff and then revoked and assigned again
// (an eager rebalance hands every partition back) starts fetching again: the
// pause does not outlive the assignment.
TEST_F(KafkaItest, PartitionPausedForRetryFetchesAgainAfterARebalance) {
  MakeTopics(1);
  const std::string other_topic = topic_ + ".other";
  ASSERT_TRUE(docket::testing::CreateTopics(bootstrap_, {other_topic}, 1).ok());
  Publish(TestEvent("x", "item-x"));

  std::atomic<bool> revoked{false};
  ConsumerOptions o = Options([&revoked](const Record&) {
    return revoked.load() ? absl::OkStatus() : absl::UnavailableError("not yet");
  });
  // Long enough that only the rebalance, not the backoff, can end the wait.
  o.retry_backoff_initial = seconds(600);
  o.retry_backoff_max = seconds(600);
  o.on_revoked = [&revoked](const std::vector<TopicPartition>&) { revoked = true; };
  auto a = StartConsumer(std::move(o));
  ASSERT_TRUE(a->WaitUntil([](const auto& calls) { return !calls.empty(); }, kWait));

  // A second member of the group, on another topic: the eager rebalance
  // revokes a's partition and gives it straight back to a.
  ConsumerOptions other = Options(AcceptAll());
  other.topics = {other_topic};
  auto b = StartConsumer(std::move(other));
  ASSERT_TRUE(a->WaitUntil(
      [](const auto& calls) { return !calls.empty() && calls.back().status.ok(); }, kWait))
      << "the partition stayed paused after it was assigned again";
  ASSERT_TRUE(b->Stop().ok());
  ASSERT_TRUE(a->Stop().ok());
  EXPECT_EQ(a->calls().back().record.offset, 0);
}

// on_assigned may choose where a partition starts (e.g. a restored snapshot).
TEST_F(KafkaItest, OnAssignedOffsetsAreWhereConsumptionStarts) {
  MakeTopics(1);
  for (int i = 0; i < 5; ++i) Publish(TestEvent(absl::StrCat("s", i), "item-s"));
  ConsumerOptions o = Options(AcceptAll());
  const std::string topic = topic_;
  o.on_assigned = [topic](const std::vector<TopicPartition>& tps) {
    std::vector<std::pair<TopicPartition, std::int64_t>> starts;
    for (const auto& tp : tps) {
      if (tp.topic == topic) starts.push_back({tp, 3});
    }
    return starts;
  };
  auto consumer = StartConsumer(std::move(o));
  ASSERT_TRUE(consumer->WaitUntil([](const auto& calls) { return calls.size() >= 2; }, kWait));
  ASSERT_TRUE(consumer->Stop().ok());
  const auto calls = consumer->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].record.offset, 3);
  EXPECT_EQ(calls[1].record.offset, 4);
}

// (d) Two members split the partitions; records published before, during and
// after the rebalance are all handled (at least once).
class KafkaRebalanceItest : public KafkaItest,
                            public ::testing::WithParamInterface<const char*> {};

TEST_P(KafkaRebalanceItest, TwoConsumersSplitPartitionsAndNoRecordIsLost) {
  MakeTopics(4);
  auto options = [&] {
    ConsumerOptions o = Options(AcceptAll());
    o.kafka.extra["partition.assignment.strategy"] = GetParam();
    return o;
  };
  std::set<std::string> want;
  auto publish_batch = [&](const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string id = absl::StrCat(prefix, "-", i);
      want.insert(id);
      Publish(TestEvent(id, absl::StrCat("item-", prefix, "-", i)));
    }
  };
  auto handled_all = [&](const std::vector<RunningConsumer*>& consumers) {
    std::set<std::string> got;
    for (auto* c : consumers) {
      for (const auto& id : EventIds(c->succeeded())) got.insert(id);
    }
    return std::includes(got.begin(), got.end(), want.begin(), want.end());
  };

  auto a = StartConsumer(options());
  ASSERT_TRUE(docket::testing::WaitFor([&] { return a->assignment().size() == 4; }, kWait));
  publish_batch("before", 20);
  ASSERT_TRUE(docket::testing::WaitFor([&] { return handled_all({a.get()}); }, kWait));

  auto b = StartConsumer(options());
  publish_batch("during", 20);
  ASSERT_TRUE(docket::testing::WaitFor(
      [&] {
        auto pa = a->assignment();
        auto pb = b->assignment();
        return !pa.empty() && !pb.empty() && pa.size() + pb.size() == 4;
      },
      kWait))
      << "a has " << a->assignment().size() << ", b has " << b->assignment().size();
  for (const auto& tp : a->assignment()) {
    const auto pb = b->assignment();
    EXPECT_EQ(std::find(pb.begin(), pb.end(), tp), pb.end()) << "partition owned twice";
  }
  publish_batch("after", 20);
  ASSERT_TRUE(docket::testing::WaitFor([&] { return handled_all({a.get(), b.get()}); }, kWait));
  ASSERT_TRUE(a->Stop().ok());
  ASSERT_TRUE(b->Stop().ok());

  // Both members did work after the split.
  std::set<std::string> after_a, after_b;
  for (const auto& id : EventIds(a->succeeded())) {
    if (id.rfind("after-", 0) == 0) after_a.insert(id);
  }
  for (const auto& id : EventIds(b->succeeded())) {
    if (id.rfind("after-", 0) == 0) after_b.insert(id);
  }
  EXPECT_FALSE(after_a.empty());
  EXPECT_FALSE(after_b.empty());
}

INSTANTIATE_TEST_SUITE_P(Strategies, KafkaRebalanceItest,
                         ::testing::Values("range,roundrobin", "cooperative-sticky"),
                         [](const auto& info) {
                           return std::string(info.index == 0 ? "Eager" : "Cooperative");
                         });

// The Prometheus metrics of both sides reach the registry.
TEST_F(KafkaItest, MetricsCountConsumedRecordsDlqAndConsumerLag) {
  MakeTopics(1);
  metrics::MetricsRegistry registry({"kafka-itest", "", ""});
  auto publisher = MakeKafkaPublisher(TestConfig(bootstrap_, "kafka-itest-metrics"), &registry);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE((*publisher)->Publish(topic_, TestEvent("m1", "item-m")).ok());
  Record garbage;
  garbage.topic = topic_;
  garbage.value = "not-an-event";
  ASSERT_TRUE((*publisher)->Publish(garbage).ok());

  ConsumerOptions o = Options(AcceptAll());
  o.kafka.client_id = "kafka-itest-metrics";
  auto consumer = RunningConsumer::Start(std::move(o), **publisher, &registry);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->WaitUntil([](const auto& calls) { return calls.size() >= 2; }, kWait));
  // Lag comes with librdkafka's statistics, every 5 s.
  const std::string lag = absl::StrCat("docket_kafka_consumer_lag{client=\"kafka-itest-metrics\",partition=\"0\",topic=\"", topic_, "\"} 0");
  EXPECT_TRUE(docket::testing::WaitFor(
      [&] { return registry.Serialize().find(lag) != std::string::npos; }, seconds(20)))
      << registry.Serialize();
  EXPECT_THAT(registry.Serialize(),
              HasSubstr("docket_kafka_consumer_assigned_partitions{client=\"kafka-itest-metrics\"} 1"));
  ASSERT_TRUE((*consumer)->Stop().ok());

  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr("docket_kafka_consumer_assigned_partitions{client=\"kafka-itest-metrics\"} 0"))
      << "a member that left still counts its partitions";
  EXPECT_THAT(text, HasSubstr(absl::StrCat("docket_kafka_records_consumed_total{client=\"kafka-itest-metrics\",result=\"ok\",topic=\"", topic_, "\"} 1")));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("docket_kafka_records_consumed_total{client=\"kafka-itest-metrics\",result=\"dlq\",topic=\"", topic_, "\"} 1")));
  EXPECT_THAT(text, HasSubstr("docket_kafka_dlq_records_total{client=\"kafka-itest-metrics\",reason_class=\"invalid_argument\"} 1"));
  EXPECT_THAT(text, HasSubstr("docket_kafka_produce_latency_seconds_count{client=\"kafka-itest-metrics\"} 3"));
}

// A record of a priority topic is handled before the backlog of another
// topic that was fetched before it (processing: verdicts before a burst of
// submissions). The backlog's handler takes 1 ms a record (a slow handler, as
// routing is), so without priority the verdict would wait for all 4,000.
TEST_F(KafkaItest, PriorityTopicRecordOvertakesTheBacklogOfAnotherTopicAndOrderHoldsWithinPartitions) {
  MakeTopics(2);
  const std::string verdicts = docket::testing::UniqueName("kafka-itest-verdicts");
  ASSERT_TRUE(docket::testing::CreateTopics(bootstrap_, {verdicts}, 1).ok());
  constexpr int kBacklog = 4000;
  std::atomic<int> failed{0};
  for (int i = 0; i < kBacklog; ++i) {
    Record r = EncodeEvent(topic_, TestEvent(absl::StrCat("backlog-", i), absl::StrCat("item-", i % 2)));
    r.partition = i % 2;
    publisher_->PublishAsync(std::move(r), [&](absl::Status st) { if (!st.ok()) ++failed; });
  }
  ASSERT_TRUE(publisher_->Flush(kWait).ok());
  ASSERT_EQ(failed.load(), 0);

  ConsumerOptions o = Options(AcceptAll());
  o.topics = {topic_, verdicts};
  o.priority_topics = {verdicts};
  const std::string backlog_topic = topic_;
  o.handler = [backlog_topic](const Record& r) {
    if (r.topic == backlog_topic) std::this_thread::sleep_for(milliseconds(1));
    return absl::OkStatus();
  };
  auto consumer = StartConsumer(std::move(o));
  ASSERT_NE(consumer, nullptr);
  // The verdict is produced once the backlog is being handled (all of it
  // fetched already: it is ~1 MB).
  ASSERT_TRUE(consumer->WaitUntil([](const auto& calls) { return calls.size() >= 10; }, kWait));
  Record verdict = EncodeEvent(verdicts, TestEvent("verdict-1", "item-0"));
  ASSERT_TRUE(publisher_->Publish(std::move(verdict)).ok());
  ASSERT_TRUE(consumer->WaitUntil(
      [&](const auto& calls) {
        return std::any_of(calls.begin(), calls.end(), [&](const auto& c) { return c.record.topic == verdicts; });
      },
      kWait));
  ASSERT_TRUE(consumer->Stop().ok());

  const auto calls = consumer->calls();
  const auto at = std::find_if(calls.begin(), calls.end(), [&](const auto& c) { return c.record.topic == verdicts; });
  const auto before = std::distance(calls.begin(), at);
  EXPECT_LT(before, kBacklog / 4) << "the verdict waited behind " << before << " backlog records";
  // Within each backlog partition, offsets were handled in order.
  std::map<std::int32_t, std::int64_t> last;
  for (const auto& c : calls) {
    if (c.record.topic != topic_) continue;
    auto [it, fresh] = last.try_emplace(c.record.partition, c.record.offset);
    if (!fresh) {
      EXPECT_EQ(c.record.offset, it->second + 1) << "partition " << c.record.partition;
      it->second = c.record.offset;
    }
  }
}

TEST_F(KafkaItest, PriorityTopicOutsideTheConsumersTopicsIsRefusedNamingIt) {
  MakeTopics(1);
  ConsumerOptions o = Options(AcceptAll());
  o.priority_topics = {"not-subscribed"};
  auto c = MakeKafkaConsumer(std::move(o), *publisher_, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("not-subscribed"));
}

// A batch handler gets what is already fetched together (up to max_batch);
// each record's status counts on its own: poison goes to the DLQ and the
// partition moves on, while a retryable one holds its partition (the records
// behind it in the batch do not count as done, whatever their status) and
// the other partition goes on. What is committed stops at the failing record:
// the next member of the group starts there.
TEST_F(KafkaItest, BatchHandlerGetsFetchedRecordsTogetherAndNothingPastARetryingRecordIsCommitted) {
  MakeTopics(2);
  constexpr int kPerPartition = 300;
  constexpr int kMaxBatch = 50;
  std::atomic<int> failed{0};
  for (int i = 0; i < kPerPartition; ++i) {
    for (int p = 0; p < 2; ++p) {
      Record r = EncodeEvent(topic_, TestEvent(absl::StrCat("p", p, "-", i), "item"));
      r.partition = p;
      publisher_->PublishAsync(std::move(r), [&](absl::Status st) { if (!st.ok()) ++failed; });
    }
  }
  ASSERT_TRUE(publisher_->Flush(kWait).ok());
  ASSERT_EQ(failed.load(), 0);

  ConsumerOptions o = Options(nullptr);
  o.max_batch = kMaxBatch;
  o.batch_handler = DecodingBatchHandler([](const std::vector<const docket::v1::Event*>& events,
                                             const std::vector<const Record*>&) {
    std::vector<absl::Status> out;
    for (const auto* e : events) {
      out.push_back(e->id() == "p0-100"   ? absl::InvalidArgumentError("poison")
                    : e->id() == "p0-200" ? absl::UnavailableError("not yet")
                                          : absl::OkStatus());
    }
    return out;
  });
  auto first = StartConsumer(std::move(o));
  ASSERT_NE(first, nullptr);
  auto id_of = [](const Record& r) { return DecodeEvent(r)->id(); };
  ASSERT_TRUE(first->WaitUntil(
      [&](const auto& calls) {
        int retries = 0;
        std::set<std::int64_t> p1;
        for (const auto& c : calls) {
          retries += c.record.partition == 0 && c.record.offset == 200;
          if (c.record.partition == 1 && c.status.ok()) p1.insert(c.record.offset);
        }
        return retries >= 3 && p1.size() == kPerPartition;
      },
      kWait));
  ASSERT_TRUE(first->Stop().ok());

  const std::vector<int> batches = first->batches();
  ASSERT_FALSE(batches.empty());
  EXPECT_LE(*std::max_element(batches.begin(), batches.end()), kMaxBatch);
  EXPECT_GT(*std::max_element(batches.begin(), batches.end()), 1) << "records fetched together came one by one";
  const auto calls = first->calls();
  EXPECT_EQ(std::count_if(calls.begin(), calls.end(), [&](const auto& c) { return id_of(c.record) == "p0-100"; }), 1)
      << "a poison record is handled once";
  // Partition 0 came in offset order, rewinding to the retrying record only.
  std::int64_t last = -1;
  for (const auto& c : calls) {
    if (c.record.partition != 0) continue;
    if (c.record.offset <= last) {
      EXPECT_EQ(c.record.offset, 200) << "rewound elsewhere than to the retrying record";
    }
    last = c.record.offset;
  }

  // The next member starts at the record that never succeeded, on partition
  // 0 only: records behind it that shared its batch were not committed.
  auto next = StartConsumer(Options(AcceptAll()));
  ASSERT_NE(next, nullptr);
  ASSERT_TRUE(next->WaitUntil([](const auto& calls) { return calls.size() >= kPerPartition - 200; }, kWait));
  ASSERT_TRUE(next->Stop().ok());
  const auto again = next->calls();
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.front().record.partition, 0);
  EXPECT_EQ(again.front().record.offset, 200);
  std::set<std::int64_t> offsets;
  for (const auto& c : again) {
    EXPECT_EQ(c.record.partition, 0) << "partition 1 was committed to its end";
    offsets.insert(c.record.offset);
  }
  EXPECT_EQ(offsets.size(), static_cast<std::size_t>(kPerPartition - 200));
}

// ReadTopic: what a topic holds when the read starts, every partition in
// offset order, outside any group; an unknown topic and a failing callback
// are errors that say so.
TEST_F(KafkaItest, ReadTopicReadsEveryRecordHeldAtItsStartInOffsetOrderPerPartition) {
  MakeTopics(3);
  std::map<std::int32_t, int> sent;
  for (int i = 0; i < 30; ++i) {
    ASSERT_NO_FATAL_FAILURE(Publish(testutil::TestEvent(absl::StrCat("evt-", i), "item"), i % 3));
    ++sent[i % 3];
  }
  std::map<std::int32_t, std::vector<std::int64_t>> offsets;
  std::set<std::string> keys;
  absl::Status s = ReadTopic(TestConsumerConfig(bootstrap_, "kafka-itest-reader"), topic_, seconds(30),
                             [&](const Record& r) {
                               offsets[r.partition].push_back(r.offset);
                               keys.insert(r.key);
                               return absl::OkStatus();
                             });
  ASSERT_TRUE(s.ok()) << s;
  for (const auto& [p, n] : sent) {
    std::vector<std::int64_t> want(n);
    for (int i = 0; i < n; ++i) want[i] = i;
    EXPECT_EQ(offsets[p], want) << "partition " << p;
  }
  EXPECT_EQ(keys, std::set<std::string>{"item"});

  absl::Status unknown = ReadTopic(TestConsumerConfig(bootstrap_, "kafka-itest-reader"),
                                   topic_ + ".never-made", seconds(30), [](const Record&) { return absl::OkStatus(); });
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound) << unknown;
  EXPECT_THAT(std::string(unknown.message()), HasSubstr(topic_ + ".never-made"));

  int seen = 0;
  absl::Status stopped = ReadTopic(TestConsumerConfig(bootstrap_, "kafka-itest-reader"), topic_, seconds(30),
                                   [&](const Record&) {
                                     return ++seen == 5 ? absl::DataLossError("record 5 is bad") : absl::OkStatus();
                                   });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(seen, 5) << "nothing is read after the callback's error";
}

// The timeout is how long the read may go without a record, not a budget
// for the whole topic: a read slower in total than the timeout, but never
// stalled, reaches the end (the daily verification of a long audit topic).
TEST_F(KafkaItest, ReadTopicTakesAsLongAsTheTopicNeedsWhileRecordsKeepComing) {
  MakeTopics(1);
  constexpr int kRecords = 40;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_NO_FATAL_FAILURE(Publish(testutil::TestEvent(absl::StrCat("slow-", i), "item"), 0));
  }
  int seen = 0;
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = ReadTopic(TestConsumerConfig(bootstrap_, "kafka-itest-reader"), topic_, seconds(3),
                             [&](const Record&) {
                               ++seen;
                               std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a slow consumer
                               return absl::OkStatus();
                             });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, kRecords);
  EXPECT_GT(std::chrono::steady_clock::now() - start, seconds(3)) << "the read outlasted the timeout";
}

TEST_F(KafkaItest, ConsumerNeedsExactlyOneHandlerAndAPositiveBatchSize) {
  MakeTopics(1);
  auto refused = [&](ConsumerOptions o, const std::string& what) {
    auto c = MakeKafkaConsumer(std::move(o), *publisher_, nullptr);
    ASSERT_FALSE(c.ok()) << what;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(what));
  };
  refused(Options(nullptr), "exactly one of handler and batch_handler");
  ConsumerOptions both = Options(AcceptAll());
  both.batch_handler = [](const std::vector<const Record*>& r) { return std::vector<absl::Status>(r.size()); };
  refused(std::move(both), "exactly one of handler and batch_handler");
  ConsumerOptions zero = Options(AcceptAll());
  zero.max_batch = 0;
  refused(std::move(zero), "max_batch");
}

}  // namespace
}  // namespace docket::kafka
