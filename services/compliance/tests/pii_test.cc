#include "common/policy/pii.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(LuhnTest, AcceptsValidChecksumsAndRejectsOneDigitChanged) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("79927398713"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid("79927398710"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111-1111"));
}

TEST(CardNumberTest, KnownIssuersWithLuhnAreCardsOthersAreNot) {
  EXPECT_TRUE(ValidCardNumber("4111111111111111"));   // Visa
  EXPECT_TRUE(ValidCardNumber("5555555555554444"));   // Mastercard
  EXPECT_TRUE(ValidCardNumber("2223003122003222"));   // Mastercard 2-series
  EXPECT_TRUE(ValidCardNumber("378282246310005"));    // Amex
  EXPECT_TRUE(ValidCardNumber("6011111111111117"));   // Discover
  EXPECT_FALSE(ValidCardNumber("4111111111111112"));  // Luhn fails
  EXPECT_FALSE(ValidCardNumber("1234567812345670"));  // Luhn ok, no issuer
  EXPECT_FALSE(ValidCardNumber("37828224631000"));    // Amex prefix, wrong length
}

TEST(IbanTest, Mod97AndCountryLengthAreChecked) {
  EXPECT_TRUE(ValidIban("DE89370400440532013000"));
  EXPECT_TRUE(ValidIban("GB82WEST12345698765432"));
  EXPECT_TRUE(ValidIban("NL91ABNA0417164300"));
  EXPECT_FALSE(ValidIban("DE89370400440532013001"));   // check digits fail
  EXPECT_FALSE(ValidIban("DE8937040044053201300"));    // DE is 22 long
  EXPECT_FALSE(ValidIban("de89370400440532013000"));   // lower case
  EXPECT_FALSE(ValidIban("GB82 WEST 1234 5698 7654 32"));  // spaces: callers strip them
}

TEST(NationalIdTest, SsnAndNinoExcludeNeverIssuedRanges) {
  EXPECT_TRUE(ValidUsSsn("123-45-6789"));
  EXPECT_FALSE(ValidUsSsn("000-45-6789"));
  EXPECT_FALSE(ValidUsSsn("666-45-6789"));
  EXPECT_FALSE(ValidUsSsn("923-45-6789"));
  EXPECT_FALSE(ValidUsSsn("123-00-6789"));
  EXPECT_FALSE(ValidUsSsn("123-45-0000"));
  EXPECT_TRUE(ValidUkNino("AB123456C"));
  EXPECT_TRUE(ValidUkNino("AB 12 34 56 C"));
  EXPECT_FALSE(ValidUkNino("GB123456C"));
  EXPECT_FALSE(ValidUkNino("DA123456C"));
  EXPECT_FALSE(ValidUkNino("AB123456E"));
}

TEST(MaskTest, KeepsOnlyTheLastFourAndMasksShortValuesCompletely) {
  EXPECT_EQ(Mask("4111 1111 1111 1111", 4), "**** **** **** 1111");
  EXPECT_EQ(Mask("DE89370400440532013000", 4), "******************3000");
  EXPECT_EQ(Mask("12345678", 4), "********");
  EXPECT_EQ(MaskFinding(PiiKind::kEmail, "jane.doe@example.com"), "j***@***.com");
  EXPECT_EQ(MaskFinding(PiiKind::kPhone, "+49 30 1234567"), "+** ** *******");
}

PiiFinding MustFind(PiiKind kind, const std::string& text) {
  PiiFinding f;
  EXPECT_TRUE(PiiDetector::BuiltIn(kind)->Find(text, &f)) << text;
  return f;
}

bool Finds(PiiKind kind, const std::string& text) { return PiiDetector::BuiltIn(kind)->Find(text, nullptr); }

TEST(PiiDetectorTest, CardInFreeTextIsFoundWithSeparatorsAndNeverShownInFull) {
  const PiiFinding f = MustFind(PiiKind::kCard, "please charge 4111 1111 1111 1111 exp 12/27");
  EXPECT_EQ(f.masked, "**** **** **** 1111");
  EXPECT_THAT(f.masked, Not(HasSubstr("4111")));
  MustFind(PiiKind::kCard, "card:5555-5555-5555-4444.");
  // A valid card next to another number is still found.
  MustFind(PiiKind::kCard, "ref 4111111111111111 12");
}

TEST(PiiDetectorTest, LongNumbersThatFailLuhnOrIssuerAreNotCards) {
  EXPECT_FALSE(Finds(PiiKind::kCard, "invoice 4111111111111112"));
  EXPECT_FALSE(Finds(PiiKind::kCard, "order 1234567812345670 shipped"));
  EXPECT_FALSE(Finds(PiiKind::kCard, "phone 0049 30 1234 5678"));
}

TEST(PiiDetectorTest, IbanWithSpacesIsFoundAndTrailingWordsIgnored) {
  MustFind(PiiKind::kIban, "pay to DE89 3704 0044 0532 0130 00 BANK XYZ");
  MustFind(PiiKind::kIban, "GB82WEST12345698765432");
  EXPECT_FALSE(Finds(PiiKind::kIban, "DE89 3704 0044 0532 0130 01"));
}

TEST(PiiDetectorTest, EmailPhoneAndNationalIdsAreFoundOnlyWhenValid) {
  EXPECT_EQ(MustFind(PiiKind::kEmail, "write to jane.doe@example.com today").masked, "j***@***.com");
  EXPECT_FALSE(Finds(PiiKind::kEmail, "not an address: jane@-bad-.com"));
  MustFind(PiiKind::kPhone, "call +49 30 1234567");
  MustFind(PiiKind::kPhone, "call +1 (415) 555-0100");
  EXPECT_FALSE(Finds(PiiKind::kPhone, "+12 34"));
  MustFind(PiiKind::kNationalId, "ssn 123-45-6789");
  MustFind(PiiKind::kNationalId, "NINO AB 12 34 56 C");
  EXPECT_FALSE(Finds(PiiKind::kNationalId, "ssn 666-45-6789"));
}

TEST(PiiDetectorTest, CustomPatternMatchesAndABadPatternIsRefusedWithRe2sReason) {
  std::string error;
  auto d = PiiDetector::Custom(R"(\bBDG-[0-9]{6}\b)", &error);
  ASSERT_NE(d, nullptr) << error;
  PiiFinding f;
  EXPECT_TRUE(d->Find("badge BDG-123456 lost", &f));
  EXPECT_EQ(f.masked, "***-******");
  EXPECT_EQ(PiiDetector::Custom("(unclosed", &error), nullptr);
  EXPECT_THAT(error, HasSubstr("missing )"));
  EXPECT_EQ(PiiDetector::Custom("x*", &error), nullptr);
  EXPECT_THAT(error, HasSubstr("empty"));
}

TEST(PiiDetectorTest, PathologicalInputStaysLinear) {
  // Backtracking engines explode on this pattern; RE2 does not.
  std::string error;
  auto d = PiiDetector::Custom("(a+)+b", &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_FALSE(d->Find(std::string(100000, 'a'), nullptr));
  EXPECT_FALSE(Finds(PiiKind::kCard, std::string(100000, '1')));
}

TEST(RedactTest, EveryValidCardIsReplacedByItsMaskAndLookalikesAreKept) {
  auto card = PiiDetector::BuiltIn(PiiKind::kCard);
  std::string text = "cards 4111 1111 1111 1111 and 5500-0000-0000-0004; order 4111 1111 1111 1112 stays";
  std::vector<PiiFinding> found;
  EXPECT_EQ(card->Redact(&text, &found), 2);
  EXPECT_EQ(text, "cards **** **** **** 1111 and ****-****-****-0004; order 4111 1111 1111 1112 stays");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].masked, "**** **** **** 1111");
  EXPECT_EQ(found[1].kind, PiiKind::kCard);
  // Idempotent: the masked text holds nothing to redact.
  EXPECT_EQ(card->Redact(&text, &found), 0);
  EXPECT_FALSE(card->Find(text, nullptr));
}

}  // namespace
}  // namespace docket::compliance
