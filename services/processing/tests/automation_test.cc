#include "services/processing/src/automation.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "common/catalog/catalog.h"
#include "gtest/gtest.h"

namespace docket::processing {
namespace {

using catalog::AttributeSpec;
using catalog::AttributeType;
using catalog::Condition;
using Op = catalog::Condition::Op;
using v1::AttributeValue;

AttributeValue Money(int64_t minor, const std::string& currency = "EUR") {
  AttributeValue v;
  v.mutable_money_value()->set_minor_units(minor);
  v.mutable_money_value()->set_currency(currency);
  return v;
}
AttributeValue Number(double n) {
  AttributeValue v;
  v.set_number_value(n);
  return v;
}
AttributeValue Bool(bool b) {
  AttributeValue v;
  v.set_bool_value(b);
  return v;
}
AttributeValue Enum(const std::string& s) {
  AttributeValue v;
  v.set_enum_value(s);
  return v;
}
AttributeValue String(const std::string& s) {
  AttributeValue v;
  v.set_string_value(s);
  return v;
}
AttributeValue Date(int y, int m, int d) {
  AttributeValue v;
  v.mutable_date_value()->set_year(y);
  v.mutable_date_value()->set_month(m);
  v.mutable_date_value()->set_day(d);
  return v;
}

AttributeSpec Spec(AttributeType type) {
  AttributeSpec s;
  s.name = "a";
  s.type = type;
  return s;
}

Condition Cond(Op op, std::vector<std::string> values) {
  Condition c;
  c.attribute = "a";
  c.op = op;
  c.values = std::move(values);
  return c;
}

bool Holds(AttributeType type, const AttributeValue& value, Op op, std::vector<std::string> values) {
  return ConditionHolds(Spec(type), Cond(op, std::move(values)), &value);
}

// ---- money ----

TEST(ConditionTest, MoneyComparesMajorUnitsExactly) {
  const auto amount = Money(49999);  // 499.99
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kLt, {"500"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kLe, {"499.99"}));
  EXPECT_FALSE(Holds(AttributeType::kMoney, amount, Op::kLt, {"499.99"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kEq, {"499.99"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kEq, {"499.990"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kNe, {"499.98"}));
  EXPECT_FALSE(Holds(AttributeType::kMoney, amount, Op::kNe, {"499.99"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kGt, {"499.989"}));
  EXPECT_FALSE(Holds(AttributeType::kMoney, amount, Op::kGt, {"499.99"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kGe, {"499.99"}));
  EXPECT_FALSE(Holds(AttributeType::kMoney, amount, Op::kGe, {"499.991"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, amount, Op::kIn, {"100", "499.99"}));
  EXPECT_FALSE(Holds(AttributeType::kMoney, amount, Op::kIn, {"100", "500"}));
}

TEST(ConditionTest, MoneyAtTheThresholdIsNotBelowIt) {
  EXPECT_FALSE(Holds(AttributeType::kMoney, Money(50000), Op::kLt, {"500"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(50000), Op::kLe, {"500.00"}));
}

TEST(ConditionTest, MoneyDecimalsThatBinaryFloatingPointGetsWrong) {
  // 0.1 + 0.2 style traps: 30 minor units equal exactly "0.3".
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(30), Op::kEq, {"0.3"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(30), Op::kEq, {".30"}));
  // Very large amounts keep exact comparison.
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(900719925474099301), Op::kGt, {"9007199254740993.00"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(std::numeric_limits<int64_t>::max()), Op::kGt, {"1000"}));
}

TEST(ConditionTest, MoneyNegativeAmounts) {
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(-150), Op::kLt, {"0"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(-150), Op::kEq, {"-1.5"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(150), Op::kEq, {"+1.50"}));
}

TEST(ConditionTest, MoneyWithCurrencyInTheValueMatchesOnlyThatCurrency) {
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(100, "EUR"), Op::kLt, {"500 EUR"}));
  EXPECT_FALSE(Holds(AttributeType::kMoney, Money(100, "GBP"), Op::kLt, {"500 EUR"}));
  EXPECT_FALSE(Holds(AttributeType::kMoney, Money(100, "GBP"), Op::kNe, {"500 EUR"}));
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(100, "GBP"), Op::kIn, {"1 EUR", "1 GBP"}));
  // Without a currency the amount alone is compared.
  EXPECT_TRUE(Holds(AttributeType::kMoney, Money(100, "GBP"), Op::kLt, {"500"}));
}

TEST(ConditionTest, MoneyValueThatDoesNotParseNeverMatches) {
  for (const std::string bad : {"", "abc", "5e2", "1.2.3", "-", ".", "500 EURO", "1,000", "0x10",
                                "1234567890123456789012345678901"}) {
    for (Op op : {Op::kEq, Op::kNe, Op::kLt, Op::kLe, Op::kGt, Op::kGe, Op::kIn}) {
      EXPECT_FALSE(Holds(AttributeType::kMoney, Money(100), op, {bad})) << "\"" << bad << "\"";
    }
  }
}

// ---- number ----

TEST(ConditionTest, NumberComparesNumerically) {
  const auto n = Number(0.98);
  EXPECT_TRUE(Holds(AttributeType::kNumber, n, Op::kEq, {"0.98"}));
  EXPECT_TRUE(Holds(AttributeType::kNumber, n, Op::kNe, {"0.99"}));
  EXPECT_TRUE(Holds(AttributeType::kNumber, n, Op::kLt, {"1"}));
  EXPECT_TRUE(Holds(AttributeType::kNumber, n, Op::kLe, {"0.98"}));
  EXPECT_TRUE(Holds(AttributeType::kNumber, n, Op::kGt, {"0.5"}));
  EXPECT_TRUE(Holds(AttributeType::kNumber, n, Op::kGe, {"0.98"}));
  EXPECT_FALSE(Holds(AttributeType::kNumber, n, Op::kGe, {"0.981"}));
  EXPECT_TRUE(Holds(AttributeType::kNumber, Number(10), Op::kGt, {"9"}));  // not "10" < "9" as strings
  EXPECT_TRUE(Holds(AttributeType::kNumber, Number(1), Op::kEq, {"1.0"}));
  EXPECT_TRUE(Holds(AttributeType::kNumber, Number(3), Op::kIn, {"1", "2", "3"}));
  EXPECT_FALSE(Holds(AttributeType::kNumber, Number(4), Op::kIn, {"1", "2", "3"}));
}

TEST(ConditionTest, NumberNotFiniteOrUnparseableNeverMatches) {
  EXPECT_FALSE(Holds(AttributeType::kNumber, Number(1), Op::kNe, {"one"}));
  EXPECT_FALSE(Holds(AttributeType::kNumber, Number(1), Op::kLt, {"inf"}));
  EXPECT_FALSE(Holds(AttributeType::kNumber, Number(std::nan("")), Op::kNe, {"1"}));
  EXPECT_FALSE(Holds(AttributeType::kNumber, Number(std::numeric_limits<double>::infinity()), Op::kGt, {"1"}));
}

// ---- bool ----

TEST(ConditionTest, BoolEqNeInAgainstTrueFalse) {
  EXPECT_TRUE(Holds(AttributeType::kBool, Bool(true), Op::kEq, {"true"}));
  EXPECT_FALSE(Holds(AttributeType::kBool, Bool(false), Op::kEq, {"true"}));
  EXPECT_TRUE(Holds(AttributeType::kBool, Bool(false), Op::kEq, {"false"}));
  EXPECT_TRUE(Holds(AttributeType::kBool, Bool(false), Op::kNe, {"true"}));
  EXPECT_FALSE(Holds(AttributeType::kBool, Bool(true), Op::kNe, {"true"}));
  EXPECT_TRUE(Holds(AttributeType::kBool, Bool(true), Op::kEq, {"TRUE"}));
  EXPECT_TRUE(Holds(AttributeType::kBool, Bool(true), Op::kIn, {"false", "true"}));
  EXPECT_FALSE(Holds(AttributeType::kBool, Bool(true), Op::kIn, {"false"}));
}

TEST(ConditionTest, BoolHasNoOrderAndOtherWordsNeverMatch) {
  for (Op op : {Op::kLt, Op::kLe, Op::kGt, Op::kGe}) {
    EXPECT_FALSE(Holds(AttributeType::kBool, Bool(true), op, {"false"}));
    EXPECT_FALSE(Holds(AttributeType::kBool, Bool(true), op, {"true"}));
  }
  EXPECT_FALSE(Holds(AttributeType::kBool, Bool(true), Op::kEq, {"yes"}));
  EXPECT_FALSE(Holds(AttributeType::kBool, Bool(false), Op::kNe, {"1"}));
}

// ---- enum and string ----

TEST(ConditionTest, EnumEqNeInByMemberName) {
  EXPECT_TRUE(Holds(AttributeType::kEnum, Enum("goods"), Op::kEq, {"goods"}));
  EXPECT_FALSE(Holds(AttributeType::kEnum, Enum("goods"), Op::kEq, {"Goods"}));
  EXPECT_TRUE(Holds(AttributeType::kEnum, Enum("goods"), Op::kNe, {"services"}));
  EXPECT_FALSE(Holds(AttributeType::kEnum, Enum("goods"), Op::kNe, {"goods"}));
  EXPECT_TRUE(Holds(AttributeType::kEnum, Enum("software"), Op::kIn, {"goods", "utilities", "software"}));
  EXPECT_FALSE(Holds(AttributeType::kEnum, Enum("travel"), Op::kIn, {"goods", "utilities", "software"}));
  for (Op op : {Op::kLt, Op::kLe, Op::kGt, Op::kGe}) {
    EXPECT_FALSE(Holds(AttributeType::kEnum, Enum("b"), op, {"a"}));
    EXPECT_FALSE(Holds(AttributeType::kEnum, Enum("b"), op, {"c"}));
  }
}

TEST(ConditionTest, EnumSentAsStringIsAccepted) {
  EXPECT_TRUE(Holds(AttributeType::kEnum, String("goods"), Op::kEq, {"goods"}));
  EXPECT_TRUE(Holds(AttributeType::kEnum, String("goods"), Op::kIn, {"goods"}));
}

TEST(ConditionTest, StringEqNeInByExactString) {
  EXPECT_TRUE(Holds(AttributeType::kString, String("DE"), Op::kEq, {"DE"}));
  EXPECT_FALSE(Holds(AttributeType::kString, String("DE"), Op::kEq, {"de"}));
  EXPECT_TRUE(Holds(AttributeType::kString, String("DE"), Op::kNe, {"FR"}));
  EXPECT_FALSE(Holds(AttributeType::kString, String("DE"), Op::kNe, {"DE"}));
  EXPECT_TRUE(Holds(AttributeType::kString, String("AT"), Op::kIn, {"DE", "AT", "CH"}));
  EXPECT_FALSE(Holds(AttributeType::kString, String("IT"), Op::kIn, {"DE", "AT", "CH"}));
  EXPECT_TRUE(Holds(AttributeType::kString, String(""), Op::kEq, {""}));
  for (Op op : {Op::kLt, Op::kLe, Op::kGt, Op::kGe}) {
    EXPECT_FALSE(Holds(AttributeType::kString, String("b"), op, {"a"}));
    EXPECT_FALSE(Holds(AttributeType::kString, String("b"), op, {"c"}));
  }
}

// ---- date ----

TEST(ConditionTest, DateComparesCalendarDates) {
  const auto d = Date(2026, 6, 5);
  EXPECT_TRUE(Holds(AttributeType::kDate, d, Op::kEq, {"2026-06-05"}));
  EXPECT_TRUE(Holds(AttributeType::kDate, d, Op::kNe, {"2026-06-06"}));
  EXPECT_TRUE(Holds(AttributeType::kDate, d, Op::kLt, {"2026-06-06"}));
  EXPECT_FALSE(Holds(AttributeType::kDate, d, Op::kLt, {"2026-06-05"}));
  EXPECT_TRUE(Holds(AttributeType::kDate, d, Op::kLe, {"2026-06-05"}));
  EXPECT_TRUE(Holds(AttributeType::kDate, d, Op::kGt, {"2025-12-31"}));
  EXPECT_TRUE(Holds(AttributeType::kDate, d, Op::kGe, {"2026-06-05"}));
  EXPECT_FALSE(Holds(AttributeType::kDate, d, Op::kGe, {"2026-06-06"}));
  EXPECT_TRUE(Holds(AttributeType::kDate, d, Op::kIn, {"2026-01-01", "2026-06-05"}));
  EXPECT_FALSE(Holds(AttributeType::kDate, d, Op::kIn, {"2026-01-01"}));
  // Ordered as dates, not as strings of different shapes.
  EXPECT_TRUE(Holds(AttributeType::kDate, Date(2026, 10, 1), Op::kGt, {"2026-09-30"}));
}

TEST(ConditionTest, InvalidDatesNeverMatch) {
  EXPECT_FALSE(Holds(AttributeType::kDate, Date(2026, 2, 30), Op::kNe, {"2026-01-01"}));
  EXPECT_FALSE(Holds(AttributeType::kDate, Date(2026, 6, 5), Op::kNe, {"2026-02-30"}));
  EXPECT_FALSE(Holds(AttributeType::kDate, Date(2026, 6, 5), Op::kLt, {"05.06.2026"}));
  EXPECT_FALSE(Holds(AttributeType::kDate, Date(2026, 6, 5), Op::kEq, {"2026-6-5"}));
}

// ---- missing and mistyped ----

TEST(ConditionTest, MissingAttributeNeverMatchesEvenForNe) {
  for (AttributeType t : {AttributeType::kMoney, AttributeType::kNumber, AttributeType::kBool,
                          AttributeType::kEnum, AttributeType::kString, AttributeType::kDate}) {
    for (Op op : {Op::kEq, Op::kNe, Op::kLt, Op::kLe, Op::kGt, Op::kGe, Op::kIn}) {
      EXPECT_FALSE(ConditionHolds(Spec(t), Cond(op, {"1"}), nullptr));
      EXPECT_FALSE(ConditionHolds(Spec(t), Cond(op, {"1"}), &AttributeValue::default_instance()));
    }
  }
}

TEST(ConditionTest, ValueOfAnotherTypeThanDeclaredNeverMatches) {
  EXPECT_FALSE(Holds(AttributeType::kMoney, Number(1), Op::kLt, {"500"}));
  EXPECT_FALSE(Holds(AttributeType::kNumber, String("1"), Op::kEq, {"1"}));
  EXPECT_FALSE(Holds(AttributeType::kBool, String("true"), Op::kEq, {"true"}));
  EXPECT_FALSE(Holds(AttributeType::kString, Enum("x"), Op::kEq, {"x"}));
  EXPECT_FALSE(Holds(AttributeType::kDate, String("2026-06-05"), Op::kEq, {"2026-06-05"}));
  EXPECT_FALSE(Holds(AttributeType::kEnum, Bool(true), Op::kNe, {"x"}));
}

// ---- rules ----

catalog::Kind TwoRuleKind() {
  catalog::Kind k;
  k.name = "test_kind";
  AttributeSpec amount;
  amount.name = "amount";
  amount.type = AttributeType::kMoney;
  AttributeSpec trusted;
  trusted.name = "trusted";
  trusted.type = AttributeType::kBool;
  k.attributes = {amount, trusted};
  catalog::AutomationRule tiny{"tiny", "", {{"amount", Op::kLt, {"10"}}}};
  catalog::AutomationRule trusted_small{
      "trusted-small", "", {{"amount", Op::kLt, {"100"}}, {"trusted", Op::kEq, {"true"}}}};
  k.automation = {tiny, trusted_small};
  return k;
}

TEST(MatchAutomationTest, FirstRuleWhoseConditionsAllHoldWins) {
  const catalog::Kind k = TwoRuleKind();
  AttributeMap attrs;
  attrs["amount"] = Money(500);
  attrs["trusted"] = Bool(true);
  const auto* rule = MatchAutomation(k, attrs);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->id, "tiny");  // both hold; catalog order decides
  attrs["amount"] = Money(5000);
  rule = MatchAutomation(k, attrs);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->id, "trusted-small");
  attrs["trusted"] = Bool(false);
  EXPECT_EQ(MatchAutomation(k, attrs), nullptr);  // one condition of two is not enough
}

TEST(MatchAutomationTest, MissingAttributeFailsTheRule) {
  const catalog::Kind k = TwoRuleKind();
  AttributeMap attrs;
  attrs["amount"] = Money(5000);
  EXPECT_EQ(MatchAutomation(k, attrs), nullptr);
  EXPECT_EQ(MatchAutomation(k, AttributeMap()), nullptr);
}

TEST(MatchAutomationTest, ConditionOnAnUndeclaredAttributeNeverMatches) {
  catalog::Kind k = TwoRuleKind();
  k.automation = {{"ghost", "", {{"not_declared", Op::kEq, {"x"}}}}};
  AttributeMap attrs;
  attrs["not_declared"] = String("x");
  EXPECT_EQ(MatchAutomation(k, attrs), nullptr);
}

TEST(MatchAutomationTest, RuleWithoutConditionsNeverMatches) {
  catalog::Kind k = TwoRuleKind();
  k.automation = {{"everything", "", {}}};
  EXPECT_EQ(MatchAutomation(k, AttributeMap()), nullptr);
}

class SampleCatalogAutomationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* src = std::getenv("DOCKET_SOURCE_DIR");
    ASSERT_NE(src, nullptr) << "DOCKET_SOURCE_DIR is set by ctest";
    auto loaded = catalog::Catalog::Load(std::string(src) + "/deploy/config/catalog.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    catalog_ = *std::move(loaded);
  }
  const catalog::Kind& Kind(const std::string& name) {
    const catalog::Kind* k = catalog_.FindKind(name);
    EXPECT_NE(k, nullptr) << name;
    return *k;
  }
  std::string Match(const std::string& kind, const AttributeMap& attrs) {
    const auto* rule = MatchAutomation(Kind(kind), attrs);
    return rule ? rule->id : "";
  }
  catalog::Catalog catalog_;
};

TEST_F(SampleCatalogAutomationTest, SmallVerifiedInvoice) {
  AttributeMap a;
  a["vendor_id"] = String("V-1");
  a["amount"] = Money(49999);
  a["vendor_verified"] = Bool(true);
  a["category"] = Enum("software");
  EXPECT_EQ(Match("invoice_approval", a), "small-verified-po-invoice");
  a["category"] = String("goods");
  EXPECT_EQ(Match("invoice_approval", a), "small-verified-po-invoice");

  AttributeMap b = a;
  b["amount"] = Money(50000);
  EXPECT_EQ(Match("invoice_approval", b), "");
  b = a;
  b["vendor_verified"] = Bool(false);
  EXPECT_EQ(Match("invoice_approval", b), "");
  b = a;
  b.erase("vendor_verified");
  EXPECT_EQ(Match("invoice_approval", b), "");
  b = a;
  b["category"] = Enum("services");
  EXPECT_EQ(Match("invoice_approval", b), "");
  b = a;
  b.erase("category");
  EXPECT_EQ(Match("invoice_approval", b), "");
}

TEST_F(SampleCatalogAutomationTest, SmallReceiptedMeal) {
  AttributeMap a;
  a["category"] = Enum("meals");
  a["amount"] = Money(4999);
  a["receipt_attached"] = Bool(true);
  EXPECT_EQ(Match("expense_review", a), "small-receipted-meal");
  a["amount"] = Money(5000);
  EXPECT_EQ(Match("expense_review", a), "");
  a["amount"] = Money(1200);
  a["receipt_attached"] = Bool(false);
  EXPECT_EQ(Match("expense_review", a), "");
  a["receipt_attached"] = Bool(true);
  a["category"] = Enum("travel");
  EXPECT_EQ(Match("expense_review", a), "");
}

TEST_F(SampleCatalogAutomationTest, HighConfidenceOcr) {
  AttributeMap a;
  a["document_type"] = Enum("receipt");
  a["ocr_confidence"] = Number(0.98);
  a["pages"] = Number(1);
  EXPECT_EQ(Match("data_entry", a), "high-confidence-ocr");
  a["ocr_confidence"] = Number(0.979);
  EXPECT_EQ(Match("data_entry", a), "");
  a["ocr_confidence"] = Number(0.999);
  a["pages"] = Number(2);
  EXPECT_EQ(Match("data_entry", a), "");
  a["pages"] = Number(1);
  a.erase("ocr_confidence");  // optional attribute, absent: a person looks at it
  EXPECT_EQ(Match("data_entry", a), "");
}

TEST_F(SampleCatalogAutomationTest, KindsWithoutRulesAreNeverAutomated) {
  AttributeMap a;
  a["employee_id"] = String("E-1");
  EXPECT_EQ(Match("hr_onboarding", a), "");
  EXPECT_EQ(Match("kyc_review", a), "");
  EXPECT_EQ(Match("shipping_documents", a), "");
}

}  // namespace
}  // namespace docket::processing
