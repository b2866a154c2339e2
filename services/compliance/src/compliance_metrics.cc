#include "services/compliance/src/compliance_metrics.h"

#include <chrono>

#include "common/catalog/catalog.h"

namespace docket::compliance {
namespace {

prometheus::Histogram::BucketBoundaries EvaluationBuckets() {
  return {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 1e-1};
}

}  // namespace

ComplianceMetrics::ComplianceMetrics(metrics::MetricsRegistry& registry,
                                     const catalog::Catalog* catalog, const PolicySet& policies)
    : catalog_(catalog),
      policies_(policies),
      evaluations_(prometheus::BuildCounter()
                       .Name("docket_compliance_evaluations_total")
                       .Help("Policy evaluations by kind, checkpoint and outcome.")
                       .Register(registry.registry())),
      violations_(prometheus::BuildCounter()
                      .Name("docket_compliance_violations_total")
                      .Help("Rule violations found by evaluations, by rule id.")
                      .Register(registry.registry())),
      latency_(prometheus::BuildHistogram()
                   .Name("docket_compliance_evaluation_duration_seconds")
                   .Help("Time to evaluate one item against the policy set.")
                   .Register(registry.registry())),
      appends_(prometheus::BuildCounter()
                   .Name("docket_compliance_ledger_appends_total")
                   .Help("Audit records appended to the ledger, by record type.")
                   .Register(registry.registry())),
      duplicates_(prometheus::BuildCounter()
                      .Name("docket_compliance_ledger_duplicates_total")
                      .Help("Redelivered events whose audit record already existed (not appended again).")
                      .Register(registry.registry())
                      .Add({})),
      trimmed_(prometheus::BuildCounter()
                   .Name("docket_compliance_ledger_trimmed_records_total")
                   .Help("Audit records trimmed from Redis past ledger.audit_retention "
                         "(docket.audit.v1 keeps them).")
                   .Register(registry.registry())
                   .Add({})),
      failures_(prometheus::BuildCounter()
                    .Name("docket_compliance_ledger_failures_total")
                    .Help("Ledger writes that failed and will be retried, by stage.")
                    .Register(registry.registry())),
      release_violations_(prometheus::BuildCounter()
                              .Name("docket_compliance_release_segregation_violations_total")
                              .Help("Releases that broke a segregation-of-duties rule, by rule id.")
                              .Register(registry.registry())),
      verifications_(prometheus::BuildCounter()
                         .Name("docket_compliance_audit_verifications_total")
                         .Help("Verifications of the audit ledger (Redis) and of docket.audit.v1, "
                               "scheduled or asked for, by source and result (verified, broken, error).")
                         .Register(registry.registry())),
      last_at_(prometheus::BuildGauge()
                   .Name("docket_compliance_audit_verification_timestamp_seconds")
                   .Help("Unix time of this replica's last verification of the source that found it "
                         "intact, whole (result=verified), or found a broken chain (result=broken).")
                   .Register(registry.registry())) {
  // Export zeroes for the failure stages so alerts see the series from the start.
  for (const char* stage : {"store", "audit_topic", "verdict_topic"}) failures_.Add({{"stage", stage}});
  for (const auto& rule : policies_.rules) {
    if (rule.type == RuleType::kSegregation) release_violations_.Add({{"rule", rule.id}});
  }
  // Zeroes too, so increase() sees the first broken verification.
  for (const char* source : {"ledger", "audit_topic"}) {
    for (const char* result : {"verified", "broken", "error"}) {
      verifications_.Add({{"source", source}, {"result", result}});
    }
  }
}

std::string ComplianceMetrics::KindLabel(const std::string& kind) const {
  return catalog_ && catalog_->FindKind(kind) ? kind : "other";
}

std::string ComplianceMetrics::RuleLabel(const std::string& rule) const {
  return policies_.Find(rule) ? rule : "other";
}

void ComplianceMetrics::Evaluation(const std::string& kind, const std::string& checkpoint,
                                   const std::string& outcome, double seconds) {
  evaluations_.Add({{"kind", KindLabel(kind)}, {"checkpoint", checkpoint}, {"outcome", outcome}})
      .Increment();
  latency_.Add({{"checkpoint", checkpoint}}, EvaluationBuckets()).Observe(seconds);
}

void ComplianceMetrics::Violation(const std::string& rule_id) {
  violations_.Add({{"rule", RuleLabel(rule_id)}}).Increment();
}

void ComplianceMetrics::Append(const std::string& type) { appends_.Add({{"type", type}}).Increment(); }

void ComplianceMetrics::Duplicate() { duplicates_.Increment(); }
void ComplianceMetrics::Trimmed(std::uint64_t records) { trimmed_.Increment(static_cast<double>(records)); }

void ComplianceMetrics::Failure(const std::string& stage) { failures_.Add({{"stage", stage}}).Increment(); }

void ComplianceMetrics::ReleaseViolation(const std::string& rule_id) {
  release_violations_.Add({{"rule", RuleLabel(rule_id)}}).Increment();
}

void ComplianceMetrics::Verification(const std::string& source, const std::string& result, bool whole) {
  verifications_.Add({{"source", source}, {"result", result}}).Increment();
  if ((whole && result == "verified") || result == "broken") {
    // Real time, not the service's (possibly simulated) clock: alerts compare
    // it with Prometheus's time() and the two results with each other.
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    last_at_.Add({{"source", source}, {"result", result}}).Set(std::chrono::duration<double>(now).count());
  }
}

}  // namespace docket::compliance
