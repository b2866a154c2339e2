#include "tools/loadgen/src/options.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

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

absl::StatusOr<std::vector<Mode>> ParseModes(const std::string& value) {
  std::vector<Mode> modes;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    if (part == "echo") modes.push_back(Mode::kEcho);
    else if (part == "unary") modes.push_back(Mode::kUnary);
    else if (part == "batch") modes.push_back(Mode::kBatch);
    else if (part == "stream") modes.push_back(Mode::kStream);
    else return Bad("mode", value, "a comma-separated list of echo, unary, batch, stream");
  }
  return modes;
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kEcho: return "echo";
    case Mode::kUnary: return "unary";
    case Mode::kBatch: return "batch";
    case Mode::kStream: return "stream";
  }
  return "?";
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
  if (o.half_rate && std::find(o.modes.begin(), o.modes.end(), Mode::kUnary) == o.modes.end()) {
    return absl::InvalidArgumentError("--half-rate needs unary among --mode");
  }
  for (Mode m : o.modes) {
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
                       (needs unary among --mode)
  --watch=NAME:PID     also report the CPU that process used (repeatable)
  --json               one JSON document instead of the table
  --json-file=PATH     also write the JSON document there
  --serve-echo=ADDR    only serve the echo baseline on ADDR (e.g. 127.0.0.1:0)
                       until SIGINT/SIGTERM, printing "echo: HOST:PORT" (for ghz)
)";
}

}  // namespace docket::loadgen
