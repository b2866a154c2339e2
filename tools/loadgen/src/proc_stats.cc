#include "tools/loadgen/src/proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>

namespace docket::loadgen {
namespace {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

double ProcessCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  // After the name: state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stod(f);
    if (i == 15) stime = std::stod(f);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void CpuWindow::Start() {
  started_ = MonotonicSeconds();
  load_average_ = LoadAverage();
  self_before_ = SelfCpuSeconds();
  for (const auto& w : watch_) before_[w.name] = ProcessCpuSeconds(w.pid);
}

double CpuWindow::Stop() {
  const double seconds = MonotonicSeconds() - started_;
  const double self = SelfCpuSeconds() - self_before_;
  self_cores_ = seconds > 0 ? self / seconds : 0;
  cpu_seconds_["loadgen"] = self;
  for (const auto& w : watch_) {
    const double after = ProcessCpuSeconds(w.pid);
    const double before = before_[w.name];
    const bool gone = after < 0 || before < 0;
    cpu_seconds_[w.name] = gone ? -1 : after - before;
    watched_cores_[w.name] = gone || seconds <= 0 ? -1 : (after - before) / seconds;
  }
  return seconds;
}

}  // namespace docket::loadgen
