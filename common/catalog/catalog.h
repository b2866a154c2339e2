#pragma once

// catalog.yaml: the business configuration that intake, processing and
// metrics share — tenants, business calendars, queues and work kinds (their
// attributes and types, queue, priority, SLA, automation rules and which
// checkpoints need a compliance verdict). Loaded once at start; every error
// names file, line and field, and cross-references (a kind's queue, a
// queue's calendar, an automation rule's attribute) are checked.

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "docket/v1/work.pb.h"

namespace docket::config {
class YamlNode;
}

namespace docket::catalog {

// The categories of Work.SubmitFeedback: a fixed vocabulary, so that the
// metrics service counts feedback with bounded labels.
inline constexpr std::array<std::string_view, 6> kFeedbackCategories = {
    "unclear-instructions", "missing-data", "tooling", "workload", "policy", "other"};
inline bool IsFeedbackCategory(std::string_view category) {
  return std::find(kFeedbackCategories.begin(), kFeedbackCategories.end(), category) !=
         kFeedbackCategories.end();
}

enum class AttributeType { kString, kNumber, kMoney, kDate, kEnum, kBool };
std::string_view AttributeTypeName(AttributeType type);

struct AttributeSpec {
  std::string name;
  AttributeType type = AttributeType::kString;
  bool required = false;
  std::vector<std::string> values;  // kEnum: the allowed members
  std::size_t max_length = 1024;    // kString: bytes
  std::optional<double> min;        // kNumber, kMoney (major units)
  std::optional<double> max;
  std::vector<std::string> currencies;  // kMoney: allowed ISO 4217 codes (empty = any)
  bool pii = false;                 // free text that may carry personal data
};

struct Calendar {
  std::string name;
  std::string timezone = "UTC";     // IANA name, checked against the tz database
  int start_minute = 9 * 60;        // working hours, minutes after local midnight
  int end_minute = 17 * 60;
  std::set<int> weekdays = {1, 2, 3, 4, 5};  // 0 = Sunday ... 6 = Saturday
  std::set<std::string> holidays;   // local dates, "YYYY-MM-DD"
};

struct Escalation {
  std::string queue;      // where breached items go
  int priority_bump = 1;  // priority classes to raise
};

struct Queue {
  std::string name;
  std::vector<std::string> skills;  // a worker needs one of them
  std::string calendar;             // name of a Calendar ("" = 24x7)
  std::optional<Escalation> escalation;
  double at_risk_share = 0.8;       // SlaAtRisk when this share of the budget is used
};

struct Condition {
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn };
  std::string attribute;
  Op op = Op::kEq;
  std::vector<std::string> values;  // one, or several for kIn
};

struct AutomationRule {
  std::string id;
  std::string description;
  std::vector<Condition> when;  // all must hold
};

struct Kind {
  std::string name;
  std::string description;
  std::string queue;
  docket::v1::Priority priority = docket::v1::PRIORITY_NORMAL;
  std::chrono::milliseconds sla{0};
  std::vector<AttributeSpec> attributes;
  std::vector<AutomationRule> automation;
  bool check_on_submit = false;
  bool check_on_complete = false;

  const AttributeSpec* FindAttribute(std::string_view name) const;
};

struct Tenant {
  std::string id;
  std::string name;
};

struct Limits {
  std::size_t max_payload_bytes = 64 * 1024;
  std::size_t max_attributes = 64;
};

class Catalog {
 public:
  static absl::StatusOr<Catalog> Load(const std::string& path);
  static absl::StatusOr<Catalog> Parse(const std::string& yaml, const std::string& name);

  const Kind* FindKind(std::string_view name) const;
  const Queue* FindQueue(std::string_view name) const;
  const Calendar* FindCalendar(std::string_view name) const;
  bool HasTenant(std::string_view id) const;

  const std::vector<Kind>& kinds() const { return kinds_; }
  const std::vector<Queue>& queues() const { return queues_; }
  const std::vector<Calendar>& calendars() const { return calendars_; }
  const std::vector<Tenant>& tenants() const { return tenants_; }
  const Limits& limits() const { return limits_; }

 private:
  static absl::StatusOr<Catalog> FromYaml(const config::YamlNode& root);

  std::vector<Tenant> tenants_;
  std::vector<Calendar> calendars_;
  std::vector<Queue> queues_;
  std::vector<Kind> kinds_;
  Limits limits_;
};

}  // namespace docket::catalog
