// docket-loadgen: admitted items/s and ack latency of docket.v1.Intake for
// unary, batch and stream submission, with a plain gRPC echo server as the
// baseline; and the pipeline modes, which drive the running stack stage by
// stage (processing, compliance, metrics). See docs/performance.md.

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tools/loadgen/src/echo_server.h"
#include "tools/loadgen/src/load_driver.h"
#include "tools/loadgen/src/options.h"
#include "tools/loadgen/src/pipeline.h"
#include "tools/loadgen/src/report.h"

namespace docket::loadgen {
namespace {

// --serve-echo: the baseline server alone, for an outside load tool (ghz).
int ServeEcho(const std::string& address) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before gRPC starts its threads
  auto echo = EchoServer::Start(address);
  if (!echo.ok()) {
    std::fprintf(stderr, "docket-loadgen: %s\n", std::string(echo.status().message()).c_str());
    return 1;
  }
  std::printf("echo: %s\n", (*echo)->address().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  return 0;
}

ModeResult RunOne(const Options& options, Mode mode) {
  std::fprintf(stderr, "docket-loadgen: %s%s for %lld ms (after %lld ms warm-up)...\n",
               ModeName(mode),
               options.rate > 0 ? (" at " + std::to_string(static_cast<long long>(options.rate)) +
                                   " items/s").c_str()
                                : "",
               static_cast<long long>(options.duration.count()),
               static_cast<long long>(options.warmup.count()));
  if (mode != Mode::kEcho) return RunMode(options, mode, options.target);
  auto echo = EchoServer::Start();
  if (!echo.ok()) {
    ModeResult failed;
    failed.mode = mode;
    failed.errors["ECHO"] = 1;
    failed.first_error = std::string(echo.status().message());
    return failed;
  }
  return RunMode(options, mode, (*echo)->address());
}

int Main(const Options& options) {
  if (!options.serve_echo.empty()) return ServeEcho(options.serve_echo);
  std::vector<ModeResult> results;
  std::vector<StageResult> stages;
  for (Mode mode : options.modes) {
    if (IsIntakeMode(mode)) {
      results.push_back(RunOne(options, mode));
      continue;
    }
    std::fprintf(stderr, "docket-loadgen: %s...\n", ModeName(mode));
    stages.push_back(RunStage(options, mode));
    // Progress of a long run; the whole report follows on stdout.
    if (options.modes.size() > 1) std::fputs(FormatStages({stages.back()}).c_str(), stderr);
  }
  if (options.half_rate) {
    for (const ModeResult& r : std::vector<ModeResult>(results)) {
      if (r.mode != Mode::kUnary || r.rate > 0 || r.items_per_second() == 0) continue;
      Options half = options;
      half.rate = r.items_per_second() / 2;
      results.push_back(RunOne(half, Mode::kUnary));
    }
  }
  const std::string json = FormatJson(results, stages);
  if (options.json) {
    std::fputs(json.c_str(), stdout);
  } else {
    if (!results.empty()) std::fputs(FormatTable(results).c_str(), stdout);
    std::fputs(FormatStages(stages).c_str(), stdout);
  }
  if (!options.json_file.empty()) {
    std::ofstream out(options.json_file);
    out << json;
    if (!out.good()) {
      std::fprintf(stderr, "docket-loadgen: cannot write %s\n", options.json_file.c_str());
      return 1;
    }
  }
  // Non-zero when a mode admitted nothing: a script must not take zeros for figures.
  for (const auto& r : results) {
    if (r.admitted == 0) return 1;
  }
  // ... or when a stage did not finish.
  for (const auto& s : stages) {
    if (!s.complete) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace docket::loadgen

int main(int argc, char** argv) {
  using namespace docket::loadgen;
  auto options = ParseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::fprintf(stderr, "docket-loadgen: %s\n\n%s", std::string(options.status().message()).c_str(),
                 Usage().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  return Main(*options);
}
