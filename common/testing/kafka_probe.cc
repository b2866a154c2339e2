#include "common/testing/kafka_probe.h"

#include <librdkafka/rdkafka.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fixtures.h"

namespace docket::testing {
namespace {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using RdKafkaPtr = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

absl::StatusOr<RdKafkaPtr> NewClient(rd_kafka_type_t type, const std::string& bootstrap,
                                     KafkaConfig config,
                                     void (*dr_cb)(rd_kafka_t*, const rd_kafka_message_t*, void*) =
                                         nullptr) {
  config.emplace("bootstrap.servers", bootstrap);
  // devkafka's empty fetches wait the full fetch.wait.max.ms; keep it short.
  if (type == RD_KAFKA_CONSUMER) config.emplace("fetch.wait.max.ms", "50");
  // Docket's producers partition by key with murmur2 (Java's default), not
  // librdkafka's CRC32: an event a test produces for an item must land on
  // the partition Docket's own events of that item do, or a consumer may
  // see them out of order.
  if (type == RD_KAFKA_PRODUCER) config.emplace("partitioner", "murmur2_random");
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : config) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat(name, "=", value, ": ", errstr));
    }
  }
  if (dr_cb) rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("rd_kafka_new: ", errstr));
  }
  return RdKafkaPtr(rk);
}

struct Delivery {
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* d = static_cast<Delivery*>(msg->_private);
  d->done = true;
  d->err = msg->err;
  d->partition = msg->partition;
  d->offset = msg->offset;
}

bool Retriable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<ProducedRecord> ProduceOne(const std::string& bootstrap, const std::string& topic,
                                          const std::string& key, const std::string& value,
                                          int32_t partition, const KafkaConfig& config,
                                          const Headers& headers) {
  auto rk = NewClient(RD_KAFKA_PRODUCER, bootstrap, config, &OnDelivery);
  if (!rk.ok()) return rk.status();
  Delivery delivery;
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& [name, value] : headers) {
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
      RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(&delivery), RD_KAFKA_V_END);
  if (err) {
    rd_kafka_headers_destroy(hdrs);  // owned by the message only on success
    return absl::FailedPreconditionError(absl::StrCat("produce: ", rd_kafka_err2name(err)));
  }
  // The delivery report comes at the latest after message.timeout.ms (default 300 s).
  while (!delivery.done) rd_kafka_poll(rk->get(), 100);
  if (delivery.err) {
    const std::string text = absl::StrCat("delivery to ", topic, " failed: ",
                                          rd_kafka_err2name(delivery.err), " (",
                                          rd_kafka_err2str(delivery.err), ")");
    return Retriable(delivery.err) ? absl::UnavailableError(text)
                                   : absl::FailedPreconditionError(text);
  }
  return ProducedRecord{delivery.partition, delivery.offset};
}

absl::StatusOr<ClusterInfo> DescribeCluster(const std::string& bootstrap) {
  auto rk = NewClient(RD_KAFKA_PRODUCER, bootstrap, {});
  if (!rk.ok()) return rk.status();
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk->get(), 1, nullptr, &md, 10000);
  if (err) return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
  ClusterInfo info;
  for (int i = 0; i < md->broker_cnt; ++i) info.broker_ids.push_back(md->brokers[i].id);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (t.err) continue;
    auto& partitions = info.topics[t.topic];
    for (int p = 0; p < t.partition_cnt; ++p) {
      partitions.push_back({t.partitions[p].id, t.partitions[p].leader});
    }
  }
  rd_kafka_metadata_destroy(md);
  return info;
}

absl::StatusOr<std::int64_t> TopicRecordCount(const std::string& bootstrap,
                                              const std::string& topic) {
  auto cluster = DescribeCluster(bootstrap);
  if (!cluster.ok()) return cluster.status();
  auto it = cluster->topics.find(topic);
  if (it == cluster->topics.end()) return 0;  // never written to
  auto rk = NewClient(RD_KAFKA_PRODUCER, bootstrap, {});
  if (!rk.ok()) return rk.status();
  std::int64_t total = 0;
  for (const auto& p : it->second) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    // A new topic's leaders may still be moving: retry what is transient.
    WaitFor(
        [&] {
          err = rd_kafka_query_watermark_offsets(rk->get(), topic.c_str(), p.id, &low, &high, 5000);
          return !err || !Retriable(err);
        },
        std::chrono::seconds(15));
    if (err) {
      return absl::UnavailableError(absl::StrCat("watermarks of ", topic, "[", p.id,
                                                 "]: ", rd_kafka_err2str(err)));
    }
    total += high - low;
  }
  return total;
}

absl::StatusOr<std::vector<ConsumedRecord>> ConsumeFromBeginning(
    const std::string& bootstrap, const std::string& topic, std::size_t count,
    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // The partitions, from metadata (retried: a new topic may not be known yet).
  int partitions = 0;
  absl::Status described;
  WaitFor(
      [&] {
        auto cluster = DescribeCluster(bootstrap);
        described = cluster.status();
        if (!cluster.ok()) return false;
        auto it = cluster->topics.find(topic);
        if (it == cluster->topics.end() || it->second.empty()) {
          described = absl::NotFoundError(absl::StrCat("topic ", topic, " not in metadata"));
          return false;
        }
        partitions = static_cast<int>(it->second.size());
        return true;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                            std::chrono::steady_clock::now()));
  if (partitions == 0) return described;

  // A group id is required by the API; assign() keeps the group out of it.
  auto rk = NewClient(RD_KAFKA_CONSUMER, bootstrap,
                      {{"group.id", UniqueName("probe")},
                       {"enable.auto.commit", "false"},
                       {"enable.partition.eof", "false"}});
  if (!rk.ok()) return rk.status();
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk->get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (err) return absl::InternalError(absl::StrCat("assign: ", rd_kafka_err2str(err)));

  std::vector<ConsumedRecord> records;
  absl::Status status;
  while (records.size() < count) {
    if (std::chrono::steady_clock::now() >= deadline) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "read ", records.size(), " of ", count, " records from ", topic, " before the deadline"));
      break;
    }
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk->get(), 100);
    if (!msg) continue;
    if (msg->err) {
      if (!Retriable(msg->err) && msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        status = absl::FailedPreconditionError(
            absl::StrCat("consume ", topic, ": ", rd_kafka_message_errstr(msg)));
        rd_kafka_message_destroy(msg);
        break;
      }
    } else {
      ConsumedRecord r;
      if (msg->key) r.key.assign(static_cast<const char*>(msg->key), msg->key_len);
      if (msg->payload) r.value.assign(static_cast<const char*>(msg->payload), msg->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size)
                                             : std::string());
        }
      }
      r.partition = msg->partition;
      r.offset = msg->offset;
      records.push_back(std::move(r));
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_consumer_close(rk->get());
  if (!status.ok()) return status;
  return records;
}

}  // namespace docket::testing
