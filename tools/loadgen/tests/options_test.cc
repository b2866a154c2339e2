// docket-loadgen's flags: defaults, every flag, and errors that name the flag.

#include "tools/loadgen/src/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::loadgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Error(const std::vector<std::string>& args) {
  auto o = ParseOptions(args);
  EXPECT_FALSE(o.ok());
  return o.ok() ? "" : std::string(o.status().message());
}

TEST(LoadgenOptionsTest, EchoAloneNeedsNoTargetOrKey) {
  auto o = ParseOptions({"--mode=echo"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->modes, ElementsAre(Mode::kEcho));
  EXPECT_EQ(o->concurrency, 32);
  EXPECT_EQ(o->rate, 0);
  EXPECT_EQ(o->duration, std::chrono::seconds(10));
}

TEST(LoadgenOptionsTest, ParsesEveryFlagInBothSpellings) {
  auto o = ParseOptions({"--target=127.0.0.1:7001", "--key", "k", "--mode=echo,unary,batch,stream",
                         "--duration=3s", "--warmup", "500ms", "--concurrency=8", "--rate=1500.5",
                         "--batch-size=250", "--window=64", "--connections=2", "--tenant=globex",
                         "--watch=intake:42", "--json"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->target, "127.0.0.1:7001");
  EXPECT_EQ(o->key, "k");
  EXPECT_THAT(o->modes, ElementsAre(Mode::kEcho, Mode::kUnary, Mode::kBatch, Mode::kStream));
  EXPECT_EQ(o->duration, std::chrono::seconds(3));
  EXPECT_EQ(o->warmup, std::chrono::milliseconds(500));
  EXPECT_EQ(o->concurrency, 8);
  EXPECT_DOUBLE_EQ(o->rate, 1500.5);
  EXPECT_EQ(o->batch_size, 250);
  EXPECT_EQ(o->window, 64);
  EXPECT_EQ(o->connections, 2);
  EXPECT_EQ(o->tenant, "globex");
  ASSERT_EQ(o->watch.size(), 1u);
  EXPECT_EQ(o->watch[0].name, "intake");
  EXPECT_EQ(o->watch[0].pid, 42);
  EXPECT_TRUE(o->json);
}

TEST(LoadgenOptionsTest, IntakeModesNeedTargetAndKey) {
  EXPECT_THAT(Error({"--mode=unary", "--key=k"}), HasSubstr("--target"));
  EXPECT_THAT(Error({"--mode=stream", "--target=x:1"}), HasSubstr("--key"));
}

TEST(LoadgenOptionsTest, HalfRateNeedsUnaryAndNoFixedRate) {
  auto o = ParseOptions({"--target=x:1", "--key=k", "--mode=echo,unary", "--half-rate"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->half_rate);
  EXPECT_THAT(Error({"--mode=echo", "--half-rate"}), HasSubstr("needs unary or routed"));
  EXPECT_THAT(Error({"--target=x:1", "--key=k", "--half-rate", "--rate=100"}), HasSubstr("drop --rate"));
}

TEST(LoadgenOptionsTest, ParsesThePipelineModesAndFlags) {
  auto o = ParseOptions({"--mode=prefill,claim,automate,lifecycle,metrics-produce,metrics-drain",
                         "--target=i:1", "--key=k", "--work-target=w:2", "--worker-key=wk", "--items=5000",
                         "--workers=12", "--processing-metrics=http://127.0.0.1:9/metrics",
                         "--compliance-metrics=http://c/metrics", "--metrics-url=http://m/metrics",
                         "--kafka=127.0.0.1:9092", "--redis=redis://127.0.0.1:6379/0", "--timeout=90s",
                         "--probe-interval=100ms"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->modes, ElementsAre(Mode::kPrefill, Mode::kClaim, Mode::kAutomate, Mode::kLifecycle,
                                    Mode::kMetricsProduce, Mode::kMetricsDrain));
  EXPECT_EQ(o->work_target, "w:2");
  EXPECT_EQ(o->worker_key, "wk");
  EXPECT_EQ(o->items, 5000);
  EXPECT_EQ(o->workers, 12);
  EXPECT_EQ(o->processing_metrics, "http://127.0.0.1:9/metrics");
  EXPECT_EQ(o->compliance_metrics, "http://c/metrics");
  EXPECT_EQ(o->metrics_url, "http://m/metrics");
  EXPECT_EQ(o->kafka_brokers, "127.0.0.1:9092");
  EXPECT_EQ(o->redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(o->timeout, std::chrono::seconds(90));
  EXPECT_EQ(o->probe_interval, std::chrono::milliseconds(100));
  for (Mode m : o->modes) EXPECT_FALSE(IsIntakeMode(m)) << ModeName(m);
  EXPECT_TRUE(IsIntakeMode(Mode::kStream));
}

TEST(LoadgenOptionsTest, EachPipelineModeNamesTheFlagItMisses) {
  EXPECT_THAT(Error({"--mode=claim", "--work-target=w:1"}), HasSubstr("--worker-key"));
  EXPECT_THAT(Error({"--mode=claim", "--worker-key=k"}), HasSubstr("--work-target"));
  EXPECT_THAT(Error({"--mode=prefill", "--target=i:1", "--key=k"}), HasSubstr("--processing-metrics"));
  EXPECT_THAT(Error({"--mode=automate", "--processing-metrics=http://p/m"}), HasSubstr("--target"));
  EXPECT_THAT(Error({"--mode=metrics-drain"}), HasSubstr("--metrics-url"));
  EXPECT_THAT(Error({"--mode=metrics-produce"}), HasSubstr("--kafka"));
  EXPECT_THAT(Error({"--mode=metrics-fresh", "--kafka=b:1", "--metrics-url=http://m/m"}), HasSubstr("--rate"));
  EXPECT_THAT(Error({"--mode=lifecycle", "--target=i:1", "--key=k", "--work-target=w:1", "--worker-key=wk"}),
              HasSubstr("--metrics-url"));
  EXPECT_THAT(Error({"--mode=claim", "--work-target=w:1", "--worker-key=k", "--items=0"}), HasSubstr("--items=0"));
}

TEST(LoadgenOptionsTest, RoutedRunsAtAFixedRateOrAtHalfOfAnEarlierPrefill) {
  const std::vector<std::string> base = {"--target=i:1", "--key=k", "--kafka=b:1",
                                         "--processing-metrics=http://p/metrics"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), base.begin(), base.end());
    return extra;
  };
  EXPECT_TRUE(ParseOptions(with({"--mode=routed", "--rate=500"})).ok());
  EXPECT_TRUE(ParseOptions(with({"--mode=routed", "--half-rate"})).ok());
  EXPECT_THAT(Error(with({"--mode=routed"})), HasSubstr("needs --rate, or --half-rate"));
  EXPECT_THAT(Error(with({"--mode=routed", "--half-rate", "--rate=500"})), HasSubstr("drop --rate"));
}

TEST(LoadgenOptionsTest, CompleteAndNextIsOffUnlessAsked) {
  const std::vector<std::string> claim = {"--mode=claim", "--work-target=w:1", "--worker-key=k"};
  auto plain = ParseOptions(claim);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->complete_and_next);
  std::vector<std::string> asked = claim;
  asked.push_back("--complete-and-next");
  auto next = ParseOptions(asked);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->complete_and_next);
}

TEST(LoadgenOptionsTest, ClaimBatchIsOneUnlessAskedAndAtMostTheServersLimit) {
  const std::vector<std::string> claim = {"--mode=claim", "--work-target=w:1", "--worker-key=k"};
  auto plain = ParseOptions(claim);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->claim_batch, 1);
  auto with = [&](const std::string& flag) {
    std::vector<std::string> args = claim;
    args.push_back(flag);
    return args;
  };
  auto bots = ParseOptions(with("--claim-batch=16"));
  ASSERT_TRUE(bots.ok()) << bots.status();
  EXPECT_EQ(bots->claim_batch, 16);
  EXPECT_THAT(Error(with("--claim-batch=101")), HasSubstr("--claim-batch=101"));
  EXPECT_THAT(Error(with("--claim-batch=0")), HasSubstr("--claim-batch=0"));
}

TEST(LoadgenOptionsTest, ServeEchoNeedsNothingElse) {
  auto o = ParseOptions({"--serve-echo=127.0.0.1:0", "--mode=unary"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->serve_echo, "127.0.0.1:0");
}

TEST(LoadgenOptionsTest, BadValuesNameTheFlag) {
  EXPECT_THAT(Error({"--mode=echo", "--mode=turbo"}), HasSubstr("--mode=turbo"));
  EXPECT_THAT(Error({"--mode=echo", "--duration=0s"}), HasSubstr("--duration=0s"));
  EXPECT_THAT(Error({"--mode=echo", "--duration=soon"}), HasSubstr("--duration=soon"));
  EXPECT_THAT(Error({"--mode=echo", "--concurrency=0"}), HasSubstr("--concurrency=0"));
  EXPECT_THAT(Error({"--mode=echo", "--rate=-1"}), HasSubstr("--rate=-1"));
  EXPECT_THAT(Error({"--mode=echo", "--watch=intake"}), HasSubstr("--watch=intake"));
  EXPECT_THAT(Error({"--mode=echo", "--frobnicate=1"}), HasSubstr("--frobnicate"));
  EXPECT_THAT(Error({"--mode=echo", "--batch-size"}), HasSubstr("needs a value"));
  EXPECT_THAT(Error({"stray"}), HasSubstr("stray"));
}

}  // namespace
}  // namespace docket::loadgen
