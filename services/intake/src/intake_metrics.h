#pragma once

#include <string>

#include "common/catalog/catalog.h"
#include "common/metrics/metrics.h"

namespace docket::intake {

// Intake's own metrics (the common gRPC, Kafka and Redis metrics come from
// their components). Tenant and kind label values come from the catalog;
// anything else is counted as "other", so a caller cannot grow the label set.
class IntakeMetrics {
 public:
  IntakeMetrics(metrics::MetricsRegistry& registry, const catalog::Catalog& catalog);

  // result: admitted | duplicate | invalid | unauthenticated | denied |
  //         rate_limited | overloaded | unavailable
  void Submission(const std::string& tenant, const std::string& kind, const std::string& result);
  void Latency(const std::string& channel, double seconds);
  void Dlq(const std::string& reason);
  // A value masked before admission by policy rule `rule_id`.
  void Redaction(const std::string& kind, const std::string& rule_id);
  prometheus::Gauge& in_flight() { return *in_flight_; }

 private:
  std::string TenantLabel(const std::string& tenant) const;
  std::string KindLabel(const std::string& kind) const;

  const catalog::Catalog& catalog_;
  prometheus::Family<prometheus::Counter>& submissions_;
  prometheus::Family<prometheus::Counter>& duplicates_;
  prometheus::Family<prometheus::Counter>& dlq_;
  prometheus::Family<prometheus::Counter>& redactions_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Gauge* in_flight_;
};

}  // namespace docket::intake
