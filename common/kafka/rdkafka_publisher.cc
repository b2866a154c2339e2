// The librdkafka EventPublisher: idempotent, acks=all, delivery reports
// completing a per-record callback on a dedicated poll thread.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/internal.h"
#include "common/kafka/kafka_metrics.h"
#include "common/kafka/rdkafka_conf.h"
#include "common/log/log.h"

namespace docket::kafka {
namespace {

using Clock = std::chrono::steady_clock;

const log::Logger& Logger() {
  static const log::Logger logger("kafka.publisher");
  return logger;
}

// How long PublishAsync keeps retrying while librdkafka's queue is full.
constexpr auto kQueueFullWait = std::chrono::milliseconds(1000);
// How long the destructor waits for confirmations before failing the rest.
constexpr auto kCloseFlush = std::chrono::milliseconds(5000);
constexpr int kPollMs = 100;

class RdKafkaPublisher final : public EventPublisher {
 public:
  static absl::StatusOr<std::unique_ptr<EventPublisher>> Create(const KafkaConfig& config,
                                                                metrics::MetricsRegistry* metrics);
  ~RdKafkaPublisher() override;

  void PublishAsync(Record record, Done done) override;
  absl::Status Flush(std::chrono::milliseconds timeout) override;
  absl::Status CheckConnection(std::chrono::milliseconds timeout) override;

 private:
  // The per-record opaque of a delivery report.
  struct Delivery {
    Done done;
    Clock::time_point start;
  };

  RdKafkaPublisher(const KafkaConfig& config, metrics::MetricsRegistry* metrics);

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static int OnStats(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  void PollLoop();
  // Runs a callback, then marks one record as no longer in flight.
  void Finish(Done& done, absl::Status status);
  // A record refused before it reached librdkafka's queue: its callback runs
  // on the poll thread too, never on the caller's.
  void FailLater(Done done, absl::Status status, int err);
  void CountError(int err);

  std::string client_;
  rd_kafka_t* rk_ = nullptr;
  std::optional<KafkaMetrics> metrics_;
  prometheus::Histogram* latency_ = nullptr;
  prometheus::Gauge* queue_gauge_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;  // signalled when a record finishes
  std::int64_t in_flight_ = 0;
  std::vector<std::pair<Done, absl::Status>> refused_;

  std::atomic<bool> stop_{false};
  std::thread poller_;
};

RdKafkaPublisher::RdKafkaPublisher(const KafkaConfig& config, metrics::MetricsRegistry* metrics)
    : client_(config.client_id) {
  if (metrics != nullptr) {
    metrics_.emplace(metrics->registry());
    latency_ = &metrics_->produce_latency.Add({{"client", client_}}, metrics::LatencyBuckets());
    queue_gauge_ = &metrics_->producer_queue.Add({{"client", client_}});
    // Known at 0 from the start: what an outage ends in (delivery timeout).
    metrics_->produce_errors.Add({{"client", client_}, {"reason", "msg_timed_out"}});
  }
}

absl::StatusOr<std::unique_ptr<EventPublisher>> RdKafkaPublisher::Create(
    const KafkaConfig& config, metrics::MetricsRegistry* metrics) {
  auto props = internal::PublisherProperties(config, metrics != nullptr);
  if (!props.ok()) return props.status();
  auto conf = internal::NewConf(*props, config.extra);
  if (!conf.ok()) return conf.status();

  std::unique_ptr<RdKafkaPublisher> self(new RdKafkaPublisher(config, metrics));
  rd_kafka_conf_set_opaque(*conf, self.get());
  rd_kafka_conf_set_dr_msg_cb(*conf, &OnDelivery);
  rd_kafka_conf_set_error_cb(*conf, &OnError);
  if (metrics != nullptr) rd_kafka_conf_set_stats_cb(*conf, &OnStats);

  char errstr[512];
  self->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, errstr, sizeof errstr);
  if (self->rk_ == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("cannot create kafka producer: ", errstr));
  }
  self->poller_ = std::thread([p = self.get()] { p->PollLoop(); });
  Logger().Info("kafka producer started",
                {{"client", config.client_id}, {"brokers", config.brokers}});
  return std::unique_ptr<EventPublisher>(std::move(self));
}

RdKafkaPublisher::~RdKafkaPublisher() {
  if (rk_ == nullptr) return;  // Create() failed before the handle existed
  if (absl::Status s = Flush(kCloseFlush); !s.ok()) {
    Logger().Warn("closing kafka producer with unconfirmed records; failing them",
                  {{"client", client_}});
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    // Purged records get delivery reports (UNAVAILABLE) from the poll thread.
    (void)Flush(kCloseFlush);
  }
  stop_ = true;
  poller_.join();
  rd_kafka_destroy(rk_);
}

void RdKafkaPublisher::PollLoop() {
  while (!stop_.load()) {
    rd_kafka_poll(rk_, kPollMs);
    std::vector<std::pair<Done, absl::Status>> refused;
    {
      std::lock_guard<std::mutex> lock(mu_);
      refused.swap(refused_);
    }
    for (auto& [done, status] : refused) Finish(done, std::move(status));
  }
}

void RdKafkaPublisher::Finish(Done& done, absl::Status status) {
  if (done) done(std::move(status));
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  cv_.notify_all();
}

void RdKafkaPublisher::CountError(int err) {
  if (metrics_) {
    metrics_->produce_errors
        .Add({{"client", client_}, {"reason", internal::KafkaErrorReason(err)}})
        .Increment();
  }
}

void RdKafkaPublisher::FailLater(Done done, absl::Status status, int err) {
  CountError(err);
  {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.emplace_back(std::move(done), std::move(status));
  }
  rd_kafka_yield(rk_);  // wake the poll thread
}

void RdKafkaPublisher::PublishAsync(Record record, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  if (stop_.load()) {
    FailLater(std::move(done), absl::UnavailableError("kafka publisher is closed"),
              RD_KAFKA_RESP_ERR__DESTROY);
    return;
  }
  rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size());
  for (const auto& h : record.headers) {
    rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                        h.value.data(), static_cast<ssize_t>(h.value.size()));
  }
  auto* delivery = new Delivery{std::move(done), Clock::now()};
  const int32_t partition = record.partition >= 0 ? record.partition : RD_KAFKA_PARTITION_UA;
  void* key = record.key.empty() ? nullptr : record.key.data();
  const auto deadline = Clock::now() + kQueueFullWait;
  rd_kafka_resp_err_t err;
  while (true) {
    err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, record.key.size()),
        RD_KAFKA_V_VALUE(record.value.data(), record.value.size()), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_TIMESTAMP(record.timestamp_ms), RD_KAFKA_V_OPAQUE(delivery), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || Clock::now() >= deadline) break;
    // Deliveries free room in the queue; wait for one (briefly) and try again.
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // librdkafka owns the headers now
  rd_kafka_headers_destroy(headers);
  Done failed = std::move(delivery->done);
  delete delivery;
  FailLater(std::move(failed),
            internal::StatusFromKafkaError(err, absl::StrCat("publish to ", record.topic)), err);
}

absl::Status RdKafkaPublisher::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return in_flight_ == 0; })) {
    return absl::DeadlineExceededError(
        absl::StrCat("kafka flush: ", in_flight_, " records unconfirmed after ", timeout.count(),
                     " ms"));
  }
  return absl::OkStatus();
}

absl::Status RdKafkaPublisher::CheckConnection(std::chrono::milliseconds timeout) {
  // Brokers only (no topic list): cheap, and answers even before any topic exists.
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk_, /*all_topics=*/0, nullptr, &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("no kafka broker answered within ",
                                               timeout.count(), " ms: ", rd_kafka_err2name(err),
                                               " (", rd_kafka_err2str(err), ")"));
  }
  const int brokers = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  if (brokers == 0) return absl::UnavailableError("kafka metadata lists no brokers");
  return absl::OkStatus();
}

void RdKafkaPublisher::OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<RdKafkaPublisher*>(opaque);
  std::unique_ptr<Delivery> delivery(static_cast<Delivery*>(msg->_private));
  absl::Status status;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (self->latency_ != nullptr) {
      self->latency_->Observe(
          std::chrono::duration<double>(Clock::now() - delivery->start).count());
    }
  } else {
    self->CountError(msg->err);
    status = internal::StatusFromKafkaError(
        msg->err, absl::StrCat("publish to ", rd_kafka_topic_name(msg->rkt)));
  }
  self->Finish(delivery->done, std::move(status));
}

int RdKafkaPublisher::OnStats(rd_kafka_t* rk, char* json, size_t len, void* opaque) {
  auto* self = static_cast<RdKafkaPublisher*>(opaque);
  if (auto queued = internal::ParseProducerQueueMessages(std::string_view(json, len));
      queued && self->queue_gauge_ != nullptr) {
    self->queue_gauge_->Set(static_cast<double>(*queued));
  }
  return 0;  // librdkafka frees json
}

void RdKafkaPublisher::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  internal::LogClientError(rk, err, reason);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventPublisher>> MakeKafkaPublisher(
    const KafkaConfig& config, metrics::MetricsRegistry* metrics) {
  return RdKafkaPublisher::Create(config, metrics);
}

}  // namespace docket::kafka
