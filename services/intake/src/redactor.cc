#include "services/intake/src/redactor.h"

#include <algorithm>

namespace docket::intake {

Redactor::Redactor(const compliance::PolicySet& policies) {
  for (const auto& rule : policies.rules) {
    if (rule.type == compliance::RuleType::kPii && rule.redact) rules_.push_back(&rule);
  }
}

std::vector<docket::v1::Redaction> Redactor::Apply(docket::v1::WorkSubmission& submission) const {
  std::vector<docket::v1::Redaction> out;
  auto& attributes = *submission.mutable_attributes();
  for (const compliance::Rule* rule : rules_) {
    if (!rule->AppliesTo(submission.kind(), docket::v1::CHECKPOINT_SUBMIT)) continue;
    // The rule's fields, or every string attribute (sorted: a stable order).
    std::vector<std::string> fields;
    if (rule->fields.empty()) {
      for (const auto& [name, value] : attributes) {
        if (value.has_string_value()) fields.push_back(name);
      }
      std::sort(fields.begin(), fields.end());
    } else {
      for (const auto& f : rule->fields) {
        if (!f.starts_with("outcome.")) fields.push_back(f);  // outcomes come later, at completion
      }
    }
    for (const auto& field : fields) {
      auto it = attributes.find(field);
      if (it == attributes.end() || !it->second.has_string_value()) continue;
      std::string* text = it->second.mutable_string_value();
      for (const auto& detector : rule->detectors) {
        std::vector<compliance::PiiFinding> findings;
        if (detector->Redact(text, &findings) == 0) continue;
        for (const auto& f : findings) {
          docket::v1::Redaction r;
          r.set_field(field);
          r.set_rule_id(rule->id);
          r.set_pii(std::string(compliance::PiiKindName(f.kind)));
          r.set_masked(f.masked);
          out.push_back(std::move(r));
        }
      }
    }
  }
  return out;
}

}  // namespace docket::intake
