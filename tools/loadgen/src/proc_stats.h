#pragma once

// What the machine and the watched processes did during a measured window:
// the 1-minute load average and CPU time from /proc (the figures of
// docs/performance.md rest on CPU time per item, which a shared machine
// disturbs less than throughput).

#include <map>
#include <string>
#include <vector>

#include "tools/loadgen/src/options.h"

namespace docket::loadgen {

// The 1-minute load average (/proc/loadavg); 0 if unreadable.
double LoadAverage();
// User + system CPU seconds of this process.
double SelfCpuSeconds();
// utime + stime of a process from /proc/<pid>/stat; -1 if it is gone.
double ProcessCpuSeconds(int pid);

// CPU used between Start() and Stop(), in cores (CPU seconds per second).
class CpuWindow {
 public:
  explicit CpuWindow(std::vector<WatchedProcess> watch) : watch_(std::move(watch)) {}
  void Start();
  // Returns the seconds since Start(); fills the cores of this process and
  // of each watched one (-1 for a process that went away).
  double Stop();
  double load_average() const { return load_average_; }  // at Start()
  double self_cores() const { return self_cores_; }
  const std::map<std::string, double>& watched_cores() const { return watched_cores_; }
  // CPU seconds of each watched process and of "loadgen" over the window.
  const std::map<std::string, double>& cpu_seconds() const { return cpu_seconds_; }

 private:
  std::vector<WatchedProcess> watch_;
  double started_ = 0;  // monotonic seconds
  double load_average_ = 0;
  double self_before_ = 0;
  std::map<std::string, double> before_;
  double self_cores_ = 0;
  std::map<std::string, double> watched_cores_;
  std::map<std::string, double> cpu_seconds_;
};

}  // namespace docket::loadgen
