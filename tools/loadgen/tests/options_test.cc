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
  EXPECT_THAT(Error({"--mode=echo", "--half-rate"}), HasSubstr("needs unary"));
  EXPECT_THAT(Error({"--target=x:1", "--key=k", "--half-rate", "--rate=100"}), HasSubstr("drop --rate"));
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
