#pragma once

// Redaction before admission: the policies.yaml PII rules with
// `redact: true` (checkpoint submit) are applied by intake to each admitted
// submission. Every validated finding in a string attribute is replaced by
// its masked form (e.g. "**** **** **** 1111"), so the value never reaches
// docket.work.v1, Redis or any consumer; what was replaced is recorded on
// the Submitted event (field, rule, detector, masked form) for compliance
// to report as the rule's violation and for the audit ledger.

#include <vector>

#include "common/policy/policy.h"
#include "docket/v1/work.pb.h"

namespace docket::intake {

class Redactor {
 public:
  // Keeps the redact rules of `policies`, which must outlive the redactor.
  explicit Redactor(const compliance::PolicySet& policies);

  bool empty() const { return rules_.empty(); }
  // Masks `submission` in place; one Redaction per replaced value, in rule
  // and field order. Thread-safe (RE2 is).
  std::vector<docket::v1::Redaction> Apply(docket::v1::WorkSubmission& submission) const;

 private:
  std::vector<const compliance::Rule*> rules_;
};

}  // namespace docket::intake
