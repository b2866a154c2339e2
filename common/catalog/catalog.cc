#include "common/catalog/catalog.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/config/yaml.h"
#include "common/status/macros.h"

namespace docket::catalog {
namespace {

using config::YamlNode;

absl::StatusOr<AttributeType> ParseAttributeType(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(std::string t, node.AsString());
  static const std::map<std::string, AttributeType> kTypes = {
      {"string", AttributeType::kString}, {"number", AttributeType::kNumber},
      {"money", AttributeType::kMoney},   {"date", AttributeType::kDate},
      {"enum", AttributeType::kEnum},     {"bool", AttributeType::kBool}};
  if (auto it = kTypes.find(t); it != kTypes.end()) return it->second;
  return node.Error(absl::StrCat("unknown type \"", t,
                                 "\" (expected string, number, money, date, enum or bool)"));
}

absl::StatusOr<docket::v1::Priority> ParsePriority(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(std::string p, node.AsString());
  if (p == "low") return docket::v1::PRIORITY_LOW;
  if (p == "normal") return docket::v1::PRIORITY_NORMAL;
  if (p == "high") return docket::v1::PRIORITY_HIGH;
  if (p == "urgent") return docket::v1::PRIORITY_URGENT;
  return node.Error(absl::StrCat("unknown priority \"", p, "\" (expected low, normal, high or urgent)"));
}

// "09:30" -> 570
absl::StatusOr<int> ParseClock(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(std::string s, node.AsString());
  int h = -1, m = -1;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 ||
      m > 59 || (h == 24 && m != 0)) {
    return node.Error(absl::StrCat("expected a time of day like \"09:00\", got \"", s, "\""));
  }
  return h * 60 + m;
}

bool ValidDate(const std::string& s) {
  int y, mo, d;
  char tail;
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3) return false;
  absl::CivilDay day(y, mo, d);
  return day.year() == y && day.month() == mo && day.day() == d;
}

absl::StatusOr<Calendar> ParseCalendar(const std::string& name, const YamlNode& n) {
  DOCKET_RETURN_IF_ERROR(n.CheckKeys({"timezone", "hours", "weekdays", "holidays"}));
  Calendar c;
  c.name = name;
  DOCKET_ASSIGN_OR_RETURN(c.timezone, n.String("timezone", "UTC"));
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(c.timezone, &tz)) {
    return n.Child("timezone").Error(
        absl::StrCat("unknown time zone \"", c.timezone, "\" (an IANA name like Europe/Berlin)"));
  }
  if (n.Has("hours")) {
    YamlNode hours = n.Child("hours");
    DOCKET_RETURN_IF_ERROR(hours.CheckKeys({"start", "end"}));
    DOCKET_ASSIGN_OR_RETURN(c.start_minute, ParseClock(hours.Child("start")));
    DOCKET_ASSIGN_OR_RETURN(c.end_minute, ParseClock(hours.Child("end")));
    if (c.end_minute <= c.start_minute) return hours.Error("end must be after start");
  }
  if (n.Has("weekdays")) {
    static const std::map<std::string, int> kDays = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                                     {"thu", 4}, {"fri", 5}, {"sat", 6}};
    DOCKET_ASSIGN_OR_RETURN(auto days, n.Child("weekdays").AsStringList());
    c.weekdays.clear();
    for (const auto& d : days) {
      auto it = kDays.find(d);
      if (it == kDays.end()) {
        return n.Child("weekdays").Error(absl::StrCat("unknown weekday \"", d, "\" (mon ... sun)"));
      }
      c.weekdays.insert(it->second);
    }
    if (c.weekdays.empty()) return n.Child("weekdays").Error("needs at least one working day");
  }
  DOCKET_ASSIGN_OR_RETURN(auto holidays, n.Child("holidays").AsStringList());
  for (const auto& h : holidays) {
    if (!ValidDate(h)) {
      return n.Child("holidays").Error(absl::StrCat("expected dates like 2026-12-25, got \"", h, "\""));
    }
    c.holidays.insert(h);
  }
  return c;
}

absl::StatusOr<AttributeSpec> ParseAttribute(const YamlNode& n) {
  DOCKET_RETURN_IF_ERROR(
      n.CheckKeys({"name", "type", "required", "values", "max_length", "min", "max", "currencies", "pii"}));
  AttributeSpec a;
  DOCKET_ASSIGN_OR_RETURN(a.name, n.String("name"));
  DOCKET_ASSIGN_OR_RETURN(a.type, ParseAttributeType(n.Child("type")));
  DOCKET_ASSIGN_OR_RETURN(a.required, n.Bool("required", false));
  DOCKET_ASSIGN_OR_RETURN(a.pii, n.Bool("pii", false));
  DOCKET_ASSIGN_OR_RETURN(a.values, n.Child("values").AsStringList());
  DOCKET_ASSIGN_OR_RETURN(a.currencies, n.Child("currencies").AsStringList());
  DOCKET_ASSIGN_OR_RETURN(std::int64_t max_length, n.Int("max_length", 1024));
  if (max_length <= 0) return n.Child("max_length").Error("must be positive");
  a.max_length = static_cast<std::size_t>(max_length);
  if (n.Has("min")) {
    DOCKET_ASSIGN_OR_RETURN(double v, n.Child("min").AsDouble());
    a.min = v;
  }
  if (n.Has("max")) {
    DOCKET_ASSIGN_OR_RETURN(double v, n.Child("max").AsDouble());
    a.max = v;
  }
  if (a.type == AttributeType::kEnum && a.values.empty()) {
    return n.Error("an enum attribute needs its values");
  }
  if (a.type != AttributeType::kEnum && !a.values.empty()) {
    return n.Child("values").Error("only enum attributes have values");
  }
  if (!a.currencies.empty() && a.type != AttributeType::kMoney) {
    return n.Child("currencies").Error("only money attributes have currencies");
  }
  for (const auto& c : a.currencies) {
    if (c.size() != 3 || !std::all_of(c.begin(), c.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
      return n.Child("currencies").Error(absl::StrCat("\"", c, "\" is not an ISO 4217 code like EUR"));
    }
  }
  if ((a.min || a.max) && a.type != AttributeType::kNumber && a.type != AttributeType::kMoney) {
    return n.Error("min and max apply to number and money attributes only");
  }
  return a;
}

absl::StatusOr<Condition> ParseCondition(const YamlNode& n, const Kind& kind) {
  DOCKET_RETURN_IF_ERROR(n.CheckKeys({"attribute", "op", "value", "values"}));
  Condition c;
  DOCKET_ASSIGN_OR_RETURN(c.attribute, n.String("attribute"));
  if (!kind.FindAttribute(c.attribute)) {
    return n.Child("attribute").Error(
        absl::StrCat("kind ", kind.name, " has no attribute \"", c.attribute, "\""));
  }
  DOCKET_ASSIGN_OR_RETURN(std::string op, n.String("op", "eq"));
  static const std::map<std::string, Condition::Op> kOps = {
      {"eq", Condition::Op::kEq}, {"ne", Condition::Op::kNe}, {"lt", Condition::Op::kLt},
      {"le", Condition::Op::kLe}, {"gt", Condition::Op::kGt}, {"ge", Condition::Op::kGe},
      {"in", Condition::Op::kIn}};
  auto it = kOps.find(op);
  if (it == kOps.end()) {
    return n.Child("op").Error(absl::StrCat("unknown op \"", op, "\" (eq, ne, lt, le, gt, ge, in)"));
  }
  c.op = it->second;
  if (c.op == Condition::Op::kIn) {
    DOCKET_ASSIGN_OR_RETURN(c.values, n.Child("values").AsStringList());
    if (c.values.empty()) return n.Error("op in needs values");
  } else {
    DOCKET_ASSIGN_OR_RETURN(std::string v, n.String("value"));
    c.values = {v};
  }
  return c;
}

template <typename T>
absl::Status CheckUnique(const std::vector<T>& items, const YamlNode& where, const char* what) {
  std::set<std::string> seen;
  for (const auto& item : items) {
    const std::string& name = [&]() -> const std::string& {
      if constexpr (requires { item.id; }) return item.id; else return item.name;
    }();
    if (!seen.insert(name).second) {
      return where.Error(absl::StrCat("duplicate ", what, " \"", name, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view AttributeTypeName(AttributeType type) {
  switch (type) {
    case AttributeType::kString: return "string";
    case AttributeType::kNumber: return "number";
    case AttributeType::kMoney: return "money";
    case AttributeType::kDate: return "date";
    case AttributeType::kEnum: return "enum";
    case AttributeType::kBool: return "bool";
  }
  return "string";
}

const AttributeSpec* Kind::FindAttribute(std::string_view name) const {
  for (const auto& a : attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

absl::StatusOr<Catalog> Catalog::Load(const std::string& path) {
  DOCKET_ASSIGN_OR_RETURN(YamlNode root, config::LoadYamlFile(path));
  return FromYaml(root);
}

absl::StatusOr<Catalog> Catalog::Parse(const std::string& yaml, const std::string& name) {
  DOCKET_ASSIGN_OR_RETURN(YamlNode root, config::ParseYaml(yaml, name));
  return FromYaml(root);
}

absl::StatusOr<Catalog> Catalog::FromYaml(const YamlNode& root) {
  DOCKET_RETURN_IF_ERROR(root.CheckKeys({"version", "tenants", "calendars", "queues", "kinds", "limits"}));
  DOCKET_ASSIGN_OR_RETURN(std::int64_t version, root.Int("version", 1));
  if (version != 1) return root.Child("version").Error("only version 1 is understood");
  Catalog c;

  DOCKET_ASSIGN_OR_RETURN(auto tenants, root.Child("tenants").Items());
  for (const YamlNode& n : tenants) {
    DOCKET_RETURN_IF_ERROR(n.CheckKeys({"id", "name"}));
    Tenant t;
    DOCKET_ASSIGN_OR_RETURN(t.id, n.String("id"));
    DOCKET_ASSIGN_OR_RETURN(t.name, n.String("name", t.id));
    c.tenants_.push_back(std::move(t));
  }
  if (c.tenants_.empty()) return root.Child("tenants").Error("needs at least one tenant");
  DOCKET_RETURN_IF_ERROR(CheckUnique(c.tenants_, root.Child("tenants"), "tenant"));

  DOCKET_ASSIGN_OR_RETURN(auto calendars, root.Child("calendars").Entries());
  for (const auto& [name, n] : calendars) {
    DOCKET_ASSIGN_OR_RETURN(Calendar cal, ParseCalendar(name, n));
    c.calendars_.push_back(std::move(cal));
  }

  DOCKET_ASSIGN_OR_RETURN(auto queues, root.Child("queues").Items());
  for (const YamlNode& n : queues) {
    DOCKET_RETURN_IF_ERROR(n.CheckKeys({"name", "skills", "calendar", "escalation", "at_risk_share"}));
    Queue q;
    DOCKET_ASSIGN_OR_RETURN(q.name, n.String("name"));
    DOCKET_ASSIGN_OR_RETURN(q.skills, n.Child("skills").AsStringList());
    if (q.skills.empty()) return n.Child("skills").Error("a queue needs at least one skill");
    DOCKET_ASSIGN_OR_RETURN(q.calendar, n.String("calendar", ""));
    if (!q.calendar.empty() && !c.FindCalendar(q.calendar)) {
      return n.Child("calendar").Error(absl::StrCat("no calendar named \"", q.calendar, "\""));
    }
    DOCKET_ASSIGN_OR_RETURN(q.at_risk_share, n.Double("at_risk_share", 0.8));
    if (q.at_risk_share <= 0 || q.at_risk_share >= 1) {
      return n.Child("at_risk_share").Error("must be between 0 and 1");
    }
    if (n.Has("escalation")) {
      YamlNode e = n.Child("escalation");
      DOCKET_RETURN_IF_ERROR(e.CheckKeys({"queue", "priority_bump"}));
      Escalation esc;
      DOCKET_ASSIGN_OR_RETURN(esc.queue, e.String("queue"));
      DOCKET_ASSIGN_OR_RETURN(std::int64_t bump, e.Int("priority_bump", 1));
      if (bump < 0 || bump > 3) return e.Child("priority_bump").Error("must be 0..3");
      esc.priority_bump = static_cast<int>(bump);
      q.escalation = esc;
    }
    c.queues_.push_back(std::move(q));
  }
  DOCKET_RETURN_IF_ERROR(CheckUnique(c.queues_, root.Child("queues"), "queue"));
  for (std::size_t i = 0; i < c.queues_.size(); ++i) {
    const auto& q = c.queues_[i];
    if (q.escalation && !c.FindQueue(q.escalation->queue)) {
      return (*root.Child("queues").Items())[i].Child("escalation").Child("queue").Error(
          absl::StrCat("no queue named \"", q.escalation->queue, "\""));
    }
  }

  DOCKET_ASSIGN_OR_RETURN(auto kinds, root.Child("kinds").Items());
  for (const YamlNode& n : kinds) {
    DOCKET_RETURN_IF_ERROR(n.CheckKeys({"name", "description", "queue", "priority", "sla",
                                        "attributes", "automation", "compliance"}));
    Kind k;
    DOCKET_ASSIGN_OR_RETURN(k.name, n.String("name"));
    DOCKET_ASSIGN_OR_RETURN(k.description, n.String("description", ""));
    DOCKET_ASSIGN_OR_RETURN(k.queue, n.String("queue"));
    if (!c.FindQueue(k.queue)) {
      return n.Child("queue").Error(absl::StrCat("no queue named \"", k.queue, "\""));
    }
    if (n.Has("priority")) {
      DOCKET_ASSIGN_OR_RETURN(k.priority, ParsePriority(n.Child("priority")));
    }
    DOCKET_ASSIGN_OR_RETURN(k.sla, n.Duration("sla"));
    if (k.sla.count() <= 0) return n.Child("sla").Error("must be positive");
    DOCKET_ASSIGN_OR_RETURN(auto attrs, n.Child("attributes").Items());
    for (const YamlNode& a : attrs) {
      DOCKET_ASSIGN_OR_RETURN(AttributeSpec spec, ParseAttribute(a));
      k.attributes.push_back(std::move(spec));
    }
    DOCKET_RETURN_IF_ERROR(CheckUnique(k.attributes, n.Child("attributes"), "attribute"));
    DOCKET_ASSIGN_OR_RETURN(auto rules, n.Child("automation").Items());
    for (const YamlNode& r : rules) {
      DOCKET_RETURN_IF_ERROR(r.CheckKeys({"id", "description", "when"}));
      AutomationRule rule;
      DOCKET_ASSIGN_OR_RETURN(rule.id, r.String("id"));
      DOCKET_ASSIGN_OR_RETURN(rule.description, r.String("description", ""));
      DOCKET_ASSIGN_OR_RETURN(auto conds, r.Child("when").Items());
      if (conds.empty()) return r.Child("when").Error("an automation rule needs conditions");
      for (const YamlNode& cn : conds) {
        DOCKET_ASSIGN_OR_RETURN(Condition cond, ParseCondition(cn, k));
        rule.when.push_back(std::move(cond));
      }
      k.automation.push_back(std::move(rule));
    }
    DOCKET_RETURN_IF_ERROR(CheckUnique(k.automation, n.Child("automation"), "automation rule"));
    if (n.Has("compliance")) {
      YamlNode comp = n.Child("compliance");
      DOCKET_RETURN_IF_ERROR(comp.CheckKeys({"submit", "complete"}));
      DOCKET_ASSIGN_OR_RETURN(k.check_on_submit, comp.Bool("submit", false));
      DOCKET_ASSIGN_OR_RETURN(k.check_on_complete, comp.Bool("complete", false));
    }
    c.kinds_.push_back(std::move(k));
  }
  if (c.kinds_.empty()) return root.Child("kinds").Error("needs at least one kind");
  DOCKET_RETURN_IF_ERROR(CheckUnique(c.kinds_, root.Child("kinds"), "kind"));

  if (root.Has("limits")) {
    YamlNode l = root.Child("limits");
    DOCKET_RETURN_IF_ERROR(l.CheckKeys({"max_payload_bytes", "max_attributes"}));
    DOCKET_ASSIGN_OR_RETURN(std::int64_t bytes, l.Int("max_payload_bytes", 64 * 1024));
    DOCKET_ASSIGN_OR_RETURN(std::int64_t count, l.Int("max_attributes", 64));
    if (bytes <= 0 || count <= 0) return l.Error("limits must be positive");
    c.limits_.max_payload_bytes = static_cast<std::size_t>(bytes);
    c.limits_.max_attributes = static_cast<std::size_t>(count);
  }
  return c;
}

const Kind* Catalog::FindKind(std::string_view name) const {
  for (const auto& k : kinds_) if (k.name == name) return &k;
  return nullptr;
}
const Queue* Catalog::FindQueue(std::string_view name) const {
  for (const auto& q : queues_) if (q.name == name) return &q;
  return nullptr;
}
const Calendar* Catalog::FindCalendar(std::string_view name) const {
  for (const auto& c : calendars_) if (c.name == name) return &c;
  return nullptr;
}
bool Catalog::HasTenant(std::string_view id) const {
  for (const auto& t : tenants_) if (t.id == id) return true;
  return false;
}

}  // namespace docket::catalog
