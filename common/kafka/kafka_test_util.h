#pragma once

// Helpers shared by the Kafka integration tests: a sample event, client
// settings that keep tests quick, and a consumer running on its own thread
// that records what its handler saw.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/record.h"

namespace docket::kafka::testutil {

// A Submitted event with every CloudEvents attribute set.
docket::v1::Event TestEvent(const std::string& id, const std::string& subject);

// Producer settings for tests.
KafkaConfig TestConfig(const std::string& brokers, const std::string& client_id);
// Consumer settings for tests: short fetch waits and heartbeats so rebalances
// and empty fetches (devkafka waits the full fetch.wait.max.ms) stay quick.
KafkaConfig TestConsumerConfig(const std::string& brokers, const std::string& client_id);

// Runs MakeKafkaConsumer(options, dlq) on a thread. The handler (or batch
// handler) in `options` is wrapped: every record handed to it and its result
// are recorded, and the size of each batch.
class RunningConsumer {
 public:
  struct Call {
    Record record;
    absl::Status status;
  };

  static absl::StatusOr<std::unique_ptr<RunningConsumer>> Start(
      ConsumerOptions options, EventPublisher& dlq, metrics::MetricsRegistry* metrics = nullptr);
  ~RunningConsumer();

  // Stop() and join; returns what Run() returned.
  absl::Status Stop();

  std::vector<Call> calls() const;
  // Records the handler returned OK for.
  std::vector<Record> succeeded() const;
  // The partitions currently assigned (per on_assigned / on_revoked).
  std::vector<TopicPartition> assignment() const;
  int rebalances() const;
  // Sizes of the batches handed to a batch handler, in order.
  std::vector<int> batches() const;

  // Polls until `pred(calls())` holds or `timeout` passes.
  bool WaitUntil(const std::function<bool(const std::vector<Call>&)>& pred,
                 std::chrono::milliseconds timeout) const;

 private:
  RunningConsumer() = default;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
  std::vector<int> batches_;
  std::vector<TopicPartition> assignment_;
  int rebalances_ = 0;
  std::unique_ptr<EventConsumer> consumer_;
  std::thread thread_;
  absl::Status run_status_;
  bool stopped_ = false;
};

}  // namespace docket::kafka::testutil
