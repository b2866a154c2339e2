#include "common/kafka/internal.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace docket::kafka::internal {
namespace {

// Properties whose value carries a delivery guarantee: `extra` may repeat
// them with the same value but not change them.
// `side` is "producer" or "consumer": a key prefixed with the other side
// ("consumer.fetch.wait.max.ms" for a producer) is skipped, and this side's
// prefix is stripped, so one properties file serves both without librdkafka
// warning about properties of the other kind.
absl::Status ApplyExtra(Properties& props, const std::map<std::string, std::string>& extra,
                        std::string_view side, const std::set<std::string>& guarded,
                        const std::set<std::string>& owned) {
  for (const auto& [prefixed, value] : extra) {
    std::string key = prefixed;
    if (absl::StartsWith(key, "producer.") || absl::StartsWith(key, "consumer.")) {
      if (!absl::StartsWith(key, std::string(side) + ".")) continue;
      key = key.substr(side.size() + 1);
    }
    if (owned.count(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property ", key, " is set by Docket's own configuration; "
                       "remove it from the extra properties"));
    }
    auto it = std::find_if(props.begin(), props.end(),
                           [&key](const auto& p) { return p.first == key; });
    if (guarded.count(key) && it != props.end() && it->second != value) {
      // The value is not named: extra properties may be secrets.
      return absl::InvalidArgumentError(absl::StrCat(
          "kafka property ", key, " must stay \"", it->second,
          "\": Docket's delivery guarantees depend on it"));
    }
    if (it != props.end()) {
      it->second = value;
    } else {
      props.emplace_back(key, value);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Properties> PublisherProperties(const KafkaConfig& config, bool statistics) {
  if (config.brokers.empty()) {
    return absl::InvalidArgumentError("kafka brokers are empty (DOCKET_KAFKA_BROKERS)");
  }
  if (config.delivery_timeout_ms <= 0) {
    return absl::InvalidArgumentError("kafka delivery_timeout_ms must be positive");
  }
  Properties props = {
      {"bootstrap.servers", config.brokers},
      {"client.id", config.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", std::to_string(config.linger_ms)},
      // Java's default partitioner, so other producers put a key where we do.
      {"partitioner", "murmur2_random"},
      {"message.timeout.ms", std::to_string(config.delivery_timeout_ms)},
  };
  if (statistics) props.emplace_back("statistics.interval.ms", "5000");
  if (absl::Status s = ApplyExtra(props, config.extra, "producer", {"enable.idempotence", "acks"},
                                  {"bootstrap.servers", "client.id"});
      !s.ok()) {
    return s;
  }
  return props;
}

absl::StatusOr<Properties> ConsumerProperties(const ConsumerOptions& options, bool statistics) {
  if (options.kafka.brokers.empty()) {
    return absl::InvalidArgumentError("kafka brokers are empty (DOCKET_KAFKA_BROKERS)");
  }
  if (options.group_id.empty()) return absl::InvalidArgumentError("consumer group_id is empty");
  Properties props = {
      {"bootstrap.servers", options.kafka.brokers},
      {"client.id", options.kafka.client_id},
      {"group.id", options.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
  };
  if (statistics) props.emplace_back("statistics.interval.ms", "5000");
  if (absl::Status s =
          ApplyExtra(props, options.kafka.extra, "consumer",
                     {"enable.auto.commit", "enable.auto.offset.store"},
                     {"bootstrap.servers", "client.id", "group.id"});
      !s.ok()) {
    return s;
  }
  return props;
}

absl::Status StatusFromKafkaError(int code, std::string_view what) {
  const auto err = static_cast<rd_kafka_resp_err_t>(code);
  const std::string msg =
      absl::StrCat(std::string(what), ": ", rd_kafka_err2name(err), " (", rd_kafka_err2str(err), ")");
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::OkStatus();
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(msg);
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return absl::InvalidArgumentError(msg);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
      return absl::PermissionDeniedError(msg);
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return absl::UnauthenticatedError(msg);
    case RD_KAFKA_RESP_ERR__FATAL:
      return absl::InternalError(msg);
    default:
      // Transport, all brokers down, leader changes, not enough replicas,
      // queue full, purged on shutdown, and anything unforeseen: librdkafka
      // has retried what it could; publishing again may succeed.
      return absl::UnavailableError(msg);
  }
}

std::string KafkaErrorReason(int code) {
  std::string name = rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
  name.erase(0, name.find_first_not_of('_'));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name.empty() ? "unknown" : name;
}

std::optional<std::string> OffsetResetTopic(int level, std::string_view facility, std::string_view line) {
  // librdkafka logs resets caused by an error as warnings (syslog level 4);
  // a group's first start without a committed offset is only debug-logged.
  if (level > 4 || facility != "OFFSET") return std::nullopt;
  // The line starts with the thread that logged it: "[thrd:main]: ".
  if (line.starts_with("[thrd:")) {
    const std::size_t end = line.find("]: ");
    if (end == std::string_view::npos) return std::nullopt;
    line.remove_prefix(end + 3);
  }
  const std::size_t bracket = line.find(" [");
  if (bracket == std::string_view::npos || bracket == 0) return std::nullopt;
  const std::size_t colon = line.find("]: offset reset ", bracket);
  if (colon == std::string_view::npos) return std::nullopt;
  return std::string(line.substr(0, bracket));
}

bool IsPoison(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kDataLoss;
}

std::string PoisonClass(const absl::Status& status) {
  return status.code() == absl::StatusCode::kDataLoss ? "data_loss" : "invalid_argument";
}

Record MakeDlqRecord(const Record& source, const absl::Status& reason,
                     std::string_view dlq_topic, std::string_view consumer_group) {
  Record out;
  out.topic = std::string(dlq_topic);
  out.key = source.key;
  out.value = source.value;
  for (const auto& h : source.headers) {
    if (h.key.rfind("docket_dlq_", 0) == 0) continue;  // from an earlier trip
    out.headers.push_back(h);
  }
  auto add = [&out](std::string_view key, std::string value) {
    out.headers.push_back(Header{std::string(key), std::move(value)});
  };
  add(kDlqReason, reason.ToString());
  add(kDlqSourceTopic, source.topic);
  add(kDlqSourcePartition, std::to_string(source.partition));
  add(kDlqSourceOffset, std::to_string(source.offset));
  add(kDlqConsumerGroup, std::string(consumer_group));
  return out;
}

std::chrono::milliseconds RetryBackoff(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max) {
  if (initial <= std::chrono::milliseconds::zero()) initial = std::chrono::milliseconds(1);
  if (max < initial) max = initial;
  std::chrono::milliseconds backoff = initial;
  for (int i = 1; i < attempt && backoff < max; ++i) backoff *= 2;
  return std::min(backoff, max);
}

std::vector<PartitionLag> ParseConsumerLag(std::string_view stats_json) {
  std::vector<PartitionLag> out;
  const auto doc = nlohmann::json::parse(stats_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return out;
  auto topics = doc.find("topics");
  if (topics == doc.end() || !topics->is_object()) return out;
  for (const auto& [topic, t] : topics->items()) {
    auto parts = t.find("partitions");
    if (parts == t.end() || !parts->is_object()) continue;
    for (const auto& [pname, p] : parts->items()) {
      auto lag = p.find("consumer_lag");
      auto id = p.find("partition");
      if (lag == p.end() || !lag->is_number_integer() || id == p.end() ||
          !id->is_number_integer()) {
        continue;
      }
      const auto partition = id->get<std::int64_t>();
      const auto value = lag->get<std::int64_t>();
      if (partition < 0 || value < 0) continue;
      out.push_back({topic, static_cast<std::int32_t>(partition), value});
    }
  }
  return out;
}

std::optional<std::int64_t> ParseProducerQueueMessages(std::string_view stats_json) {
  const auto doc = nlohmann::json::parse(stats_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto it = doc.find("msg_cnt");
  if (it == doc.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

}  // namespace docket::kafka::internal
