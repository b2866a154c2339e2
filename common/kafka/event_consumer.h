#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/record.h"

namespace docket::metrics {
class MetricsRegistry;
}

namespace docket::kafka {

// What a handler's status means to the consumer:
//  - OK: the record's effects are done; its offset may be committed.
//  - INVALID_ARGUMENT or DATA_LOSS mean "poison": this record can never
//    succeed. It goes to the DLQ (headers docket_dlq_reason, docket_dlq_source_topic,
//    docket_dlq_source_partition, docket_dlq_source_offset, docket_dlq_consumer_group,
//    plus the original headers), then its offset is committed.
//  - anything else is retryable: nothing is committed, the same record is
//    handed to the handler again after a backoff (capped), and the partition
//    waits; on restart the record is consumed again.
using RecordHandler = std::function<absl::Status(const Record&)>;

// Handles the records already fetched, up to ConsumerOptions::max_batch, in
// one call, so a handler can share round trips among them (one Redis
// pipeline for the lot, say). Returns one status per record, in order, each
// meaning what a RecordHandler's status means. Records of one partition come
// in offset order; once a record's status is retryable, the later records
// of its partition in the batch count as not handled whatever their status
// (they are delivered again after it), so a handler may see a record twice,
// as at-least-once delivery allows anyway.
using BatchHandler = std::function<std::vector<absl::Status>(const std::vector<const Record*>&)>;

// Adapts a handler of decoded envelopes; undecodable records are poison.
// The envelope is valid during the call only (one is reused per thread).
// With `handled` (payload kinds), the handler sees only those; a record whose
// ce_type header names any other type is done without being decoded: the part
// of a topic a consumer does not act on (its own lifecycle events, say) costs
// a header compare, not a parse. A record without a ce_type header is
// decoded, so a malformed one is still poison, as is one of a handled type.
using EventHandler = std::function<absl::Status(const docket::v1::Event&, const Record&)>;
RecordHandler DecodingHandler(EventHandler handler,
                              const std::vector<docket::v1::Event::PayloadCase>& handled = {});

// The same for a batch: the handler gets the decoded envelopes of the
// records it handles and, at the same index, the record each came from (its
// topic, partition, offset, headers); both valid during the call only. It
// returns one status for each; skipped records are OK, undecodable ones
// poison, without it.
using EventBatchHandler = std::function<std::vector<absl::Status>(
    const std::vector<const docket::v1::Event*>& events, const std::vector<const Record*>& records)>;
BatchHandler DecodingBatchHandler(EventBatchHandler handler,
                                  const std::vector<docket::v1::Event::PayloadCase>& handled = {});

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
};

struct ConsumerOptions {
  KafkaConfig kafka;
  std::string group_id;
  std::vector<std::string> topics;
  // Where poison records go (Topics().dlq()).
  std::string dlq_topic;
  // Exactly one of the two: `handler` takes records one at a time (the
  // consumer still fetches them in batches, and stops calling it for a
  // partition once a record of it failed retryably), `batch_handler` takes
  // up to `max_batch` at once. The consumer never waits to fill a batch.
  RecordHandler handler;
  BatchHandler batch_handler;
  int max_batch = 64;
  // Backoff between retries of a failing record.
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{5000};
  // Optional: called on assignment (before any record of those partitions is
  // handled). May return the offsets to start from (e.g. restored from a
  // snapshot); partitions not returned start from the committed offset.
  std::function<std::vector<std::pair<TopicPartition, std::int64_t>>(
      const std::vector<TopicPartition>&)>
      on_assigned;
  // Optional: called on revocation after in-flight records are done and
  // their offsets committed.
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
  // Optional, a subset of `topics`: their records are handled before any
  // record of the other topics already fetched, so a backlog on one topic (a
  // burst of submissions) never holds back another's (verdicts). Records of
  // one partition stay in order.
  std::vector<std::string> priority_topics;
};

// A consumer-group member with at-least-once delivery: an offset is committed
// only after the handler succeeded (or the record went to the DLQ), a
// rebalance commits what is done before giving partitions up, and a poison
// record never blocks its partition.
//
// The handler, on_assigned and on_revoked all run on the Run() thread, one
// record (or batch) at a time, in order within a partition. Done offsets are committed
// synchronously when the consumer is idle, at least every second while busy,
// on revocation and on Stop(); a crash re-delivers at most that much. A
// retrying partition is paused and rewound (seek) while the other partitions
// go on. Eager rebalancing by default; cooperative-sticky works when set in
// KafkaConfig::extra (partition.assignment.strategy). A new group starts
// from the earliest offset (auto.offset.reset=earliest unless extra says
// otherwise).
class EventConsumer {
 public:
  virtual ~EventConsumer() = default;
  // Polls and handles records on the calling thread until Stop(). Returns OK
  // after committing processed offsets and leaving the group; an error only
  // when it cannot subscribe, or on a fatal client error. Call once.
  virtual absl::Status Run() = 0;
  // Thread-safe; makes Run() return soon.
  virtual void Stop() = 0;
};

// `dlq` publishes poison records; `metrics` may be null, else exported:
// docket_kafka_consumer_lag{client,topic,partition} (librdkafka statistics,
// every 5 s; 0 once the partition is revoked), docket_kafka_records_consumed_total
// {client,topic,result=ok|retry|dlq}, docket_kafka_dlq_records_total
// {client,reason_class=invalid_argument|data_loss} and
// docket_kafka_consumer_offset_resets_total{client,topic} (the group's
// position was deleted by retention and records were skipped; also logged as
// an error). Consumers of different
// groups in one process should use distinct client ids (the labels do not
// name the group). INVALID_ARGUMENT for no handler or two, max_batch < 1, an
// empty topic list, dlq_topic or group_id, or for extra properties that would
// auto-commit.
absl::StatusOr<std::unique_ptr<EventConsumer>> MakeKafkaConsumer(
    ConsumerOptions options, EventPublisher& dlq, metrics::MetricsRegistry* metrics);

}  // namespace docket::kafka
