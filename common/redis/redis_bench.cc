// Single commands vs pipelines against a real redis-server on 127.0.0.1,
// started by the test fixture. Not a ctest test; run by hand:
//   build/common/redis/redis_bench [--benchmark_min_time=2]
// items_per_second is commands per second in every case, so the rows compare.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/redis/redis_client.h"
#include "common/testing/fixtures.h"

namespace {

docket::redis::RedisClient* g_client = nullptr;

void Fail(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(std::string(status.message()).c_str());
}

// One round trip per command.
void BM_SingleSet(benchmark::State& state) {
  const std::string value(static_cast<std::size_t>(state.range(0)), 'v');
  for (auto _ : state) {
    auto reply = g_client->Command({"SET", "bench:single", value});
    if (!reply.ok()) return Fail(state, reply.status());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SingleSet)->Arg(16)->Arg(1024)->UseRealTime();

// 100 commands per round trip.
void BM_PipelineSet100(benchmark::State& state) {
  const std::string value(static_cast<std::size_t>(state.range(0)), 'v');
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 100; ++i) {
    commands.push_back({"SET", "bench:pipe:" + std::to_string(i), value});
  }
  for (auto _ : state) {
    auto replies = g_client->Pipeline(commands);
    if (!replies.ok()) return Fail(state, replies.status());
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_PipelineSet100)->Arg(16)->Arg(1024)->UseRealTime();

// Single GETs from several threads sharing one client (pool of 4).
void BM_SingleGetThreads(benchmark::State& state) {
  for (auto _ : state) {
    auto reply = g_client->Command({"GET", "bench:single"});
    if (!reply.ok()) return Fail(state, reply.status());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SingleGetThreads)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#ifdef DOCKET_BUILD_DIR_DEFAULT
  // The fixtures keep their logs under $DOCKET_BUILD_DIR (ctest sets it).
  setenv("DOCKET_BUILD_DIR", DOCKET_BUILD_DIR_DEFAULT, /*overwrite=*/0);
#endif
  auto server = docket::testing::RedisServer::Start();
  if (!server.ok()) {
    std::cerr << "cannot start redis-server: " << server.status() << "\n";
    return 1;
  }
  auto options = docket::redis::ParseRedisUrl((*server)->url());
  if (!options.ok()) {
    std::cerr << options.status() << "\n";
    return 1;
  }
  auto client = docket::redis::MakeRedisClient(*options, nullptr);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }
  g_client = client->get();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
