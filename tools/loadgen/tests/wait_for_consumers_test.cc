// WaitForConsumers against a real /metrics page (MetricsServer over
// loopback): a run starts only once every consumer has partitions.

#include <chrono>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/gauge.h>

#include "common/metrics/metrics.h"
#include "tools/loadgen/src/stack_clients.h"

namespace docket::loadgen {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct Page {
  metrics::MetricsRegistry registry{{"processing", "test", "test"}};
  prometheus::Gauge& assigned = prometheus::BuildGauge()
                                    .Name("docket_kafka_consumer_assigned_partitions")
                                    .Help("test")
                                    .Register(registry.registry())
                                    .Add({{"client", "docket-processing-consumer"}});
  std::unique_ptr<metrics::MetricsServer> server;
  std::string url;
  Page() {
    auto s = metrics::MetricsServer::Start("127.0.0.1:0", registry);
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) {
      server = std::move(*s);
      url = "http://127.0.0.1:" + std::to_string(server->port()) + "/metrics";
    }
  }
};

TEST(WaitForConsumersTest, ARunWaitsWhileAConsumerHasNoPartitionsAndNamesItsPage) {
  Page ready, joining;
  ASSERT_FALSE(ready.url.empty());
  ASSERT_FALSE(joining.url.empty());
  ready.assigned.Set(4);
  const absl::Status s = WaitForConsumers({ready.url, joining.url}, 300ms);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(joining.url));
  EXPECT_THAT(std::string(s.message()), HasSubstr("no partitions assigned"));
}

TEST(WaitForConsumersTest, ARunStartsOnceEveryConsumerHasPartitions) {
  Page a, b;
  ASSERT_FALSE(a.url.empty());
  a.assigned.Set(2);
  b.assigned.Set(2);
  EXPECT_TRUE(WaitForConsumers({a.url, b.url}, 5s).ok());
}

TEST(WaitForConsumersTest, APageThatDoesNotAnswerIsReportedWithTheScrapeError) {
  const absl::Status s = WaitForConsumers({"http://127.0.0.1:1/metrics"}, 200ms);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("127.0.0.1:1"));
}

}  // namespace
}  // namespace docket::loadgen
