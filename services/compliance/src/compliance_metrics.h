#pragma once

#include <string>

#include "common/metrics/metrics.h"
#include "common/policy/policy.h"

namespace docket::catalog {
class Catalog;
}

namespace docket::compliance {

// Compliance's own metrics (gRPC, Kafka and Redis metrics come from their
// components). Labels are bounded: kinds from the catalog (else "other"),
// rule ids from the policy set (else "other"), and fixed words.
//   docket_compliance_evaluations_total{kind,checkpoint,outcome}
//   docket_compliance_violations_total{rule}
//   docket_compliance_evaluation_duration_seconds{checkpoint}   (1 us .. 100 ms)
//   docket_compliance_ledger_appends_total{type}                verdict|release|reject|escalation
//   docket_compliance_ledger_duplicates_total                   redelivered subjects not appended again
//   docket_compliance_ledger_failures_total{stage}              store|audit_topic|verdict_topic
//   docket_compliance_release_segregation_violations_total{rule}
//   docket_compliance_audit_verifications_total{source,result}   ledger|audit_topic;
//                                                                verified|broken|error
//   docket_compliance_audit_verification_timestamp_seconds{source,result}
//                                     Unix time of the last whole verification that passed
//                                     (verified), of the last one of any scope that found a
//                                     broken chain (broken)
// Thread-safe.
class ComplianceMetrics {
 public:
  ComplianceMetrics(metrics::MetricsRegistry& registry, const catalog::Catalog* catalog,
                    const PolicySet& policies);

  void Evaluation(const std::string& kind, const std::string& checkpoint, const std::string& outcome,
                  double seconds);
  void Violation(const std::string& rule_id);
  void Append(const std::string& type);
  void Duplicate();
  void Trimmed(std::uint64_t records);
  void Failure(const std::string& stage);
  void ReleaseViolation(const std::string& rule_id);
  // A verification of `source` ("ledger" or "audit_topic") ended with
  // `result` ("verified", "broken" or "error"); `whole` = every chain, every
  // record (only a whole one proves the source intact).
  void Verification(const std::string& source, const std::string& result, bool whole);

 private:
  std::string KindLabel(const std::string& kind) const;
  std::string RuleLabel(const std::string& rule) const;

  const catalog::Catalog* catalog_;
  const PolicySet& policies_;
  prometheus::Family<prometheus::Counter>& evaluations_;
  prometheus::Family<prometheus::Counter>& violations_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& appends_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& trimmed_;
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Family<prometheus::Counter>& release_violations_;
  prometheus::Family<prometheus::Counter>& verifications_;
  prometheus::Family<prometheus::Gauge>& last_at_;
};

}  // namespace docket::compliance
