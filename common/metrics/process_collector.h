#pragma once

// The standard process_* metrics of the Prometheus client libraries, read from
// /proc/self at scrape time, with the names, types, help texts and units the
// Go and Java clients use, so stock dashboards and alerts work unchanged.

#include <optional>
#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace docket::metrics {

// What /proc says about one process; unset fields could not be read.
struct ProcessStats {
  std::optional<double> cpu_seconds;
  std::optional<double> resident_memory_bytes;
  std::optional<double> virtual_memory_bytes;
  std::optional<double> start_time_seconds;  // since the Unix epoch
  std::optional<double> open_fds;
  std::optional<double> max_fds;
};

// Parsers, exposed for tests. Each takes the whole file text.
// `stat` is /proc/<pid>/stat; clock ticks per second, page size and the boot
// time (btime of /proc/stat) turn it into base units.
bool ParseProcStat(const std::string& stat, long ticks_per_second, long page_size,
                   double boot_time_seconds, ProcessStats* out);
// The soft "Max open files" limit of /proc/<pid>/limits.
std::optional<double> ParseMaxOpenFiles(const std::string& limits);
// The btime line of /proc/stat.
std::optional<double> ParseBootTime(const std::string& proc_stat);

// Reads /proc/self; fields that cannot be read stay unset (never an error:
// a scrape must not fail because one file is unreadable).
ProcessStats ReadSelfStats();

// Collectable for the process_* families; families without a value are omitted.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace docket::metrics
