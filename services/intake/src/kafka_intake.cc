#include "services/intake/src/kafka_intake.h"

#include "absl/strings/str_cat.h"
#include "services/intake/src/cloudevents.h"

namespace docket::intake {

kafka::BatchHandler KafkaIntakeHandler(Admission& admission, IntakeMetrics* metrics) {
  return [&admission, metrics](const std::vector<const kafka::Record*>& records) {
    std::vector<absl::Status> out(records.size());
    std::vector<std::size_t> decodable;
    std::vector<DecodedSubmission> decoded;
    decodable.reserve(records.size());
    decoded.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      auto d = DecodeIntakeRecord(*records[i]);
      if (!d.ok()) {
        if (metrics) metrics->Dlq("undecodable");
        out[i] = d.status();  // INVALID_ARGUMENT: poison
        continue;
      }
      decodable.push_back(i);
      decoded.push_back(*std::move(d));
    }
    if (decoded.empty()) return out;
    std::vector<docket::v1::WorkSubmission> subs;
    std::vector<std::string> traceparents;
    subs.reserve(decoded.size());
    traceparents.reserve(decoded.size());
    for (auto& d : decoded) {
      subs.push_back(std::move(d.submission));
      traceparents.push_back(std::move(d.traceparent));
    }
    // One admission for the batch: one Redis round trip per step and one
    // wait for Kafka's acknowledgements, however many records.
    std::vector<Outcome> outcomes = admission.Admit(std::nullopt, subs, "kafka", traceparents);
    for (std::size_t n = 0; n < decodable.size(); ++n) {
      const absl::Status& s = outcomes[n].status;
      if (s.code() == absl::StatusCode::kInvalidArgument) {
        if (metrics) metrics->Dlq("invalid");
        out[decodable[n]] = absl::InvalidArgumentError(
            absl::StrCat("event ", decoded[n].source, "/", decoded[n].id, ": ", s.message()));
      } else {
        out[decodable[n]] = s;  // OK, or retryable
      }
    }
    return out;
  };
}

}  // namespace docket::intake
