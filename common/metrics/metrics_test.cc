#include "common/metrics/metrics.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::metrics {
namespace {

using ::testing::HasSubstr;

// Value of the first sample line starting with `name` followed by ' ' or '{'.
std::optional<double> SampleValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    if (line.size() == name.size() || (line[name.size()] != ' ' && line[name.size()] != '{')) {
      continue;
    }
    return std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return std::nullopt;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs argv with `input` on stdin, capturing stdout and stderr together.
CommandResult RunWithInput(const std::vector<std::string>& argv, const std::string& input) {
  char path[] = "/tmp/docket_metrics_test_XXXXXX";
  const int in_fd = mkstemp(path);
  EXPECT_GE(in_fd, 0);
  unlink(path);
  EXPECT_EQ(write(in_fd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  lseek(in_fd, 0, SEEK_SET);
  int out[2];
  EXPECT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_fd, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in_fd);
  close(out[1]);
  CommandResult result;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) result.output.append(buffer, n);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(MetricsRegistry, BuildInfoIsOneWithServiceVersionAndRevisionLabels) {
  MetricsRegistry registry({"intake", "1.2.3", "abc123"});
  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr("# TYPE docket_build_info gauge\n"));
  EXPECT_THAT(text,
              HasSubstr("docket_build_info{revision=\"abc123\",service=\"intake\",version=\"1.2.3\"} 1\n"));
}

TEST(MetricsRegistry, EmptyVersionAndRevisionBecomeProjectVersionAndUnknown) {
  MetricsRegistry registry({"metrics", "", ""});
  EXPECT_EQ(registry.build_info().version, DocketVersion());
  EXPECT_EQ(registry.build_info().revision, "unknown");
  EXPECT_THAT(registry.Serialize(),
              HasSubstr("docket_build_info{revision=\"unknown\",service=\"metrics\",version=\"" +
                        std::string(DocketVersion()) + "\"} 1"));
}

TEST(ProcessBuildInfo, TakesProjectVersionAndRevisionFromEnvironment) {
  EXPECT_STRNE(DocketVersion(), "");
  ASSERT_EQ(setenv("DOCKET_REVISION", "deadbeef", 1), 0);
  BuildInfo info = ProcessBuildInfo("compliance");
  EXPECT_EQ(info.service, "compliance");
  EXPECT_EQ(info.version, DocketVersion());
  EXPECT_EQ(info.revision, "deadbeef");
  ASSERT_EQ(unsetenv("DOCKET_REVISION"), 0);
  EXPECT_EQ(ProcessBuildInfo("compliance").revision, "unknown");
}

TEST(MetricsRegistry, ProcessMetricsArePresentAndPlausible) {
  MetricsRegistry registry({"intake", "", ""});
  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_resident_memory_bytes gauge\n"));
  const auto rss = SampleValue(text, "process_resident_memory_bytes");
  const auto vms = SampleValue(text, "process_virtual_memory_bytes");
  const auto cpu = SampleValue(text, "process_cpu_seconds_total");
  const auto open_fds = SampleValue(text, "process_open_fds");
  const auto max_fds = SampleValue(text, "process_max_fds");
  const auto start = SampleValue(text, "process_start_time_seconds");
  ASSERT_TRUE(rss && vms && cpu && open_fds && max_fds && start) << text;
  EXPECT_GT(*rss, 1024 * 1024);  // a C++ test binary is well above 1 MiB resident
  EXPECT_GE(*vms, *rss);
  EXPECT_GE(*cpu, 0);
  EXPECT_GE(*open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(*max_fds, *open_fds);
  // The process started before now and after 2020 (a unit slip of ticks vs
  // seconds would land far outside).
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, 1577836800);
}

TEST(MetricsRegistry, OpenFdsCountsDescriptorsAtScrapeTime) {
  MetricsRegistry registry({"intake", "", ""});
  const auto before = SampleValue(registry.Serialize(), "process_open_fds");
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const auto during = SampleValue(registry.Serialize(), "process_open_fds");
  for (int fd : fds) close(fd);
  ASSERT_TRUE(before && during);
  EXPECT_EQ(*during - *before, 5);
}

TEST(MetricsRegistry, SerializedTextPassesPromtoolCheckMetrics) {
  MetricsRegistry registry({"intake", "", "abc"});
  auto& requests = prometheus::BuildCounter()
                       .Name("docket_test_requests_total")
                       .Help("Requests handled.")
                       .Register(registry.registry());
  requests.Add({{"code", "OK"}}).Increment(3);
  requests.Add({{"code", "UNAVAILABLE"}}).Increment();
  prometheus::BuildGauge()
      .Name("docket_test_backlog_items")
      .Help("Items waiting.")
      .Register(registry.registry())
      .Add({{"queue", "ap"}})
      .Set(7);
  auto& latency = prometheus::BuildHistogram()
                      .Name("docket_test_latency_seconds")
                      .Help("Latency.")
                      .Register(registry.registry())
                      .Add({}, LatencyBuckets());
  latency.Observe(0.003);
  latency.Observe(2);
  prometheus::BuildHistogram()
      .Name("docket_test_cycle_time_seconds")
      .Help("Cycle time.")
      .Register(registry.registry())
      .Add({{"kind", "invoice"}}, BusinessDurationBuckets())
      .Observe(5400);

  const std::string text = registry.Serialize();
  const CommandResult result = RunWithInput({"promtool", "check", "metrics"}, text);
  ASSERT_NE(result.exit_code, 127) << "promtool is not installed (tests/run.sh installs it)";
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- input ---\n" << text;
  EXPECT_EQ(result.output, "") << result.output;
}

TEST(Buckets, AreStrictlyIncreasingAndCoverTheDocumentedRange) {
  for (const auto& buckets : {LatencyBuckets(), BusinessDurationBuckets()}) {
    for (std::size_t i = 1; i < buckets.size(); ++i) EXPECT_LT(buckets[i - 1], buckets[i]);
  }
  EXPECT_DOUBLE_EQ(LatencyBuckets().front(), 0.0005);
  EXPECT_DOUBLE_EQ(LatencyBuckets().back(), 10);
  EXPECT_DOUBLE_EQ(BusinessDurationBuckets().front(), 1);
  EXPECT_DOUBLE_EQ(BusinessDurationBuckets().back(), 30 * 86400);
}

}  // namespace
}  // namespace docket::metrics

namespace docket::metrics {
namespace {

// A collectable whose value is read at scrape time.
class ScrapeTimeValue final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily f;
    f.name = "docket_test_scrape_time_value";
    f.help = "test";
    f.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.gauge.value = value;
    f.metric.push_back(m);
    return {f};
  }
  double value = 0;
};

TEST(MetricsRegistry, CollectableAddedAfterStartIsScrapedWithItsCurrentValue) {
  MetricsRegistry registry(BuildInfo{"test", "1", "r"});
  auto value = std::make_shared<ScrapeTimeValue>();
  registry.AddCollectable(value);
  value->value = 42;
  EXPECT_NE(registry.Serialize().find("docket_test_scrape_time_value 42"), std::string::npos);
}

}  // namespace
}  // namespace docket::metrics
