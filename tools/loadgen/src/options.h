#pragma once

// Command-line options of docket-loadgen.

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace docket::loadgen {

enum class Mode {
  kEcho,    // unary Submit against an in-process plain gRPC server that answers at once
  kUnary,   // docket.v1.Intake/Submit, one item per call
  kBatch,   // docket.v1.Intake/SubmitBatch, --batch-size items per call
  kStream,  // docket.v1.Intake/SubmitStream, one ack per item
};

const char* ModeName(Mode mode);

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
};

// Parses argv (without argv[0]): --name=value or --name value. INVALID_ARGUMENT
// names the offending flag.
absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args);

std::string Usage();

}  // namespace docket::loadgen
