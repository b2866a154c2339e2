#pragma once

// Command-line options of docket-loadgen.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace docket::loadgen {

enum class Mode {
  // Intake alone (load_driver.h):
  kEcho,    // unary Submit against an in-process plain gRPC server that answers at once
  kUnary,   // docket.v1.Intake/Submit, one item per call
  kBatch,   // docket.v1.Intake/SubmitBatch, --batch-size items per call
  kStream,  // docket.v1.Intake/SubmitStream, one ack per item
  // The running stack (pipeline.h):
  kPrefill,         // --items data_entry items submitted, until processing has queued them all
  kClaim,           // --workers looping Work.ClaimNext -> Complete over the queued items
  kAutomate,        // --items automatable items, until processing has auto-completed them all
  kRouted,          // Submit at --rate; latency from Submit OK to the Routed event on Kafka
  kLifecycle,       // --items through submit, claim, complete, compliance, metrics
  kMetricsProduce,  // --items lifecycle events written to Kafka (docket-metrics' input)
  kMetricsDrain,    // until docket-metrics has consumed --items records
  kMetricsFresh,    // one Completed event at a time while a stream flows: delay to /metrics
};

const char* ModeName(Mode mode);
// True for the modes that drive docket.v1.Intake alone (echo, unary, batch, stream).
bool IsIntakeMode(Mode mode);

// A process whose CPU time the report shows (e.g. intake, redis-server).
struct WatchedProcess {
  std::string name;
  int pid = 0;
};

struct Options {
  std::string target;  // host:port of docket-intake (not needed for echo alone)
  std::string key;     // API key, sent as "authorization: Bearer <key>"
  std::vector<Mode> modes = {Mode::kUnary};  // run one after the other
  std::string tenant = "acme";
  std::chrono::milliseconds duration{10000};  // measured window of each mode
  std::chrono::milliseconds warmup{2000};     // before it, not measured
  int concurrency = 32;  // calls in flight (unary, echo, batch) or streams (stream)
  double rate = 0;       // items per second for a fixed-rate run; 0 = as fast as it goes
  int batch_size = 100;
  int window = 1024;     // stream: items sent and not yet acked, per stream
  int connections = 1;   // HTTP/2 connections the calls are spread over
  std::vector<WatchedProcess> watch;  // --watch=name:pid
  // After the listed modes, unary again at a fixed rate of half the unary
  // maximum just measured (the latency target's operating point).
  bool half_rate = false;
  bool json = false;        // JSON on stdout instead of the table
  std::string json_file;    // also write the JSON here
  std::string serve_echo;   // host:port: only serve the echo baseline until SIGINT/SIGTERM
  bool help = false;

  // ---- the pipeline modes (pipeline.h) ----
  std::string work_target;  // host:port of docket-processing (docket.v1.Work)
  std::string worker_key;   // API key with the worker role and the queue's skill
  std::int64_t items = 10000;  // prefill, automate, lifecycle, metrics-produce, metrics-drain
  int workers = 16;            // claim, lifecycle: concurrent ClaimNext -> Complete loops
  // claim, lifecycle: each Complete also claims the worker's next item
  // (CompleteRequest.claim_next), one call per item instead of two.
  bool complete_and_next = false;
  // claim, lifecycle: > 1 = each worker is a bot that claims up to this
  // many items per ClaimNext (max_items) and completes them with one
  // CompleteBatch (which claims the next ones with --complete-and-next).
  int claim_batch = 1;
  std::string processing_metrics;  // http://host:port/metrics of docket-processing
  std::string compliance_metrics;  // ... of docket-compliance (lifecycle: stage timeline)
  std::string metrics_url;         // ... of docket-metrics
  // The /metrics pages given of the three services that consume Kafka.
  std::vector<std::string> MetricsPages() const {
    std::vector<std::string> out;
    for (const std::string* url : {&processing_metrics, &compliance_metrics, &metrics_url}) {
      if (!url->empty()) out.push_back(*url);
    }
    return out;
  }
  std::string kafka_brokers;       // bootstrap servers (routed, metrics-*)
  std::string redis_url;           // prefill: Redis memory per queued item
  std::chrono::milliseconds timeout{300000};        // longest wait for a stage to finish
  std::chrono::milliseconds probe_interval{250};    // metrics-fresh: between probes
};

// Parses argv (without argv[0]): --name=value or --name value. INVALID_ARGUMENT
// names the offending flag.
absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args);

std::string Usage();

}  // namespace docket::loadgen
