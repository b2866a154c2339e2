#include "tools/loadgen/src/options.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status/macros.h"

namespace docket::loadgen {
namespace {

absl::Status Bad(const std::string& flag, const std::string& value, const std::string& expected) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", value, ": expected ", expected));
}

absl::StatusOr<int> ParseInt(const std::string& flag, const std::string& value, int min, int max) {
  int out = 0;
  if (!absl::SimpleAtoi(value, &out) || out < min || out > max) {
    return Bad(flag, value, absl::StrCat("an integer in [", min, ", ", max, "]"));
  }
  return out;
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& flag,
                                                        const std::string& value, bool allow_zero) {
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration() ||
      (!allow_zero && d == absl::ZeroDuration()) || d > absl::Hours(24)) {
    return Bad(flag, value, "a duration like 10s, 500ms or 2m");
  }
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

constexpr Mode kAllModes[] = {Mode::kEcho,     Mode::kUnary,         Mode::kBatch,
                               Mode::kStream,   Mode::kPrefill,       Mode::kClaim,
                               Mode::kAutomate, Mode::kRouted,        Mode::kLifecycle,
                               Mode::kMetricsProduce, Mode::kMetricsDrain, Mode::kMetricsFresh};

absl::StatusOr<std::vector<Mode>> ParseModes(const std::string& value) {
  std::vector<Mode> modes;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    const Mode* found = nullptr;
    for (const Mode& m : kAllModes) {
      if (part == ModeName(m)) found = &m;
    }
    if (!found) {
      return Bad("mode", value,
                 "a comma-separated list of echo, unary, batch, stream, prefill, claim, automate, "
                 "routed, lifecycle, metrics-produce, metrics-drain, metrics-fresh");
    }
    modes.push_back(*found);
  }
  return modes;
}

bool Has(const std::vector<Mode>& modes, Mode m) {
  return std::find(modes.begin(), modes.end(), m) != modes.end();
}

// What each pipeline mode needs besides its defaults; the first missing flag.
absl::Status CheckPipelineMode(const Options& o, Mode m) {
  const std::string mode = absl::StrCat("--mode=", ModeName(m));
  auto need = [&](const std::string& value, const char* flag, const char* what) -> absl::Status {
    if (!value.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(mode, " needs --", flag, " (", what, ")"));
  };
  const bool submits = m == Mode::kPrefill || m == Mode::kAutomate || m == Mode::kRouted ||
                       m == Mode::kLifecycle;
  if (submits) {
    DOCKET_RETURN_IF_ERROR(need(o.target, "target", "docket-intake's host:port"));
    DOCKET_RETURN_IF_ERROR(need(o.key, "key", "a publisher API key"));
  }
  if (m == Mode::kClaim || m == Mode::kLifecycle) {
    DOCKET_RETURN_IF_ERROR(need(o.work_target, "work-target", "docket-processing's host:port"));
    DOCKET_RETURN_IF_ERROR(need(o.worker_key, "worker-key", "a worker API key with the queue's skill"));
  }
  if (m == Mode::kPrefill || m == Mode::kAutomate) {
    DOCKET_RETURN_IF_ERROR(need(o.processing_metrics, "processing-metrics", "docket-processing's /metrics URL"));
  }
  if (m == Mode::kLifecycle || m == Mode::kMetricsDrain || m == Mode::kMetricsFresh) {
    DOCKET_RETURN_IF_ERROR(need(o.metrics_url, "metrics-url", "docket-metrics' /metrics URL"));
  }
  if (m == Mode::kRouted || m == Mode::kMetricsProduce || m == Mode::kMetricsFresh) {
    DOCKET_RETURN_IF_ERROR(need(o.kafka_brokers, "kafka", "Kafka bootstrap servers"));
  }
  if (m == Mode::kRouted && o.rate <= 0 && !o.half_rate) {
    return absl::InvalidArgumentError(
        absl::StrCat(mode, " needs --rate, or --half-rate (half of the unary maximum, measured first)"));
  }
  if (m == Mode::kMetricsFresh && o.rate <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(mode, " needs --rate (events/s of the background stream)"));
  }
  return absl::OkStatus();
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kEcho: return "echo";
    case Mode::kUnary: return "unary";
    case Mode::kBatch: return "batch";
    case Mode::kStream: return "stream";
    case Mode::kPrefill: return "prefill";
    case Mode::kClaim: return "claim";
    case Mode::kAutomate: return "automate";
    case Mode::kRouted: return "routed";
    case Mode::kLifecycle: return "lifecycle";
    case Mode::kMetricsProduce: return "metrics-produce";
    case Mode::kMetricsDrain: return "metrics-drain";
    case Mode::kMetricsFresh: return "metrics-fresh";
  }
  return "?";
}

bool IsIntakeMode(Mode mode) {
  return mode == Mode::kEcho || mode == Mode::kUnary || mode == Mode::kBatch || mode == Mode::kStream;
}

absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (arg == "--half-rate") {
      o.half_rate = true;
      continue;
    }
    if (arg == "--complete-and-next") {
      o.complete_and_next = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name, value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(2, eq - 2);
      value = arg.substr(eq + 1);
    } else {
      name = arg.substr(2);
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }

    absl::Status status;
    if (name == "target") {
      o.target = value;
    } else if (name == "key") {
      o.key = value;
    } else if (name == "tenant") {
      o.tenant = value;
    } else if (name == "mode") {
      auto m = ParseModes(value);
      if (!m.ok()) return m.status();
      o.modes = *m;
    } else if (name == "duration" || name == "warmup") {
      auto d = ParseDuration(name, value, name == "warmup");
      if (!d.ok()) return d.status();
      (name == "duration" ? o.duration : o.warmup) = *d;
    } else if (name == "concurrency") {
      auto n = ParseInt(name, value, 1, 10000);
      if (!n.ok()) return n.status();
      o.concurrency = *n;
    } else if (name == "batch-size") {
      auto n = ParseInt(name, value, 1, 100000);
      if (!n.ok()) return n.status();
      o.batch_size = *n;
    } else if (name == "window") {
      auto n = ParseInt(name, value, 1, 1000000);
      if (!n.ok()) return n.status();
      o.window = *n;
    } else if (name == "connections") {
      auto n = ParseInt(name, value, 1, 64);
      if (!n.ok()) return n.status();
      o.connections = *n;
    } else if (name == "rate") {
      double r = 0;
      if (!absl::SimpleAtod(value, &r) || !std::isfinite(r) || r < 0 || r > 1e8) {
        return Bad(name, value, "items per second, >= 0 (0 = as fast as it goes)");
      }
      o.rate = r;
    } else if (name == "work-target") {
      o.work_target = value;
    } else if (name == "worker-key") {
      o.worker_key = value;
    } else if (name == "items") {
      std::int64_t n = 0;
      if (!absl::SimpleAtoi(value, &n) || n < 1 || n > 100000000) {
        return Bad(name, value, "an integer in [1, 100000000]");
      }
      o.items = n;
    } else if (name == "workers") {
      auto n = ParseInt(name, value, 1, 1000);
      if (!n.ok()) return n.status();
      o.workers = *n;
    } else if (name == "claim-batch") {
      auto n = ParseInt(name, value, 1, 100);
      if (!n.ok()) return n.status();
      o.claim_batch = *n;
    } else if (name == "processing-metrics") {
      o.processing_metrics = value;
    } else if (name == "compliance-metrics") {
      o.compliance_metrics = value;
    } else if (name == "metrics-url") {
      o.metrics_url = value;
    } else if (name == "kafka") {
      o.kafka_brokers = value;
    } else if (name == "redis") {
      o.redis_url = value;
    } else if (name == "timeout" || name == "probe-interval") {
      auto d = ParseDuration(name, value, false);
      if (!d.ok()) return d.status();
      (name == "timeout" ? o.timeout : o.probe_interval) = *d;
    } else if (name == "json-file") {
      o.json_file = value;
    } else if (name == "serve-echo") {
      o.serve_echo = value;
    } else if (name == "watch") {
      const auto colon = value.rfind(':');
      WatchedProcess w;
      if (colon == std::string::npos || colon == 0 ||
          !absl::SimpleAtoi(value.substr(colon + 1), &w.pid) || w.pid <= 0) {
        return Bad(name, value, "name:pid, e.g. intake:4242");
      }
      w.name = value.substr(0, colon);
      o.watch.push_back(w);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  if (o.help || !o.serve_echo.empty()) return o;
  if (o.half_rate && o.rate > 0) {
    return absl::InvalidArgumentError("--half-rate measures the maximum itself; drop --rate");
  }
  if (o.half_rate && !Has(o.modes, Mode::kUnary) && !Has(o.modes, Mode::kRouted)) {
    return absl::InvalidArgumentError("--half-rate needs unary or routed among --mode");
  }
  for (std::size_t i = 0; i < o.modes.size(); ++i) {
    const Mode m = o.modes[i];
    if (!IsIntakeMode(m)) {
      DOCKET_RETURN_IF_ERROR(CheckPipelineMode(o, m));
      continue;
    }
    if (m == Mode::kEcho) continue;
    if (o.target.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mode=", ModeName(m), " needs --target=host:port of docket-intake"));
    }
    if (o.key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--mode=", ModeName(m), " needs --key"));
    }
  }
  return o;
}

std::string Usage() {
  return R"(docket-loadgen: admitted items/s and ack latency of docket.v1.Intake, with a
plain gRPC echo server as the baseline. Only OK results count as admitted
(intake answers OK once the item is on Kafka with acks=all).

  docket-loadgen --target=127.0.0.1:7001 --key=KEY --mode=echo,unary,batch,stream

  --target=HOST:PORT   docket-intake's gRPC address (all modes but echo)
  --key=KEY            API key with the publisher role for --tenant
  --mode=LIST          echo, unary, batch, stream, comma-separated; run in order
                       (echo: unary Submit against an in-process gRPC server that
                       answers at once, driven exactly like unary) [unary]
  --tenant=NAME        tenant of the data_entry submissions [acme]
  --duration=D         measured time per mode [10s]
  --warmup=D           unmeasured time before it [2s]
  --concurrency=N      calls in flight (echo, unary, batch) or streams (stream) [32]
  --rate=R             fixed rate in items/s (open loop; latency is measured from
                       each call's scheduled start); 0 = as fast as it goes [0]
  --batch-size=N       items per SubmitBatch call [100]
  --window=N           stream: items sent and not yet acked, per stream [1024]
  --connections=N      HTTP/2 connections to spread the calls over [1]
  --half-rate          then unary again at half the unary maximum just measured
                       (needs unary or routed among --mode)
  --watch=NAME:PID     also report the CPU that process used (repeatable)
  --json               one JSON document instead of the table
  --json-file=PATH     also write the JSON document there
  --serve-echo=ADDR    only serve the echo baseline on ADDR (e.g. 127.0.0.1:0)
                       until SIGINT/SIGTERM, printing "echo: HOST:PORT" (for ghz)

Pipeline modes, against the running stack (docs/performance.md):
  prefill          submit --items data_entry items (SubmitBatch, --concurrency calls
                   of --batch-size) and wait until processing has queued them all;
                   with --redis, Redis memory per queued item
  claim            --workers loops of Work.ClaimNext -> Complete (queue data-entry)
                   for --duration or until the queue is empty
  automate         submit --items data_entry items that the automation rule
                   completes; until processing counts them AUTO_COMPLETED
  routed           Submit at --rate (or, with --half-rate, half of the unary maximum,
                   measured first: 64 calls in flight for 3 s);
                   latency from Submit OK to the item's Routed event on Kafka
  lifecycle        --items shipping_documents items submitted while --workers claim
                   and complete them; until docket-metrics counts them completed
  metrics-produce  write --items lifecycle events (Submitted ... Completed, Verdicts)
                   to docket.work.v1 / docket.compliance.v1 as fast as Kafka takes them
  metrics-drain    poll docket-metrics until it has consumed --items records
  metrics-fresh    a background event stream at --rate events/s for --duration, and
                   one Completed event at a time (every --probe-interval): delay
                   until docket-metrics counts it on /metrics
  --work-target=HOST:PORT      docket-processing's gRPC address (claim, lifecycle)
  --worker-key=KEY             worker key with the queue's skill (claim, lifecycle)
  --items=N                    items (events for metrics-*) [10000]
  --workers=N                  concurrent claim/complete loops [16]
  --complete-and-next          each Complete claims the next item too (claim_next)
  --claim-batch=N              workers are bots: ClaimNext max_items=N, one
                               CompleteBatch per claim (1..100; the worker key's
                               WIP cap must allow workers x N)
  --processing-metrics=URL     docket-processing's /metrics (prefill, automate, lifecycle)
  --compliance-metrics=URL     docket-compliance's /metrics (lifecycle timeline)
  --metrics-url=URL            docket-metrics' /metrics (lifecycle, metrics-*)
  --kafka=BROKERS              Kafka bootstrap servers (routed, metrics-*)
  --redis=URL                  redis://host:port (prefill: memory per queued item)
  --timeout=D                  longest wait for a stage to finish [5m]
  --probe-interval=D           metrics-fresh: time between probes [250ms]
)";
}

}  // namespace docket::loadgen
