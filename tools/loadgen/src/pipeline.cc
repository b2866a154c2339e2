#include "tools/loadgen/src/pipeline.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/record.h"
#include "common/log/log.h"
#include "common/redis/redis_client.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "tools/loadgen/src/lifecycle_events.h"
#include "tools/loadgen/src/load_driver.h"
#include "tools/loadgen/src/proc_stats.h"
#include "tools/loadgen/src/routed_matcher.h"
#include "tools/loadgen/src/stack_clients.h"

namespace docket::loadgen {
namespace {

using namespace std::chrono_literals;
using google::protobuf::util::TimeUtil;

constexpr char kTransitions[] = "docket_processing_transitions_total";
constexpr char kCompletions[] = "docket_kpi_completions_total";
constexpr char kConsumed[] = "docket_kafka_records_consumed_total";
constexpr char kMetricsConsumer[] = "docket-metrics-consumer";  // services/metrics/src/app.cc
// Tenant of metrics-fresh's probes: the stream is acme's, so globex's
// completions counter moves only for a probe.
constexpr char kProbeTenant[] = "globex";

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RunId() {
  std::random_device rd;
  return absl::StrCat(absl::Hex(std::uint64_t{rd()} << 32 | rd(), absl::kZeroPad16));
}

// A UUID-shaped item id (36 characters, like intake's UUIDv7s) unique to the run.
std::string ItemId(const std::string& run, std::uint64_t n) {
  return absl::StrFormat("%s-%s-7%s-8%s-%012x", run.substr(0, 8), run.substr(8, 4), run.substr(12, 3),
                         run.substr(13, 3), n);
}

// Counters on services' /metrics pages, sampled while a stage runs: each as
// its growth since Baseline(), in a ProgressSeries.
class CounterWatch {
 public:
  absl::Status Add(const std::string& url, Watched w) {
    DOCKET_ASSIGN_OR_RETURN(HttpUrl parsed, ParseHttpUrl(url));
    for (auto& page : pages_) {
      if (page.url.host == parsed.host && page.url.port == parsed.port && page.url.path == parsed.path) {
        index_[w.name] = {&page - pages_.data(), page.watched.size()};
        page.watched.push_back(std::move(w));
        return absl::OkStatus();
      }
    }
    index_[w.name] = {pages_.size(), 0};
    pages_.push_back({parsed, {std::move(w)}, {}});
    return absl::OkStatus();
  }
  bool Has(const std::string& name) const { return index_.count(name) > 0; }

  // Scrapes every page once and remembers the values as the zero point.
  absl::Status Baseline() {
    for (auto& page : pages_) {
      DOCKET_ASSIGN_OR_RETURN(page.base, ScrapeSums(page.url, page.watched));
    }
    return absl::OkStatus();
  }
  // Like Baseline(), retrying until the pages answer (a service starting).
  absl::Status BaselineWhenUp(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      absl::Status s = Baseline();
      if (s.ok() || SteadyClock::now() >= deadline) return s;
      std::this_thread::sleep_for(100ms);
    }
  }
  void ZeroBaseline() {
    for (auto& page : pages_) page.base.assign(page.watched.size(), 0);
  }
  double base(const std::string& name) const {
    const auto [p, w] = index_.at(name);
    return pages_[p].base[w];
  }

  // Scrapes every page and appends (seconds, value - base) to each series.
  absl::Status Sample(double seconds) {
    for (auto& page : pages_) {
      DOCKET_ASSIGN_OR_RETURN(std::vector<double> values, ScrapeSums(page.url, page.watched));
      for (std::size_t i = 0; i < values.size(); ++i) {
        series_[page.watched[i].name].Add(seconds, values[i] - page.base[i]);
      }
    }
    return absl::OkStatus();
  }
  double Last(const std::string& name) const {
    auto it = series_.find(name);
    return it == series_.end() || it->second.empty() ? 0 : it->second.samples().back().value;
  }
  const ProgressSeries& Series(const std::string& name) { return series_[name]; }

 private:
  struct Page {
    HttpUrl url;
    std::vector<Watched> watched;
    std::vector<double> base;
  };
  std::vector<Page> pages_;
  std::map<std::string, std::pair<std::size_t, std::size_t>> index_;  // name -> page, watched
  std::map<std::string, ProgressSeries> series_;
};

void Fail(StageResult& r, const std::string& message) {
  r.complete = false;
  if (r.first_error.empty()) r.first_error = message;
}

void TakeCpu(StageResult& r, const CpuWindow& cpu) {
  r.load_average = cpu.load_average();
  r.cpu_cores = cpu.watched_cores();
  r.cpu_cores["loadgen"] = cpu.self_cores();
  r.cpu_seconds = cpu.cpu_seconds();
}

void TakeErrors(StageResult& r, const ErrorCounts& e) {
  for (const auto& [code, n] : e.counts()) r.errors[code] += n;
  if (r.first_error.empty()) r.first_error = e.first();
}

// CPU microseconds per item of each process (loadgen and --watch), the
// figure that a shared machine disturbs least.
void CpuPerItem(StageResult& r, double items, const std::string& what) {
  if (items <= 0) return;
  for (const auto& [name, seconds] : r.cpu_seconds) {
    if (seconds >= 0) r.Set(absl::StrCat("cpu_us_per_", what, "_", name), seconds * 1e6 / items);
  }
}

std::string Authorization(const std::string& key) { return "Bearer " + key; }

// ---- Redis memory (prefill --redis) ----

struct RedisMemory {
  double used_memory = 0;
  std::map<std::string, std::pair<double, double>> families;  // family -> keys, MEMORY USAGE bytes
};

absl::StatusOr<double> InfoField(redis::RedisClient& redis, const std::string& field) {
  DOCKET_ASSIGN_OR_RETURN(redis::Reply info, redis.Command({"INFO", "memory"}));
  const std::string key = field + ":";
  const auto at = info.str.find(key);
  if (at == std::string::npos) return absl::InternalError(absl::StrCat("INFO memory has no ", field));
  return std::stod(info.str.substr(at + key.size()));
}

absl::StatusOr<RedisMemory> MeasureRedis(redis::RedisClient& redis) {
  RedisMemory m;
  DOCKET_ASSIGN_OR_RETURN(m.used_memory, InfoField(redis, "used_memory"));
  std::string cursor = "0";
  do {
    DOCKET_ASSIGN_OR_RETURN(redis::Reply page, redis.Command({"SCAN", cursor, "COUNT", "1000"}));
    if (page.elements.size() != 2) return absl::InternalError("unexpected SCAN reply");
    cursor = page.elements[0].str;
    std::vector<std::vector<std::string>> usage;
    for (const auto& key : page.elements[1].elements) usage.push_back({"MEMORY", "USAGE", key.str, "SAMPLES", "0"});
    DOCKET_ASSIGN_OR_RETURN(std::vector<redis::Reply> sizes, redis.Pipeline(usage));
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto& [keys, bytes] = m.families[KeyFamily(page.elements[1].elements[i].str)];
      keys += 1;
      bytes += static_cast<double>(sizes[i].integer);
    }
  } while (cursor != "0");
  return m;
}

// ---- prefill, automate: submit, then wait for processing's counter ----

struct SubmitAndWait {
  SubmissionProfile profile;
  std::string state;  // the processing transition that marks an item done
  std::string done_name;
};

StageResult SubmitUntilTransition(const Options& o, Mode mode, const SubmitAndWait& how) {
  StageResult r;
  r.mode = mode;
  CounterWatch watch;
  if (absl::Status s = watch.Add(o.processing_metrics,
                                 {how.done_name, kTransitions, {{"kind", KindOf(how.profile)}, {"state", how.state}}});
      !s.ok() || !(s = WaitForConsumers(o.MetricsPages(), 60s)).ok() || !(s = watch.Baseline()).ok()) {
    Fail(r, std::string(s.message()));
    return r;
  }
  std::unique_ptr<redis::RedisClient> redis;
  std::optional<RedisMemory> before;
  if (!o.redis_url.empty()) {
    auto opts = redis::ParseRedisUrl(o.redis_url);
    if (opts.ok()) {
      auto client = redis::MakeRedisClient(*opts, nullptr);
      if (client.ok()) redis = std::move(*client);
    }
    if (!redis) {
      Fail(r, "cannot use --redis=" + o.redis_url);
      return r;
    }
    auto m = MeasureRedis(*redis);
    if (!m.ok()) {
      Fail(r, std::string(m.status().message()));
      return r;
    }
    before = *m;
  }

  auto intake = docket::v1::Intake::NewStub(OpenChannel(o.target));
  SubmissionFactory factory(o.tenant, how.profile);
  BatchSubmitter submitter(*intake, Authorization(o.key), factory, o.items, o.batch_size, o.concurrency);
  CpuWindow cpu(o.watch);
  cpu.Start();
  const auto t0 = SteadyClock::now();
  submitter.Start();
  bool submitted = false;
  for (;;) {
    std::this_thread::sleep_for(50ms);
    if (!submitted) submitted = submitter.Wait(0ms);
    if (absl::Status s = watch.Sample(Seconds(SteadyClock::now() - t0)); !s.ok()) {
      Fail(r, std::string(s.message()));
      break;
    }
    if (submitted && watch.Last(how.done_name) >= static_cast<double>(submitter.admitted())) break;
    if (SteadyClock::now() - t0 > o.timeout) {
      Fail(r, absl::StrCat("not all admitted items reached ", how.state, " within --timeout"));
      break;
    }
  }
  cpu.Stop();
  while (!submitter.Wait(1s)) {
  }  // its calls' callbacks use this frame; each ends by its 60 s deadline
  TakeCpu(r, cpu);
  TakeErrors(r, submitter.errors());
  const double admitted = static_cast<double>(submitter.admitted());
  const ProgressSeries& done = watch.Series(how.done_name);
  r.Set("items", static_cast<double>(o.items));
  r.Set("admitted", admitted);
  r.Set("admit_seconds", submitter.seconds());
  r.Set("admit_items_per_second", submitter.seconds() > 0 ? admitted / submitter.seconds() : 0);
  r.Set(absl::StrCat(how.done_name, "_total"), watch.Last(how.done_name));
  if (auto t = done.FirstReached(admitted); t && admitted > 0) {
    r.Set(absl::StrCat("submit_to_", how.done_name, "_seconds"), *t);
    r.Set(absl::StrCat("submit_to_", how.done_name, "_items_per_second"), admitted / *t);
  }
  if (auto rate = done.RateBetween(0.25 * admitted, 0.75 * admitted)) {
    r.Set(absl::StrCat("processing_", how.done_name, "_per_second_25_75"), *rate);
  }
  CpuPerItem(r, admitted, "item");

  if (redis && before && r.complete) {
    // Processing clears each event from its outbox once Kafka confirmed it.
    for (int i = 0; i < 100; ++i) {
      auto n = redis->Command({"XLEN", "docket:outbox:log"});
      if (n.ok() && n->integer == 0) break;
      std::this_thread::sleep_for(100ms);
    }
    auto after = MeasureRedis(*redis);
    if (!after.ok()) {
      Fail(r, std::string(after.status().message()));
      return r;
    }
    r.Set("redis_used_memory_delta_bytes", after->used_memory - before->used_memory);
    r.Set("redis_used_memory_bytes_per_item", (after->used_memory - before->used_memory) / admitted);
    for (const auto& [family, v] : after->families) {
      const auto old = before->families.count(family) ? before->families.at(family)
                                                      : std::pair<double, double>{0, 0};
      if (v.first == old.first && v.second == old.second) continue;
      r.Set(absl::StrCat("redis_keys_per_item[", family, "]"), (v.first - old.first) / admitted);
      r.Set(absl::StrCat("redis_bytes_per_item[", family, "]"), (v.second - old.second) / admitted);
    }
  }
  return r;
}

// ---- claim ----

StageResult Claim(const Options& o) {
  StageResult r;
  r.mode = Mode::kClaim;
  CounterWatch watch;
  const bool scrape = !o.processing_metrics.empty();
  if (scrape) {
    absl::Status s = watch.Add(o.processing_metrics,
                               {"completed", kTransitions, {{"kind", "data_entry"}, {"state", "WORK_STATE_COMPLETED"}}});
    if (s.ok()) s = watch.Baseline();
    if (!s.ok()) {
      Fail(r, std::string(s.message()));
      return r;
    }
  }
  WorkerPool::Settings settings;
  settings.tenant = o.tenant;
  settings.queue = QueueOf(SubmissionProfile::kDataEntry);
  settings.workers = o.workers;
  settings.complete_and_next = o.complete_and_next;
  settings.batch = o.claim_batch;
  settings.stop_when_empty = true;
  WorkerPool pool(OpenChannel(o.work_target), Authorization(o.worker_key), settings);
  const auto begin = SteadyClock::now() + o.warmup;
  const auto end = begin + o.duration;
  pool.Start(begin, end);
  std::this_thread::sleep_until(begin);
  CpuWindow cpu(o.watch);
  cpu.Start();
  const auto t0 = SteadyClock::now();
  if (scrape) (void)watch.Sample(0);
  // Until the window closes or the queue ran dry.
  while (SteadyClock::now() < end && !pool.first_empty()) std::this_thread::sleep_for(20ms);
  const auto stop = std::min(SteadyClock::now(), pool.first_empty().value_or(end));
  const double seconds = cpu.Stop();
  if (scrape) (void)watch.Sample(Seconds(SteadyClock::now() - t0));
  pool.Stop();
  TakeCpu(r, cpu);
  TakeErrors(r, pool.errors());
  const double window = std::max(0.0, Seconds(stop - t0));
  const double cycles = static_cast<double>(pool.cycles());
  if (window == 0) Fail(r, "the queue ran dry before the measured window: prefill more items");
  r.Set("workers", o.workers);
  r.Set("window_seconds", window);
  r.Set("cycles", cycles);
  r.Set("cycles_per_second", window > 0 ? cycles / window : 0);
  r.Set("queue_emptied", pool.first_empty() ? 1 : 0);
  if (scrape) r.Set("processing_completed_in_window", watch.Last("completed"));
  (void)seconds;
  CpuPerItem(r, cycles, "cycle");
  r.latencies["claim"] = Summarize(pool.claim_latency());
  r.latencies["complete"] = Summarize(pool.complete_latency());
  r.latencies["cycle"] = Summarize(pool.cycle_latency());
  if (pool.first_empty() && *pool.first_empty() < end) {
    r.notes.push_back(absl::StrCat("the queue ran dry ", absl::StrFormat("%.1f", window),
                                   " s into the window: figures are over that part"));
  }
  return r;
}

// ---- routed ----

// The maximum of routed's own load, unary Submits: 64 calls in flight, closed
// loop, 1 s warm-up and 3 s measured. Half of a SubmitBatch maximum would ask
// unary calls for more than they can carry, and grow as batches get cheaper.
double UnaryMaximum(const Options& o) {
  Options probe = o;
  probe.rate = 0;
  probe.concurrency = 64;
  probe.warmup = 1s;
  probe.duration = 3s;
  return RunMode(probe, Mode::kUnary, o.target).items_per_second();
}

StageResult Routed(const Options& o) {
  StageResult r;
  r.mode = Mode::kRouted;
  double rate = o.rate;
  if (rate <= 0) {
    const double max = UnaryMaximum(o);
    r.Set("unary_max_per_second", max);
    rate = max / 2;
  }
  r.Set("rate", rate);
  if (rate <= 0) {
    Fail(r, "no rate: the unary maximum measured nothing");
    return r;
  }
  kafka::KafkaConfig kc;
  kc.brokers = o.kafka_brokers;
  kc.client_id = "docket-loadgen-routed";
  auto dlq = kafka::MakeKafkaPublisher(kc, nullptr);
  if (!dlq.ok()) {
    Fail(r, std::string(dlq.status().message()));
    return r;
  }
  RoutedMatcher matcher;
  std::mutex mu;
  std::condition_variable cv;
  bool assigned = false;
  kafka::ConsumerOptions co;
  co.kafka = kc;
  co.kafka.extra = {{"fetch.wait.max.ms", "5"}};  // deliver as soon as a record is there
  co.group_id = "docket-loadgen-routed-" + RunId();
  const kafka::Topics topics;
  co.topics = {topics.work()};
  co.dlq_topic = topics.dlq();
  co.handler = [&matcher](const kafka::Record& record) {
    const auto seen = SteadyClock::now();
    auto event = kafka::DecodeEvent(record);
    if (event.ok() && event->has_routed()) {
      const std::int64_t stamped =
          TimeUtil::TimestampToMilliseconds(event->time()) -
          TimeUtil::TimestampToMilliseconds(event->routed().submitted_at());
      matcher.Routed(event->subject(), seen, record.timestamp_ms, stamped);
    }
    return absl::OkStatus();  // never the DLQ: we only watch
  };
  co.on_assigned = [&](const std::vector<kafka::TopicPartition>& tps) {
    std::vector<std::pair<kafka::TopicPartition, std::int64_t>> from_end;
    for (const auto& tp : tps) from_end.emplace_back(tp, -1);  // RD_KAFKA_OFFSET_END
    std::lock_guard lock(mu);
    assigned = true;
    cv.notify_all();
    return from_end;
  };
  auto consumer = kafka::MakeKafkaConsumer(std::move(co), **dlq, nullptr);
  if (!consumer.ok()) {
    Fail(r, std::string(consumer.status().message()));
    return r;
  }
  std::thread consuming([&] { (void)(*consumer)->Run(); });
  {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, 60s, [&] { return assigned; })) {
      lock.unlock();
      (*consumer)->Stop();
      consuming.join();
      Fail(r, "the Kafka consumer got no partitions within 60 s (does the topic exist yet?)");
      return r;
    }
  }
  std::this_thread::sleep_for(1s);  // the end offsets are looked up after assignment

  // Unary Submit on a fixed schedule (open loop). In flight at most
  // --concurrency, or half a second of the schedule if that is more: a cap
  // that bites would thin the schedule and hide latency.
  const int max_in_flight = std::max(o.concurrency, static_cast<int>(rate / 2) + 1);
  r.Set("max_in_flight", max_in_flight);
  auto intake = docket::v1::Intake::NewStub(OpenChannel(o.target));
  SubmissionFactory factory(o.tenant, SubmissionProfile::kDataEntry);
  ErrorCounts errors;
  LatencyHistogram submit_latency;
  std::atomic<int> in_flight{0};
  std::atomic<std::uint64_t> admitted{0}, skipped{0};
  const auto begin = SteadyClock::now() + o.warmup;
  const auto end = begin + o.duration;
  const auto start = SteadyClock::now();
  struct Call {
    grpc::ClientContext ctx;
    docket::v1::SubmitRequest req;
    docket::v1::SubmitResponse resp;
    SteadyClock::time_point scheduled;
  };
  CpuWindow cpu(o.watch);
  std::thread pacer([&] {
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    bool cpu_started = false;
    for (std::uint64_t n = 0;; ++n) {
      const auto scheduled = start + std::chrono::duration_cast<SteadyClock::duration>(interval * static_cast<double>(n));
      if (scheduled >= end) break;
      std::this_thread::sleep_until(scheduled);
      if (!cpu_started && scheduled >= begin) {
        cpu.Start();
        cpu_started = true;
      }
      if (in_flight.load() >= max_in_flight) {
        skipped.fetch_add(1);  // the service is behind: shows as a lower achieved rate
        continue;
      }
      in_flight.fetch_add(1);
      auto* call = new Call;
      call->scheduled = scheduled;
      call->ctx.AddMetadata("authorization", Authorization(o.key));
      call->ctx.set_deadline(std::chrono::system_clock::now() + 30s);
      factory.Fill(&call->req);
      intake->async()->Submit(&call->ctx, &call->req, &call->resp, [&, call](grpc::Status s) {
        const auto now = SteadyClock::now();
        const bool measured = call->scheduled >= begin;
        if (s.ok() && !call->resp.duplicate()) {
          if (measured) {
            admitted.fetch_add(1);
            submit_latency.Record(now - call->scheduled);
          }
          matcher.Admitted(call->resp.item_id(), now, WallMs(), measured);
        } else if (!s.ok() && measured) {
          errors.Add(s.error_code(), s.error_message());
        }
        delete call;
        in_flight.fetch_sub(1);
      });
    }
  });
  pacer.join();
  const double seconds = cpu.Stop();
  TakeCpu(r, cpu);
  // Every call ends within its 30 s deadline (their callbacks use this frame).
  while (in_flight.load() > 0) std::this_thread::sleep_for(20ms);
  // The last Routed events follow within a moment.
  const auto drain = SteadyClock::now() + 15s;
  while (matcher.matched() < matcher.measured() && SteadyClock::now() < drain) {
    std::this_thread::sleep_for(20ms);
  }
  (*consumer)->Stop();
  consuming.join();
  TakeErrors(r, errors);
  r.Set("measured_seconds", seconds);
  r.Set("admitted", static_cast<double>(admitted.load()));
  r.Set("admitted_per_second", seconds > 0 ? static_cast<double>(admitted.load()) / seconds : 0);
  r.Set("skipped_at_concurrency_cap", static_cast<double>(skipped.load()));
  r.Set("routed_matched", static_cast<double>(matcher.matched()));
  r.Set("routed_before_submit_ok", static_cast<double>(matcher.routed_before_ok()));
  if (matcher.matched() < matcher.measured()) {
    Fail(r, absl::StrCat(matcher.measured() - matcher.matched(), " admitted items had no Routed event 15 s later"));
  }
  r.latencies["submit_call"] = Summarize(submit_latency);
  r.latencies["submit_ok_to_routed_consumed"] = Summarize(matcher.consumed());
  r.latencies["submit_ok_to_routed_produced"] = Summarize(matcher.produced());
  r.latencies["submitted_at_to_routed_time"] = Summarize(matcher.stamped());
  r.notes.push_back(
      "submit_ok_to_routed_consumed: Submit OK to the Routed record read back from docket.work.v1 "
      "(steady clock); _produced: to the record's CreateTime (wall clock, ms); "
      "submitted_at_to_routed_time: intake's stamp to processing's, from the event (ms)");
  return r;
}

// ---- lifecycle ----

StageResult Lifecycle(const Options& o) {
  StageResult r;
  r.mode = Mode::kLifecycle;
  const SubmissionProfile profile = SubmissionProfile::kShippingDocuments;
  const std::string kind = KindOf(profile);
  CounterWatch watch;
  std::vector<std::string> stages;
  auto add = [&](const std::string& url, Watched w) {
    stages.push_back(w.name);
    return watch.Add(url, std::move(w));
  };
  absl::Status s;
  if (!o.processing_metrics.empty()) {
    for (const auto& [name, state] : std::vector<std::pair<std::string, std::string>>{
             {"queued", "WORK_STATE_QUEUED"},
             {"claimed", "WORK_STATE_CLAIMED"},
             {"requested", "WORK_STATE_COMPLETION_REQUESTED"}}) {
      if (s.ok()) s = add(o.processing_metrics, {name, kTransitions, {{"kind", kind}, {"state", state}}});
    }
  }
  if (s.ok() && !o.compliance_metrics.empty()) {
    s = add(o.compliance_metrics,
            {"verdicts", "docket_compliance_evaluations_total", {{"kind", kind}, {"checkpoint", "complete"}}});
  }
  if (s.ok() && !o.processing_metrics.empty()) {
    s = add(o.processing_metrics, {"completed", kTransitions, {{"kind", kind}, {"state", "WORK_STATE_COMPLETED"}}});
  }
  if (s.ok()) s = add(o.metrics_url, {"counted", kCompletions, {{"kind", kind}, {"path", "!rejected"}}});
  // Not a stage: no item should get there.
  if (s.ok() && !o.processing_metrics.empty()) {
    s = watch.Add(o.processing_metrics, {"held", kTransitions, {{"kind", kind}, {"state", "WORK_STATE_HELD"}}});
  }
  if (s.ok()) s = WaitForConsumers(o.MetricsPages(), 60s);
  if (s.ok()) s = watch.Baseline();
  if (!s.ok()) {
    Fail(r, std::string(s.message()));
    return r;
  }

  WorkerPool::Settings settings;
  settings.tenant = o.tenant;
  settings.queue = QueueOf(profile);
  settings.workers = o.workers;
  settings.complete_and_next = o.complete_and_next;
  settings.batch = o.claim_batch;
  settings.stop_when_empty = false;
  WorkerPool pool(OpenChannel(o.work_target), Authorization(o.worker_key), settings);
  auto intake = docket::v1::Intake::NewStub(OpenChannel(o.target));
  SubmissionFactory factory(o.tenant, profile);
  BatchSubmitter submitter(*intake, Authorization(o.key), factory, o.items, o.batch_size, o.concurrency);
  CpuWindow cpu(o.watch);
  cpu.Start();
  const auto t0 = SteadyClock::now();
  pool.Start(t0, t0 + std::chrono::hours(24));
  submitter.Start();
  bool submitted = false;
  double next_line = 0;
  for (;;) {
    std::this_thread::sleep_for(100ms);
    if (!submitted) submitted = submitter.Wait(0ms);
    const double t = Seconds(SteadyClock::now() - t0);
    if (absl::Status ss = watch.Sample(t); !ss.ok()) {
      Fail(r, std::string(ss.message()));
      break;
    }
    if (t >= next_line) {
      std::string line = absl::StrFormat("t=%5.1fs admitted=%d worker_completes=%d", t, submitter.admitted(),
                                         pool.total_completed());
      for (const auto& name : stages) absl::StrAppendFormat(&line, " %s=%.0f", name, watch.Last(name));
      r.notes.push_back(line);
      next_line += 1;
    }
    if (submitted && watch.Last("counted") >= static_cast<double>(submitter.admitted())) break;
    if (absl::Status held = NoneHeld(watch.Last("held")); !held.ok()) {
      Fail(r, std::string(held.message()));
      break;
    }
    if (SteadyClock::now() - t0 > o.timeout) {
      Fail(r, "docket-metrics did not count every admitted item within --timeout");
      break;
    }
  }
  const double elapsed = cpu.Stop();
  pool.Stop();
  while (!submitter.Wait(1s)) {
  }  // its calls' callbacks use this frame; each ends by its 60 s deadline
  TakeCpu(r, cpu);
  TakeErrors(r, submitter.errors());
  TakeErrors(r, pool.errors());
  const double admitted = static_cast<double>(submitter.admitted());
  const ProgressSeries& counted = watch.Series("counted");
  r.Set("items", static_cast<double>(o.items));
  r.Set("admitted", admitted);
  r.Set("workers", o.workers);
  r.Set("admit_items_per_second", submitter.seconds() > 0 ? admitted / submitter.seconds() : 0);
  r.Set("counted", watch.Last("counted"));
  if (auto t = counted.FirstReached(admitted); t && admitted > 0) {
    r.Set("submit_to_counted_seconds", *t);
    r.Set("items_per_second", admitted / *t);
  } else {
    r.Set("items_per_second", elapsed > 0 ? watch.Last("counted") / elapsed : 0);
  }
  // Each stage's own pace in the middle of the run: the slowest is the limit.
  for (const auto& name : stages) {
    if (auto rate = watch.Series(name).RateBetween(0.25 * admitted, 0.75 * admitted)) {
      r.Set(absl::StrCat("stage_", name, "_per_second_25_75"), *rate);
    }
    if (auto t = watch.Series(name).FirstReached(admitted)) r.Set(absl::StrCat("stage_", name, "_all_at_seconds"), *t);
  }
  CpuPerItem(r, watch.Last("counted"), "item");
  r.latencies["worker_cycle"] = Summarize(pool.cycle_latency());
  return r;
}

// ---- metrics-produce, metrics-drain, metrics-fresh ----

// Writes items' lifecycle events with at most `cap` unconfirmed.
class EventFeeder {
 public:
  EventFeeder(kafka::EventPublisher& publisher, std::string run, std::size_t cap)
      : publisher_(publisher), run_(std::move(run)), cap_(cap) {}

  // Queues the events of the next item; returns how many.
  std::size_t NextItem() {
    const std::uint64_t n = next_++;
    auto events = ItemLife(ItemId(run_, n), "acme", PathOf(n), WallMs());
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return outstanding_ + events.size() <= cap_; });
      outstanding_ += events.size();
    }
    for (auto& e : events) {
      publisher_.PublishAsync(kafka::EncodeEvent(e.compliance_topic ? topics_.compliance() : topics_.work(), e.event),
                              [this](absl::Status s) { Confirmed(s); });
    }
    return events.size();
  }
  // Waits until every queued event is confirmed (or failed).
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return outstanding_ == 0; });
  }
  std::uint64_t items() const { return next_; }
  std::uint64_t confirmed() const { return confirmed_.load(); }
  const ErrorCounts& errors() const { return errors_; }

 private:
  void Confirmed(const absl::Status& s) {
    if (s.ok()) confirmed_.fetch_add(1);
    else errors_.Add(static_cast<int>(s.code()), std::string(s.message()));
    std::lock_guard lock(mu_);
    --outstanding_;
    cv_.notify_all();
  }
  kafka::EventPublisher& publisher_;
  const kafka::Topics topics_;
  const std::string run_;
  const std::size_t cap_;
  std::uint64_t next_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t outstanding_ = 0;
  std::atomic<std::uint64_t> confirmed_{0};
  ErrorCounts errors_;
};

absl::StatusOr<std::unique_ptr<kafka::EventPublisher>> FeedPublisher(const Options& o, const char* client,
                                                                    bool bulk) {
  kafka::KafkaConfig kc;
  kc.brokers = o.kafka_brokers;
  kc.client_id = client;
  kc.delivery_timeout_ms = 300000;
  if (bulk) {
    // Throughput over latency: big batches, a deep queue.
    kc.extra = {{"linger.ms", "50"},
                {"batch.num.messages", "10000"},
                {"queue.buffering.max.messages", "1000000"},
                {"queue.buffering.max.kbytes", "1048576"}};
  }
  return kafka::MakeKafkaPublisher(kc, nullptr);
}

StageResult MetricsProduce(const Options& o) {
  StageResult r;
  r.mode = Mode::kMetricsProduce;
  auto publisher = FeedPublisher(o, "docket-loadgen-feed", true);
  if (!publisher.ok()) {
    Fail(r, std::string(publisher.status().message()));
    return r;
  }
  EventFeeder feeder(**publisher, RunId(), 500000);
  CpuWindow cpu(o.watch);
  cpu.Start();
  std::uint64_t events = 0;
  for (std::int64_t i = 0; i < o.items; ++i) events += feeder.NextItem();
  const bool confirmed = feeder.Wait(o.timeout);
  const double seconds = cpu.Stop();
  if (!confirmed) {
    Fail(r, "Kafka did not confirm every event within --timeout");
    // The confirmations use the feeder: each comes by the publisher's delivery timeout.
    while (!feeder.Wait(1s)) {
    }
  }
  TakeCpu(r, cpu);
  TakeErrors(r, feeder.errors());
  r.Set("items", static_cast<double>(o.items));
  r.Set("events", static_cast<double>(events));
  r.Set("events_confirmed", static_cast<double>(feeder.confirmed()));
  r.Set("produce_seconds", seconds);
  r.Set("produce_events_per_second", seconds > 0 ? static_cast<double>(feeder.confirmed()) / seconds : 0);
  r.Set("expected_person_completions", static_cast<double>(PersonCompletionsFor(static_cast<std::uint64_t>(o.items))));
  r.Set("expected_auto_completions", static_cast<double>(AutoCompletionsFor(static_cast<std::uint64_t>(o.items))));
  return r;
}

StageResult MetricsDrain(const Options& o) {
  StageResult r;
  r.mode = Mode::kMetricsDrain;
  const auto items = static_cast<std::uint64_t>(o.items);
  const double expected = static_cast<double>(EventsFor(items));
  const double completions = static_cast<double>(PersonCompletionsFor(items) + AutoCompletionsFor(items));
  CounterWatch watch;
  absl::Status s = watch.Add(o.metrics_url, {"consumed", kConsumed, {{"client", kMetricsConsumer}}});
  if (s.ok()) s = watch.Add(o.metrics_url, {"completions", kCompletions, {}});
  if (s.ok()) s = watch.BaselineWhenUp(o.timeout);
  if (!s.ok()) {
    Fail(r, std::string(s.message()));
    return r;
  }
  // The stream is the whole topic: docket-metrics starts from its beginning.
  watch.ZeroBaseline();
  CpuWindow cpu(o.watch);
  cpu.Start();
  const auto t0 = SteadyClock::now();
  for (;;) {
    if (s = watch.Sample(Seconds(SteadyClock::now() - t0)); !s.ok()) {
      Fail(r, std::string(s.message()));
      break;
    }
    if (watch.Last("consumed") >= expected && watch.Last("completions") >= completions) break;
    if (SteadyClock::now() - t0 > o.timeout) {
      Fail(r, "docket-metrics did not consume and count every event within --timeout");
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  cpu.Stop();
  TakeCpu(r, cpu);
  const ProgressSeries& consumed = watch.Series("consumed");
  r.Set("events_expected", expected);
  r.Set("events_consumed", watch.Last("consumed"));
  r.Set("completions_counted", watch.Last("completions"));
  const auto first = consumed.FirstReached(1);
  const auto all = consumed.FirstReached(expected);
  const auto counted = watch.Series("completions").FirstReached(completions);
  double at_first = 0;
  for (const auto& sample : consumed.samples()) {
    if (sample.value > 0) {
      at_first = sample.value;
      break;
    }
  }
  if (first) r.Set("first_consumed_at_seconds", *first);
  if (first && all && *all > *first) {
    r.Set("all_consumed_at_seconds", *all);
    r.Set("events_per_second", (expected - at_first) / (*all - *first));
  }
  if (first && counted && *counted > *first) {
    r.Set("all_counted_at_seconds", *counted);
    r.Set("events_per_second_to_kpis", (expected - at_first) / (*counted - *first));
  }
  if (auto rate = consumed.RateBetween(0.25 * expected, 0.75 * expected)) {
    r.Set("events_per_second_25_75", *rate);
  }
  CpuPerItem(r, expected, "event");
  return r;
}

StageResult MetricsFresh(const Options& o) {
  StageResult r;
  r.mode = Mode::kMetricsFresh;
  auto stream_pub = FeedPublisher(o, "docket-loadgen-stream", false);
  auto probe_pub = FeedPublisher(o, "docket-loadgen-probe", false);
  if (!stream_pub.ok() || !probe_pub.ok()) {
    Fail(r, std::string((stream_pub.ok() ? probe_pub.status() : stream_pub.status()).message()));
    return r;
  }
  auto url = ParseHttpUrl(o.metrics_url);
  CounterWatch watch;
  absl::Status s = watch.Add(o.metrics_url, {"probes", kCompletions, {{"tenant", kProbeTenant}, {"path", "person"}}});
  if (s.ok()) s = watch.Add(o.metrics_url, {"consumed", kConsumed, {{"client", kMetricsConsumer}}});
  if (s.ok()) s = watch.Baseline();
  if (!url.ok() || !s.ok()) {
    Fail(r, std::string((url.ok() ? s : url.status()).message()));
    return r;
  }
  const std::string run = RunId();
  EventFeeder feeder(**stream_pub, run, 200000);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> streamed{0};
  const auto start = SteadyClock::now();
  std::thread stream([&] {
    std::uint64_t sent = 0;
    while (!stop.load()) {
      const double due = o.rate * Seconds(SteadyClock::now() - start);
      while (static_cast<double>(sent) < due && !stop.load()) sent += feeder.NextItem();
      streamed.store(sent);
      std::this_thread::sleep_for(1ms);
    }
  });
  LatencyHistogram delay, ack, scrape;
  std::uint64_t sent = 0, probes = 0, late = 0, lost = 0;
  const double base = watch.base("probes");
  const std::vector<Watched> probe_series = {{"probes", kCompletions, {{"tenant", kProbeTenant}, {"path", "person"}}}};
  constexpr auto kPoll = 20ms;
  constexpr auto kGiveUp = 10s;
  // One probe: publish, then poll /metrics until it is counted. `record`
  // false for the warm-up probe, whose produce also sets up the producer
  // (metadata, connections, producer id: ~1 s that is no part of the delay).
  auto probe = [&](bool record) {
    const auto t0 = SteadyClock::now();
    ++sent;
    // Shared with the delivery callback, which may outlive this call.
    auto acked_ns = std::make_shared<std::atomic<std::int64_t>>(-1);
    const auto ev = ProbeCompleted(ItemId(run, 1ull << 40 | sent), kProbeTenant, WallMs());
    (*probe_pub)->PublishAsync(kafka::EncodeEvent(kafka::Topics().work(), ev), [acked_ns, t0](absl::Status st) {
      if (st.ok()) acked_ns->store((SteadyClock::now() - t0).count());
    });
    bool seen = false;
    while (SteadyClock::now() - t0 < kGiveUp) {
      const auto scrape_start = SteadyClock::now();
      auto sums = ScrapeSums(*url, probe_series);
      if (record) scrape.Record(SteadyClock::now() - scrape_start);
      if (sums.ok() && (*sums)[0] - base >= static_cast<double>(sent)) {
        seen = true;
        break;
      }
      std::this_thread::sleep_for(kPoll);
    }
    const auto waited = SteadyClock::now() - t0;
    while (acked_ns->load() < 0 && SteadyClock::now() - t0 < kGiveUp) std::this_thread::sleep_for(1ms);
    if (!record) return;
    ++probes;
    if (!seen) ++lost;
    delay.Record(waited);
    if (waited > 1s) ++late;
    if (acked_ns->load() >= 0) ack.Record(std::chrono::nanoseconds(acked_ns->load()));
    std::this_thread::sleep_until(t0 + o.probe_interval);
  };
  probe(false);
  std::this_thread::sleep_for(o.warmup);
  CpuWindow cpu(o.watch);
  cpu.Start();
  const auto begin = SteadyClock::now();
  const auto streamed_before = streamed.load();
  (void)watch.Sample(0);
  while (SteadyClock::now() - begin < o.duration) probe(true);
  const double seconds = cpu.Stop();
  (void)watch.Sample(seconds);
  const auto streamed_in_window = streamed.load() - streamed_before;
  stop.store(true);
  stream.join();
  // The confirmations use the feeder: each comes by the publisher's delivery timeout.
  while (!feeder.Wait(1s)) {
  }
  TakeCpu(r, cpu);
  TakeErrors(r, feeder.errors());
  r.Set("stream_rate_requested", o.rate);
  r.Set("stream_events_per_second", static_cast<double>(streamed_in_window) / seconds);
  const auto& consumed = watch.Series("consumed").samples();
  if (consumed.size() >= 2) {
    r.Set("metrics_consumed_per_second",
          (consumed.back().value - consumed.front().value) / (consumed.back().seconds - consumed.front().seconds));
  }
  r.Set("probes", static_cast<double>(probes));
  r.Set("probes_over_1s", static_cast<double>(late));
  r.Set("probes_not_seen_in_10s", static_cast<double>(lost));
  r.Set("poll_interval_ms", std::chrono::duration<double, std::milli>(kPoll).count());
  r.latencies["completed_to_counted"] = Summarize(delay);
  r.latencies["probe_produce_ack"] = Summarize(ack);
  // A slow scrape is docket-metrics busy elsewhere with the lock /metrics needs.
  r.latencies["metrics_scrape"] = Summarize(scrape);
  if (lost > 0) Fail(r, absl::StrCat(lost, " probes were not counted within 10 s"));
  return r;
}

}  // namespace

void StageResult::Set(std::string name, double value) {
  for (auto& [n, v] : figures) {
    if (n == name) {
      v = value;
      return;
    }
  }
  figures.emplace_back(std::move(name), value);
}

std::optional<double> StageResult::Figure(std::string_view name) const {
  for (const auto& [n, v] : figures) {
    if (n == name) return v;
  }
  return std::nullopt;
}

absl::Status NoneHeld(double held) {
  if (held <= 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%.0f items were held on a compliance flag and wait for a second approver, so the run cannot "
      "finish; docket_compliance_violations_total on compliance's /metrics says which rules. On "
      "docket-devkafka, a consumer more than 5 MiB behind on a partition loses its oldest records "
      "(tools/devkafka/README.md): completions whose submission was lost are flagged "
      "(submission-unknown); use --kafka=apache for a run that lets a consumer fall far behind",
      held));
}

std::uint64_t EventsFor(std::uint64_t items) {
  // Per path: person 4 events, automated 3, checked 6 (see ItemLife).
  std::uint64_t events = 0;
  for (std::uint64_t n = 0; n < items % 10; ++n) {
    const ItemPath p = PathOf(n);
    events += p == ItemPath::kPerson ? 4 : p == ItemPath::kAutomated ? 3 : 6;
  }
  return items / 10 * 40 + events;
}

std::uint64_t PersonCompletionsFor(std::uint64_t items) {
  std::uint64_t n = items / 10 * 8;
  for (std::uint64_t i = 0; i < items % 10; ++i) n += PathOf(i) != ItemPath::kAutomated;
  return n;
}

std::uint64_t AutoCompletionsFor(std::uint64_t items) { return items - PersonCompletionsFor(items); }

std::string KeyFamily(std::string_view key) {
  const auto first = key.find(':');
  if (first == std::string_view::npos) return std::string(key);
  const auto second = key.find(':', first + 1);
  return std::string(key.substr(0, second));
}

StageResult RunStage(const Options& options, Mode mode) {
  // The Kafka and Redis clients log at info; the report is what matters here.
  log::SetLevel(log::Level::kWarn);
  switch (mode) {
    case Mode::kPrefill:
      return SubmitUntilTransition(options, mode, {SubmissionProfile::kDataEntry, "WORK_STATE_QUEUED", "queued"});
    case Mode::kAutomate:
      return SubmitUntilTransition(
          options, mode, {SubmissionProfile::kDataEntryAutomated, "WORK_STATE_AUTO_COMPLETED", "auto_completed"});
    case Mode::kClaim: return Claim(options);
    case Mode::kRouted: return Routed(options);
    case Mode::kLifecycle: return Lifecycle(options);
    case Mode::kMetricsProduce: return MetricsProduce(options);
    case Mode::kMetricsDrain: return MetricsDrain(options);
    case Mode::kMetricsFresh: return MetricsFresh(options);
    default: break;
  }
  StageResult r;
  r.mode = mode;
  Fail(r, absl::StrCat(ModeName(mode), " is not a pipeline mode"));
  return r;
}

}  // namespace docket::loadgen
