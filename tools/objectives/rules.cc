#include "tools/objectives/rules.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/config/yaml.h"
#include "common/status/macros.h"

namespace docket::objectives {
namespace {

namespace fs = std::filesystem;

constexpr char kRegenerate[] =
    "docket-objectives render --objectives deploy/config/objectives.yaml "
    "--out deploy/prometheus/rules/";

std::string Number(double v) { return absl::StrFormat("%.10g", v); }

std::string Percent(double fraction) { return absl::StrCat(Number(fraction * 100), "%"); }

// 28d, 8h, 30m, 90s: the largest unit that divides the duration.
std::string PromDuration(std::chrono::seconds d) {
  const auto s = d.count();
  if (s % 86400 == 0) return absl::StrCat(s / 86400, "d");
  if (s % 3600 == 0) return absl::StrCat(s / 3600, "h");
  if (s % 60 == 0) return absl::StrCat(s / 60, "m");
  return absl::StrCat(s, "s");
}

std::chrono::seconds Seconds(const char* prom_duration) {
  auto d = config::ParseDuration(prom_duration);
  return d.ok() ? std::chrono::duration_cast<std::chrono::seconds>(*d) : std::chrono::seconds(0);
}

// A YAML double-quoted scalar.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string KpiTitle(Kpi kpi) {
  switch (kpi) {
    case Kpi::kSlaAttainment: return "SLA attainment";
    case Kpi::kFirstPassYield: return "first-pass yield";
    case Kpi::kAutomationRate: return "automation rate";
    case Kpi::kCycleTime: return "cycle time";
    case Kpi::kWaitTime: return "wait time";
    case Kpi::kHandleTime: return "handle time";
    case Kpi::kBacklogAge: return "backlog age";
  }
  return "KPI";
}

// What "good" means, for the alert text.
std::string Meaning(const Objective& o) {
  const std::string t = o.threshold ? PromDuration(*o.threshold) : "";
  switch (o.kpi) {
    case Kpi::kSlaAttainment: return "completions within their SLA";
    case Kpi::kFirstPassYield: return "completions without rework";
    case Kpi::kAutomationRate: return "completions done by automation";
    case Kpi::kCycleTime: return absl::StrCat("items done within ", t, " of submission");
    case Kpi::kWaitTime: return absl::StrCat("items claimed within ", t, " of being queued");
    case Kpi::kHandleTime: return absl::StrCat("items done within ", t, " of being claimed");
    case Kpi::kBacklogAge: return absl::StrCat("minutes in which no open item is older than ", t);
  }
  return "good events";
}

// The metric's own matchers first, then the scope's, in a fixed order.
std::string Selector(const Objective& o, const std::vector<std::string>& own) {
  std::vector<std::string> m = own;
  if (o.scope.tenant) m.push_back(absl::StrCat("tenant=\"", *o.scope.tenant, "\""));
  if (o.scope.kind) m.push_back(absl::StrCat("kind=\"", *o.scope.kind, "\""));
  if (o.scope.queue) m.push_back(absl::StrCat("queue=\"", *o.scope.queue, "\""));
  return m.empty() ? "" : absl::StrCat("{", absl::StrJoin(m, ","), "}");
}

std::string SumRate(const std::string& metric, const std::string& selector, const std::string& w) {
  return absl::StrCat("sum(rate(", metric, selector, "[", w, "]))");
}

std::string OrZero(const std::string& expr) { return absl::StrCat("(", expr, " or vector(0))"); }

std::string ObjectiveMatcher(const Objective& o) {
  return absl::StrCat("{objective=\"", o.name, "\"}");
}

// The error ratio of `o` over window `w` (1 - good / all), as PromQL lines.
// Counters that do not exist yet count as 0; no events at all is NaN, which
// no alert fires on.
std::vector<std::string> ErrorRatio(const Objective& o, const std::string& w) {
  std::string good, total;
  switch (o.kpi) {
    case Kpi::kSlaAttainment:
      good = OrZero(SumRate("docket_kpi_sla_met_total", Selector(o, {}), w));
      total = absl::StrCat(good, " + ",
                           OrZero(SumRate("docket_kpi_sla_missed_total", Selector(o, {}), w)));
      break;
    case Kpi::kFirstPassYield:
      good = OrZero(SumRate("docket_kpi_first_pass_total", Selector(o, {}), w));
      total = SumRate("docket_kpi_completions_total", Selector(o, {"path!=\"rejected\""}), w);
      break;
    case Kpi::kAutomationRate:
      good = OrZero(SumRate("docket_kpi_completions_total", Selector(o, {"path=\"automated\""}), w));
      total = SumRate("docket_kpi_completions_total", Selector(o, {"path!=\"rejected\""}), w);
      break;
    case Kpi::kCycleTime:
    case Kpi::kWaitTime:
    case Kpi::kHandleTime: {
      const std::string base = o.kpi == Kpi::kCycleTime  ? "docket_kpi_cycle_time_seconds"
                               : o.kpi == Kpi::kWaitTime ? "docket_kpi_wait_time_seconds"
                                                         : "docket_kpi_handle_time_seconds";
      // Prometheus 3 writes `le` as "28800.0", 2.x as exported ("28800").
      const std::string le = absl::StrCat("le=~\"", o.threshold ? o.threshold->count() : 0, "(\\\\.0)?\"");
      good = OrZero(SumRate(base + "_bucket", Selector(o, {le}), w));
      total = SumRate(base + "_count", Selector(o, {}), w);
      break;
    }
    case Kpi::kBacklogAge:
      return {absl::StrCat("avg_over_time(docket:objective_bad:bool", ObjectiveMatcher(o), "[", w, "])")};
  }
  return {"1 - (", absl::StrCat("  ", good), "  /", absl::StrCat("  (", total, ")"), ")"};
}

// The windows the alerts read, shortest first.
std::vector<std::string> RateWindows() {
  std::vector<std::string> out;
  for (const AlertPolicy& p : AlertPolicies()) {
    for (const BurnWindow& b : p.windows) {
      for (const char* w : {b.long_window, b.short_window}) {
        if (std::find(out.begin(), out.end(), w) == out.end()) out.emplace_back(w);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return Seconds(a.c_str()) < Seconds(b.c_str());
  });
  return out;
}

class Writer {
 public:
  void Line(int indent, const std::string& text) {
    out_.append(indent, ' ');
    out_ += text;
    out_ += '\n';
  }
  void Expr(int indent, const std::vector<std::string>& lines) {
    if (lines.size() == 1) {
      Line(indent, "expr: " + lines[0]);
      return;
    }
    Line(indent, "expr: |-");
    for (const auto& l : lines) Line(indent + 2, l);
  }
  void Labels(int indent, const std::vector<std::pair<std::string, std::string>>& labels) {
    Line(indent, "labels:");
    for (const auto& [k, v] : labels) Line(indent + 2, absl::StrCat(k, ": ", Quote(v)));
  }
  void Record(const std::string& name, const std::vector<std::string>& expr,
              const std::vector<std::pair<std::string, std::string>>& labels) {
    Line(6, "- record: " + name);
    Expr(8, expr);
    Labels(8, labels);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::vector<std::pair<std::string, std::string>> SeriesLabels(const Objective& o) {
  std::vector<std::pair<std::string, std::string>> l = {{"objective", o.name},
                                                         {"metric", std::string(KpiName(o.kpi))}};
  if (o.scope.tenant) l.emplace_back("tenant", *o.scope.tenant);
  if (o.scope.kind) l.emplace_back("kind", *o.scope.kind);
  if (o.scope.queue) l.emplace_back("queue", *o.scope.queue);
  return l;
}

std::string ScopeText(const Objective& o) {
  std::vector<std::string> parts;
  if (o.scope.tenant) parts.push_back("tenant " + *o.scope.tenant);
  if (o.scope.kind) parts.push_back("kind " + *o.scope.kind);
  if (o.scope.queue) parts.push_back("queue " + *o.scope.queue);
  return parts.empty() ? "all work" : absl::StrJoin(parts, ", ");
}

void WriteAlert(Writer& w, const Objective& o, const AlertPolicy& policy,
                const std::string& runbook_base) {
  const double budget = 1 - o.target;
  std::vector<BurnWindow> live;
  std::vector<std::string> skipped;
  for (const BurnWindow& b : policy.windows) {
    if (b.factor * budget < 1) {
      live.push_back(b);
    } else {
      skipped.push_back(absl::StrCat(Number(b.factor), "x"));
    }
  }
  if (live.empty()) {
    w.Line(6, absl::StrCat("# No ", policy.action, " alert: at a budget of ", Percent(budget), ", ",
                           absl::StrJoin(skipped, " and "),
                           " the budget would need an error ratio above 100%."));
    return;
  }
  if (!skipped.empty()) {
    w.Line(6, absl::StrCat("# Left out of this ", policy.action, ": ", absl::StrJoin(skipped, ", "),
                           " (at a budget of ", Percent(budget), " it would need an error ratio above 100%)."));
  }
  const std::string name = AlertName(o.kpi);
  w.Line(6, "- alert: " + name);
  std::vector<std::string> expr;
  std::vector<std::string> pairs;
  double slowest = live.front().factor;
  for (size_t i = 0; i < live.size(); ++i) {
    const BurnWindow& b = live[i];
    slowest = std::min(slowest, b.factor);
    const std::string limit = absl::StrCat("(", Number(b.factor), " * ", Number(budget), ")");
    if (i > 0) expr.push_back("or");
    expr.push_back("(");
    expr.push_back(absl::StrCat("  docket:objective_error:ratio_rate", b.long_window, ObjectiveMatcher(o),
                                " > ", limit));
    expr.push_back("  and");
    expr.push_back(absl::StrCat("  docket:objective_error:ratio_rate", b.short_window, ObjectiveMatcher(o),
                                " > ", limit));
    expr.push_back(")");
    pairs.push_back(absl::StrCat(b.long_window, " and ", b.short_window, " above ",
                                 Percent(b.factor * budget), " (", Number(b.factor), "x)"));
  }
  w.Expr(8, expr);
  w.Line(8, absl::StrCat("for: ", policy.for_duration));
  w.Labels(8, {{"severity", policy.severity}, {"owner", o.owner}});
  const std::string window = PromDuration(o.window);
  const double days_left = std::chrono::duration<double>(o.window).count() / 86400 / live.front().factor;
  w.Line(8, "annotations:");
  w.Line(10, "summary: " + Quote(absl::StrCat("Objective ", o.name, ": ", KpiTitle(o.kpi),
                                                " is burning its ", window, " error budget at ",
                                                Number(slowest), "x or faster (", policy.action, ")")));
  w.Line(10, "description: " +
                 Quote(absl::StrCat(
                     o.description, " Target: ", Percent(o.target), " of ", Meaning(o), " over ",
                     window, " for ", ScopeText(o), " (error budget ", Percent(budget),
                     "). The error ratio is {{ $value | humanizePercentage }} over the long window; "
                     "this alert needs both windows of a pair above the limit: ",
                     absl::StrJoin(pairs, ", or "), ". At ", Number(live.front().factor),
                     "x the whole budget is spent in ", absl::StrFormat("%.1f", days_left),
                     " days. Owner: ", o.owner, ".")));
  w.Line(10, "runbook_url: " + Quote(absl::StrCat(runbook_base, "#", absl::AsciiStrToLower(name))));
}

void WriteObjectiveGroup(Writer& w, const Objective& o, const std::string& runbook_base) {
  const auto labels = SeriesLabels(o);
  w.Line(2, absl::StrCat("- name: docket-objective-", o.name));
  w.Line(4, "interval: 1m");
  w.Line(4, "rules:");
  auto target_labels = labels;
  target_labels.emplace_back("window", PromDuration(o.window));
  w.Record("docket:objective_target:ratio", {absl::StrCat("vector(", Number(o.target), ")")},
           target_labels);
  if (o.kpi == Kpi::kBacklogAge) {
    w.Record("docket:objective_bad:bool",
             {absl::StrCat("max(docket_kpi_oldest_item_age_seconds", Selector(o, {}), ") > bool ",
                           o.threshold->count())},
             labels);
  }
  for (const std::string& rw : RateWindows()) {
    w.Record("docket:objective_error:ratio_rate" + rw, ErrorRatio(o, rw), labels);
  }
  for (const AlertPolicy& p : AlertPolicies()) WriteAlert(w, o, p, runbook_base);
}

// Window-long ratios change slowly and cost the most to compute: every 5m.
void WriteWindowGroup(Writer& w, const std::vector<Objective>& objectives) {
  w.Line(2, "- name: docket-objectives-window");
  w.Line(4, "interval: 5m");
  w.Line(4, "rules:");
  for (const Objective& o : objectives) {
    auto labels = SeriesLabels(o);
    labels.emplace_back("window", PromDuration(o.window));
    const std::string m = ObjectiveMatcher(o);
    w.Record("docket:objective_error:ratio_window", ErrorRatio(o, PromDuration(o.window)), labels);
    w.Record("docket:objective_attainment:ratio_window",
             {absl::StrCat("1 - docket:objective_error:ratio_window", m)}, labels);
    w.Record("docket:objective_error_budget_remaining:ratio",
             {absl::StrCat("1 - docket:objective_error:ratio_window", m, " / ", Number(1 - o.target))},
             labels);
  }
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool IsGenerated(const fs::path& path) {
  std::ifstream in(path);
  std::string first;
  return in && std::getline(in, first) && first == kGeneratedHeader;
}

// Generated files in dir other than ours.
std::vector<fs::path> Leftovers(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().filename() != kRulesFileName && IsGenerated(e.path())) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

const std::vector<AlertPolicy>& AlertPolicies() {
  static const std::vector<AlertPolicy> kPolicies = {
      {"critical", "page", "2m", {{"1h", "5m", 14.4}, {"6h", "30m", 6}}},
      {"warning", "ticket", "15m", {{"1d", "2h", 3}, {"3d", "6h", 1}}},
  };
  return kPolicies;
}

std::string AlertName(Kpi kpi) {
  std::string out = "Docket";
  const std::vector<std::string> words = absl::StrSplit(std::string(KpiName(kpi)), '_');
  for (const std::string& word : words) {
    out += absl::AsciiStrToUpper(word.substr(0, 1)) + word.substr(1);
  }
  return out + "BudgetBurn";
}

absl::StatusOr<std::string> RenderRules(const Objectives& objectives) {
  DOCKET_RETURN_IF_ERROR(Validate(objectives));
  Writer w;
  w.Line(0, kGeneratedHeader);
  w.Line(0, absl::StrCat("# Regenerate: ", kRegenerate));
  w.Line(0, "# Per objective: its error ratio over each alert window, and multi-window");
  w.Line(0, "# multi-burn-rate alerts (SRE workbook): critical pages at 14.4x (1h & 5m) or");
  w.Line(0, "# 6x (6h & 30m) of the error budget (1 - target), warning tickets at 3x (1d & 2h)");
  w.Line(0, "# or 1x (3d & 6h). Reference: tools/objectives/rules.h.");
  if (objectives.objectives.empty()) {
    w.Line(0, "groups: []");
    return w.Take();
  }
  w.Line(0, "groups:");
  for (const Objective& o : objectives.objectives) {
    WriteObjectiveGroup(w, o, objectives.runbook_base_url);
  }
  WriteWindowGroup(w, objectives.objectives);
  return w.Take();
}

absl::Status WriteRules(const Objectives& objectives, const std::string& dir) {
  DOCKET_ASSIGN_OR_RETURN(std::string text, RenderRules(objectives));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const fs::path target = fs::path(dir) / kRulesFileName;
  const fs::path temp = fs::path(dir) / (std::string(".") + kRulesFileName + ".tmp");
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", temp.string()));
  }
  fs::rename(temp, target, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot replace ", target.string(), ": ", ec.message()));
  for (const fs::path& stale : Leftovers(dir)) {
    fs::remove(stale, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot remove ", stale.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckRules(const Objectives& objectives, const std::string& dir) {
  DOCKET_ASSIGN_OR_RETURN(std::string want, RenderRules(objectives));
  const fs::path target = fs::path(dir) / kRulesFileName;
  auto have = ReadFile(target);
  if (!have.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(target.string(), " is missing: run ", kRegenerate));
  }
  if (*have != want) {
    const std::vector<std::string> a = absl::StrSplit(*have, '\n');
    const std::vector<std::string> b = absl::StrSplit(want, '\n');
    size_t line = 0;
    while (line < a.size() && line < b.size() && a[line] == b[line]) ++line;
    return absl::FailedPreconditionError(absl::StrCat(
        target.string(), " differs from what objectives.yaml generates (first at line ", line + 1,
        "): generated files are not edited by hand; run ", kRegenerate));
  }
  if (auto left = Leftovers(dir); !left.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        left.front().string(), " is a generated file that objectives.yaml no longer produces: run ",
        kRegenerate));
  }
  return absl::OkStatus();
}

}  // namespace docket::objectives
