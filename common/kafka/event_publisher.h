#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/record.h"

namespace docket::metrics {
class MetricsRegistry;
}

namespace docket::kafka {

// Writes records to Kafka. Idempotent producer, acks=all: a record is
// acknowledged only after every in-sync replica has it.
//
// Thread-safe. Errors: UNAVAILABLE or DEADLINE_EXCEEDED when the broker did
// not confirm in time (retryable: the caller may publish again, consumers
// drop duplicates by event id); INVALID_ARGUMENT for a record the broker can
// never take (too large, unknown topic); PERMISSION_DENIED / UNAUTHENTICATED
// for ACL or credential problems; INTERNAL when the producer hit a fatal
// error (idempotence fenced) and the process should restart.
class EventPublisher {
 public:
  using Done = std::function<void(absl::Status)>;
  virtual ~EventPublisher() = default;

  // Queues the record; `done` runs exactly once, on a librdkafka thread,
  // after the broker confirmed or the delivery failed. A record refused at
  // once (too large, producer queue still full after ~1 s of retrying) fails
  // the same way, never on the caller's thread. `done` must not block on
  // another publish (it runs on the thread that delivers confirmations).
  virtual void PublishAsync(Record record, Done done) = 0;

  // Blocks until the broker confirmed (acks=all) or the delivery failed,
  // at most KafkaConfig::delivery_timeout_ms. Not from inside a `done`.
  absl::Status Publish(Record record);
  absl::Status Publish(std::string_view topic, const docket::v1::Event& event) {
    return Publish(EncodeEvent(topic, event));
  }

  // Publishes every record at once and waits for their confirmations: one
  // status per record, in order. Past `deadline` the wait ends, and a record
  // not confirmed by then is DEADLINE_EXCEEDED (it may still land later).
  // Not from inside a `done`.
  std::vector<absl::Status> PublishAll(
      std::vector<Record> records,
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

  // Waits for everything queued to be confirmed; DEADLINE_EXCEEDED if not in time.
  virtual absl::Status Flush(std::chrono::milliseconds timeout) = 0;

  // Asks the cluster for metadata: OK if a broker answered within `timeout`,
  // UNAVAILABLE otherwise (used for start-up and readiness checks).
  virtual absl::Status CheckConnection(std::chrono::milliseconds timeout) = 0;
};

// The librdkafka implementation (enable.idempotence, acks=all, linger.ms=5,
// murmur2 partitioner; KafkaConfig::extra may not weaken idempotence or acks).
// `metrics` may be null; when set the producer exports
// docket_kafka_produce_errors_total{client,reason},
// docket_kafka_produce_latency_seconds{client} and
// docket_kafka_producer_queue_messages{client}. Destroying it waits up to 5 s
// for confirmations, then fails what is left with UNAVAILABLE.
absl::StatusOr<std::unique_ptr<EventPublisher>> MakeKafkaPublisher(
    const KafkaConfig& config, metrics::MetricsRegistry* metrics);

}  // namespace docket::kafka
