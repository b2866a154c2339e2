#pragma once

// Plain-librdkafka probes for integration tests: produce a record, read a
// topic back, look at cluster metadata. They are independent of Docket's own
// Kafka code (common/kafka), so a test can check what really is on a topic
// and prove a broker fixture usable. Each call opens and closes its own
// client; none is fast, all are blocking with a deadline.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace docket::testing {

// librdkafka properties, e.g. {"message.timeout.ms", "2000"}.
using KafkaConfig = std::map<std::string, std::string>;
// Record headers, in order (a name may repeat).
using Headers = std::vector<std::pair<std::string, std::string>>;

struct ProducedRecord {
  int32_t partition = -1;
  int64_t offset = -1;
};

// Produces one record and waits for its delivery report. On failure the
// message holds librdkafka's error name (e.g. "TOPIC_AUTHORIZATION_FAILED",
// "_MSG_TIMED_OUT"); the code is UNAVAILABLE for retriable errors and
// timeouts, FAILED_PRECONDITION otherwise. `partition` -1 = by key, as
// Docket's producers do (murmur2).
absl::StatusOr<ProducedRecord> ProduceOne(const std::string& bootstrap, const std::string& topic,
                                          const std::string& key, const std::string& value,
                                          int32_t partition = -1, const KafkaConfig& config = {},
                                          const Headers& headers = {});

struct ConsumedRecord {
  std::string key;
  std::string value;
  Headers headers;
  int32_t partition = -1;
  int64_t offset = -1;
};

// Reads every partition of `topic` from the beginning until `count` records
// arrived or `timeout` passed (DEADLINE_EXCEEDED then, with how many came).
absl::StatusOr<std::vector<ConsumedRecord>> ConsumeFromBeginning(
    const std::string& bootstrap, const std::string& topic, std::size_t count,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct PartitionInfo {
  int32_t id = -1;
  int32_t leader = -1;
};
struct ClusterInfo {
  std::vector<int32_t> broker_ids;
  std::map<std::string, std::vector<PartitionInfo>> topics;
};

// How many records `topic` holds: the sum over its partitions of high minus
// low watermark. Exact for topics without transactions, and immediate: a
// record an acks=all producer had confirmed is counted.
absl::StatusOr<std::int64_t> TopicRecordCount(const std::string& bootstrap, const std::string& topic);

// One metadata request for all topics (never auto-creates one).
absl::StatusOr<ClusterInfo> DescribeCluster(const std::string& bootstrap);

}  // namespace docket::testing
