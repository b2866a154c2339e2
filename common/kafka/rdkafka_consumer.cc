// The librdkafka EventConsumer: a consumer-group member with at-least-once
// delivery. Everything (handler, rebalance and statistics callbacks, commits)
// runs on the thread that calls Run(): records of one partition are handled
// in order, a batch at a time (what is already fetched from one queue, up to
// max_batch; a record handler is called for each record of a batch in turn).
//
// Per record: OK -> its offset+1 is marked done; poison (INVALID_ARGUMENT,
// DATA_LOSS) -> published to the DLQ, confirmed, then marked done; anything
// else -> the partition is paused, rewound to the record (seek), and resumed
// after a capped exponential backoff, while other partitions go on. Done
// offsets are committed synchronously when the consumer is idle, at least
// every kCommitInterval while busy, before partitions are revoked, and on
// Stop().
//
// Priority topics: the fetch queue of each of their assigned partitions is
// forwarded, before the partition is assigned (so no record of it can reach
// the consumer queue first and be overtaken), to a queue of their own that
// the loop polls before the consumer queue.

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/internal.h"
#include "common/kafka/kafka_metrics.h"
#include "common/kafka/rdkafka_conf.h"
#include "common/log/log.h"

namespace docket::kafka {
namespace {

using Clock = std::chrono::steady_clock;

const log::Logger& Logger() {
  static const log::Logger logger("kafka.consumer");
  return logger;
}

constexpr auto kCommitInterval = std::chrono::milliseconds(1000);
constexpr auto kMaxPollWait = std::chrono::milliseconds(100);
// The longest a record of a priority topic waits while the consumer is idle.
constexpr std::int64_t kPriorityPollWaitMs = 10;
// Priority records handled in a row before the consumer queue is polled once.
constexpr int kMaxPriorityRun = 64;
// A seek with a timeout guarantees no record fetched before it is handed out.
constexpr int kSeekTimeoutMs = 5000;

using PartitionKey = std::pair<std::string, std::int32_t>;

absl::Status Threw(const char* what) { return absl::InternalError(absl::StrCat("handler threw: ", what)); }

// A record handler as a batch handler: one record after the other, and none
// of a partition after one of its records failed retryably (the consumer
// rewinds to that one; the later ones are not handled, so need no status).
BatchHandler OneAtATime(RecordHandler handler) {
  return [handler = std::move(handler)](const std::vector<const Record*>& records) {
    std::vector<absl::Status> statuses;
    statuses.reserve(records.size());
    std::vector<std::pair<const std::string*, std::int32_t>> failed;
    for (const Record* r : records) {
      const bool skip = std::any_of(failed.begin(), failed.end(), [r](const auto& f) {
        return f.second == r->partition && *f.first == r->topic;
      });
      if (skip) {
        statuses.push_back(absl::AbortedError("not handled: an earlier record of its partition failed"));
        continue;
      }
      // A throwing handler must not take the consumer down; retry it like
      // any other transient failure.
      absl::Status s;
      try {
        s = handler(*r);
      } catch (const std::exception& e) {
        s = Threw(e.what());
      } catch (...) {
        s = Threw("a non-std exception");
      }
      if (!s.ok() && !internal::IsPoison(s)) failed.emplace_back(&r->topic, r->partition);
      statuses.push_back(std::move(s));
    }
    return statuses;
  };
}

// Owns a partition list for the length of a scope.
struct PartitionList {
  explicit PartitionList(int size = 1) : list(rd_kafka_topic_partition_list_new(size)) {}
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  rd_kafka_topic_partition_t* Add(const PartitionKey& key) {
    return rd_kafka_topic_partition_list_add(list, key.first.c_str(), key.second);
  }
  rd_kafka_topic_partition_list_t* list;
};

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* parts) {
  std::vector<TopicPartition> out;
  if (parts == nullptr) return out;
  out.reserve(parts->cnt);
  for (int i = 0; i < parts->cnt; ++i) {
    out.push_back({parts->elems[i].topic, parts->elems[i].partition});
  }
  return out;
}

std::string Describe(const std::vector<TopicPartition>& tps) {
  std::string out;
  for (const auto& tp : tps) {
    if (!out.empty()) out += ",";
    absl::StrAppend(&out, tp.topic, "[", tp.partition, "]");
  }
  return out;
}

class RdKafkaConsumer final : public EventConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<EventConsumer>> Create(ConsumerOptions options,
                                                               EventPublisher& dlq,
                                                               metrics::MetricsRegistry* metrics);
  ~RdKafkaConsumer() override;

  absl::Status Run() override;
  void Stop() override { stop_.store(true); }

 private:
  struct PartitionState {
    std::int64_t done = -1;       // offset to commit: last finished record + 1
    std::int64_t committed = -1;  // last offset this member committed
    int attempts = 0;             // failed tries of the record at retry_offset
    bool paused = false;
    bool seek_pending = false;    // the rewind failed; redo it before resuming
    std::int64_t retry_offset = -1;
    Clock::time_point resume_at;
    std::uint64_t epoch = 0;      // which assignment: a record fetched under another is stale
  };
  // ok / retry / dlq counters of one topic.
  using ResultCounters = std::array<prometheus::Counter*, 3>;
  enum Result { kOk = 0, kRetry = 1, kDlq = 2 };

  RdKafkaConsumer(ConsumerOptions options, EventPublisher& dlq, metrics::MetricsRegistry* metrics);

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);
  static int OnStats(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  // librdkafka's log lines; an offset reset is counted and logged as the
  // data loss it is, the rest go to internal::LogLine.
  static void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* line);

  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  // Brings this member's share of docket_kafka_consumer_assigned_partitions
  // to its assignment.
  void ReportAssigned();
  // The partition state of a message fetched now (nullptr: an error, not
  // ours, or paused), and its epoch.
  const PartitionState* Owner(const rd_kafka_message_t* msg) const;
  void HandleBatch();
  void HandleError(const rd_kafka_message_t* msg);
  std::vector<absl::Status> CallHandler(const std::vector<const Record*>& records);
  // Applies a handler's status to the partition: done, DLQ or retry.
  void Settle(PartitionState& state, const Record& record, const absl::Status& status);
  void Retry(PartitionState& state, const Record& record, const absl::Status& why);
  bool Rewind(const PartitionKey& key, PartitionState& state);
  void ResumeDue(Clock::time_point now);
  Clock::duration PollWait(Clock::time_point now) const;
  absl::Status CommitDone(std::string_view why);
  void Count(const std::string& topic, Result result);
  void ZeroLag(const PartitionKey& key);

  // Forwards (dst = priority_) or stops forwarding (dst = nullptr) the fetch
  // queues of the priority topics' partitions among `parts`.
  void ForwardPriority(const rd_kafka_topic_partition_list_t* parts, rd_kafka_queue_t* dst);
  bool IsPriority(std::string_view topic) const;

  ConsumerOptions options_;
  EventPublisher& dlq_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* priority_ = nullptr;  // set when options_.priority_topics is not empty
  int priority_run_ = 0;                  // priority records handled since the consumer queue was polled
  bool cooperative_ = false;  // the group's rebalance protocol, read on each rebalance
  std::map<PartitionKey, PartitionState> partitions_;
  std::uint64_t epochs_ = 0;  // assignments so far
  // The batch being gathered and handled: each message with the epoch of
  // its partition when it was fetched (0: not ours then).
  std::vector<std::pair<rd_kafka_message_t*, std::uint64_t>> batch_;
  std::vector<Record> records_;  // refilled, not reallocated, batch after batch
  Clock::time_point last_commit_ = Clock::now();

  std::optional<KafkaMetrics> metrics_;
  prometheus::Gauge* assigned_ = nullptr;  // this client's docket_kafka_consumer_assigned_partitions
  std::size_t reported_ = 0;               // this member's share of it
  std::map<std::string, ResultCounters> counters_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> fatal_{false};
  std::atomic<bool> running_{false};
  bool closed_ = false;
};

RdKafkaConsumer::RdKafkaConsumer(ConsumerOptions options, EventPublisher& dlq,
                                 metrics::MetricsRegistry* metrics)
    : options_(std::move(options)), dlq_(dlq) {
  if (metrics != nullptr) {
    metrics_.emplace(metrics->registry());
    // Both poison classes at 0 from the start, so DLQ rate alerts have a series.
    for (const char* c : {"invalid_argument", "data_loss"}) {
      metrics_->dlq_records.Add({{"client", options_.kafka.client_id}, {"reason_class", c}});
    }
    // Shared by the members of one client id (consumer threads): each adds
    // what it gets and takes away what it gives up.
    assigned_ = &metrics_->assigned_partitions.Add({{"client", options_.kafka.client_id}});
    // At 0 from the start, so the alert on its increase has a series.
    for (const auto& topic : options_.topics) {
      metrics_->offset_resets.Add({{"client", options_.kafka.client_id}, {"topic", topic}});
    }
  }
}

absl::StatusOr<std::unique_ptr<EventConsumer>> RdKafkaConsumer::Create(
    ConsumerOptions options, EventPublisher& dlq, metrics::MetricsRegistry* metrics) {
  if (!options.handler == !options.batch_handler) {
    return absl::InvalidArgumentError("consumer needs exactly one of handler and batch_handler");
  }
  if (options.max_batch < 1) return absl::InvalidArgumentError("consumer max_batch must be at least 1");
  if (options.handler) options.batch_handler = OneAtATime(std::move(options.handler));
  if (options.topics.empty()) return absl::InvalidArgumentError("consumer topics are empty");
  if (options.dlq_topic.empty()) return absl::InvalidArgumentError("consumer dlq_topic is empty");
  for (const auto& t : options.priority_topics) {
    if (std::find(options.topics.begin(), options.topics.end(), t) == options.topics.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("consumer priority topic \"", t, "\" is not among its topics"));
    }
  }
  auto props = internal::ConsumerProperties(options, metrics != nullptr);
  if (!props.ok()) return props.status();
  auto conf = internal::NewConf(*props, options.kafka.extra);
  if (!conf.ok()) return conf.status();

  std::unique_ptr<RdKafkaConsumer> self(new RdKafkaConsumer(std::move(options), dlq, metrics));
  rd_kafka_conf_set_opaque(*conf, self.get());
  rd_kafka_conf_set_rebalance_cb(*conf, &OnRebalance);
  rd_kafka_conf_set_error_cb(*conf, &OnError);
  rd_kafka_conf_set_log_cb(*conf, &OnLog);
  if (metrics != nullptr) rd_kafka_conf_set_stats_cb(*conf, &OnStats);

  char errstr[512];
  self->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, errstr, sizeof errstr);
  if (self->rk_ == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("cannot create kafka consumer: ", errstr));
  }
  // Rebalance, statistics and errors are served by rd_kafka_consumer_poll()
  // on the Run() thread.
  rd_kafka_poll_set_consumer(self->rk_);
  if (!self->options_.priority_topics.empty()) self->priority_ = rd_kafka_queue_new(self->rk_);
  return std::unique_ptr<EventConsumer>(std::move(self));
}

RdKafkaConsumer::~RdKafkaConsumer() {
  if (rk_ == nullptr) return;
  if (!closed_) rd_kafka_consumer_close(rk_);
  partitions_.clear();
  ReportAssigned();
  if (priority_ != nullptr) {
    // Records fetched but not handled hold their partitions: drop them (they
    // were not committed) so the client can be destroyed.
    while (rd_kafka_message_t* msg = rd_kafka_consume_queue(priority_, 0)) rd_kafka_message_destroy(msg);
    rd_kafka_queue_destroy(priority_);
  }
  rd_kafka_destroy(rk_);
}

absl::Status RdKafkaConsumer::Run() {
  if (running_.exchange(true)) {
    return absl::FailedPreconditionError("EventConsumer::Run() may be called once");
  }
  {
    PartitionList topics(static_cast<int>(options_.topics.size()));
    for (const auto& t : options_.topics) topics.Add({t, RD_KAFKA_PARTITION_UA});
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, topics.list); err) {
      return internal::StatusFromKafkaError(err, "kafka subscribe");
    }
  }
  std::string topics;
  for (const auto& t : options_.topics) absl::StrAppend(&topics, topics.empty() ? "" : ",", t);
  Logger().Info("kafka consumer started", {{"client", options_.kafka.client_id},
                                           {"group", options_.group_id},
                                           {"topics", topics}});

  while (!stop_.load() && !fatal_.load()) {
    const Clock::time_point now = Clock::now();
    ResumeDue(now);
    if (now - last_commit_ >= kCommitInterval) (void)CommitDone("interval");
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(PollWait(now));
    // Priority records first, but at most kMaxPriorityRun in a row: the
    // consumer queue also serves rebalances, errors and statistics (and
    // counts as the application's poll), so it is polled between runs, and
    // with priority topics its wait is short, so an idle consumer sees a
    // priority record within kPriorityPollWaitMs.
    rd_kafka_message_t* msg = nullptr;
    const bool run_cut = priority_run_ >= kMaxPriorityRun;
    if (priority_ != nullptr && !run_cut) msg = rd_kafka_consume_queue(priority_, 0);
    if (msg != nullptr) {
      ++priority_run_;
    } else {
      priority_run_ = 0;
      const std::int64_t ms = priority_ == nullptr ? wait.count()
                              : run_cut            ? 0
                                                   : std::min<std::int64_t>(wait.count(), kPriorityPollWaitMs);
      msg = rd_kafka_consumer_poll(rk_, static_cast<int>(ms));
    }
    if (msg == nullptr) {
      if (!run_cut) (void)CommitDone("idle");  // after a cut run, priority records are likely waiting
      continue;
    }
    // The rest of the batch: whatever that queue already holds, without
    // waiting. (A consumer poll may serve a rebalance meanwhile: the epochs
    // tell which records it made stale.)
    const bool priority = priority_run_ > 0;
    for (;;) {
      const PartitionState* owner = Owner(msg);
      batch_.emplace_back(msg, owner != nullptr ? owner->epoch : 0);
      if (batch_.size() >= static_cast<std::size_t>(options_.max_batch)) break;
      if (priority) {
        if (priority_run_ >= kMaxPriorityRun) break;
        msg = rd_kafka_consume_queue(priority_, 0);
        if (msg != nullptr) ++priority_run_;
      } else {
        msg = rd_kafka_consumer_poll(rk_, 0);
      }
      if (msg == nullptr) break;
    }
    HandleBatch();
    for (auto& [m, epoch] : batch_) rd_kafka_message_destroy(m);
    batch_.clear();
  }

  (void)CommitDone("stop");
  // Leaves the group; the revoke it triggers commits again (nothing new) and
  // calls on_revoked.
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_);
  closed_ = true;
  Logger().Info("kafka consumer stopped",
                {{"client", options_.kafka.client_id}, {"group", options_.group_id}});
  if (fatal_.load()) {
    char buf[512];
    const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk_, buf, sizeof buf);
    return internal::StatusFromKafkaError(orig, absl::StrCat("kafka consumer fatal error: ", buf));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not an error of Run(): what was not committed is handled again by the
    // next owner (at-least-once), and the group notices the member is gone.
    Logger().Warn("kafka consumer close reported an error",
                  {{"client", options_.kafka.client_id}, {"error", rd_kafka_err2name(err)}});
  }
  return absl::OkStatus();
}

Clock::duration RdKafkaConsumer::PollWait(Clock::time_point now) const {
  Clock::duration wait = kMaxPollWait;
  for (const auto& [key, state] : partitions_) {
    if (state.paused) wait = std::min(wait, std::max(Clock::duration::zero(), state.resume_at - now));
  }
  return wait;
}

const RdKafkaConsumer::PartitionState* RdKafkaConsumer::Owner(const rd_kafka_message_t* msg) const {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) return nullptr;
  auto it = partitions_.find({rd_kafka_topic_name(msg->rkt), msg->partition});
  // Not (or no longer) ours, or waiting out a retry backoff: the record will
  // be fetched again from the rewound / committed offset.
  if (it == partitions_.end() || it->second.paused) return nullptr;
  return &it->second;
}

void RdKafkaConsumer::HandleBatch() {
  std::vector<const Record*> records;
  std::vector<PartitionState*> states;
  records.reserve(batch_.size());
  states.reserve(batch_.size());
  if (records_.size() < batch_.size()) records_.resize(batch_.size());
  for (const auto& [msg, epoch] : batch_) {
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      HandleError(msg);
      continue;
    }
    // Still ours, under the assignment it was fetched in, and not paused by
    // a retry: else it is fetched again.
    const PartitionState* owner = Owner(msg);
    if (owner == nullptr || owner->epoch != epoch) continue;
    Record& r = records_[records.size()];
    internal::ToRecord(msg, r);
    records.push_back(&r);
    states.push_back(const_cast<PartitionState*>(owner));
  }
  if (records.empty()) return;
  const std::vector<absl::Status> statuses = CallHandler(records);
  for (std::size_t i = 0; i < records.size(); ++i) {
    // A retry earlier in the batch paused the partition: this record comes
    // again after that one.
    if (states[i]->paused) continue;
    Settle(*states[i], *records[i], statuses[i]);
  }
}

void RdKafkaConsumer::HandleError(const rd_kafka_message_t* msg) {
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
  if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
    fatal_.store(true);
    return;
  }
  // Informational (e.g. unknown topic while it is being created, transport
  // errors): librdkafka keeps trying.
  Logger().Warn("kafka consume error",
                {{"client", options_.kafka.client_id},
                 {"topic", msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : ""},
                 {"error", rd_kafka_err2name(msg->err)},
                 {"reason", rd_kafka_message_errstr(msg)}});
}

std::vector<absl::Status> RdKafkaConsumer::CallHandler(const std::vector<const Record*>& records) {
  // A throwing handler must not take the consumer down; retry it like any
  // other transient failure.
  absl::Status failed;
  try {
    std::vector<absl::Status> statuses = options_.batch_handler(records);
    if (statuses.size() == records.size()) return statuses;
    failed = absl::InternalError(absl::StrCat("batch handler returned ", statuses.size(),
                                              " statuses for ", records.size(), " records"));
  } catch (const std::exception& e) {
    failed = Threw(e.what());
  } catch (...) {
    failed = Threw("a non-std exception");
  }
  return std::vector<absl::Status>(records.size(), failed);
}

void RdKafkaConsumer::Settle(PartitionState& state, const Record& record, const absl::Status& status) {
  if (status.ok()) {
    state.done = record.offset + 1;
    state.attempts = 0;
    Count(record.topic, kOk);
    return;
  }
  if (!internal::IsPoison(status)) {
    Retry(state, record, status);
    return;
  }
  // Poison: the DLQ must have it (acks=all) before the offset moves on.
  const absl::Status sent = dlq_.Publish(
      internal::MakeDlqRecord(record, status, options_.dlq_topic, options_.group_id));
  if (!sent.ok()) {
    Retry(state, record,
          absl::UnavailableError(absl::StrCat("DLQ publish failed (", sent.ToString(),
                                              ") for poison record: ", status.ToString())));
    return;
  }
  Logger().Warn("poison record sent to the DLQ",
                {{"client", options_.kafka.client_id}, {"topic", record.topic},
                 {"partition", record.partition}, {"offset", record.offset},
                 {"dlq", options_.dlq_topic}, {"error", status.ToString()}});
  state.done = record.offset + 1;
  state.attempts = 0;
  Count(record.topic, kDlq);
  if (metrics_) {
    metrics_->dlq_records
        .Add({{"client", options_.kafka.client_id},
              {"reason_class", internal::PoisonClass(status)}})
        .Increment();
  }
}

void RdKafkaConsumer::Retry(PartitionState& state, const Record& record,
                            const absl::Status& why) {
  const PartitionKey key{record.topic, record.partition};
  ++state.attempts;
  const auto backoff = internal::RetryBackoff(state.attempts, options_.retry_backoff_initial,
                                              options_.retry_backoff_max);
  Count(record.topic, kRetry);
  Logger().Warn("record failed; partition paused, will retry",
                {{"client", options_.kafka.client_id}, {"topic", record.topic},
                 {"partition", record.partition}, {"offset", record.offset},
                 {"attempt", state.attempts}, {"backoff_ms", static_cast<std::int64_t>(backoff.count())},
                 {"error", why.ToString()}});
  PartitionList one;
  one.Add(key);
  if (rd_kafka_resp_err_t err = rd_kafka_pause_partitions(rk_, one.list); err) {
    Logger().Warn("kafka pause failed", {{"topic", record.topic},
                                         {"partition", record.partition},
                                         {"error", rd_kafka_err2name(err)}});
  }
  state.paused = true;
  state.retry_offset = record.offset;
  state.resume_at = Clock::now() + backoff;
  Rewind(key, state);
}

bool RdKafkaConsumer::Rewind(const PartitionKey& key, PartitionState& state) {
  PartitionList one;
  one.Add(key)->offset = state.retry_offset;
  rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, one.list, kSeekTimeoutMs);
  const rd_kafka_resp_err_t part_err = one.list->elems[0].err;
  if (error == nullptr && part_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    state.seek_pending = false;
    return true;
  }
  Logger().Warn("kafka seek failed; will redo it before resuming",
                {{"topic", key.first}, {"partition", key.second},
                 {"offset", state.retry_offset},
                 {"error", error != nullptr ? rd_kafka_error_string(error)
                                            : rd_kafka_err2name(part_err)}});
  if (error != nullptr) rd_kafka_error_destroy(error);
  state.seek_pending = true;
  return false;
}

void RdKafkaConsumer::ResumeDue(Clock::time_point now) {
  for (auto& [key, state] : partitions_) {
    if (!state.paused || state.resume_at > now) continue;
    // Never resume from an unknown position: that could skip the record.
    if (state.seek_pending && !Rewind(key, state)) {
      state.resume_at = now + internal::RetryBackoff(state.attempts, options_.retry_backoff_initial,
                                                     options_.retry_backoff_max);
      continue;
    }
    PartitionList one;
    one.Add(key);
    if (rd_kafka_resp_err_t err = rd_kafka_resume_partitions(rk_, one.list); err) {
      Logger().Warn("kafka resume failed", {{"topic", key.first},
                                            {"partition", key.second},
                                            {"error", rd_kafka_err2name(err)}});
      continue;
    }
    state.paused = false;
  }
}

absl::Status RdKafkaConsumer::CommitDone(std::string_view why) {
  last_commit_ = Clock::now();
  PartitionList offsets(static_cast<int>(partitions_.size()));
  for (const auto& [key, state] : partitions_) {
    if (state.done >= 0 && state.done != state.committed) offsets.Add(key)->offset = state.done;
  }
  if (offsets.list->cnt == 0) return absl::OkStatus();
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, offsets.list, /*async=*/0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not fatal: the offsets stay done and are committed next time; if the
    // partitions moved meanwhile, their records are handled again elsewhere.
    Logger().Warn("kafka commit failed", {{"client", options_.kafka.client_id},
                                          {"group", options_.group_id},
                                          {"when", std::string(why)},
                                          {"error", rd_kafka_err2name(err)}});
    return internal::StatusFromKafkaError(err, "kafka commit");
  }
  for (int i = 0; i < offsets.list->cnt; ++i) {
    const auto& e = offsets.list->elems[i];
    auto it = partitions_.find({e.topic, e.partition});
    if (it != partitions_.end()) it->second.committed = e.offset;
  }
  return absl::OkStatus();
}

void RdKafkaConsumer::ReportAssigned() {
  if (assigned_ == nullptr) return;
  assigned_->Increment(static_cast<double>(partitions_.size()) - static_cast<double>(reported_));
  reported_ = partitions_.size();
}

void RdKafkaConsumer::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<RdKafkaConsumer*>(opaque);
  self->Rebalance(err, parts);
  self->ReportAssigned();
}

void RdKafkaConsumer::Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  // Known only once the group is joined: "NONE" before, then EAGER or COOPERATIVE
  // depending on partition.assignment.strategy.
  cooperative_ = std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0;
  const std::vector<TopicPartition> tps = ToVector(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (options_.on_assigned) {
      for (const auto& [tp, offset] : options_.on_assigned(tps)) {
        rd_kafka_topic_partition_t* e =
            rd_kafka_topic_partition_list_find(parts, tp.topic.c_str(), tp.partition);
        if (e == nullptr) {
          Logger().Warn("on_assigned returned an offset for a partition not assigned",
                        {{"topic", tp.topic}, {"partition", tp.partition}});
          continue;
        }
        e->offset = offset;  // assign() starts there instead of the committed offset
      }
    }
    for (const auto& tp : tps) {
      PartitionState fresh;
      fresh.epoch = ++epochs_;
      partitions_[{tp.topic, tp.partition}] = fresh;
    }
    ForwardPriority(parts, priority_);
    // librdkafka keeps an application pause on the partition object across
    // unassign/assign (2.0 resets only its own pauses): a partition revoked
    // during a retry backoff would come back paused and never fetch. Every
    // assignment starts unpaused, as PartitionState says.
    if (rd_kafka_resp_err_t e = rd_kafka_resume_partitions(rk_, parts); e) {
      Logger().Warn("kafka resume of assigned partitions failed",
                    {{"error", rd_kafka_err2name(e)}});
    }
    if (cooperative_) {
      if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, parts)) {
        Logger().Error("kafka incremental assign failed",
                       {{"error", rd_kafka_error_string(error)}});
        rd_kafka_error_destroy(error);
      }
    } else if (rd_kafka_resp_err_t e = rd_kafka_assign(rk_, parts); e) {
      Logger().Error("kafka assign failed", {{"error", rd_kafka_err2name(e)}});
    }
    Logger().Info("partitions assigned", {{"client", options_.kafka.client_id},
                                          {"group", options_.group_id},
                                          {"partitions", Describe(tps)}});
    return;
  }

  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    if (rd_kafka_assignment_lost(rk_)) {
      // Someone else owns them already: a commit would be refused.
      Logger().Warn("partitions lost; their uncommitted records will be handled again",
                    {{"client", options_.kafka.client_id}, {"partitions", Describe(tps)}});
    } else {
      (void)CommitDone("revoke");
    }
    if (options_.on_revoked) options_.on_revoked(tps);
    if (cooperative_) {
      if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, parts)) {
        Logger().Error("kafka incremental unassign failed",
                       {{"error", rd_kafka_error_string(error)}});
        rd_kafka_error_destroy(error);
      }
    } else {
      rd_kafka_assign(rk_, nullptr);
    }
    ForwardPriority(parts, nullptr);
    for (const auto& tp : tps) {
      const PartitionKey key{tp.topic, tp.partition};
      partitions_.erase(key);
      ZeroLag(key);
    }
    Logger().Info("partitions revoked", {{"client", options_.kafka.client_id},
                                         {"group", options_.group_id},
                                         {"partitions", Describe(tps)}});
    return;
  }

  Logger().Error("kafka rebalance error; dropping the assignment",
                 {{"client", options_.kafka.client_id}, {"error", rd_kafka_err2name(err)}});
  if (cooperative_) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, parts)) {
      rd_kafka_error_destroy(error);
    }
    for (const auto& tp : tps) partitions_.erase({tp.topic, tp.partition});
  } else {
    rd_kafka_assign(rk_, nullptr);
    partitions_.clear();
  }
}

bool RdKafkaConsumer::IsPriority(std::string_view topic) const {
  const auto& p = options_.priority_topics;
  return std::find(p.begin(), p.end(), topic) != p.end();
}

void RdKafkaConsumer::ForwardPriority(const rd_kafka_topic_partition_list_t* parts,
                                      rd_kafka_queue_t* dst) {
  if (priority_ == nullptr || parts == nullptr) return;
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& e = parts->elems[i];
    if (!IsPriority(e.topic)) continue;
    rd_kafka_queue_t* q = rd_kafka_queue_get_partition(rk_, e.topic, e.partition);
    if (q == nullptr) {
      Logger().Warn("no fetch queue for a priority partition; its records take the common queue",
                    {{"topic", e.topic}, {"partition", e.partition}});
      continue;
    }
    rd_kafka_queue_forward(q, dst);
    rd_kafka_queue_destroy(q);
  }
}

void RdKafkaConsumer::Count(const std::string& topic, Result result) {
  if (!metrics_) return;
  auto it = counters_.find(topic);
  if (it == counters_.end()) {
    ResultCounters c{};
    const std::string& client = options_.kafka.client_id;
    c[kOk] = &metrics_->records_consumed.Add({{"client", client}, {"topic", topic}, {"result", "ok"}});
    c[kRetry] =
        &metrics_->records_consumed.Add({{"client", client}, {"topic", topic}, {"result", "retry"}});
    c[kDlq] = &metrics_->records_consumed.Add({{"client", client}, {"topic", topic}, {"result", "dlq"}});
    it = counters_.emplace(topic, c).first;
  }
  it->second[result]->Increment();
}

void RdKafkaConsumer::ZeroLag(const PartitionKey& key) {
  // Zero rather than removed: another member reports the partition now, and
  // a sum over members stays right. (Removing could free a gauge that a
  // consumer of another group in this process with the same client id uses.)
  if (!metrics_) return;
  metrics_->consumer_lag
      .Add({{"client", options_.kafka.client_id},
            {"topic", key.first},
            {"partition", std::to_string(key.second)}})
      .Set(0);
}


int RdKafkaConsumer::OnStats(rd_kafka_t* rk, char* json, size_t len, void* opaque) {
  auto* self = static_cast<RdKafkaConsumer*>(opaque);
  if (!self->metrics_) return 0;
  for (const auto& lag : internal::ParseConsumerLag(std::string_view(json, len))) {
    // Only what this member owns: librdkafka also lists partitions it knows of.
    if (!self->partitions_.count({lag.topic, lag.partition})) continue;
    self->metrics_->consumer_lag
        .Add({{"client", self->options_.kafka.client_id},
              {"topic", lag.topic},
              {"partition", std::to_string(lag.partition)}})
        .Set(static_cast<double>(lag.lag));
  }
  return 0;  // librdkafka frees json
}

void RdKafkaConsumer::OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  std::optional<std::string> topic = internal::OffsetResetTopic(level, facility, line);
  auto* self = static_cast<RdKafkaConsumer*>(rd_kafka_opaque(rk));
  if (!topic || self == nullptr) return internal::LogLine(rk, level, facility, line);
  // Called on a librdkafka thread: the metrics family is thread-safe.
  if (self->metrics_) {
    self->metrics_->offset_resets.Add({{"client", self->options_.kafka.client_id}, {"topic", *topic}}).Increment();
  }
  Logger().Error("kafka consumer skipped records: its position was no longer on the broker (retention "
                 "deleted records the group had not read), so librdkafka moved it as auto.offset.reset says "
                 "(the oldest record left, by default)",
                 {{"client", self->options_.kafka.client_id}, {"group", self->options_.group_id},
                  {"topic", *topic}, {"librdkafka", line}});
}

void RdKafkaConsumer::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  if (internal::LogClientError(rk, err, reason)) {
    static_cast<RdKafkaConsumer*>(opaque)->fatal_.store(true);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventConsumer>> MakeKafkaConsumer(
    ConsumerOptions options, EventPublisher& dlq, metrics::MetricsRegistry* metrics) {
  return RdKafkaConsumer::Create(std::move(options), dlq, metrics);
}

}  // namespace docket::kafka
