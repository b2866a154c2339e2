#include "common/catalog/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace docket::catalog {
namespace {

using ::testing::HasSubstr;

std::string SamplePath() {
  const char* src = std::getenv("DOCKET_SOURCE_DIR");
  return std::string(src ? src : ".") + "/deploy/config/catalog.yaml";
}

constexpr char kMinimal[] = R"(version: 1
tenants: [{id: acme}]
calendars:
  office: {timezone: Europe/Berlin}
queues:
  - {name: ap, skills: [ap-clerk], calendar: office}
kinds:
  - name: invoice
    queue: ap
    sla: 4h
    attributes:
      - {name: amount, type: money, required: true}
)";

TEST(CatalogTest, ShippedSampleLoadsWithEveryKindRoutedToAKnownQueue) {
  auto c = Catalog::Load(SamplePath());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->HasTenant("acme"));
  EXPECT_FALSE(c->HasTenant("initech"));
  EXPECT_GE(c->kinds().size(), 5u);
  for (const Kind& k : c->kinds()) {
    EXPECT_NE(c->FindQueue(k.queue), nullptr) << k.name;
    EXPECT_GT(k.sla.count(), 0) << k.name;
  }
  const Kind* invoice = c->FindKind("invoice_approval");
  ASSERT_NE(invoice, nullptr);
  EXPECT_EQ(invoice->sla, std::chrono::hours(8));
  EXPECT_TRUE(invoice->check_on_complete);
  ASSERT_NE(invoice->FindAttribute("amount"), nullptr);
  EXPECT_EQ(invoice->FindAttribute("amount")->type, AttributeType::kMoney);
  ASSERT_EQ(invoice->automation.size(), 1u);
  EXPECT_EQ(invoice->automation[0].when.size(), 3u);
  const Calendar* berlin = c->FindCalendar("emea-office");
  ASSERT_NE(berlin, nullptr);
  EXPECT_EQ(berlin->start_minute, 9 * 60);
  EXPECT_TRUE(berlin->holidays.contains("2026-12-25"));
}

TEST(CatalogTest, MinimalCatalogParses) {
  auto c = Catalog::Parse(kMinimal, "catalog.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->FindKind("invoice")->priority, docket::v1::PRIORITY_NORMAL);
}

struct BadCase {
  std::string from, to, expected;
};

class CatalogErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(CatalogErrorTest, BrokenCatalogNamesFileLineAndField) {
  std::string yaml = kMinimal;
  const auto pos = yaml.find(GetParam().from);
  ASSERT_NE(pos, std::string::npos) << GetParam().from;
  yaml.replace(pos, GetParam().from.size(), GetParam().to);
  auto c = Catalog::Parse(yaml, "catalog.yaml");
  ASSERT_FALSE(c.ok()) << "accepted: " << yaml;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("catalog.yaml:"));
  EXPECT_THAT(c.status().message(), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CatalogErrorTest,
    ::testing::Values(
        BadCase{"queue: ap\n", "queue: nowhere\n", "kinds[0].queue: no queue named \"nowhere\""},
        BadCase{"calendar: office", "calendar: home", "queues[0].calendar: no calendar named"},
        BadCase{"Europe/Berlin", "Mars/Olympus", "calendars.office.timezone: unknown time zone"},
        BadCase{"type: money", "type: currency", "kinds[0].attributes[0].type: unknown type"},
        BadCase{"sla: 4h", "sla: soon", "kinds[0].sla: expected a duration"},
        BadCase{"sla: 4h", "slaa: 4h", "kinds[0].slaa: unknown field"},
        BadCase{"required: true", "required: maybe", "kinds[0].attributes[0].required"},
        BadCase{"skills: [ap-clerk]", "skills: []", "queues[0].skills: a queue needs at least one skill"},
        BadCase{"tenants: [{id: acme}]", "tenants: []", "tenants: needs at least one tenant"},
        BadCase{"  - {name: amount, type: money, required: true}\n",
                "  - {name: amount, type: money, required: true}\n"
                "      - {name: amount, type: bool}\n",
                "duplicate attribute \"amount\""},
        BadCase{"    attributes:", "    automation: [{id: r, when: [{attribute: vendor, op: eq, value: x}]}]\n    attributes:",
                "kind invoice has no attribute \"vendor\""},
        BadCase{"type: money, required: true}", "type: enum}", "an enum attribute needs its values"}));

}  // namespace
}  // namespace docket::catalog
