#include "common/policy/policy.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/catalog/catalog.h"
#include "common/config/yaml.h"
#include "common/status/macros.h"

namespace docket::compliance {
namespace {

using config::YamlNode;

absl::StatusOr<RuleType> ParseType(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(std::string t, node.AsString());
  static const std::map<std::string, RuleType> kTypes = {
      {"required", RuleType::kRequired},       {"pii", RuleType::kPii},
      {"threshold", RuleType::kThreshold},     {"segregation", RuleType::kSegregation},
      {"deny_list", RuleType::kDenyList},      {"allowed_values", RuleType::kAllowedValues}};
  if (auto it = kTypes.find(t); it != kTypes.end()) return it->second;
  return node.Error(absl::StrCat("unknown rule type \"", t,
                                 "\" (expected required, pii, threshold, segregation, deny_list or "
                                 "allowed_values)"));
}

absl::StatusOr<docket::v1::Severity> ParseSeverity(const YamlNode& node) {
  if (node.IsNull()) return docket::v1::SEVERITY_MEDIUM;
  DOCKET_ASSIGN_OR_RETURN(std::string s, node.AsString());
  if (s == "low") return docket::v1::SEVERITY_LOW;
  if (s == "medium") return docket::v1::SEVERITY_MEDIUM;
  if (s == "high") return docket::v1::SEVERITY_HIGH;
  if (s == "critical") return docket::v1::SEVERITY_CRITICAL;
  return node.Error(absl::StrCat("unknown severity \"", s, "\" (low, medium, high or critical)"));
}

absl::StatusOr<docket::v1::Outcome> ParseAction(const YamlNode& node) {
  if (node.IsNull()) return docket::v1::OUTCOME_FLAG;
  DOCKET_ASSIGN_OR_RETURN(std::string s, node.AsString());
  if (s == "flag") return docket::v1::OUTCOME_FLAG;
  if (s == "fail") return docket::v1::OUTCOME_FAIL;
  return node.Error(absl::StrCat("unknown action \"", s, "\" (flag or fail)"));
}

absl::StatusOr<std::vector<std::string>> StringOrList(const YamlNode& node) {
  if (node.IsScalar()) {
    DOCKET_ASSIGN_OR_RETURN(std::string s, node.AsString());
    return std::vector<std::string>{s};
  }
  return node.AsStringList();
}

absl::StatusOr<std::set<docket::v1::Checkpoint>> ParseCheckpoints(const YamlNode& node) {
  if (node.IsNull()) return node.Error("is required (submit, complete or [submit, complete])");
  DOCKET_ASSIGN_OR_RETURN(auto names, StringOrList(node));
  std::set<docket::v1::Checkpoint> out;
  for (const auto& n : names) {
    if (n == "submit") {
      out.insert(docket::v1::CHECKPOINT_SUBMIT);
    } else if (n == "complete") {
      out.insert(docket::v1::CHECKPOINT_COMPLETE);
    } else {
      return node.Error(absl::StrCat("unknown checkpoint \"", n, "\" (submit or complete)"));
    }
  }
  if (out.empty()) return node.Error("needs at least one checkpoint");
  return out;
}

// "10000", "9999.99" -> minor units (exact; at most two decimals).
absl::StatusOr<std::int64_t> ParseAmount(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(std::string s, node.AsString());
  std::int64_t major = 0, minor = 0;
  std::size_t i = 0;
  bool digits = false;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    if (major > 1'000'000'000'000'000) return node.Error("amount too large");
    major = major * 10 + (s[i] - '0');
    digits = true;
  }
  int decimals = 0;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && decimals < 2; ++i) {
      minor = minor * 10 + (s[i] - '0');
      ++decimals;
    }
  }
  if (!digits || i != s.size()) {
    return node.Error(absl::StrCat("expected an amount like 10000 or 9999.99, got \"", s, "\""));
  }
  if (decimals == 1) minor *= 10;
  return major * 100 + minor;
}

absl::StatusOr<std::vector<Party>> ParseParties(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(auto names, node.AsStringList());
  std::vector<Party> out;
  for (const auto& n : names) {
    Party p;
    if (n == "submitter") {
      p = Party::kSubmitter;
    } else if (n == "completer") {
      p = Party::kCompleter;
    } else if (n == "releaser") {
      p = Party::kReleaser;
    } else {
      return node.Error(absl::StrCat("unknown party \"", n, "\" (submitter, completer or releaser)"));
    }
    if (std::find(out.begin(), out.end(), p) != out.end()) {
      return node.Error(absl::StrCat("party \"", n, "\" is listed twice"));
    }
    out.push_back(p);
  }
  if (out.size() < 2) return node.Error("needs at least two parties that must differ");
  return out;
}

absl::StatusOr<PiiKind> ParseDetector(const YamlNode& node, const std::string& name) {
  static const std::map<std::string, PiiKind> kKinds = {
      {"card", PiiKind::kCard},   {"iban", PiiKind::kIban},
      {"email", PiiKind::kEmail}, {"phone", PiiKind::kPhone},
      {"national_id", PiiKind::kNationalId}};
  if (auto it = kKinds.find(name); it != kKinds.end()) return it->second;
  return node.Error(absl::StrCat("unknown detector \"", name,
                                 "\" (card, iban, email, phone, national_id; use pattern: for a "
                                 "custom regex)"));
}

absl::StatusOr<std::set<std::string>> LoadDenyList(const YamlNode& node, const std::string& base_dir,
                                                   std::string* name) {
  DOCKET_ASSIGN_OR_RETURN(std::string file, node.AsString());
  std::filesystem::path path(file);
  if (path.is_relative()) path = std::filesystem::path(base_dir) / path;
  std::ifstream in(path);
  if (!in) return node.Error(absl::StrCat("cannot read deny list ", path.string()));
  std::set<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::string entry = NormalizeDenyEntry(line);
    if (!entry.empty()) out.insert(std::move(entry));
  }
  if (out.empty()) return node.Error(absl::StrCat("deny list ", path.string(), " has no entries"));
  *name = path.filename().string();
  return out;
}

absl::Status CheckField(const YamlNode& where, const Rule& rule, const std::string& field,
                        const catalog::Catalog* catalog) {
  if (field.empty()) return where.Error("a field name must not be empty");
  if (field.rfind("outcome.", 0) == 0) {
    if (!rule.checkpoints.count(docket::v1::CHECKPOINT_COMPLETE) ||
        rule.checkpoints.count(docket::v1::CHECKPOINT_SUBMIT)) {
      return where.Error(absl::StrCat("\"", field, "\" exists only at the complete checkpoint"));
    }
    return absl::OkStatus();
  }
  if (!catalog || rule.kinds.count("*")) return absl::OkStatus();
  for (const auto& k : rule.kinds) {
    const catalog::Kind* kind = catalog->FindKind(k);
    if (kind && !kind->FindAttribute(field)) {
      return where.Error(absl::StrCat("kind ", k, " has no attribute \"", field, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Rule> ParseRule(const YamlNode& n, const std::string& base_dir,
                               const catalog::Catalog* catalog) {
  Rule r;
  r.line = n.line();
  DOCKET_ASSIGN_OR_RETURN(r.id, n.String("id"));
  if (r.id.empty() || r.id.size() > 64 ||
      !std::all_of(r.id.begin(), r.id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      })) {
    return n.Child("id").Error("expected 1..64 characters of [A-Za-z0-9._-] (it is a metric label)");
  }
  DOCKET_ASSIGN_OR_RETURN(r.type, ParseType(n.Child("type")));
  std::set<std::string> keys = {"id", "description", "type", "severity", "action", "kinds",
                                "checkpoint"};
  switch (r.type) {
    case RuleType::kRequired: keys.insert({"fields", "field"}); break;
    case RuleType::kPii: keys.insert({"fields", "field", "detect", "pattern", "redact"}); break;
    case RuleType::kThreshold: keys.insert({"field", "above"}); break;
    case RuleType::kSegregation: keys.insert("parties"); break;
    case RuleType::kDenyList: keys.insert({"fields", "field", "file"}); break;
    case RuleType::kAllowedValues: keys.insert({"fields", "field", "values"}); break;
  }
  DOCKET_RETURN_IF_ERROR(n.CheckKeys(keys));
  DOCKET_ASSIGN_OR_RETURN(r.description, n.String("description", ""));
  DOCKET_ASSIGN_OR_RETURN(r.severity, ParseSeverity(n.Child("severity")));
  DOCKET_ASSIGN_OR_RETURN(r.action, ParseAction(n.Child("action")));
  DOCKET_ASSIGN_OR_RETURN(r.checkpoints, ParseCheckpoints(n.Child("checkpoint")));
  if (!n.Has("kinds")) return n.Child("kinds").Error("is required (a list of kinds, or [\"*\"])");
  DOCKET_ASSIGN_OR_RETURN(auto kinds, StringOrList(n.Child("kinds")));
  if (kinds.empty()) return n.Child("kinds").Error("needs at least one kind (or \"*\")");
  for (const auto& k : kinds) {
    if (k != "*" && catalog && !catalog->FindKind(k)) {
      return n.Child("kinds").Error(absl::StrCat("unknown kind \"", k, "\" (not in the catalog)"));
    }
    r.kinds.insert(k);
  }

  if (n.Has("field") && n.Has("fields")) return n.Error("give field or fields, not both");
  if (n.Has("field")) {
    DOCKET_ASSIGN_OR_RETURN(std::string f, n.String("field"));
    r.fields = {f};
  } else {
    DOCKET_ASSIGN_OR_RETURN(r.fields, n.Child("fields").AsStringList());
  }
  const YamlNode fields_node = n.Has("field") ? n.Child("field") : n.Child("fields");
  for (const auto& f : r.fields) DOCKET_RETURN_IF_ERROR(CheckField(fields_node, r, f, catalog));
  const bool needs_fields = r.type != RuleType::kPii && r.type != RuleType::kSegregation;
  if (needs_fields && r.fields.empty()) return fields_node.Error("is required");

  switch (r.type) {
    case RuleType::kRequired:
      break;
    case RuleType::kPii: {
      DOCKET_ASSIGN_OR_RETURN(auto names, n.Child("detect").AsStringList());
      for (const auto& name : names) {
        DOCKET_ASSIGN_OR_RETURN(PiiKind kind, ParseDetector(n.Child("detect"), name));
        r.detectors.push_back(PiiDetector::BuiltIn(kind));
      }
      if (n.Has("pattern")) {
        DOCKET_ASSIGN_OR_RETURN(std::string pattern, n.String("pattern"));
        std::string error;
        auto custom = PiiDetector::Custom(pattern, &error);
        if (!custom) return n.Child("pattern").Error(absl::StrCat("bad regex: ", error));
        r.detectors.push_back(std::move(custom));
      }
      if (r.detectors.empty()) return n.Error("a pii rule needs detect: [...] or pattern:");
      DOCKET_ASSIGN_OR_RETURN(r.redact, n.Bool("redact", false));
      if (r.redact && !r.checkpoints.count(docket::v1::CHECKPOINT_SUBMIT)) {
        return n.Child("redact").Error(
            "redact needs checkpoint submit (intake redacts before admission)");
      }
      break;
    }
    case RuleType::kThreshold: {
      if (r.fields.size() != 1) return fields_node.Error("a threshold looks at one field");
      const YamlNode above = n.Child("above");
      if (above.IsNull()) return above.Error("is required (an amount, or a map currency -> amount)");
      if (above.IsMap()) {
        DOCKET_ASSIGN_OR_RETURN(auto entries, above.Entries());
        for (const auto& [currency, amount] : entries) {
          if (currency.size() != 3 || !std::all_of(currency.begin(), currency.end(), ::isupper)) {
            return amount.Error(absl::StrCat("\"", currency, "\" is not an ISO 4217 code like EUR"));
          }
          DOCKET_ASSIGN_OR_RETURN(r.limits[currency], ParseAmount(amount));
        }
        if (r.limits.empty()) return above.Error("needs at least one currency");
      } else {
        DOCKET_ASSIGN_OR_RETURN(r.limits[""], ParseAmount(above));
      }
      if (catalog && !r.kinds.count("*") && r.fields[0].rfind("outcome.", 0) != 0) {
        for (const auto& k : r.kinds) {
          const catalog::AttributeSpec* a = catalog->FindKind(k)->FindAttribute(r.fields[0]);
          if (a->type != catalog::AttributeType::kMoney && a->type != catalog::AttributeType::kNumber) {
            return fields_node.Error(absl::StrCat("attribute ", r.fields[0], " of kind ", k, " is ",
                                                  std::string(catalog::AttributeTypeName(a->type)),
                                                  "; a threshold needs money or number"));
          }
        }
      }
      break;
    }
    case RuleType::kSegregation: {
      DOCKET_ASSIGN_OR_RETURN(r.parties, ParseParties(n.Child("parties")));
      break;
    }
    case RuleType::kDenyList: {
      DOCKET_ASSIGN_OR_RETURN(r.deny, LoadDenyList(n.Child("file"), base_dir, &r.deny_list_name));
      break;
    }
    case RuleType::kAllowedValues: {
      DOCKET_ASSIGN_OR_RETURN(auto values, n.Child("values").AsStringList());
      if (values.empty()) return n.Child("values").Error("needs at least one value");
      r.allowed.insert(values.begin(), values.end());
      break;
    }
  }
  return r;
}

// Adds " (rule <id>)" after the location of an error, so the operator sees
// which rule is wrong even when the path is only rules[7].
absl::Status NameRule(const absl::Status& s, const YamlNode& rule_node) {
  auto id = rule_node.String("id", "");
  const std::string rule = id.ok() && !id->empty() ? *id : "?";
  return absl::Status(s.code(), absl::StrCat(s.message(), " [rule ", rule, "]"));
}

absl::StatusOr<PolicySet> FromYaml(const YamlNode& root, const std::string& base_dir,
                                   const catalog::Catalog* catalog) {
  DOCKET_RETURN_IF_ERROR(root.CheckKeys({"version", "ledger", "rules"}));
  PolicySet set;
  set.source = root.file();
  DOCKET_ASSIGN_OR_RETURN(set.version, root.String("version"));
  if (set.version.empty()) return root.Child("version").Error("must not be empty");

  const YamlNode ledger = root.Child("ledger");
  DOCKET_RETURN_IF_ERROR(ledger.CheckKeys({"hmac_key_file", "item_ttl", "audit_retention", "verify_every", "verify_topic_every"}));
  DOCKET_ASSIGN_OR_RETURN(set.ledger.hmac_key_file, ledger.String("hmac_key_file", ""));
  if (!set.ledger.hmac_key_file.empty()) {
    std::filesystem::path path(set.ledger.hmac_key_file);
    if (path.is_relative()) path = std::filesystem::path(base_dir) / path;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return ledger.Child("hmac_key_file").Error(absl::StrCat("cannot read ", path.string()));
    }
    std::stringstream key;
    key << in.rdbuf();
    set.ledger.hmac_key = key.str();
    while (!set.ledger.hmac_key.empty() &&
           (set.ledger.hmac_key.back() == '\n' || set.ledger.hmac_key.back() == '\r')) {
      set.ledger.hmac_key.pop_back();
    }
    if (set.ledger.hmac_key.size() < 16) {
      return ledger.Child("hmac_key_file").Error("the HMAC key must be at least 16 bytes");
    }
  }
  if (ledger.Has("item_ttl")) {
    DOCKET_ASSIGN_OR_RETURN(auto ttl, ledger.Duration("item_ttl"));
    if (ttl < std::chrono::hours(1)) return ledger.Child("item_ttl").Error("must be at least 1h");
    set.ledger.item_ttl_seconds = std::chrono::duration_cast<std::chrono::seconds>(ttl).count();
  }
  if (ledger.Has("audit_retention")) {
    DOCKET_ASSIGN_OR_RETURN(auto retention, ledger.Duration("audit_retention"));
    if (retention < std::chrono::hours(24)) {
      return ledger.Child("audit_retention").Error("must be at least 1d (longer than the work topics' retention)");
    }
    set.ledger.audit_retention_seconds = std::chrono::duration_cast<std::chrono::seconds>(retention).count();
  }
  for (auto [key, out] : {std::pair{"verify_every", &set.ledger.verify_every_seconds},
                          std::pair{"verify_topic_every", &set.ledger.verify_topic_every_seconds}}) {
    if (!ledger.Has(key)) continue;
    DOCKET_ASSIGN_OR_RETURN(auto every, ledger.Duration(key));
    if (every.count() != 0 && every < std::chrono::minutes(1)) {
      return ledger.Child(key).Error("must be 0 (never) or at least 1m: each run reads the whole ledger or topic");
    }
    *out = std::chrono::duration_cast<std::chrono::seconds>(every).count();
  }

  DOCKET_ASSIGN_OR_RETURN(auto rules, root.Child("rules").Items());
  std::set<std::string> ids;
  for (const YamlNode& node : rules) {
    auto rule = ParseRule(node, base_dir, catalog);
    if (!rule.ok()) return NameRule(rule.status(), node);
    if (!ids.insert(rule->id).second) {
      return NameRule(node.Child("id").Error(absl::StrCat("duplicate rule id \"", rule->id, "\"")),
                      node);
    }
    set.rules.push_back(*std::move(rule));
  }
  if (catalog) {
    for (const Rule& r : set.rules) {
      for (const auto& k : r.kinds) {
        const catalog::Kind* kind = catalog->FindKind(k);
        if (!kind) continue;
        for (auto cp : r.checkpoints) {
          const bool checked = cp == docket::v1::CHECKPOINT_SUBMIT ? kind->check_on_submit
                                                                    : kind->check_on_complete;
          if (!checked) {
            set.warnings.push_back(absl::StrCat(
                set.source, ":", r.line, ": rule ", r.id, " applies to kind ", k, " at ",
                cp == docket::v1::CHECKPOINT_SUBMIT ? "submit" : "complete",
                ", which the catalog does not check there; only Evaluate (dry run) uses it"));
          }
        }
      }
    }
  }
  return set;
}

}  // namespace

std::string_view RuleTypeName(RuleType type) {
  switch (type) {
    case RuleType::kRequired: return "required";
    case RuleType::kPii: return "pii";
    case RuleType::kThreshold: return "threshold";
    case RuleType::kSegregation: return "segregation";
    case RuleType::kDenyList: return "deny_list";
    case RuleType::kAllowedValues: return "allowed_values";
  }
  return "required";
}

std::string_view PartyName(Party party) {
  switch (party) {
    case Party::kSubmitter: return "submitter";
    case Party::kCompleter: return "completer";
    case Party::kReleaser: return "releaser";
  }
  return "submitter";
}

std::string NormalizeDenyEntry(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::vector<const Rule*> PolicySet::RulesFor(const std::string& kind,
                                             docket::v1::Checkpoint checkpoint) const {
  std::vector<const Rule*> out;
  for (const Rule& r : rules) {
    if (r.AppliesTo(kind, checkpoint)) out.push_back(&r);
  }
  return out;
}

const Rule* PolicySet::Find(const std::string& id) const {
  for (const Rule& r : rules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

absl::StatusOr<PolicySet> LoadPolicies(const std::string& path, const catalog::Catalog* catalog) {
  DOCKET_ASSIGN_OR_RETURN(config::YamlNode root, config::LoadYamlFile(path));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return FromYaml(root, dir.empty() ? "." : dir, catalog);
}

absl::StatusOr<PolicySet> ParsePolicies(const std::string& yaml, const std::string& name,
                                        const std::string& base_dir, const catalog::Catalog* catalog) {
  DOCKET_ASSIGN_OR_RETURN(config::YamlNode root, config::ParseYaml(yaml, name));
  return FromYaml(root, base_dir, catalog);
}

}  // namespace docket::compliance
