// Attribute values typed by their JSON form, as intake's Kafka path types
// them, and the errors for values that cannot be one.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/docketctl/src/submission.h"

namespace docket::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using nlohmann::json;

TEST(ValueToJsonTest, JsonFormsAreTypedAndPlainTextIsAString) {
  EXPECT_EQ(*ValueToJson("3"), json(3));
  EXPECT_EQ(*ValueToJson("0.93"), json(0.93));
  EXPECT_EQ(*ValueToJson("true"), json(true));
  EXPECT_EQ(*ValueToJson("D-1"), json("D-1"));
  EXPECT_EQ(*ValueToJson("Muster GmbH"), json("Muster GmbH"));
  EXPECT_EQ(*ValueToJson("\"0042\""), json("0042")) << "quotes keep digits a string";
  EXPECT_EQ(*ValueToJson(R"({"amount":"12.50","currency":"EUR"})"), (json{{"amount", "12.50"}, {"currency", "EUR"}}));
}

TEST(ValueToJsonTest, BrokenJsonNullAndListsAreErrors) {
  EXPECT_THAT(ValueToJson(R"({"amount":"12.50")").status().message(), HasSubstr("looks like JSON but does not parse"));
  EXPECT_THAT(ValueToJson("null").status().message(), HasSubstr("null is not a value"));
  EXPECT_FALSE(ValueToJson("[1,2]").ok());
}

TEST(ParseAttributeFlagTest, ChecksMoneyAndDateShapesBeforeAnyCall) {
  auto money = ParseAttributeFlag(R"(amount={"amount":"12.50","currency":"EUR"})", "--attr");
  ASSERT_TRUE(money.ok()) << money.status();
  EXPECT_EQ(money->first, "amount");

  EXPECT_EQ(ParseAttributeFlag(R"(amount={"amount":"12.505","currency":"EUR"})", "--attr").status().message(),
            "--attr amount.amount: has more than 2 decimal places");
  EXPECT_THAT(ParseAttributeFlag(R"(due={"date":"23.11.2026"})", "--attr").status().message(),
              HasSubstr("--attr due.date: expected a date like \"2026-11-23\""));
  EXPECT_EQ(ParseAttributeFlag("pages", "--attr").status().message(), "--attr \"pages\": expected name=value");
  EXPECT_THAT(ParseAttributeFlag("x={oops", "--outcome").status().message(),
              HasSubstr("--outcome x: looks like JSON"));
}

TEST(SubmissionFromJsonTest, BuildsTypedAttributesWithIntakesDecoder) {
  auto s = SubmissionFromJson(json::parse(R"({"tenant":"acme","kind":"invoice_approval","idempotency_key":"k1",
      "priority":"high","attributes":{"amount":{"amount":"1234.50","currency":"EUR"},
      "invoice_date":{"date":"2026-11-23"},"vendor_verified":true,"pages":2,"vendor_id":"V-1"}})"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->tenant(), "acme");
  EXPECT_EQ(s->idempotency_key(), "k1");
  EXPECT_EQ(s->priority(), docket::v1::PRIORITY_HIGH);
  EXPECT_EQ(s->attributes().at("amount").money_value().minor_units(), 123450);
  EXPECT_EQ(s->attributes().at("invoice_date").date_value().day(), 23);
  EXPECT_TRUE(s->attributes().at("vendor_verified").bool_value());
  EXPECT_EQ(s->attributes().at("pages").number_value(), 2);
  EXPECT_EQ(s->attributes().at("vendor_id").string_value(), "V-1");
}

TEST(SubmissionFromJsonTest, ErrorsNameTheFieldWithoutTheDataPrefix) {
  auto s = SubmissionFromJson(json::parse(R"({"tenant":"acme","idempotencyKey":"k"})"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), MatchesRegex("idempotencyKey: unknown field .*"));
}

TEST(ContentKeyTest, SameContentSameKeyWhateverTheOrderAndAnyGivenKey) {
  const json a = json::parse(R"({"tenant":"acme","kind":"data_entry","attributes":{"pages":1,"document_id":"D"}})");
  const json b = json::parse(R"({"attributes":{"document_id":"D","pages":1},"kind":"data_entry","tenant":"acme",
                                 "idempotency_key":"ignored"})");
  const json c = json::parse(R"({"tenant":"acme","kind":"data_entry","attributes":{"pages":2,"document_id":"D"}})");
  EXPECT_EQ(ContentKey(a), ContentKey(b));
  EXPECT_NE(ContentKey(a), ContentKey(c));
  EXPECT_LE(ContentKey(a).size(), 128u) << "intake accepts keys up to 128 bytes";
}

TEST(RandomKeyTest, FreshEachTime) {
  EXPECT_THAT(RandomKey(), MatchesRegex("docketctl-[0-9a-f]{32}"));
  EXPECT_NE(RandomKey(), RandomKey());
}

}  // namespace
}  // namespace docket::ctl
