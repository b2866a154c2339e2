#pragma once

// policies.yaml: the compliance rules. Loaded once at start; a bad file
// (unknown rule type, unknown key, bad regex, missing deny-list file, an
// attribute the catalog does not know for the rule's kinds) stops start-up
// with "file:line: rules[i] (rule <id>).field: message". The rule reference
// with examples is services/compliance/README.md.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "docket/v1/compliance.pb.h"
#include "common/policy/pii.h"

namespace docket::catalog {
class Catalog;
}

namespace docket::compliance {

enum class RuleType { kRequired, kPii, kThreshold, kSegregation, kDenyList, kAllowedValues };
std::string_view RuleTypeName(RuleType type);

// Who took part in an item, for segregation of duties.
enum class Party { kSubmitter, kCompleter, kReleaser };
std::string_view PartyName(Party party);

struct Rule {
  std::string id;
  std::string description;
  RuleType type = RuleType::kRequired;
  docket::v1::Severity severity = docket::v1::SEVERITY_MEDIUM;
  // OUTCOME_FLAG or OUTCOME_FAIL: what a violation does to the verdict.
  docket::v1::Outcome action = docket::v1::OUTCOME_FLAG;
  std::set<std::string> kinds;  // "*" = every kind
  std::set<docket::v1::Checkpoint> checkpoints;
  int line = 0;  // where the rule starts in the file

  // Fields are attribute names, or "outcome.<name>" for what the worker
  // entered at completion.
  // kRequired: every field must be present (a string must not be blank).
  // kPii / kThreshold / kDenyList / kAllowedValues: the fields looked at
  // (kPii: empty = every string attribute and outcome value).
  std::vector<std::string> fields;

  // kPii
  std::vector<std::shared_ptr<const PiiDetector>> detectors;
  // kPii with `redact: true` (checkpoint submit): intake replaces every
  // finding with its masked form before admission, so the value never
  // reaches docket.work.v1, and records the redaction on the Submitted
  // event; compliance turns that record into this rule's violation.
  bool redact = false;

  // kThreshold: a money attribute in minor units, or a number; violated when
  // the value is above the limit. `limits` maps currency -> minor units
  // ("" = any currency, and the limit for numbers scaled by 100).
  std::map<std::string, std::int64_t> limits;

  // kSegregation: these parties must all be different people.
  std::vector<Party> parties;

  // kDenyList: normalised entries (trimmed, lower case, inner whitespace
  // collapsed) and the list's file name for messages.
  std::set<std::string> deny;
  std::string deny_list_name;

  // kAllowedValues
  std::set<std::string> allowed;

  bool AppliesTo(const std::string& kind, docket::v1::Checkpoint checkpoint) const {
    return (kinds.count("*") || kinds.count(kind)) && checkpoints.count(checkpoint);
  }
};

// Normalises a value for deny-list comparison: trimmed, ASCII lower case,
// runs of whitespace as one space.
std::string NormalizeDenyEntry(std::string_view value);

// policies.yaml `ledger:`: how audit records are sealed.
struct LedgerSettings {
  // A file holding the HMAC-SHA-256 key (its bytes, trailing newline
  // stripped); relative to the policy file's directory. "" = plain SHA-256.
  std::string hmac_key_file;
  std::string hmac_key;  // loaded from hmac_key_file; never logged
  // How long compliance remembers an item's submission (for the complete
  // checkpoint and segregation of duties).
  std::int64_t item_ttl_seconds = 90 * 24 * 3600;
  // How long Redis keeps the audit ledger: a record's subject (for
  // redeliveries), its item's trail, and the chain's record itself (trimmed
  // behind an anchor, see ChainAnchor); docket.audit.v1 keeps every record.
  // Must outlast the work topics' retention, so a redelivered input still
  // finds its subject.
  std::int64_t audit_retention_seconds = 90 * 24 * 3600;
  // How often compliance verifies the ledger in Redis and docket.audit.v1
  // whole (once per period across replicas); 0 = never.
  std::int64_t verify_every_seconds = 6 * 3600;
  std::int64_t verify_topic_every_seconds = 24 * 3600;
};

struct PolicySet {
  std::string version;  // policies.yaml `version`, stamped on every verdict
  std::vector<Rule> rules;
  std::string source;   // the file it was loaded from
  LedgerSettings ledger;
  // Consistency notes that do not stop start-up, e.g. a rule for a
  // checkpoint the catalog does not check for that kind.
  std::vector<std::string> warnings;

  // Rules for one kind and checkpoint, in file order.
  std::vector<const Rule*> RulesFor(const std::string& kind, docket::v1::Checkpoint checkpoint) const;
  const Rule* Find(const std::string& id) const;
};

// Loads policies.yaml; deny-list files are relative to its directory.
// `catalog` may be null; when set, a rule's kinds and attributes are checked
// against it. NOT_FOUND if the file cannot be read; INVALID_ARGUMENT
// "file:line: rules[i] (rule <id>).field: message" for a bad rule.
absl::StatusOr<PolicySet> LoadPolicies(const std::string& path, const catalog::Catalog* catalog);
// Parses YAML text; `name` stands for the file in messages and `base_dir`
// is where deny-list files are looked up.
absl::StatusOr<PolicySet> ParsePolicies(const std::string& yaml, const std::string& name,
                                        const std::string& base_dir, const catalog::Catalog* catalog);

}  // namespace docket::compliance
