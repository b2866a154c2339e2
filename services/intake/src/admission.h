#pragma once

// Admission: the intake's logic, free of gRPC and Kafka consumer details.
// authorize -> validate -> rate limit -> bound in-flight work -> reserve the
// idempotency key -> publish Submitted (acks=all) -> commit the key.
// An OK outcome means the item is durable on Kafka.

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_config.h"
#include "docket/v1/work.pb.h"
#include "common/ids/uuid7.h"
#include "services/intake/src/idempotency.h"
#include "services/intake/src/intake_metrics.h"
#include "services/intake/src/rate_limiter.h"
#include "services/intake/src/redactor.h"
#include "services/intake/src/validator.h"

namespace docket::intake {

// An authenticated publisher and what it may submit.
struct Publisher {
  std::string id;
  std::vector<std::string> tenants;  // "*" = any tenant
  std::vector<std::string> kinds;    // empty or "*" = any kind
};

struct Outcome {
  absl::Status status;  // OK = admitted or duplicate
  std::string item_id;
  bool duplicate = false;
  std::vector<Violation> violations;           // INVALID_ARGUMENT
  std::chrono::milliseconds retry_after{0};    // RESOURCE_EXHAUSTED, UNAVAILABLE
};

struct AdmissionOptions {
  std::size_t max_in_flight = 20000;  // submissions being admitted at once, across calls
  std::chrono::milliseconds pending_wait{5000};  // how long a duplicate waits for the first
  // How long a call waits for Kafka's acks=all confirmation before answering
  // UNAVAILABLE (the producer itself keeps trying for its delivery timeout).
  std::chrono::milliseconds publish_wait{5000};
  std::string source = "//docket/intake";
  // Masks PII before admission (policies.yaml rules with redact: true);
  // null = no redaction. Must outlive the Admission.
  const Redactor* redactor = nullptr;
};

class Admission {
 public:
  Admission(const catalog::Catalog& catalog, IdempotencyStore& idempotency,
            kafka::EventPublisher& publisher, RateLimiter& rate_limiter, const Clock& clock,
            const kafka::Topics& topics, IntakeMetrics* metrics, AdmissionOptions options = {});

  // Admits submissions; one outcome per submission, in order. `publisher`
  // unset = a trusted channel (the Kafka intake topic, guarded by Kafka's own
  // ACLs). `channel` ("grpc" or "kafka") goes into every event, and
  // `traceparents[i]` into submission i's (empty vector = none; else one per
  // submission, INVALID_ARGUMENT for each otherwise). Thread-safe; the
  // submissions of one call share one Redis round trip per step and one wait
  // for Kafka's acknowledgements.
  std::vector<Outcome> Admit(const std::optional<Publisher>& publisher,
                             const std::vector<docket::v1::WorkSubmission>& submissions,
                             const std::string& channel,
                             const std::vector<std::string>& traceparents = {});

  // The Submitted event an admission publishes (exposed for tests), with
  // its PII redacted.
  docket::v1::Event SubmittedEvent(const docket::v1::WorkSubmission& submission,
                                   const std::string& item_id, const std::string& channel,
                                   const std::string& traceparent) const;

 private:
  absl::Status Authorize(const Publisher& p, const docket::v1::WorkSubmission& s) const;

  const catalog::Catalog& catalog_;
  IdempotencyStore& idempotency_;
  kafka::EventPublisher& publisher_;
  RateLimiter& rate_limiter_;
  const Clock& clock_;
  kafka::Topics topics_;
  IntakeMetrics* metrics_;
  AdmissionOptions options_;
  UuidV7Generator ids_;
  std::atomic<std::size_t> in_flight_{0};
};

}  // namespace docket::intake
