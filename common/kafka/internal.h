#pragma once

// Pieces of the librdkafka implementations that are pure logic, kept apart so
// unit tests cover them without a broker. Not for services: use
// event_publisher.h / event_consumer.h.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/record.h"

namespace docket::kafka::internal {

// DLQ headers added to a poison record (the original headers are kept).
inline constexpr std::string_view kDlqReason = "docket_dlq_reason";
inline constexpr std::string_view kDlqSourceTopic = "docket_dlq_source_topic";
inline constexpr std::string_view kDlqSourcePartition = "docket_dlq_source_partition";
inline constexpr std::string_view kDlqSourceOffset = "docket_dlq_source_offset";
inline constexpr std::string_view kDlqConsumerGroup = "docket_dlq_consumer_group";

using Properties = std::vector<std::pair<std::string, std::string>>;

// librdkafka properties of the producer, in the order they are applied
// (Docket's defaults, then config.extra). INVALID_ARGUMENT (naming the key,
// never the value) when `extra` tries to weaken a delivery guarantee
// (enable.idempotence, acks) or sets a property Docket owns (bootstrap.servers,
// client.id).
absl::StatusOr<Properties> PublisherProperties(const KafkaConfig& config, bool statistics);

// The same for a consumer: group.id, enable.auto.commit=false,
// enable.auto.offset.store=false, auto.offset.reset=earliest (a new group
// reads the history) unless extra says otherwise.
absl::StatusOr<Properties> ConsumerProperties(const ConsumerOptions& options, bool statistics);

// Maps a librdkafka error code (rd_kafka_resp_err_t as int) to a canonical
// status whose message starts with `what`:
//   timeouts                                      -> DEADLINE_EXCEEDED
//   transport, brokers down, leader moves, queue
//   full, purged, not enough replicas, unknown    -> UNAVAILABLE (retryable)
//   message too large, unknown topic/partition,
//   invalid record                                -> INVALID_ARGUMENT (never succeeds)
//   authorization / authentication failures       -> PERMISSION_DENIED / UNAUTHENTICATED
//   fatal (idempotent producer fenced, ...)       -> INTERNAL (restart the process)
absl::Status StatusFromKafkaError(int err, std::string_view what);

// A bounded metric label for a librdkafka error code, e.g. "msg_timed_out".
std::string KafkaErrorReason(int err);

// INVALID_ARGUMENT or DATA_LOSS: the record can never be handled.
bool IsPoison(const absl::Status& status);

// The topic of a librdkafka log line that reports a consumer's offset reset
// after an error ("[thrd:main]: <topic> [<partition>]: offset reset (at offset ...) to
// offset BEGINNING ...: Offset out of range", facility OFFSET, a warning):
// the position the group had reached is no longer on the broker (retention
// deleted records the group had not read), so those records are skipped.
// nullopt for every other line.
std::optional<std::string> OffsetResetTopic(int level, std::string_view facility, std::string_view line);

// "invalid_argument" / "data_loss" (the metric's reason_class label).
std::string PoisonClass(const absl::Status& status);

// The record written to the DLQ for a poison `source`: same key, value and
// headers (minus any docket_dlq_* of an earlier trip), plus the docket_dlq_*
// headers. Partition is left to the partitioner.
Record MakeDlqRecord(const Record& source, const absl::Status& reason,
                     std::string_view dlq_topic, std::string_view consumer_group);

// Backoff before retry number `attempt` (1-based): initial * 2^(attempt-1),
// capped at `max`.
std::chrono::milliseconds RetryBackoff(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max);

struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t lag = 0;
  bool operator==(const PartitionLag&) const = default;
};

// Consumer lag per partition from a librdkafka statistics JSON document
// (topics.<t>.partitions.<p>.consumer_lag). Skips the internal partition -1
// and partitions whose lag is unknown (-1). Malformed JSON yields nothing.
std::vector<PartitionLag> ParseConsumerLag(std::string_view stats_json);

// Messages waiting in the producer (statistics "msg_cnt"), if present.
std::optional<std::int64_t> ParseProducerQueueMessages(std::string_view stats_json);

}  // namespace docket::kafka::internal
