// CPU per consumed event of docket-metrics' fold (decode the record, apply it
// to a partition's aggregates), without Kafka or Redis, on the event mix of
// the stack benchmark's drain (tools/loadgen lifecycle_events.h):
//   build/services/metrics/metrics_bench --benchmark_min_time=2
// (needs DOCKET_SOURCE_DIR or the source tree as the working directory).

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/catalog/catalog.h"
#include "common/kafka/record.h"
#include "services/metrics/src/aggregates.h"
#include "services/metrics/src/kpi_store.h"
#include "tools/loadgen/src/lifecycle_events.h"

namespace docket::kpi {
namespace {

const catalog::Catalog& Shipped() {
  static const catalog::Catalog* c = [] {
    const char* dir = std::getenv("DOCKET_SOURCE_DIR");
    auto loaded = catalog::Catalog::Load(absl::StrCat(dir ? dir : ".", "/deploy/config/catalog.yaml"));
    if (!loaded.ok()) std::abort();
    return new catalog::Catalog(*std::move(loaded));
  }();
  return *c;
}

// Records of `items` items' lives, one partition, as the drain reads them.
std::vector<kafka::Record> Stream(int items) {
  std::vector<kafka::Record> out;
  for (int i = 0; i < items; ++i) {
    const std::string id = absl::StrCat("0190f1a2-7b3c-7d4e-8f00-", 100000000000 + i);
    for (const auto& e : loadgen::ItemLife(id, "acme", loadgen::PathOf(i), 1'790'000'000'000 + i)) {
      out.push_back(kafka::EncodeEvent(e.compliance_topic ? "docket.compliance.v1" : "docket.work.v1",
                                       e.event));
      out.back().partition = 0;
      out.back().offset = static_cast<std::int64_t>(out.size()) - 1;
    }
  }
  return out;
}

// One pass folds every record into fresh aggregates (as a new owner of the
// partition would): items/s is events folded per second.
void BM_FoldLifecycleStream(benchmark::State& state) {
  const std::vector<kafka::Record> records = Stream(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    PartitionAggregates agg(Shipped());
    for (const auto& r : records) {
      auto event = DecodeForKpis(r);
      if (!event.ok()) std::abort();
      if (*event) benchmark::DoNotOptimize(agg.Apply(**event));
    }
    benchmark::DoNotOptimize(agg.next_offset);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(records.size()));
}
BENCHMARK(BM_FoldLifecycleStream)->Arg(25000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace docket::kpi

BENCHMARK_MAIN();
