#pragma once

// Drives docket.v1.Intake (or the echo baseline) for one mode and measures
// admitted items/s and ack latency over a fixed window, with gRPC's callback
// API so a few client threads keep many calls in flight.
//
// Closed loop (rate 0): `concurrency` calls (or streams) are always in
// flight. Open loop (rate > 0): calls start on a fixed schedule, at most
// `concurrency` at once, and each latency is measured from the call's
// scheduled start, so a stalled server shows in the figures instead of
// slowing the schedule (no coordinated omission).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/loadgen/src/latency_histogram.h"
#include "tools/loadgen/src/options.h"

namespace docket::loadgen {

struct LatencySummary {
  std::uint64_t count = 0;
  std::chrono::nanoseconds p50{0}, p90{0}, p99{0}, p999{0}, max{0}, mean{0};
};

LatencySummary Summarize(const LatencyHistogram& h);

struct ModeResult {
  Mode mode = Mode::kUnary;
  std::string target;
  int concurrency = 0;
  double rate = 0;  // requested items/s; 0 = closed loop
  int batch_size = 1;
  double seconds = 0;           // measured window
  std::uint64_t admitted = 0;   // items answered OK and not duplicate
  std::uint64_t duplicates = 0;  // items answered OK as a duplicate
  std::uint64_t calls = 0;       // completed calls (stream: acks)
  std::map<std::string, std::uint64_t> errors;  // failed items by status code name
  std::string first_error;                       // message of the first failure, for the report
  LatencySummary latency;  // per call (unary, echo, batch) or per item ack (stream)
  double load_average = 0;  // 1-minute load average when the window started
  double loadgen_cpu = 0;   // cores this process used during the window
  std::map<std::string, double> watched_cpu;  // cores each --watch process used
  double items_per_second() const { return seconds > 0 ? static_cast<double>(admitted) / seconds : 0; }
};

// Runs one mode against `target` (for kEcho, the caller passes the echo
// server's address) and returns its figures.
ModeResult RunMode(const Options& options, Mode mode, const std::string& target);

}  // namespace docket::loadgen
