#include "tools/objectives/objectives.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/catalog/catalog.h"
#include "common/config/yaml.h"
#include "common/status/macros.h"

namespace docket::objectives {
namespace {

using config::YamlNode;

constexpr std::array<std::pair<Kpi, std::string_view>, 7> kKpiNames = {{
    {Kpi::kSlaAttainment, "sla_attainment"},
    {Kpi::kFirstPassYield, "first_pass_yield"},
    {Kpi::kAutomationRate, "automation_rate"},
    {Kpi::kCycleTime, "cycle_time"},
    {Kpi::kWaitTime, "wait_time"},
    {Kpi::kHandleTime, "handle_time"},
    {Kpi::kBacklogAge, "backlog_age"},
}};

constexpr auto kDay = std::chrono::hours(24);
constexpr auto kMinWindow = std::chrono::seconds(3 * kDay);   // the longest alert window
constexpr auto kMaxWindow = std::chrono::seconds(90 * kDay);  // beyond any sane retention

std::string KpiList() {
  std::vector<std::string> names;
  for (const auto& [kpi, name] : kKpiNames) names.emplace_back(name);
  return absl::StrJoin(names, ", ");
}

bool IsName(const std::string& s) {
  if (s.empty() || s.size() > 63 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// Label values that need no escaping anywhere (PromQL, YAML, Grafana).
bool IsLabelWord(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

// Each check returns the problem in words, or nothing; the loader prefixes
// file:line:field, Validate() the objective's name and field.
std::optional<std::string> NameProblem(const std::string& name) {
  if (IsName(name)) return std::nullopt;
  return absl::StrCat("\"", name,
                      "\" is not a name: lowercase letters, digits and '-', starting with a "
                      "letter, at most 63 characters");
}

std::optional<std::string> TargetProblem(double target) {
  if (target > 0 && target < 1) return std::nullopt;
  return absl::StrCat("must be a fraction between 0 and 1 exclusive, like 0.95 for 95%; got ",
                      target);
}

std::optional<std::string> WindowProblem(std::chrono::milliseconds window) {
  if (window % kDay != std::chrono::milliseconds(0)) {
    return "must be whole days, like 28d";
  }
  if (window < kMinWindow || window > kMaxWindow) {
    return "must be between 3d (the longest alert window) and 90d";
  }
  return std::nullopt;
}

std::optional<std::string> ThresholdProblem(Kpi kpi, std::optional<std::chrono::milliseconds> t) {
  if (!KpiHasThreshold(kpi)) {
    if (t) return absl::StrCat("is not used by ", std::string(KpiName(kpi)), " (only by time KPIs and backlog_age)");
    return std::nullopt;
  }
  if (!t) return absl::StrCat("is required for ", std::string(KpiName(kpi)), " (a duration like \"4h\")");
  if (*t % std::chrono::seconds(1) != std::chrono::milliseconds(0) || *t < std::chrono::seconds(1)) {
    return "must be whole seconds, at least 1s";
  }
  if (kpi == Kpi::kBacklogAge) return std::nullopt;
  const double seconds = std::chrono::duration<double>(*t).count();
  std::vector<std::string> allowed;
  for (double b : TimeBucketBounds()) {
    if (b >= 1e6) continue;  // see TimeBucketBounds()
    if (b == seconds) return std::nullopt;
    allowed.push_back(absl::StrCat(b, "s"));
  }
  return absl::StrCat("must be a bucket bound of the ", std::string(KpiName(kpi)),
                      " histogram, so the count within it is exact; one of ",
                      absl::StrJoin(allowed, ", "));
}

std::optional<std::string> WordProblem(const std::string& value) {
  if (IsLabelWord(value)) return std::nullopt;
  return absl::StrCat("\"", value, "\" must be letters, digits, '_', '-' or '.'");
}

absl::Status Check(const YamlNode& node, const std::optional<std::string>& problem) {
  return problem ? node.Error(*problem) : absl::OkStatus();
}

absl::StatusOr<std::string> Word(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(std::string value, node.AsString());
  DOCKET_RETURN_IF_ERROR(Check(node, WordProblem(value)));
  return value;
}

std::string Where(const YamlNode& node) {
  return absl::StrCat(node.file(), ":", node.line(), ": ", node.path());
}

absl::StatusOr<Objective> ParseObjective(const YamlNode& n) {
  DOCKET_RETURN_IF_ERROR(n.CheckKeys(
      {"name", "metric", "target", "window", "threshold", "scope", "owner", "description"}));
  Objective o;
  DOCKET_ASSIGN_OR_RETURN(o.name, n.String("name"));
  DOCKET_RETURN_IF_ERROR(Check(n.Child("name"), NameProblem(o.name)));

  DOCKET_ASSIGN_OR_RETURN(std::string metric, n.String("metric"));
  const auto kpi = KpiFromName(metric);
  if (!kpi) {
    return n.Child("metric").Error(
        absl::StrCat("unknown metric \"", metric, "\" (expected one of: ", KpiList(), ")"));
  }
  o.kpi = *kpi;

  DOCKET_ASSIGN_OR_RETURN(o.target, n.Child("target").AsDouble());
  DOCKET_RETURN_IF_ERROR(Check(n.Child("target"), TargetProblem(o.target)));

  DOCKET_ASSIGN_OR_RETURN(std::chrono::milliseconds window, n.Duration("window"));
  DOCKET_RETURN_IF_ERROR(Check(n.Child("window"), WindowProblem(window)));
  o.window = std::chrono::duration_cast<std::chrono::seconds>(window);

  std::optional<std::chrono::milliseconds> threshold;
  if (n.Has("threshold")) {
    DOCKET_ASSIGN_OR_RETURN(threshold, n.Duration("threshold"));
  }
  DOCKET_RETURN_IF_ERROR(
      Check(n.Has("threshold") ? n.Child("threshold") : n, ThresholdProblem(o.kpi, threshold)));
  if (threshold) o.threshold = std::chrono::duration_cast<std::chrono::seconds>(*threshold);

  if (n.Has("scope")) {
    const YamlNode scope = n.Child("scope");
    if (!scope.IsMap()) return scope.Error("expected a map with tenant, kind and/or queue");
    DOCKET_RETURN_IF_ERROR(scope.CheckKeys({"tenant", "kind", "queue"}));
    auto field = [&](const char* key, std::optional<std::string>& value,
                     std::optional<std::string>& at) -> absl::Status {
      if (!scope.Has(key)) return absl::OkStatus();
      DOCKET_ASSIGN_OR_RETURN(value, Word(scope.Child(key)));
      at = Where(scope.Child(key));
      return absl::OkStatus();
    };
    DOCKET_RETURN_IF_ERROR(field("tenant", o.scope.tenant, o.scope.tenant_at));
    DOCKET_RETURN_IF_ERROR(field("kind", o.scope.kind, o.scope.kind_at));
    DOCKET_RETURN_IF_ERROR(field("queue", o.scope.queue, o.scope.queue_at));
  }

  DOCKET_ASSIGN_OR_RETURN(o.owner, Word(n.Child("owner")));
  DOCKET_ASSIGN_OR_RETURN(o.description, n.String("description"));
  if (o.description.empty()) return n.Child("description").Error("must say what the objective means");
  return o;
}

absl::StatusOr<Objectives> FromYaml(const YamlNode& root) {
  if (!root.IsMap()) return root.Error("expected a map with version and objectives");
  DOCKET_RETURN_IF_ERROR(root.CheckKeys({"version", "runbook_base_url", "objectives"}));
  DOCKET_ASSIGN_OR_RETURN(std::int64_t version, root.Int("version", 1));
  if (version != 1) return root.Child("version").Error("only version 1 is known");
  Objectives out;
  DOCKET_ASSIGN_OR_RETURN(out.runbook_base_url,
                          root.String("runbook_base_url", Objectives::kDefaultRunbookBaseUrl));
  if (out.runbook_base_url.empty() ||
      out.runbook_base_url.find_first_of("#\"' \n") != std::string::npos) {
    return root.Child("runbook_base_url").Error("must be a URL without '#', quotes or spaces");
  }
  DOCKET_ASSIGN_OR_RETURN(std::vector<YamlNode> items, root.Child("objectives").Items());
  std::map<std::string, int> lines;  // name -> line of its first use
  for (const YamlNode& item : items) {
    DOCKET_ASSIGN_OR_RETURN(Objective o, ParseObjective(item));
    if (auto [it, fresh] = lines.emplace(o.name, item.Child("name").line()); !fresh) {
      return item.Child("name").Error(
          absl::StrCat("duplicate objective name \"", o.name, "\" (first at line ", it->second, ")"));
    }
    out.objectives.push_back(std::move(o));
  }
  return out;
}

absl::Status ScopeError(const std::optional<std::string>& at, const std::string& objective,
                        const std::string& message) {
  return absl::InvalidArgumentError(
      at ? absl::StrCat(*at, ": ", message)
         : absl::StrCat("objective ", objective, ": scope: ", message));
}

}  // namespace

std::string_view KpiName(Kpi kpi) {
  for (const auto& [k, name] : kKpiNames) {
    if (k == kpi) return name;
  }
  return "unknown";
}

std::optional<Kpi> KpiFromName(std::string_view name) {
  for (const auto& [kpi, n] : kKpiNames) {
    if (n == name) return kpi;
  }
  return std::nullopt;
}

bool KpiHasThreshold(Kpi kpi) {
  return kpi == Kpi::kCycleTime || kpi == Kpi::kWaitTime || kpi == Kpi::kHandleTime ||
         kpi == Kpi::kBacklogAge;
}

const std::vector<double>& TimeBucketBounds() {
  // Above one million seconds Prometheus 3 rewrites `le` in exponent form
  // ("2.592e+06"), so thresholds stay below it.
  static const std::vector<double> kBounds = {1,    5,     15,    30,    60,     300,    900,    1800,
                                              3600, 7200,  14400, 28800, 86400,  172800, 604800, 2592000};
  return kBounds;
}

absl::StatusOr<Objectives> LoadObjectives(const std::string& path) {
  DOCKET_ASSIGN_OR_RETURN(YamlNode root, config::LoadYamlFile(path));
  return FromYaml(root);
}

absl::StatusOr<Objectives> ParseObjectives(const std::string& yaml, const std::string& name) {
  DOCKET_ASSIGN_OR_RETURN(YamlNode root, config::ParseYaml(yaml, name));
  return FromYaml(root);
}

absl::Status Validate(const Objectives& objectives) {
  std::map<std::string, int> seen;
  for (const Objective& o : objectives.objectives) {
    auto fail = [&](const char* field, const std::string& problem) {
      return absl::InvalidArgumentError(
          absl::StrCat("objective \"", o.name, "\": ", field, ": ", problem));
    };
    if (auto p = NameProblem(o.name)) return fail("name", *p);
    if (!seen.emplace(o.name, 0).second) return fail("name", "is used by two objectives");
    if (KpiName(o.kpi) == "unknown") return fail("metric", "unknown KPI");
    if (auto p = TargetProblem(o.target)) return fail("target", *p);
    if (auto p = WindowProblem(o.window)) return fail("window", *p);
    std::optional<std::chrono::milliseconds> threshold;
    if (o.threshold) threshold = *o.threshold;
    if (auto p = ThresholdProblem(o.kpi, threshold)) return fail("threshold", *p);
    for (const auto* v : {&o.scope.tenant, &o.scope.kind, &o.scope.queue}) {
      if (*v) {
        if (auto p = WordProblem(**v)) return fail("scope", *p);
      }
    }
    if (auto p = WordProblem(o.owner)) return fail("owner", *p);
    if (o.description.empty()) return fail("description", "must say what the objective means");
  }
  if (objectives.runbook_base_url.empty() ||
      objectives.runbook_base_url.find_first_of("#\"' \n") != std::string::npos) {
    return absl::InvalidArgumentError("runbook_base_url: must be a URL without '#', quotes or spaces");
  }
  return absl::OkStatus();
}

absl::Status CheckScopes(const Objectives& objectives, const catalog::Catalog& catalog) {
  // "other" is where the metrics service folds values it does not know.
  for (const Objective& o : objectives.objectives) {
    const Scope& s = o.scope;
    if (s.tenant && *s.tenant != "other" && !catalog.HasTenant(*s.tenant)) {
      return ScopeError(s.tenant_at, o.name,
                        absl::StrCat("tenant \"", *s.tenant, "\" is not in the catalog"));
    }
    if (s.kind && *s.kind != "other" && catalog.FindKind(*s.kind) == nullptr) {
      return ScopeError(s.kind_at, o.name,
                        absl::StrCat("kind \"", *s.kind, "\" is not in the catalog"));
    }
    if (s.queue && *s.queue != "other" && catalog.FindQueue(*s.queue) == nullptr) {
      return ScopeError(s.queue_at, o.name,
                        absl::StrCat("queue \"", *s.queue, "\" is not in the catalog"));
    }
  }
  return absl::OkStatus();
}

}  // namespace docket::objectives
