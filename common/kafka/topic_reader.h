#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/record.h"

namespace docket::kafka {

// Reads every record `topic` holds when the call starts: each partition from
// its first retained offset to its end as of then (records written later are
// not waited for), outside any consumer group (nothing is committed). `each`
// sees the records of one partition in offset order, partitions interleaved;
// the record is valid during the call only. Stops at the first error `each`
// returns and returns it.
// NOT_FOUND for a topic the cluster does not know; UNAVAILABLE when no
// broker answers; DEADLINE_EXCEEDED (naming how far each unfinished
// partition got) when `timeout` passes without a record before the end (a
// stalled read). A read that keeps making progress takes as long as the
// topic needs: a years-long audit topic is read whole.
absl::Status ReadTopic(const KafkaConfig& config, const std::string& topic, std::chrono::milliseconds timeout,
                       const std::function<absl::Status(const Record&)>& each);

}  // namespace docket::kafka
