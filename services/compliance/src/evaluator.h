#pragma once

// Evaluation: a work item at a checkpoint against the policy set, giving a
// Verdict (PASS, FLAG or FAIL with one Violation per broken rule and field).
// Pure logic: no I/O, no clock (the caller stamps the time), thread-safe.
// Messages name fields, never PII values: a PII finding shows only its
// masked form (e.g. "**** **** **** 1111").

#include <string>
#include <vector>

#include "docket/v1/compliance.pb.h"
#include "docket/v1/work.pb.h"
#include "common/policy/policy.h"

namespace docket::compliance {

using AttributeMap = google::protobuf::Map<std::string, docket::v1::AttributeValue>;

struct EvaluationInput {
  std::string item_id;
  std::string tenant;
  std::string kind;
  docket::v1::Checkpoint checkpoint = docket::v1::CHECKPOINT_SUBMIT;
  const AttributeMap* attributes = nullptr;  // the submission's; may be null
  const AttributeMap* outcome = nullptr;     // what the worker entered; may be null
  // What intake masked before admission (Submitted.redactions); may be null.
  // Each one is a violation of its rule, reported with the masked form.
  const google::protobuf::RepeatedPtrField<docket::v1::Redaction>* redactions = nullptr;
  // Actor ids for segregation of duties ("" = unknown: not compared).
  std::string submitter;
  std::string completer;
  std::string releaser;
  // The work event evaluated (the verdict id derives from it).
  std::string source_event_id;
  google::protobuf::Timestamp evaluated_at;
};

// First 32 hex digits of SHA-256(source_event_id + "\x1f" + "verdict:" +
// checkpoint), checkpoint "submit" or "complete": the same event at the same
// checkpoint always gets the same verdict id.
std::string VerdictId(const std::string& source_event_id, docket::v1::Checkpoint checkpoint);

// "submit" / "complete" / "unspecified".
std::string_view CheckpointName(docket::v1::Checkpoint checkpoint);
// "pass" / "flag" / "fail" / "unspecified".
std::string_view OutcomeName(docket::v1::Outcome outcome);

class Evaluator {
 public:
  // `policies` must outlive the evaluator.
  explicit Evaluator(const PolicySet& policies) : policies_(policies) {}

  docket::v1::Verdict Evaluate(const EvaluationInput& input) const;

  // Segregation-of-duties rules of `kind` that name the releaser, checked for
  // a release (any checkpoint): one violation per rule broken.
  std::vector<docket::v1::Violation> CheckRelease(const EvaluationInput& input) const;

  const PolicySet& policies() const { return policies_; }

 private:
  void Apply(const Rule& rule, const EvaluationInput& in,
             std::vector<docket::v1::Violation>* out) const;

  const PolicySet& policies_;
};

}  // namespace docket::compliance
