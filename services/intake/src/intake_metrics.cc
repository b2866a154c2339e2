#include "services/intake/src/intake_metrics.h"

namespace docket::intake {

IntakeMetrics::IntakeMetrics(metrics::MetricsRegistry& registry, const catalog::Catalog& catalog)
    : catalog_(catalog),
      submissions_(prometheus::BuildCounter()
                       .Name("docket_intake_submissions_total")
                       .Help("Work submissions by tenant, kind and result.")
                       .Register(registry.registry())),
      duplicates_(prometheus::BuildCounter()
                      .Name("docket_intake_duplicates_total")
                      .Help("Submissions answered with an existing item (same idempotency key).")
                      .Register(registry.registry())),
      dlq_(prometheus::BuildCounter()
               .Name("docket_intake_dlq_records_total")
               .Help("Records from docket.intake.v1 sent to the DLQ, by reason.")
               .Register(registry.registry())),
      redactions_(prometheus::BuildCounter()
                      .Name("docket_intake_redactions_total")
                      .Help("Values masked before admission, by kind and policy rule (redact: true).")
                      .Register(registry.registry())),
      latency_(prometheus::BuildHistogram()
                   .Name("docket_intake_submit_duration_seconds")
                   .Help("Time to admit one group of submissions (a unary Submit group, a SubmitBatch, "
                         "a stream chunk, a batch of intake-topic records), by channel.")
                   .Register(registry.registry())),
      in_flight_(&prometheus::BuildGauge()
                      .Name("docket_intake_in_flight")
                      .Help("Submissions being admitted right now.")
                      .Register(registry.registry())
                      .Add({})) {
  // Known label sets start at 0, so rate() and alerts see them before the first event.
  for (const char* reason : {"undecodable", "invalid"}) dlq_.Add({{"reason", reason}});
}

void IntakeMetrics::Redaction(const std::string& kind, const std::string& rule_id) {
  redactions_.Add({{"kind", KindLabel(kind)}, {"rule", rule_id}}).Increment();
}

std::string IntakeMetrics::TenantLabel(const std::string& tenant) const {
  return catalog_.HasTenant(tenant) ? tenant : "other";
}

std::string IntakeMetrics::KindLabel(const std::string& kind) const {
  return catalog_.FindKind(kind) ? kind : "other";
}

void IntakeMetrics::Submission(const std::string& tenant, const std::string& kind,
                               const std::string& result) {
  submissions_.Add({{"tenant", TenantLabel(tenant)}, {"kind", KindLabel(kind)}, {"result", result}})
      .Increment();
  if (result == "duplicate") duplicates_.Add({{"tenant", TenantLabel(tenant)}}).Increment();
}

void IntakeMetrics::Latency(const std::string& channel, double seconds) {
  latency_.Add({{"channel", channel}}, metrics::LatencyBuckets()).Observe(seconds);
}

void IntakeMetrics::Dlq(const std::string& reason) { dlq_.Add({{"reason", reason}}).Increment(); }

}  // namespace docket::intake
