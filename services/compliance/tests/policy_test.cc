#include "common/policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<PolicySet> Parse(const std::string& rules, const catalog::Catalog* catalog = nullptr,
                                const std::string& base_dir = ".") {
  return ParsePolicies("version: \"t1\"\nrules:\n" + rules, "policies.yaml", base_dir, catalog);
}

TEST(PolicyLoadTest, ShippedPolicyLoadsAgainstTheShippedCatalogWithEveryRuleType) {
  auto set = LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml",
                          &testutil::ShippedCatalog());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_FALSE(set->version.empty());
  std::set<RuleType> types;
  for (const auto& r : set->rules) types.insert(r.type);
  EXPECT_EQ(types.size(), 6u) << "the sample shows every rule type";
  const Rule* deny = set->Find("sanctioned-vendor");
  ASSERT_NE(deny, nullptr);
  EXPECT_TRUE(deny->deny.count("v-sanctioned-001"));
}

TEST(PolicyLoadTest, AuditRetentionIsReadAndOneShorterThanADayIsRefused) {
  auto defaults = ParsePolicies("version: t1\nrules: []\n", "policies.yaml", ".", nullptr);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->ledger.audit_retention_seconds, 90 * 24 * 3600);
  auto set = ParsePolicies("version: t1\nledger: {audit_retention: 30d}\nrules: []\n", "policies.yaml", ".",
                           nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->ledger.audit_retention_seconds, 30 * 24 * 3600);
  auto short_one = ParsePolicies("version: t1\nledger: {audit_retention: 2h}\nrules: []\n", "policies.yaml",
                                 ".", nullptr);
  EXPECT_EQ(short_one.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_one.status().message(), HasSubstr("ledger.audit_retention"));
  EXPECT_THAT(short_one.status().message(), HasSubstr("at least 1d"));
}

TEST(PolicyLoadTest, VerificationPeriodsAreReadZeroTurnsThemOffAndUnderAMinuteIsRefused) {
  auto defaults = ParsePolicies("version: t1\nrules: []\n", "policies.yaml", ".", nullptr);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->ledger.verify_every_seconds, 6 * 3600);
  EXPECT_EQ(defaults->ledger.verify_topic_every_seconds, 24 * 3600);
  auto set = ParsePolicies("version: t1\nledger: {verify_every: 1h, verify_topic_every: 0s}\nrules: []\n",
                           "policies.yaml", ".", nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->ledger.verify_every_seconds, 3600);
  EXPECT_EQ(set->ledger.verify_topic_every_seconds, 0);
  auto fast = ParsePolicies("version: t1\nledger: {verify_topic_every: 30s}\nrules: []\n", "policies.yaml",
                            ".", nullptr);
  EXPECT_EQ(fast.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fast.status().message(), HasSubstr("ledger.verify_topic_every"));
  EXPECT_THAT(fast.status().message(), HasSubstr("at least 1m"));
}

TEST(PolicyLoadTest, EveryRuleTypeParsesItsFields) {
  auto set = Parse(R"(
  - {id: req, type: required, kinds: [k], checkpoint: submit, fields: [a, b], action: fail, severity: high}
  - {id: pii, type: pii, kinds: ["*"], checkpoint: [submit, complete], detect: [card, iban], pattern: "X-[0-9]+"}
  - {id: thr, type: threshold, kinds: [k], checkpoint: complete, field: amount, above: {EUR: 10000.5}}
  - {id: thr2, type: threshold, kinds: [k], checkpoint: complete, field: amount, above: 250}
  - {id: sod, type: segregation, kinds: [k], checkpoint: complete, parties: [submitter, completer]}
  - {id: allow, type: allowed_values, kinds: [k], checkpoint: submit, field: c, values: [x, y]}
)");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->rules.size(), 6u);
  EXPECT_EQ(set->rules[0].action, docket::v1::OUTCOME_FAIL);
  EXPECT_EQ(set->rules[0].severity, docket::v1::SEVERITY_HIGH);
  EXPECT_EQ(set->rules[1].detectors.size(), 3u);
  EXPECT_EQ(set->rules[1].checkpoints.size(), 2u);
  EXPECT_EQ(set->rules[2].limits.at("EUR"), 1000050);
  EXPECT_EQ(set->rules[3].limits.at(""), 25000);
  EXPECT_EQ(set->rules[4].parties.size(), 2u);
  EXPECT_EQ(set->rules[1].action, docket::v1::OUTCOME_FLAG) << "flag is the default action";
}

TEST(PolicyLoadTest, UnknownRuleTypeNamesFileLineAndRule) {
  auto set = Parse("  - id: ok\n    type: required\n    kinds: [k]\n    checkpoint: submit\n    fields: [a]\n"
                   "  - id: bogus-rule\n    type: magic\n    kinds: [k]\n    checkpoint: submit\n");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(), HasSubstr("policies.yaml:9: rules[1].type"));
  EXPECT_THAT(set.status().message(), HasSubstr("unknown rule type \"magic\""));
  EXPECT_THAT(set.status().message(), HasSubstr("[rule bogus-rule]"));
}

TEST(PolicyLoadTest, BadRegexNamesTheRuleAndRe2sReason) {
  auto set = Parse("  - id: badge\n    type: pii\n    kinds: [k]\n    checkpoint: submit\n"
                   "    pattern: \"BDG-([0-9]+\"\n");
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("policies.yaml:7: rules[0].pattern: bad regex"));
  EXPECT_THAT(set.status().message(), HasSubstr("[rule badge]"));
}

TEST(PolicyLoadTest, UnknownKeyIsRejectedSoATypoCannotDisableARule) {
  auto set = Parse("  - {id: thr, type: threshold, kinds: [k], checkpoint: submit, field: amount, abvoe: 5}\n");
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("abvoe"));
  EXPECT_THAT(set.status().message(), HasSubstr("[rule thr]"));
}

TEST(PolicyLoadTest, CatalogChecksKindsAttributesAndThresholdTypes) {
  const auto* cat = &testutil::ShippedCatalog();
  auto kind = Parse("  - {id: r, type: required, kinds: [no_such_kind], checkpoint: submit, fields: [a]}\n", cat);
  ASSERT_FALSE(kind.ok());
  EXPECT_THAT(kind.status().message(), HasSubstr("unknown kind \"no_such_kind\""));
  auto attr = Parse(
      "  - {id: r, type: required, kinds: [invoice_approval], checkpoint: submit, fields: [vendr_id]}\n", cat);
  ASSERT_FALSE(attr.ok());
  EXPECT_THAT(attr.status().message(), HasSubstr("kind invoice_approval has no attribute \"vendr_id\""));
  auto type = Parse(
      "  - {id: r, type: threshold, kinds: [invoice_approval], checkpoint: submit, field: vendor_id, above: 5}\n",
      cat);
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(type.status().message(), HasSubstr("a threshold needs money or number"));
}

TEST(PolicyLoadTest, DenyListIsReadFromAFileRelativeToThePolicyAndNormalised) {
  const auto dir = std::filesystem::temp_directory_path() / "docket-policy-test";
  std::filesystem::create_directories(dir / "lists");
  std::ofstream(dir / "lists" / "vendors.txt") << "# comment\n  Evil   Corp  \nV-9\n\n";
  auto set = Parse("  - {id: d, type: deny_list, kinds: [k], checkpoint: submit, field: v, file: lists/vendors.txt}\n",
                   nullptr, dir.string());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->rules[0].deny, (std::set<std::string>{"evil corp", "v-9"}));
  auto missing = Parse("  - {id: d, type: deny_list, kinds: [k], checkpoint: submit, field: v, file: nope.txt}\n",
                       nullptr, dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot read deny list"));
  EXPECT_THAT(missing.status().message(), HasSubstr("[rule d]"));
}

TEST(PolicyLoadTest, DuplicateIdsMissingCheckpointAndOneSegregationPartyAreErrors) {
  auto dup = Parse("  - {id: a, type: required, kinds: [k], checkpoint: submit, fields: [x]}\n"
                   "  - {id: a, type: required, kinds: [k], checkpoint: submit, fields: [y]}\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate rule id \"a\""));
  auto cp = Parse("  - {id: a, type: required, kinds: [k], fields: [x]}\n");
  ASSERT_FALSE(cp.ok());
  EXPECT_THAT(cp.status().message(), HasSubstr("checkpoint: is required"));
  auto sod = Parse("  - {id: s, type: segregation, kinds: [k], checkpoint: complete, parties: [completer]}\n");
  ASSERT_FALSE(sod.ok());
  EXPECT_THAT(sod.status().message(), HasSubstr("at least two parties"));
}

TEST(PolicyLoadTest, RedactIsForPiiRulesCheckedAtSubmitOnly) {
  auto ok = Parse("  - {id: card, type: pii, kinds: [k], checkpoint: [submit, complete], detect: [card], redact: true}\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->rules[0].redact);
  auto late = Parse("  - {id: card, type: pii, kinds: [k], checkpoint: complete, detect: [card], redact: true}\n");
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(late.status().message(), HasSubstr("rules[0].redact: redact needs checkpoint submit"));
  EXPECT_THAT(late.status().message(), HasSubstr("[rule card]"));
  auto wrong_type = Parse("  - {id: r, type: required, kinds: [k], checkpoint: submit, fields: [a], redact: true}\n");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_THAT(wrong_type.status().message(), HasSubstr("redact"));
}

TEST(PolicyLoadTest, ShippedPolicyRedactsCardNumbersAtIntake) {
  auto set = LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml", &testutil::ShippedCatalog());
  ASSERT_TRUE(set.ok()) << set.status();
  const Rule* card = set->Find("pii-payment-card");
  ASSERT_NE(card, nullptr);
  EXPECT_TRUE(card->redact);
}

}  // namespace
}  // namespace docket::compliance
