#include "tools/objectives/objectives.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/catalog/catalog.h"

namespace docket::objectives {
namespace {

using ::testing::HasSubstr;

std::string SourcePath(const std::string& rel) {
  const char* src = std::getenv("DOCKET_SOURCE_DIR");
  return std::string(src ? src : ".") + "/" + rel;
}

constexpr char kOne[] = R"(version: 1
objectives:
  - name: invoice-sla
    metric: sla_attainment
    target: 0.95
    window: 28d
    scope: {tenant: acme, kind: invoice_approval}
    owner: finance-ops
    description: 95% of invoices within SLA.
)";

// kOne with `line` (an objective field, indented like one) replacing the
// field that starts with the same key.
std::string WithField(const std::string& line) {
  std::string yaml = kOne;
  const std::string key = line.substr(0, line.find(':') + 1);
  const auto at = yaml.find("\n    " + key);
  if (at == std::string::npos) return yaml + "    " + line + "\n";
  const auto end = yaml.find('\n', at + 1);
  return yaml.substr(0, at + 5) + line + yaml.substr(end);
}

absl::Status ParseError(const std::string& yaml) {
  auto o = ParseObjectives(yaml, "objectives.yaml");
  return o.ok() ? absl::OkStatus() : o.status();
}

TEST(ObjectivesTest, ShippedSampleLoadsAndItsScopesAreInTheShippedCatalog) {
  auto o = LoadObjectives(SourcePath("deploy/config/objectives.yaml"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_GE(o->objectives.size(), 2u);
  bool sla = false, fpy = false;
  for (const Objective& obj : o->objectives) {
    sla |= obj.kpi == Kpi::kSlaAttainment;
    fpy |= obj.kpi == Kpi::kFirstPassYield;
  }
  EXPECT_TRUE(sla && fpy) << "the sample shows an SLA and a first-pass-yield objective";
  auto catalog = catalog::Catalog::Load(SourcePath("deploy/config/catalog.yaml"));
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_TRUE(CheckScopes(*o, *catalog).ok()) << CheckScopes(*o, *catalog);
}

TEST(ObjectivesTest, ParsesEveryField) {
  auto o = ParseObjectives(WithField("threshold: 8h").replace(
                               std::string(kOne).find("sla_attainment"), 14, "cycle_time"),
                           "objectives.yaml");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->objectives.size(), 1u);
  const Objective& obj = o->objectives[0];
  EXPECT_EQ(obj.name, "invoice-sla");
  EXPECT_EQ(obj.kpi, Kpi::kCycleTime);
  EXPECT_DOUBLE_EQ(obj.target, 0.95);
  EXPECT_EQ(obj.window, std::chrono::hours(24 * 28));
  EXPECT_EQ(obj.threshold, std::chrono::hours(8));
  EXPECT_EQ(obj.scope.tenant, "acme");
  EXPECT_EQ(obj.scope.kind, "invoice_approval");
  EXPECT_FALSE(obj.scope.queue.has_value());
  EXPECT_EQ(obj.owner, "finance-ops");
  EXPECT_EQ(o->runbook_base_url, Objectives::kDefaultRunbookBaseUrl);
}

TEST(ObjectivesTest, UnknownMetricNamesFileLineFieldAndTheKnownOnes) {
  auto s = ParseError(WithField("metric: sla_atainment"));
  EXPECT_THAT(s.message(), HasSubstr("objectives.yaml:4: objectives[0].metric: unknown metric \"sla_atainment\""));
  EXPECT_THAT(s.message(), HasSubstr("first_pass_yield"));
}

TEST(ObjectivesTest, TargetMustBeAFractionStrictlyBetweenZeroAndOne) {
  EXPECT_THAT(ParseError(WithField("target: 95")).message(),
              HasSubstr("objectives.yaml:5: objectives[0].target: must be a fraction"));
  EXPECT_THAT(ParseError(WithField("target: 1")).message(), HasSubstr("objectives[0].target"));
  EXPECT_THAT(ParseError(WithField("target: 0")).message(), HasSubstr("objectives[0].target"));
  EXPECT_THAT(ParseError(WithField("target: high")).message(), HasSubstr("objectives[0].target"));
}

TEST(ObjectivesTest, WindowMustBeWholeDaysFromThreeToNinety) {
  EXPECT_THAT(ParseError(WithField("window: 36h")).message(),
              HasSubstr("objectives.yaml:6: objectives[0].window: must be whole days"));
  EXPECT_THAT(ParseError(WithField("window: 1d")).message(), HasSubstr("between 3d"));
  EXPECT_THAT(ParseError(WithField("window: 91d")).message(), HasSubstr("between 3d"));
  EXPECT_TRUE(ParseError(WithField("window: 3d")).ok());
}

TEST(ObjectivesTest, ThresholdIsRequiredForTimeKpisAndMustBeAHistogramBucket) {
  std::string cycle = kOne;
  cycle.replace(cycle.find("sla_attainment"), 14, "cycle_time");
  EXPECT_THAT(ParseError(cycle).message(),
              HasSubstr("objectives[0]: is required for cycle_time"));
  std::string off_bucket = cycle + "    threshold: 3h\n";
  EXPECT_THAT(ParseError(off_bucket).message(),
              HasSubstr("objectives[0].threshold: must be a bucket bound of the cycle_time histogram"));
  EXPECT_THAT(ParseError(cycle + "    threshold: 30d\n").message(), HasSubstr("bucket bound"));
  EXPECT_TRUE(ParseError(cycle + "    threshold: 4h\n").ok());
  EXPECT_THAT(ParseError(WithField("threshold: 4h")).message(),
              HasSubstr("objectives[0].threshold: is not used by sla_attainment"));
  std::string backlog = kOne;
  backlog.replace(backlog.find("sla_attainment"), 14, "backlog_age");
  EXPECT_TRUE(ParseError(backlog + "    threshold: 3h\n").ok()) << "any duration for a gauge";
}

TEST(ObjectivesTest, UnknownFieldIsATypoNotIgnored) {
  EXPECT_THAT(ParseError(WithField("onwer: someone")).message(),
              HasSubstr("objectives[0].onwer: unknown field"));
  EXPECT_THAT(ParseError(WithField("scope: {team: x}")).message(),
              HasSubstr("objectives[0].scope.team: unknown field"));
}

TEST(ObjectivesTest, ScopeValuesCannotInjectPromQL) {
  EXPECT_THAT(ParseError(WithField("scope: {kind: 'a\",b=\"c'}")).message(),
              HasSubstr("objectives[0].scope.kind"));
  EXPECT_THAT(ParseError(WithField("owner: 'a b'")).message(), HasSubstr("objectives[0].owner"));
}

TEST(ObjectivesTest, RequiredFieldsAreNamed) {
  for (const char* field : {"name", "metric", "target", "window", "owner", "description"}) {
    std::string yaml = kOne;
    const bool name = std::string(field) == "name";
    const auto at = yaml.find(name ? std::string("  - name:") : std::string("    ") + field + ":");
    const auto end = yaml.find('\n', at);
    yaml.erase(at, end - at + 1);
    if (name) yaml.replace(yaml.find("    metric"), 4, "  - ");
    EXPECT_THAT(ParseError(yaml).message(), HasSubstr(std::string("objectives[0].") + field))
        << field;
  }
}

TEST(ObjectivesTest, DuplicateNameNamesBothLines) {
  std::string yaml = kOne;
  yaml += std::string(kOne).substr(std::string(kOne).find("  - name"));
  EXPECT_THAT(ParseError(yaml).message(),
              HasSubstr("objectives.yaml:10: objectives[1].name: duplicate objective name "
                        "\"invoice-sla\" (first at line 3)"));
}

TEST(ObjectivesTest, ScopeOutsideTheCatalogIsAnErrorAtItsLine) {
  auto catalog = catalog::Catalog::Load(SourcePath("deploy/config/catalog.yaml"));
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  auto o = ParseObjectives(WithField("scope: {tenant: acme, kind: invoice_aproval}"), "objectives.yaml");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(CheckScopes(*o, *catalog).message(),
              HasSubstr("objectives.yaml:7: objectives[0].scope.kind: kind \"invoice_aproval\" is "
                        "not in the catalog"));
  o = ParseObjectives(WithField("scope: {queue: ap}"), "objectives.yaml");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(CheckScopes(*o, *catalog).message(), HasSubstr("queue \"ap\" is not in the catalog"));
  o = ParseObjectives(WithField("scope: {tenant: initech}"), "objectives.yaml");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(CheckScopes(*o, *catalog).message(), HasSubstr("tenant \"initech\""));
  o = ParseObjectives(WithField("scope: {kind: other}"), "objectives.yaml");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(CheckScopes(*o, *catalog).ok()) << "\"other\" is the metrics service's fold value";
}

TEST(ObjectivesTest, ValidateChecksObjectivesBuiltInCode) {
  Objectives all;
  Objective o;
  o.name = "invoice-sla";
  o.kpi = Kpi::kSlaAttainment;
  o.target = 0.95;
  o.window = std::chrono::hours(24 * 28);
  o.owner = "finance-ops";
  o.description = "x";
  all.objectives.push_back(o);
  EXPECT_TRUE(Validate(all).ok()) << Validate(all);
  all.objectives[0].target = 1.5;
  EXPECT_THAT(Validate(all).message(), HasSubstr("objective \"invoice-sla\": target"));
  all.objectives[0].target = 0.95;
  all.objectives.push_back(o);
  EXPECT_THAT(Validate(all).message(), HasSubstr("is used by two objectives"));
  all.objectives.pop_back();
  all.objectives[0].kpi = Kpi::kWaitTime;
  EXPECT_THAT(Validate(all).message(), HasSubstr("threshold: is required"));
  all.objectives[0].threshold = std::chrono::seconds(3600);
  EXPECT_TRUE(Validate(all).ok()) << Validate(all);
  all.runbook_base_url = "https://x/ops.md#anchor";
  EXPECT_THAT(Validate(all).message(), HasSubstr("runbook_base_url"));
}

}  // namespace
}  // namespace docket::objectives
