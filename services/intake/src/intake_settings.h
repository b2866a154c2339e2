#pragma once

// Intake's own settings, from intake.yaml in DOCKET_CONFIG_DIR (optional:
// every field has a production default). Errors name file:line:field.
//
//   idempotency:
//     ttl: 24h        # how long (tenant, idempotency_key) is remembered
//     lease: 30s      # how long a pending admission owns its key
//   admission:
//     max_in_flight: 20000   # submissions being admitted at once (per replica)
//     max_batch: 1000        # SubmitBatch items per call
//     stream_window: 1024    # SubmitStream requests read ahead of their acks
//     publish_wait: 5s       # then UNAVAILABLE if Kafka has not confirmed
//   rate_limits:             # per tenant, per replica; "*" = each other tenant
//     "*":  {per_second: 2000, burst: 4000}
//     acme: {per_second: 10000, burst: 20000}

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "services/intake/src/admission.h"
#include "services/intake/src/idempotency.h"
#include "services/intake/src/intake_service.h"
#include "services/intake/src/rate_limiter.h"

namespace docket::intake {

struct IntakeSettings {
  IdempotencyOptions idempotency;
  AdmissionOptions admission;
  IntakeServiceOptions service;
  std::map<std::string, RateLimit> rate_limits;  // empty = unlimited
};

// Parses intake.yaml; `name` stands for the file in messages.
absl::StatusOr<IntakeSettings> ParseIntakeSettings(const std::string& yaml, const std::string& name);
// Loads `path`; a missing file yields the defaults.
absl::StatusOr<IntakeSettings> LoadIntakeSettings(const std::string& path);

}  // namespace docket::intake
