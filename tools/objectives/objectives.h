#pragma once

// Objectives: SMART targets for Docket's business KPIs, loaded from
// objectives.yaml (deploy/config/objectives.yaml is the sample). Each one says
// what is measured (a KPI of the metrics service), how good it must be (target),
// over which period (window), for which work (scope: tenant, kind, queue) and
// who answers for it (owner). rules.h turns them into Prometheus recording
// rules and burn-rate alerts.
//
// Every KPI is read as "good events / all events" (or "good minutes / all
// minutes" for backlog_age), so the error budget of an objective is
// 1 - target, whatever the KPI.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace docket::catalog {
class Catalog;
}

namespace docket::objectives {

enum class Kpi {
  kSlaAttainment,   // met / (met + missed), counted at completion
  kFirstPassYield,  // first_pass / completions{path!="rejected"}
  kAutomationRate,  // completions{path="automated"} / completions{path!="rejected"}
  kCycleTime,       // share of items done within `threshold` of submission
  kWaitTime,        // share of items claimed within `threshold` of being queued
  kHandleTime,      // share of items done within `threshold` of being claimed
  kBacklogAge,      // share of minutes in which the oldest open item is younger than `threshold`
};

// The name used in objectives.yaml and in the `metric` label ("sla_attainment").
std::string_view KpiName(Kpi kpi);
// Parses a name as KpiName() spells it.
std::optional<Kpi> KpiFromName(std::string_view name);
// Whether the objective compares against a duration (`threshold`).
bool KpiHasThreshold(Kpi kpi);
// The histogram bucket bounds (seconds) of the time KPIs, as the metrics
// service exports them; a time objective's threshold must be one of them below
// one million seconds, so "done within the threshold" is an exact bucket count.
const std::vector<double>& TimeBucketBounds();

// Which work an objective covers; an absent field means every value.
struct Scope {
  std::optional<std::string> tenant;
  std::optional<std::string> kind;
  std::optional<std::string> queue;
  // "file:line: objectives[i].scope.<field>" of each present field, for errors
  // found after loading (a scope value the catalog does not know).
  std::optional<std::string> tenant_at, kind_at, queue_at;
};

struct Objective {
  std::string name;  // unique; [a-z][a-z0-9-]*
  Kpi kpi = Kpi::kSlaAttainment;
  double target = 0;  // in (0, 1): the share of good events (or minutes)
  std::chrono::seconds window{0};  // whole days, at least 3d (the longest alert window)
  std::optional<std::chrono::seconds> threshold;  // time KPIs and backlog_age only
  Scope scope;
  std::string owner;        // team that answers the alerts (label `owner`)
  std::string description;  // the objective in words, for people
};

struct Objectives {
  static constexpr char kDefaultRunbookBaseUrl[] =
      "https://github.com/docket/docket/blob/main/docs/operations.md";

  // Where each alert's runbook_url points, followed by "#<alert name, lowercase>".
  std::string runbook_base_url = kDefaultRunbookBaseUrl;
  std::vector<Objective> objectives;
};

// Loads and validates objectives.yaml. NOT_FOUND if it cannot be read;
// INVALID_ARGUMENT naming file:line:field for anything wrong in it.
absl::StatusOr<Objectives> LoadObjectives(const std::string& path);
// The same on YAML text; `name` stands for the file in messages.
absl::StatusOr<Objectives> ParseObjectives(const std::string& yaml, const std::string& name);

// Checks objectives built in code (not loaded): the same rules as the loader,
// with messages that name the objective. INVALID_ARGUMENT on the first problem.
absl::Status Validate(const Objectives& objectives);

// INVALID_ARGUMENT (file:line:field when loaded from a file) if a scope names a
// tenant, kind or queue the catalog does not know: such an objective would
// watch a series that never exists and never alert.
absl::Status CheckScopes(const Objectives& objectives, const catalog::Catalog& catalog);

}  // namespace docket::objectives
