// Evaluations per second of the shipped policy set on realistic items:
//   build/services/compliance/compliance_bench --benchmark_min_time=2
// (needs DOCKET_SOURCE_DIR or the source tree as the working directory).

#include <benchmark/benchmark.h>

#include "services/compliance/src/evaluator.h"
#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

const PolicySet& Shipped() {
  static const PolicySet* set = [] {
    auto loaded = LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml",
                               &testutil::ShippedCatalog());
    if (!loaded.ok()) std::abort();
    return new PolicySet(*std::move(loaded));
  }();
  return *set;
}

void Evaluate(benchmark::State& state, docket::v1::Checkpoint checkpoint, bool with_pii) {
  Evaluator ev(Shipped());
  auto sub = testutil::Invoice("erp-bot");
  (*sub.mutable_attributes())["notes"] = testutil::Str(
      with_pii ? "Vendor asked to charge card 4111 1111 1111 1111; contact ap@vendor.example, +49 30 1234567"
               : "Quarterly toner and paper order for the Hamburg office, delivered 2026-05-02, PO attached");
  docket::v1::AttributeValue outcome_note = testutil::Str("approved per contract 2026-17");
  AttributeMap outcome;
  outcome["comment"] = outcome_note;
  EvaluationInput in;
  in.item_id = "0190f1a2-7b3c-7d4e-8f00-123456789abc";
  in.tenant = "acme";
  in.kind = sub.kind();
  in.checkpoint = checkpoint;
  in.attributes = &sub.attributes();
  in.outcome = &outcome;
  in.submitter = "erp-bot";
  in.completer = "alice";
  in.source_event_id = "0190f1a2-7b3c-7d4e-8f00-123456789abc:submitted";
  for (auto _ : state) {
    docket::v1::Verdict v = ev.Evaluate(in);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_InvoiceSubmitClean(benchmark::State& s) { Evaluate(s, docket::v1::CHECKPOINT_SUBMIT, false); }
void BM_InvoiceCompleteClean(benchmark::State& s) { Evaluate(s, docket::v1::CHECKPOINT_COMPLETE, false); }
void BM_InvoiceCompleteWithPii(benchmark::State& s) { Evaluate(s, docket::v1::CHECKPOINT_COMPLETE, true); }
BENCHMARK(BM_InvoiceSubmitClean);
BENCHMARK(BM_InvoiceCompleteClean);
BENCHMARK(BM_InvoiceCompleteWithPii);

}  // namespace
}  // namespace docket::compliance

BENCHMARK_MAIN();
