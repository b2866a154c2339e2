#pragma once

// The pipeline modes: docket-loadgen against the running stack (intake,
// processing, compliance, metrics over Kafka and Redis). Each mode drives one
// stage and reads the services' own counters on their /metrics to know when
// the stage is done, so a figure is what the stack did, not what the client
// sent. docs/performance.md has the method and the figures.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "tools/loadgen/src/load_driver.h"
#include "tools/loadgen/src/options.h"

namespace docket::loadgen {

struct StageResult {
  Mode mode = Mode::kPrefill;
  // False when a wait ran out of --timeout: the figures are then partial.
  bool complete = true;
  std::vector<std::pair<std::string, double>> figures;  // in report order
  std::map<std::string, LatencySummary> latencies;     // e.g. "claim", "cycle"
  std::map<std::string, std::uint64_t> errors;          // failed calls by status code name
  std::string first_error;
  std::vector<std::string> notes;  // e.g. each stage's timeline, one line a second
  double load_average = 0;         // 1-minute load average when the stage started
  std::map<std::string, double> cpu_cores;    // "loadgen" and each --watch process
  std::map<std::string, double> cpu_seconds;  // the same, as CPU seconds over the stage

  void Set(std::string name, double value);
  std::optional<double> Figure(std::string_view name) const;
};

// Runs one pipeline mode (not an intake one: see IsIntakeMode).
StageResult RunStage(const Options& options, Mode mode);

// A lifecycle run ends when every admitted item is counted done. An item
// compliance held never is: it waits for a second approver, and the bots are
// none. The error that ends the run at once when `held` items were held
// (instead of a wait until --timeout); OK while none is.
absl::Status NoneHeld(double held);

// How many events ItemLife() writes for items 0..items-1 (4 per item on average).
std::uint64_t EventsFor(std::uint64_t items);
// Completed (person) and AutoCompleted events among them.
std::uint64_t PersonCompletionsFor(std::uint64_t items);
std::uint64_t AutoCompletionsFor(std::uint64_t items);

// "docket:item:0190..." -> "docket:item": the family a Redis key belongs to
// (its first two ':'-separated parts), for the memory breakdown.
std::string KeyFamily(std::string_view key);

}  // namespace docket::loadgen
