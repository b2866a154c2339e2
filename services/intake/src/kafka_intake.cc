#include "services/intake/src/kafka_intake.h"

#include "absl/strings/str_cat.h"
#include "services/intake/src/cloudevents.h"

namespace docket::intake {

kafka::RecordHandler KafkaIntakeHandler(Admission& admission, IntakeMetrics* metrics) {
  return [&admission, metrics](const kafka::Record& record) -> absl::Status {
    auto decoded = DecodeIntakeRecord(record);
    if (!decoded.ok()) {
      if (metrics) metrics->Dlq("undecodable");
      return decoded.status();  // INVALID_ARGUMENT: poison
    }
    Outcome outcome =
        admission.Admit(std::nullopt, {decoded->submission}, "kafka", {decoded->traceparent})[0];
    if (outcome.status.code() == absl::StatusCode::kInvalidArgument) {
      if (metrics) metrics->Dlq("invalid");
      return absl::InvalidArgumentError(
          absl::StrCat("event ", decoded->source, "/", decoded->id, ": ", outcome.status.message()));
    }
    return outcome.status;  // OK, or retryable
  };
}

}  // namespace docket::intake
