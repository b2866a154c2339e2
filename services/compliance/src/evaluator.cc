#include "services/compliance/src/evaluator.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hash/sha256.h"

namespace docket::compliance {
namespace {

using docket::v1::AttributeValue;
using docket::v1::Violation;

// The value of "name" or "outcome.name", or nullptr.
const AttributeValue* Lookup(const EvaluationInput& in, const std::string& field) {
  const AttributeMap* map = in.attributes;
  std::string key = field;
  if (field.rfind("outcome.", 0) == 0) {
    map = in.outcome;
    key = field.substr(8);
  }
  if (!map) return nullptr;
  auto it = map->find(key);
  return it == map->end() ? nullptr : &it->second;
}

std::string FieldPath(const std::string& field) {
  return field.rfind("outcome.", 0) == 0 ? field : absl::StrCat("attributes.", field);
}

// Text of a string-like value (string, enum, bool); false for others.
bool TextOf(const AttributeValue& v, std::string* out) {
  switch (v.value_case()) {
    case AttributeValue::kStringValue: *out = v.string_value(); return true;
    case AttributeValue::kEnumValue: *out = v.enum_value(); return true;
    case AttributeValue::kBoolValue: *out = v.bool_value() ? "true" : "false"; return true;
    default: return false;
  }
}

bool Blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

std::string FormatMinor(std::int64_t minor) {
  const bool neg = minor < 0;
  const std::uint64_t abs = neg ? static_cast<std::uint64_t>(-(minor + 1)) + 1 : static_cast<std::uint64_t>(minor);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%02llu", neg ? "-" : "",
                static_cast<unsigned long long>(abs / 100), static_cast<unsigned long long>(abs % 100));
  return buf;
}

Violation Make(const Rule& rule, std::string field, std::string message) {
  Violation v;
  v.set_rule_id(rule.id);
  v.set_field(std::move(field));
  v.set_message(std::move(message));
  v.set_action(rule.action);
  v.set_severity(rule.severity);
  return v;
}

// Every string attribute (and outcome value at completion), sorted by name so
// verdicts are deterministic (protobuf maps have no order).
std::vector<std::string> AllTextFields(const EvaluationInput& in) {
  std::vector<std::string> out;
  if (in.attributes) {
    for (const auto& [k, v] : *in.attributes) {
      if (v.value_case() == AttributeValue::kStringValue) out.push_back(k);
    }
  }
  std::sort(out.begin(), out.end());
  if (in.outcome) {
    std::vector<std::string> outcome;
    for (const auto& [k, v] : *in.outcome) {
      if (v.value_case() == AttributeValue::kStringValue) outcome.push_back("outcome." + k);
    }
    std::sort(outcome.begin(), outcome.end());
    out.insert(out.end(), outcome.begin(), outcome.end());
  }
  return out;
}

const std::string& ActorOf(const EvaluationInput& in, Party p) {
  switch (p) {
    case Party::kSubmitter: return in.submitter;
    case Party::kCompleter: return in.completer;
    case Party::kReleaser: return in.releaser;
  }
  return in.submitter;
}

void CheckSegregation(const Rule& rule, const EvaluationInput& in, std::vector<Violation>* out) {
  for (std::size_t i = 0; i < rule.parties.size(); ++i) {
    for (std::size_t j = i + 1; j < rule.parties.size(); ++j) {
      const std::string& a = ActorOf(in, rule.parties[i]);
      const std::string& b = ActorOf(in, rule.parties[j]);
      if (a.empty() || b.empty() || a != b) continue;
      // Actor ids are not PII (stable ids, never names), but the message
      // needs only the roles.
      out->push_back(Make(rule, std::string(PartyName(rule.parties[j])),
                          absl::StrCat("the ", std::string(PartyName(rule.parties[j])), " is also the ",
                                       std::string(PartyName(rule.parties[i])),
                                       ": this rule needs different people")));
    }
  }
}

}  // namespace

std::string VerdictId(const std::string& source_event_id, docket::v1::Checkpoint checkpoint) {
  return hash::Sha256Hex(
             absl::StrCat(source_event_id, "\x1f", "verdict:", std::string(CheckpointName(checkpoint))))
      .substr(0, 32);
}

std::string_view CheckpointName(docket::v1::Checkpoint checkpoint) {
  switch (checkpoint) {
    case docket::v1::CHECKPOINT_SUBMIT: return "submit";
    case docket::v1::CHECKPOINT_COMPLETE: return "complete";
    default: return "unspecified";
  }
}

std::string_view OutcomeName(docket::v1::Outcome outcome) {
  switch (outcome) {
    case docket::v1::OUTCOME_PASS: return "pass";
    case docket::v1::OUTCOME_FLAG: return "flag";
    case docket::v1::OUTCOME_FAIL: return "fail";
    default: return "unspecified";
  }
}

void Evaluator::Apply(const Rule& rule, const EvaluationInput& in, std::vector<Violation>* out) const {
  switch (rule.type) {
    case RuleType::kRequired:
      for (const auto& f : rule.fields) {
        const AttributeValue* v = Lookup(in, f);
        std::string text;
        const bool missing = !v || v->value_case() == AttributeValue::VALUE_NOT_SET ||
                             (v->value_case() == AttributeValue::kStringValue && Blank(v->string_value()));
        if (missing) out->push_back(Make(rule, FieldPath(f), absl::StrCat(FieldPath(f), " is required")));
      }
      return;
    case RuleType::kPii: {
      if (in.redactions && in.checkpoint == docket::v1::CHECKPOINT_SUBMIT) {
        for (const auto& r : *in.redactions) {
          if (r.rule_id() != rule.id) continue;
          out->push_back(Make(rule, FieldPath(r.field()),
                              absl::StrCat(FieldPath(r.field()), " contained a ", r.pii(), " value (",
                                           r.masked(), "); intake redacted it before admission")));
        }
      }
      const std::vector<std::string> fields = rule.fields.empty() ? AllTextFields(in) : rule.fields;
      for (const auto& f : fields) {
        const AttributeValue* v = Lookup(in, f);
        if (!v || v->value_case() != AttributeValue::kStringValue) continue;
        for (const auto& d : rule.detectors) {
          PiiFinding finding;
          if (!d->Find(v->string_value(), &finding)) continue;
          out->push_back(Make(rule, FieldPath(f),
                              absl::StrCat(FieldPath(f), " contains ",
                                           std::string(PiiKindDescription(finding.kind)), " (",
                                           finding.masked, ")")));
        }
      }
      return;
    }
    case RuleType::kThreshold: {
      const std::string& f = rule.fields[0];
      const AttributeValue* v = Lookup(in, f);
      if (!v) return;
      std::int64_t value = 0;
      std::string currency;
      if (v->value_case() == AttributeValue::kMoneyValue) {
        value = v->money_value().minor_units();
        currency = v->money_value().currency();
      } else if (v->value_case() == AttributeValue::kNumberValue) {
        const double scaled = v->number_value() * 100.0;
        if (!(scaled < 9.2e18 && scaled > -9.2e18)) return;  // NaN or out of range
        value = static_cast<std::int64_t>(scaled);
      } else {
        return;
      }
      auto it = rule.limits.find(currency);
      if (it == rule.limits.end()) it = rule.limits.find("");
      if (it == rule.limits.end() || value <= it->second) return;
      const std::string unit = currency.empty() ? "" : " " + currency;
      out->push_back(Make(rule, FieldPath(f),
                          absl::StrCat(FieldPath(f), " ", FormatMinor(value), unit, " is above ",
                                       FormatMinor(it->second), unit,
                                       rule.action == docket::v1::OUTCOME_FLAG
                                           ? ": needs a second approver"
                                           : ": over the limit")));
      return;
    }
    case RuleType::kSegregation:
      CheckSegregation(rule, in, out);
      return;
    case RuleType::kDenyList:
      for (const auto& f : rule.fields) {
        const AttributeValue* v = Lookup(in, f);
        std::string text;
        if (!v || !TextOf(*v, &text)) continue;
        if (rule.deny.count(NormalizeDenyEntry(text))) {
          out->push_back(Make(rule, FieldPath(f),
                              absl::StrCat(FieldPath(f), " is on the deny list ", rule.deny_list_name)));
        }
      }
      return;
    case RuleType::kAllowedValues:
      for (const auto& f : rule.fields) {
        const AttributeValue* v = Lookup(in, f);
        std::string text;
        if (!v || !TextOf(*v, &text)) continue;
        if (rule.allowed.count(text)) continue;
        std::vector<std::string> shown;
        for (const auto& a : rule.allowed) {
          if (shown.size() == 6) {
            shown.push_back("...");
            break;
          }
          shown.push_back(a);
        }
        // The value itself is not repeated: a free-text field may hold anything.
        out->push_back(Make(rule, FieldPath(f),
                            absl::StrCat(FieldPath(f), " is not one of the allowed values (",
                                         absl::StrJoin(shown, ", "), ")")));
      }
      return;
  }
}

docket::v1::Verdict Evaluator::Evaluate(const EvaluationInput& in) const {
  docket::v1::Verdict verdict;
  verdict.set_id(VerdictId(in.source_event_id, in.checkpoint));
  verdict.set_item_id(in.item_id);
  verdict.set_tenant(in.tenant);
  verdict.set_kind(in.kind);
  verdict.set_checkpoint(in.checkpoint);
  verdict.set_source_event_id(in.source_event_id);
  *verdict.mutable_evaluated_at() = in.evaluated_at;
  verdict.set_policy_version(policies_.version);

  std::vector<Violation> violations;
  for (const Rule& rule : policies_.rules) {
    if (rule.AppliesTo(in.kind, in.checkpoint)) Apply(rule, in, &violations);
  }
  docket::v1::Outcome outcome = docket::v1::OUTCOME_PASS;
  for (auto& v : violations) {
    if (v.action() == docket::v1::OUTCOME_FAIL) outcome = docket::v1::OUTCOME_FAIL;
    if (v.action() == docket::v1::OUTCOME_FLAG && outcome == docket::v1::OUTCOME_PASS) {
      outcome = docket::v1::OUTCOME_FLAG;
    }
    *verdict.add_violations() = std::move(v);
  }
  verdict.set_outcome(outcome);
  return verdict;
}

std::vector<Violation> Evaluator::CheckRelease(const EvaluationInput& in) const {
  std::vector<Violation> out;
  for (const Rule& rule : policies_.rules) {
    if (rule.type != RuleType::kSegregation) continue;
    if (!rule.kinds.count("*") && !rule.kinds.count(in.kind)) continue;
    if (std::find(rule.parties.begin(), rule.parties.end(), Party::kReleaser) == rule.parties.end()) {
      continue;
    }
    CheckSegregation(rule, in, &out);
  }
  return out;
}

}  // namespace docket::compliance
