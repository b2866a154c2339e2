#pragma once

// The clients the pipeline modes drive the running stack with: publishers
// submitting through docket.v1.Intake, workers looping ClaimNext -> Complete
// on docket.v1.Work, and a poller of a service's /metrics. Each counts what
// it did; the modes (pipeline.cc) turn that into figures.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "docket/v1/intake_service.grpc.pb.h"
#include "docket/v1/work_service.grpc.pb.h"
#include "tools/loadgen/src/http_get.h"
#include "tools/loadgen/src/latency_histogram.h"
#include "tools/loadgen/src/prom_text.h"
#include "tools/loadgen/src/progress_series.h"
#include "tools/loadgen/src/submissions.h"

namespace docket::loadgen {

using SteadyClock = std::chrono::steady_clock;

// Failures by gRPC status code name, and the first message (thread-safe).
class ErrorCounts {
 public:
  void Add(int code, const std::string& message);
  std::map<std::string, std::uint64_t> counts() const;
  std::string first() const;
  std::uint64_t total() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> counts_;
  std::string first_;
};

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target);

// Submits `items` items through SubmitBatch, `concurrency` calls of
// `batch_size` items in flight (closed loop). Failed items are counted, not
// retried: the modes wait for what was admitted.
class BatchSubmitter {
 public:
  // `on_admitted(item_id)` runs on a gRPC thread for each item admitted as new.
  BatchSubmitter(docket::v1::Intake::Stub& stub, std::string authorization, SubmissionFactory& factory,
                 std::int64_t items, int batch_size, int concurrency,
                 std::function<void(const std::string&)> on_admitted = nullptr);
  void Start();
  // Waits until every call answered; false if `timeout` passed first.
  bool Wait(std::chrono::milliseconds timeout);
  std::uint64_t admitted() const { return admitted_.load(); }
  std::uint64_t duplicates() const { return duplicates_.load(); }
  const ErrorCounts& errors() const { return errors_; }
  // Seconds from Start() to the last answer.
  double seconds() const;

 private:
  struct Call;
  void Issue();
  void Done(Call* call, const grpc::Status& status);

  docket::v1::Intake::Stub& stub_;
  const std::string authorization_;
  SubmissionFactory& factory_;
  const std::function<void(const std::string&)> on_admitted_;
  const int batch_size_;
  const int concurrency_;
  std::atomic<std::int64_t> left_;  // items not yet put in a call
  std::atomic<std::uint64_t> admitted_{0}, duplicates_{0};
  ErrorCounts errors_;
  SteadyClock::time_point started_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  SteadyClock::time_point last_answer_;
};

// Workers looping ClaimNext -> Complete on one queue, one thread each (the
// Work API is unary and each worker holds one item at a time, so threads are
// simple and cheap next to the services' cost per cycle). Only what ends in
// the window [begin, end) is recorded.
class WorkerPool {
 public:
  struct Settings {
    std::string tenant;
    std::string queue;
    int workers = 16;
    // Stop a worker when ClaimNext finds the queue empty (claim mode); else
    // it retries after `empty_backoff` (lifecycle: items are still coming).
    // Not shorter: idle workers polling would take the CPU of the stages
    // they wait for (16 workers every 2 ms cost processing ~0.5 cores).
    bool stop_when_empty = true;
    std::chrono::milliseconds empty_backoff{50};
    // Complete claims the next item in the same call (claim_next); ClaimNext
    // only when none came with it.
    bool complete_and_next = false;
    // > 1: claim up to `batch` items per ClaimNext and complete them with
    // one CompleteBatch (a bot); latencies are then per call, not per item.
    int batch = 1;
  };
  WorkerPool(std::shared_ptr<grpc::Channel> channel, std::string authorization, Settings settings);
  ~WorkerPool();

  void Start(SteadyClock::time_point begin, SteadyClock::time_point end);
  void Stop();  // asks every worker to stop and joins them

  // In the window:
  std::uint64_t cycles() const { return cycles_.load(); }  // claimed and completed
  const LatencyHistogram& claim_latency() const { return claim_; }
  const LatencyHistogram& complete_latency() const { return complete_; }
  const LatencyHistogram& cycle_latency() const { return cycle_; }
  const ErrorCounts& errors() const { return errors_; }
  // Overall (in and out of the window):
  std::uint64_t total_completed() const { return total_completed_.load(); }
  std::uint64_t empty_claims() const { return empty_claims_.load(); }
  // When the first worker found the queue empty (nullopt if none did).
  std::optional<SteadyClock::time_point> first_empty() const;

 private:
  void Loop(int index);
  void BatchLoop(int index);
  // A claim that found nothing: stop (claim mode) or wait a little.
  bool FoundNothing(SteadyClock::time_point when);

  std::vector<std::unique_ptr<docket::v1::Work::Stub>> stubs_;
  const std::string authorization_;
  const Settings settings_;
  SteadyClock::time_point begin_, end_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> cycles_{0}, total_completed_{0}, empty_claims_{0};
  LatencyHistogram claim_, complete_, cycle_;
  ErrorCounts errors_;
  mutable std::mutex mu_;
  std::optional<SteadyClock::time_point> first_empty_;
};

// One series to watch on a /metrics page: the sum of `metric` over the
// samples whose labels match.
struct Watched {
  std::string name;  // for the report
  std::string metric;
  LabelMatch match;
};

// Scrapes a URL and sums the watched series (one scrape for all of them).
absl::StatusOr<std::vector<double>> ScrapeSums(const HttpUrl& url, const std::vector<Watched>& watched);

// Waits until the Kafka consumer behind each /metrics page has partitions
// (docket_kafka_consumer_assigned_partitions > 0). A consumer group forms a
// few seconds after start-up; a run that began before would time a stack
// whose consumers were not working yet (a 60,000-item automated run takes
// ~3 s). DEADLINE_EXCEEDED naming the page after `timeout`.
absl::Status WaitForConsumers(const std::vector<std::string>& metrics_urls, std::chrono::milliseconds timeout);

}  // namespace docket::loadgen
