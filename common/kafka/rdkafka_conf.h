#pragma once

// Shared set-up of librdkafka handles, for rdkafka_publisher.cc,
// rdkafka_consumer.cc and topic_reader.cc only. librdkafka's types stay opaque here: rdkafka.h is
// included by the implementation files alone.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/kafka/internal.h"
#include "common/kafka/record.h"

struct rd_kafka_conf_s;
struct rd_kafka_message_s;
struct rd_kafka_s;

namespace docket::kafka::internal {

// A new rd_kafka_conf_t with `props` applied and librdkafka's log lines routed
// to Docket's JSON logger ("kafka"). INVALID_ARGUMENT names the property; the
// value is never echoed for keys that came from `extra` (they may be secrets;
// librdkafka's own message quotes the value, so it is dropped for those).
absl::StatusOr<rd_kafka_conf_s*> NewConf(const Properties& props,
                                          const std::map<std::string, std::string>& extra);

// The log_cb NewConf installs: a librdkafka log line into Docket's logger.
void LogLine(const rd_kafka_s* rk, int level, const char* facility, const char* line);

// Logs a librdkafka error_cb report; returns true if it is fatal for the handle.
bool LogClientError(rd_kafka_s* rk, int err, const char* reason);

// Fills `r` from a consumed message, reusing the memory its strings already
// hold (a consumer keeps one Record and refills it for every message).
void ToRecord(const rd_kafka_message_s* msg, Record& r);

}  // namespace docket::kafka::internal
