#include "common/kafka/topic_reader.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/kafka/internal.h"
#include "common/kafka/rdkafka_conf.h"

namespace docket::kafka {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<std::int64_t>(left, 1));
}

struct Partition {
  std::int64_t end = 0;   // the high watermark when the read started
  std::int64_t next = 0;  // the next offset to see
};

}  // namespace

absl::Status ReadTopic(const KafkaConfig& config, const std::string& topic, std::chrono::milliseconds timeout,
                       const std::function<absl::Status(const Record&)>& each) {
  const Clock::time_point deadline = Clock::now() + timeout;
  ConsumerOptions options;
  options.kafka = config;
  // Required by librdkafka; assign() below keeps the reader out of the group.
  options.group_id = absl::StrCat(config.client_id.empty() ? "docket" : config.client_id, "-topic-reader");
  auto props = internal::ConsumerProperties(options, /*statistics=*/false);
  if (!props.ok()) return props.status();
  props->emplace_back("enable.partition.eof", "true");  // an end made of gaps still ends
  auto conf = internal::NewConf(*props, config.extra);
  if (!conf.ok()) return conf.status();
  char errstr[512];
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, errstr, sizeof errstr);
  if (raw == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("cannot create kafka consumer: ", errstr));
  }
  const std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> rk(raw, [](rd_kafka_t* h) {
    rd_kafka_consumer_close(h);
    rd_kafka_destroy(h);
  });

  // The partitions, and where each one ends now.
  std::map<std::int32_t, Partition> partitions;
  {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, rkt, &md, RemainingMs(deadline));
    rd_kafka_topic_destroy(rkt);
    if (err) return internal::StatusFromKafkaError(err, absl::StrCat("metadata of topic ", topic));
    const bool known = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                       md->topics[0].partition_cnt > 0;
    if (known) {
      for (int i = 0; i < md->topics[0].partition_cnt; ++i) partitions[md->topics[0].partitions[i].id];
    }
    rd_kafka_metadata_destroy(md);
    if (!known) return absl::NotFoundError(absl::StrCat("topic ", topic, " does not exist"));
  }
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(
      static_cast<int>(partitions.size()));
  for (auto it = partitions.begin(); it != partitions.end();) {
    std::int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), it->first, &low, &high, RemainingMs(deadline));
    if (err) {
      rd_kafka_topic_partition_list_destroy(assignment);
      return internal::StatusFromKafkaError(err, absl::StrCat("end offsets of ", topic, "[", it->first, "]"));
    }
    if (high <= low) {  // nothing retained
      it = partitions.erase(it);
      continue;
    }
    it->second = Partition{high, low};
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), it->first)->offset = low;
    ++it;
  }
  rd_kafka_resp_err_t err = partitions.empty() ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_assign(rk.get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (err) return internal::StatusFromKafkaError(err, absl::StrCat("assigning ", topic));

  Record record;
  Clock::time_point stall_deadline = deadline;
  while (!partitions.empty()) {
    if (Clock::now() >= stall_deadline) {
      std::string where;
      for (const auto& [p, part] : partitions) {
        absl::StrAppend(&where, where.empty() ? "" : ", ", "[", p, "] at ", part.next, " of ", part.end);
      }
      return absl::DeadlineExceededError(absl::StrCat("reading topic ", topic, " got no record for ",
                                                      timeout.count(), " ms before its end: ", where));
    }
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk.get(), 100);
    if (msg == nullptr) continue;
    const std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(msg, rd_kafka_message_destroy);
    auto it = partitions.find(msg->partition);
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (it != partitions.end() && msg->offset >= it->second.end) partitions.erase(it);
      continue;
    }
    if (msg->err) {
      absl::Status s = internal::StatusFromKafkaError(msg->err, absl::StrCat("reading topic ", topic));
      if (s.code() == absl::StatusCode::kUnavailable) continue;  // librdkafka retries the fetch
      return s;
    }
    if (it == partitions.end() || msg->offset >= it->second.end) continue;  // written after the start
    internal::ToRecord(msg, record);
    if (absl::Status s = each(record); !s.ok()) return s;
    stall_deadline = Clock::now() + timeout;  // progress: a long topic is read whole
    it->second.next = msg->offset + 1;
    if (it->second.next >= it->second.end) partitions.erase(it);
  }
  return absl::OkStatus();
}

}  // namespace docket::kafka
