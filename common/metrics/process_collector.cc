#include "common/metrics/process_collector.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace docket::metrics {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::optional<double> CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;  // "." and ".."
    ++count;
  }
  closedir(dir);
  return count - 1;  // the descriptor opendir() itself holds
}

prometheus::MetricFamily Single(const char* name, const char* help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

bool ParseProcStat(const std::string& stat, long ticks_per_second, long page_size,
                   double boot_time_seconds, ProcessStats* out) {
  // The command name (field 2) is in parentheses and may itself contain
  // spaces and ')': the fields after it start after the LAST ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos || ticks_per_second <= 0) return false;
  std::istringstream rest(stat.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  for (std::string field; rest >> field;) fields.push_back(field);
  auto field = [&](int number) -> std::optional<double> {
    const std::size_t index = static_cast<std::size_t>(number - 3);
    if (index >= fields.size()) return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(fields[index].c_str(), &end);
    if (end == fields[index].c_str() || *end != '\0') return std::nullopt;
    return value;
  };
  // proc(5): 14 utime, 15 stime, 22 starttime (ticks since boot), 23 vsize
  // (bytes), 24 rss (pages).
  const auto utime = field(14), stime = field(15), start = field(22), vsize = field(23),
             rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) return false;
  const double ticks = static_cast<double>(ticks_per_second);
  out->cpu_seconds = (*utime + *stime) / ticks;
  out->start_time_seconds = boot_time_seconds + *start / ticks;
  out->virtual_memory_bytes = *vsize;
  out->resident_memory_bytes = *rss * static_cast<double>(page_size);
  return true;
}

std::optional<double> ParseMaxOpenFiles(const std::string& limits) {
  std::istringstream in(limits);
  for (std::string line; std::getline(in, line);) {
    static constexpr std::string_view kPrefix = "Max open files";
    if (line.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    std::istringstream values(line.substr(kPrefix.size()));
    std::string soft;
    values >> soft;
    if (soft == "unlimited") return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(soft.c_str(), &end);
    if (end == soft.c_str() || *end != '\0') return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::optional<double> ParseBootTime(const std::string& proc_stat) {
  std::istringstream in(proc_stat);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) != 0) continue;
    char* end = nullptr;
    const double value = std::strtod(line.c_str() + 6, &end);
    if (end == line.c_str() + 6) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

ProcessStats ReadSelfStats() {
  ProcessStats stats;
  const auto stat = ReadFile("/proc/self/stat");
  const auto system_stat = ReadFile("/proc/stat");
  const auto boot_time = system_stat ? ParseBootTime(*system_stat) : std::nullopt;
  if (stat && boot_time) {
    ParseProcStat(*stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), *boot_time, &stats);
  }
  stats.open_fds = CountOpenFds();
  if (const auto limits = ReadFile("/proc/self/limits")) {
    stats.max_fds = ParseMaxOpenFiles(*limits);
  }
  return stats;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  const ProcessStats stats = ReadSelfStats();
  std::vector<prometheus::MetricFamily> out;
  auto add = [&](const std::optional<double>& value, const char* name, const char* help,
                 MetricType type) {
    if (value) out.push_back(Single(name, help, type, *value));
  };
  // Names and help texts as in client_golang's process collector.
  add(stats.cpu_seconds, "process_cpu_seconds_total",
      "Total user and system CPU time spent in seconds.", MetricType::Counter);
  add(stats.open_fds, "process_open_fds", "Number of open file descriptors.",
      MetricType::Gauge);
  add(stats.max_fds, "process_max_fds", "Maximum number of open file descriptors.",
      MetricType::Gauge);
  add(stats.virtual_memory_bytes, "process_virtual_memory_bytes",
      "Virtual memory size in bytes.", MetricType::Gauge);
  add(stats.resident_memory_bytes, "process_resident_memory_bytes",
      "Resident memory size in bytes.", MetricType::Gauge);
  add(stats.start_time_seconds, "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.", MetricType::Gauge);
  return out;
}

}  // namespace docket::metrics
