#include "services/intake/src/validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::intake {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kCatalog[] = R"(version: 1
tenants: [{id: acme}, {id: globex}]
queues:
  - {name: ap, skills: [ap-clerk]}
kinds:
  - name: invoice
    queue: ap
    sla: 4h
    attributes:
      - {name: vendor, type: string, required: true, max_length: 8}
      - {name: amount, type: money, required: true, min: 0.01, max: 1000, currencies: [EUR, GBP]}
      - {name: score, type: number, min: 0, max: 100}
      - {name: invoice_date, type: date}
      - {name: category, type: enum, values: [goods, services]}
      - {name: verified, type: bool}
limits:
  max_payload_bytes: 2048
  max_attributes: 8
)";

class ValidatorTest : public ::testing::Test {
 protected:
  ValidatorTest() : catalog_(*catalog::Catalog::Parse(kCatalog, "catalog.yaml")) {}

  static docket::v1::WorkSubmission Valid() {
    docket::v1::WorkSubmission s;
    s.set_tenant("acme");
    s.set_kind("invoice");
    s.set_idempotency_key("inv-1");
    (*s.mutable_attributes())["vendor"].set_string_value("V-1");
    auto* money = (*s.mutable_attributes())["amount"].mutable_money_value();
    money->set_minor_units(12345);
    money->set_currency("EUR");
    return s;
  }

  std::vector<Violation> Check(const docket::v1::WorkSubmission& s) const {
    return Validate(catalog_, s);
  }

  catalog::Catalog catalog_;
};

auto OnField(const std::string& field, const std::string& text) {
  return AllOf(Field(&Violation::field, field), Field(&Violation::description, HasSubstr(text)));
}

TEST_F(ValidatorTest, ValidSubmissionHasNoViolations) {
  auto s = Valid();
  (*s.mutable_attributes())["score"].set_number_value(42);
  auto* d = (*s.mutable_attributes())["invoice_date"].mutable_date_value();
  d->set_year(2026);
  d->set_month(2);
  d->set_day(28);
  (*s.mutable_attributes())["category"].set_enum_value("goods");
  (*s.mutable_attributes())["verified"].set_bool_value(true);
  EXPECT_THAT(Check(s), IsEmpty());
}

TEST_F(ValidatorTest, EveryViolationIsListedNotOnlyTheFirst) {
  docket::v1::WorkSubmission s;
  s.set_tenant("initech");
  s.set_kind("invoice");
  (*s.mutable_attributes())["vendor"].set_number_value(3);
  (*s.mutable_attributes())["colour"].set_string_value("red");
  auto v = Check(s);
  EXPECT_THAT(v, Contains(OnField("tenant", "not a tenant")));
  EXPECT_THAT(v, Contains(OnField("idempotency_key", "required")));
  EXPECT_THAT(v, Contains(OnField("attributes.amount", "required")));
  EXPECT_THAT(v, Contains(OnField("attributes.vendor", "expected string, got number")));
  EXPECT_THAT(v, Contains(OnField("attributes.colour", "not an attribute of kind invoice")));
  EXPECT_EQ(v.size(), 5u);
}

TEST_F(ValidatorTest, UnknownKindIsNamed) {
  auto s = Valid();
  s.set_kind("timesheet");
  EXPECT_THAT(Check(s), ElementsAre(OnField("kind", "\"timesheet\" is not in the catalog")));
}

TEST_F(ValidatorTest, StringLengthAndUtf8AreChecked) {
  auto s = Valid();
  (*s.mutable_attributes())["vendor"].set_string_value("ABCDEFGHIJ");
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.vendor", "10 bytes; at most 8")));
  (*s.mutable_attributes())["vendor"].set_string_value("a\xff");
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.vendor", "not valid UTF-8")));
  (*s.mutable_attributes())["vendor"].set_string_value("");
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.vendor", "must not be empty")));
}

TEST_F(ValidatorTest, NumberRangeAndFinitenessAreChecked) {
  auto s = Valid();
  (*s.mutable_attributes())["score"].set_number_value(101);
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.score", "at most 100")));
  (*s.mutable_attributes())["score"].set_number_value(-1);
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.score", "at least 0")));
  (*s.mutable_attributes())["score"].set_number_value(std::nan(""));
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.score", "finite")));
}

TEST_F(ValidatorTest, MoneyCurrencyAndRangeAreChecked) {
  auto s = Valid();
  auto* m = (*s.mutable_attributes())["amount"].mutable_money_value();
  m->set_currency("usd");
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.amount.currency", "ISO 4217")));
  m->set_currency("USD");
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.amount.currency", "one of EUR, GBP")));
  m->set_currency("EUR");
  m->set_minor_units(100001);
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.amount", "at most 1000")));
  m->set_minor_units(0);
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.amount", "at least 0.01")));
}

TEST_F(ValidatorTest, DateMustBeARealCalendarDay) {
  auto s = Valid();
  auto* d = (*s.mutable_attributes())["invoice_date"].mutable_date_value();
  d->set_year(2026);
  d->set_month(2);
  d->set_day(30);
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.invoice_date", "not a valid calendar date")));
  d->set_year(2028);
  d->set_day(29);  // leap year
  EXPECT_THAT(Check(s), IsEmpty());
}

TEST_F(ValidatorTest, EnumAcceptsMembersAsEnumOrStringAndNamesTheAllowedValues) {
  auto s = Valid();
  (*s.mutable_attributes())["category"].set_string_value("services");
  EXPECT_THAT(Check(s), IsEmpty());
  (*s.mutable_attributes())["category"].set_enum_value("travel");
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.category", "one of goods, services")));
  (*s.mutable_attributes())["category"].set_bool_value(true);
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.category", "expected enum, got bool")));
}

TEST_F(ValidatorTest, BoolMustBeBool) {
  auto s = Valid();
  (*s.mutable_attributes())["verified"].set_string_value("yes");
  EXPECT_THAT(Check(s), ElementsAre(OnField("attributes.verified", "expected bool, got string")));
}

TEST_F(ValidatorTest, PayloadSizeAndAttributeCountLimitsAreEnforced) {
  auto s = Valid();
  for (int i = 0; i < 8; ++i) (*s.mutable_attributes())["x" + std::to_string(i)].set_bool_value(true);
  EXPECT_THAT(Check(s), Contains(OnField("attributes", "has 10 entries; at most 8")));
  auto big = Valid();
  big.set_external_ref(std::string(200, 'r'));
  (*big.mutable_attributes())["vendor"].set_string_value(std::string(3000, 'v'));
  EXPECT_THAT(Check(big), Contains(OnField("submission", "at most 2048 allowed")));
}

TEST_F(ValidatorTest, IdempotencyKeyLengthIsBounded) {
  auto s = Valid();
  s.set_idempotency_key(std::string(kMaxIdempotencyKeyBytes + 1, 'k'));
  EXPECT_THAT(Check(s), ElementsAre(OnField("idempotency_key", "longer than 128")));
}

}  // namespace
}  // namespace docket::intake
