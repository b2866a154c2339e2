#include "tools/objectives/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/config/yaml.h"

namespace docket::objectives {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Objective Make(const std::string& name, Kpi kpi, double target) {
  Objective o;
  o.name = name;
  o.kpi = kpi;
  o.target = target;
  o.window = std::chrono::hours(24 * 28);
  o.owner = "finance-ops";
  o.description = "The objective in words.";
  return o;
}

struct Rule {
  std::string record, alert, expr, for_duration;
  std::map<std::string, std::string> labels, annotations;
};
struct Group {
  std::string name, interval;
  std::vector<Rule> rules;
};

// Reads the rendered text back as YAML, as Prometheus would.
std::vector<Group> Parse(const std::string& text) {
  std::vector<Group> out;
  auto root = config::ParseYaml(text, "rules.yaml");
  EXPECT_TRUE(root.ok()) << root.status();
  if (!root.ok()) return out;
  auto groups = root->Child("groups").Items();
  EXPECT_TRUE(groups.ok()) << groups.status();
  for (const auto& g : *groups) {
    Group group{*g.String("name"), *g.String("interval", ""), {}};
    auto rules = g.Child("rules").Items();
    EXPECT_TRUE(rules.ok()) << rules.status();
    if (!rules.ok()) continue;
    for (const auto& r : *rules) {
      Rule rule{*r.String("record", ""), *r.String("alert", ""), *r.String("expr"),
                *r.String("for", ""), {}, {}};
      for (const char* m : {"labels", "annotations"}) {
        if (!r.Has(m)) continue;
        auto entries = r.Child(m).Entries();
        if (!entries.ok()) continue;
        for (const auto& [k, v] : *entries) {
          (std::string(m) == "labels" ? rule.labels : rule.annotations)[k] = *v.AsString();
        }
      }
      group.rules.push_back(rule);
    }
    out.push_back(group);
  }
  return out;
}

std::vector<Group> Render(const std::vector<Objective>& list) {
  Objectives all;
  all.objectives = list;
  auto text = RenderRules(all);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? Parse(*text) : std::vector<Group>{};
}

std::vector<Rule> Alerts(const Group& g, const std::string& severity) {
  std::vector<Rule> out;
  for (const Rule& r : g.rules) {
    if (!r.alert.empty() && r.labels.at("severity") == severity) out.push_back(r);
  }
  return out;
}

const Rule* Record(const Group& g, const std::string& name) {
  for (const Rule& r : g.rules) {
    if (r.record == name) return &r;
  }
  return nullptr;
}

TEST(RulesTest, OneGroupPerObjectiveEveryMinuteAndOneWindowGroupEveryFiveMinutes) {
  auto groups = Render({Make("invoice-sla", Kpi::kSlaAttainment, 0.95),
                        Make("data-entry-fpy", Kpi::kFirstPassYield, 0.9)});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].name, "docket-objective-invoice-sla");
  EXPECT_EQ(groups[0].interval, "1m");
  EXPECT_EQ(groups[1].name, "docket-objective-data-entry-fpy");
  EXPECT_EQ(groups[2].name, "docket-objectives-window");
  EXPECT_EQ(groups[2].interval, "5m");
  EXPECT_EQ(groups[2].rules.size(), 6u) << "error, attainment and budget per objective";
}

TEST(RulesTest, RecordsTheErrorRatioOverEveryWindowTheAlertsRead) {
  auto groups = Render({Make("invoice-sla", Kpi::kSlaAttainment, 0.95)});
  ASSERT_FALSE(groups.empty());
  for (const char* w : {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}) {
    const Rule* r = Record(groups[0], absl::StrCat("docket:objective_error:ratio_rate", w));
    ASSERT_NE(r, nullptr) << w;
    EXPECT_THAT(r->expr, HasSubstr(absl::StrCat("[", w, "]")));
    EXPECT_EQ(r->labels.at("objective"), "invoice-sla");
    EXPECT_EQ(r->labels.at("metric"), "sla_attainment");
  }
  const Rule* target = Record(groups[0], "docket:objective_target:ratio");
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->expr, "vector(0.95)");
  EXPECT_EQ(target->labels.at("window"), "28d");
  const Rule* window = Record(groups[1], "docket:objective_error:ratio_window");
  ASSERT_NE(window, nullptr);
  EXPECT_THAT(window->expr, HasSubstr("[28d]"));
  const Rule* budget = Record(groups[1], "docket:objective_error_budget_remaining:ratio");
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->expr,
            "1 - docket:objective_error:ratio_window{objective=\"invoice-sla\"} / 0.05");
}

TEST(RulesTest, SlaAttainmentErrorIsOneMinusMetOverMetPlusMissed) {
  auto groups = Render({Make("invoice-sla", Kpi::kSlaAttainment, 0.95)});
  ASSERT_FALSE(groups.empty());
  const Rule* r = Record(groups[0], "docket:objective_error:ratio_rate5m");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->expr,
            "1 - (\n"
            "  (sum(rate(docket_kpi_sla_met_total[5m])) or vector(0))\n"
            "  /\n"
            "  ((sum(rate(docket_kpi_sla_met_total[5m])) or vector(0)) + "
            "(sum(rate(docket_kpi_sla_missed_total[5m])) or vector(0)))\n"
            ")");
}

TEST(RulesTest, FirstPassYieldAndAutomationRateLeaveRejectedItemsOut) {
  auto groups = Render({Make("fpy", Kpi::kFirstPassYield, 0.9), Make("auto", Kpi::kAutomationRate, 0.3)});
  ASSERT_EQ(groups.size(), 3u);
  const Rule* fpy = Record(groups[0], "docket:objective_error:ratio_rate1h");
  ASSERT_NE(fpy, nullptr);
  EXPECT_THAT(fpy->expr, HasSubstr("sum(rate(docket_kpi_first_pass_total[1h]))"));
  EXPECT_THAT(fpy->expr, HasSubstr("sum(rate(docket_kpi_completions_total{path!=\"rejected\"}[1h]))"));
  const Rule* automation = Record(groups[1], "docket:objective_error:ratio_rate1h");
  ASSERT_NE(automation, nullptr);
  EXPECT_THAT(automation->expr,
              HasSubstr("sum(rate(docket_kpi_completions_total{path=\"automated\"}[1h]))"));
  EXPECT_THAT(automation->expr,
              HasSubstr("sum(rate(docket_kpi_completions_total{path!=\"rejected\"}[1h]))"));
}

TEST(RulesTest, ScopeBecomesMatchersOnEveryCounterAndLabelsOnEverySeries) {
  Objective o = Make("acme-fpy", Kpi::kFirstPassYield, 0.9);
  o.scope.tenant = "acme";
  o.scope.kind = "invoice_approval";
  o.scope.queue = "accounts-payable";
  auto groups = Render({o});
  ASSERT_FALSE(groups.empty());
  const Rule* r = Record(groups[0], "docket:objective_error:ratio_rate5m");
  ASSERT_NE(r, nullptr);
  EXPECT_THAT(r->expr, HasSubstr("docket_kpi_first_pass_total{tenant=\"acme\",kind=\"invoice_approval\","
                                 "queue=\"accounts-payable\"}[5m]"));
  EXPECT_THAT(r->expr, HasSubstr("docket_kpi_completions_total{path!=\"rejected\",tenant=\"acme\","
                                 "kind=\"invoice_approval\",queue=\"accounts-payable\"}[5m]"));
  for (const Group& g : groups) {
    for (const Rule& rule : g.rules) {
      if (rule.record.empty()) continue;
      EXPECT_EQ(rule.labels.at("tenant"), "acme") << rule.record;
      EXPECT_EQ(rule.labels.at("queue"), "accounts-payable") << rule.record;
    }
  }
}

TEST(RulesTest, TimeObjectiveCountsTheBucketAtItsThresholdInEitherLeSpelling) {
  Objective o = Make("expense-cycle", Kpi::kCycleTime, 0.9);
  o.threshold = std::chrono::hours(8);
  auto groups = Render({o});
  ASSERT_FALSE(groups.empty());
  const Rule* r = Record(groups[0], "docket:objective_error:ratio_rate5m");
  ASSERT_NE(r, nullptr);
  EXPECT_THAT(r->expr,
              HasSubstr("sum(rate(docket_kpi_cycle_time_seconds_bucket{le=~\"28800(\\\\.0)?\"}[5m]))"));
  EXPECT_THAT(r->expr, HasSubstr("sum(rate(docket_kpi_cycle_time_seconds_count[5m]))"));
  o.kpi = Kpi::kHandleTime;
  groups = Render({o});
  ASSERT_FALSE(groups.empty());
  EXPECT_THAT(Record(groups[0], "docket:objective_error:ratio_rate5m")->expr,
              HasSubstr("docket_kpi_handle_time_seconds_bucket"));
}

TEST(RulesTest, BacklogAgeCountsMinutesWithTheOldestItemTooOld) {
  Objective o = Make("hr-backlog", Kpi::kBacklogAge, 0.99);
  o.threshold = std::chrono::hours(48);
  o.scope.queue = "hr-operations";
  auto groups = Render({o});
  ASSERT_FALSE(groups.empty());
  const Rule* bad = Record(groups[0], "docket:objective_bad:bool");
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->expr,
            "max(docket_kpi_oldest_item_age_seconds{queue=\"hr-operations\"}) > bool 172800");
  EXPECT_EQ(Record(groups[0], "docket:objective_error:ratio_rate1h")->expr,
            "avg_over_time(docket:objective_bad:bool{objective=\"hr-backlog\"}[1h])");
}

TEST(RulesTest, PageAndTicketFollowTheWorkbooksWindowsAndBurnRates) {
  auto groups = Render({Make("invoice-sla", Kpi::kSlaAttainment, 0.95)});
  ASSERT_FALSE(groups.empty());
  auto page = Alerts(groups[0], "critical");
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].alert, "DocketSlaAttainmentBudgetBurn");
  EXPECT_EQ(page[0].expr,
            "(\n"
            "  docket:objective_error:ratio_rate1h{objective=\"invoice-sla\"} > (14.4 * 0.05)\n"
            "  and\n"
            "  docket:objective_error:ratio_rate5m{objective=\"invoice-sla\"} > (14.4 * 0.05)\n"
            ")\n"
            "or\n"
            "(\n"
            "  docket:objective_error:ratio_rate6h{objective=\"invoice-sla\"} > (6 * 0.05)\n"
            "  and\n"
            "  docket:objective_error:ratio_rate30m{objective=\"invoice-sla\"} > (6 * 0.05)\n"
            ")");
  EXPECT_EQ(page[0].labels.at("owner"), "finance-ops");
  auto ticket = Alerts(groups[0], "warning");
  ASSERT_EQ(ticket.size(), 1u);
  EXPECT_THAT(ticket[0].expr, HasSubstr("ratio_rate1d{objective=\"invoice-sla\"} > (3 * 0.05)"));
  EXPECT_THAT(ticket[0].expr, HasSubstr("ratio_rate2h{objective=\"invoice-sla\"} > (3 * 0.05)"));
  EXPECT_THAT(ticket[0].expr, HasSubstr("ratio_rate3d{objective=\"invoice-sla\"} > (1 * 0.05)"));
  EXPECT_THAT(ticket[0].expr, HasSubstr("ratio_rate6h{objective=\"invoice-sla\"} > (1 * 0.05)"));
  EXPECT_EQ(ticket[0].labels.at("owner"), "finance-ops");
}

TEST(RulesTest, BurnRatesThatWouldNeedMoreThanAllErrorsAreLeftOut) {
  // Budget 0.7: 14.4x, 6x and 3x of it are above 100%, only 1x can happen.
  auto groups = Render({Make("automation", Kpi::kAutomationRate, 0.3)});
  ASSERT_FALSE(groups.empty());
  EXPECT_TRUE(Alerts(groups[0], "critical").empty());
  auto ticket = Alerts(groups[0], "warning");
  ASSERT_EQ(ticket.size(), 1u);
  EXPECT_THAT(ticket[0].expr, HasSubstr("ratio_rate3d{objective=\"automation\"} > (1 * 0.7)"));
  EXPECT_THAT(ticket[0].expr, Not(HasSubstr("ratio_rate1d")));
  // Budget 0.1: 14.4x is out, 6x stays.
  groups = Render({Make("fpy", Kpi::kFirstPassYield, 0.9)});
  ASSERT_FALSE(groups.empty());
  auto page = Alerts(groups[0], "critical");
  ASSERT_EQ(page.size(), 1u);
  EXPECT_THAT(page[0].expr, Not(HasSubstr("14.4")));
  EXPECT_THAT(page[0].expr, HasSubstr("ratio_rate6h{objective=\"fpy\"} > (6 * 0.1)"));
}

TEST(RulesTest, AlertsCarrySummaryDescriptionAndARunbookNamedAfterTheAlert) {
  Objectives all;
  all.runbook_base_url = "https://example.org/docs/operations.md";
  Objective o = Make("invoice-sla", Kpi::kSlaAttainment, 0.95);
  o.description = "Invoices \"on time\".";
  all.objectives = {o};
  auto text = RenderRules(all);
  ASSERT_TRUE(text.ok()) << text.status();
  auto groups = Parse(*text);
  ASSERT_FALSE(groups.empty());
  for (const char* severity : {"critical", "warning"}) {
    auto alerts = Alerts(groups[0], severity);
    ASSERT_EQ(alerts.size(), 1u) << severity;
    const Rule& a = alerts[0];
    EXPECT_EQ(a.annotations.at("runbook_url"),
              "https://example.org/docs/operations.md#docketslaattainmentbudgetburn");
    EXPECT_THAT(a.annotations.at("summary"), HasSubstr("invoice-sla"));
    EXPECT_THAT(a.annotations.at("description"), HasSubstr("Invoices \"on time\"."));
    EXPECT_THAT(a.annotations.at("description"), HasSubstr("Target: 95% of completions within their SLA over 28d"));
    EXPECT_FALSE(a.for_duration.empty());
  }
}

TEST(RulesTest, AlertNamesAreOnePerKpi) {
  EXPECT_EQ(AlertName(Kpi::kSlaAttainment), "DocketSlaAttainmentBudgetBurn");
  EXPECT_EQ(AlertName(Kpi::kFirstPassYield), "DocketFirstPassYieldBudgetBurn");
  EXPECT_EQ(AlertName(Kpi::kBacklogAge), "DocketBacklogAgeBudgetBurn");
}

TEST(RulesTest, RenderIsDeterministicAndRefusesInvalidObjectives) {
  Objectives all;
  all.objectives = {Make("a", Kpi::kSlaAttainment, 0.95), Make("b", Kpi::kFirstPassYield, 0.9)};
  EXPECT_EQ(*RenderRules(all), *RenderRules(all));
  EXPECT_EQ(RenderRules(all)->rfind(kGeneratedHeader, 0), 0u);
  all.objectives[1].target = 2;
  EXPECT_EQ(RenderRules(all).status().code(), absl::StatusCode::kInvalidArgument);
  all.objectives.clear();
  EXPECT_THAT(*RenderRules(all), HasSubstr("groups: []"));
}

class RulesDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("objectives-test-", ::testing::UnitTest::GetInstance()->random_seed(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    objectives_.objectives = {Make("invoice-sla", Kpi::kSlaAttainment, 0.95)};
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
  Objectives objectives_;
};

TEST_F(RulesDirTest, WrittenRulesPassTheCheck) {
  ASSERT_TRUE(WriteRules(objectives_, dir_.string()).ok());
  EXPECT_TRUE(CheckRules(objectives_, dir_.string()).ok()) << CheckRules(objectives_, dir_.string());
}

TEST_F(RulesDirTest, HandEditedOrStaleRulesFailTheCheck) {
  ASSERT_TRUE(WriteRules(objectives_, dir_.string()).ok());
  auto text = RenderRules(objectives_);
  Write(kRulesFileName, *text + "# an edit\n");
  auto s = CheckRules(objectives_, dir_.string());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("not edited by hand"));
  ASSERT_TRUE(WriteRules(objectives_, dir_.string()).ok());
  objectives_.objectives[0].target = 0.99;
  EXPECT_EQ(CheckRules(objectives_, dir_.string()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RulesDirTest, MissingRulesFailTheCheck) {
  fs::create_directories(dir_);
  EXPECT_THAT(CheckRules(objectives_, dir_.string()).message(), HasSubstr("is missing"));
}

TEST_F(RulesDirTest, LeftoverGeneratedFilesFailTheCheckAndWriteRemovesThemButNotOthers) {
  ASSERT_TRUE(WriteRules(objectives_, dir_.string()).ok());
  Write("old-objectives.yaml", std::string(kGeneratedHeader) + "\ngroups: []\n");
  Write("hand-written.yaml", "groups: []\n");
  EXPECT_THAT(CheckRules(objectives_, dir_.string()).message(), HasSubstr("old-objectives.yaml"));
  ASSERT_TRUE(WriteRules(objectives_, dir_.string()).ok());
  EXPECT_FALSE(fs::exists(dir_ / "old-objectives.yaml"));
  EXPECT_TRUE(fs::exists(dir_ / "hand-written.yaml"));
  EXPECT_TRUE(CheckRules(objectives_, dir_.string()).ok());
}

}  // namespace
}  // namespace docket::objectives
