// What encoding one event for Kafka costs a publishing service (every
// service pays it for every event it publishes): the ce_time header alone,
// and the whole record. Run by hand: build/common/kafka/record_bench

#include <benchmark/benchmark.h>

#include "common/kafka/record.h"

namespace {

void BM_FormatCeTime(benchmark::State& state) {
  google::protobuf::Timestamp t;
  t.set_seconds(1796500307);
  t.set_nanos(250000000);
  for (auto _ : state) {
    t.set_seconds(t.seconds() + 1);
    benchmark::DoNotOptimize(docket::kafka::FormatCeTime(t));
  }
}
BENCHMARK(BM_FormatCeTime)->Threads(1)->Threads(2);

void BM_EncodeClaimedEvent(benchmark::State& state) {
  docket::v1::Event e;
  e.set_id("3f5a0c2d9b8e4f1a7c6d5e4f3a2b1c0d");
  e.set_source("processing");
  e.set_subject("01a247c3-3f8a-7452-862f-89b2faa6c9d9");
  e.set_tenant("acme");
  e.mutable_time()->set_seconds(1796500307);
  e.mutable_claimed()->set_queue("ap");
  e.mutable_claimed()->mutable_worker()->set_id("databot");
  for (auto _ : state) {
    e.mutable_time()->set_seconds(e.time().seconds() + 1);
    benchmark::DoNotOptimize(docket::kafka::EncodeEvent("docket.work.v1", e));
  }
}
BENCHMARK(BM_EncodeClaimedEvent)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
