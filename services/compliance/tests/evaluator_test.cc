#include "services/compliance/src/evaluator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testutil::Money;
using testutil::Str;

PolicySet Policies(const std::string& rules) {
  auto set = ParsePolicies("version: \"t1\"\nrules:\n" + rules, "policies.yaml", ".", nullptr);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *std::move(set) : PolicySet{};
}

struct Item {
  AttributeMap attributes;
  AttributeMap outcome;
  EvaluationInput In(docket::v1::Checkpoint cp = docket::v1::CHECKPOINT_SUBMIT) {
    EvaluationInput in;
    in.item_id = "item-1";
    in.tenant = "acme";
    in.kind = "k";
    in.checkpoint = cp;
    in.attributes = &attributes;
    in.outcome = &outcome;
    in.source_event_id = "item-1:submitted";
    return in;
  }
};

TEST(EvaluatorTest, RequiredPassesWhenPresentAndFailsWhenMissingOrBlank) {
  PolicySet p = Policies("  - {id: req, type: required, kinds: [k], checkpoint: submit, fields: [a, b], action: fail}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["a"] = Str("x");
  item.attributes["b"] = Str("y");
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_PASS);
  item.attributes["b"] = Str("   ");
  item.attributes.erase("a");
  auto v = ev.Evaluate(item.In());
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FAIL);
  ASSERT_EQ(v.violations_size(), 2);
  EXPECT_EQ(v.violations(0).rule_id(), "req");
  EXPECT_EQ(v.violations(0).field(), "attributes.a");
  EXPECT_EQ(v.violations(1).field(), "attributes.b");
}

TEST(EvaluatorTest, PiiFlagsACardInFreeTextAndTheVerdictNeverHoldsTheNumber) {
  PolicySet p = Policies("  - {id: pii-card, type: pii, kinds: [\"*\"], checkpoint: submit, detect: [card], severity: critical}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["notes"] = Str("Pay with card 4111 1111 1111 1111 please");
  item.attributes["ref"] = Str("INV-1");
  auto v = ev.Evaluate(item.In());
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FLAG);
  ASSERT_EQ(v.violations_size(), 1);
  EXPECT_EQ(v.violations(0).field(), "attributes.notes");
  EXPECT_EQ(v.violations(0).severity(), docket::v1::SEVERITY_CRITICAL);
  EXPECT_THAT(v.violations(0).message(), HasSubstr("payment card number"));
  const std::string all = v.SerializeAsString() + v.DebugString();
  EXPECT_THAT(all, Not(HasSubstr("4111 1111 1111 1111")));
  EXPECT_THAT(all, Not(HasSubstr("4111111111111111")));
  item.attributes["notes"] = Str("Quarterly toner order 2026");
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_PASS);
}

TEST(EvaluatorTest, PiiFailActionAndCustomPatternOnlyOnListedFields) {
  PolicySet p = Policies(
      "  - {id: badge, type: pii, kinds: [k], checkpoint: complete, fields: [outcome.comment], pattern: 'BDG-[0-9]{6}', action: fail}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["notes"] = Str("BDG-123456");  // not a listed field
  item.outcome["comment"] = Str("ok");
  EXPECT_EQ(ev.Evaluate(item.In(docket::v1::CHECKPOINT_COMPLETE)).outcome(), docket::v1::OUTCOME_PASS);
  item.outcome["comment"] = Str("badge BDG-123456");
  auto v = ev.Evaluate(item.In(docket::v1::CHECKPOINT_COMPLETE));
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FAIL);
  ASSERT_EQ(v.violations_size(), 1);
  EXPECT_EQ(v.violations(0).field(), "outcome.comment");
  EXPECT_THAT(v.violations(0).message(), Not(HasSubstr("123456")));
}

TEST(EvaluatorTest, ThresholdPerCurrencyIsExactInMinorUnits) {
  PolicySet p = Policies(
      "  - {id: second-approver, type: threshold, kinds: [k], checkpoint: complete, field: amount, above: {EUR: 10000}}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["amount"] = Money(1000000, "EUR");  // exactly 10,000.00: not above
  EXPECT_EQ(ev.Evaluate(item.In(docket::v1::CHECKPOINT_COMPLETE)).outcome(), docket::v1::OUTCOME_PASS);
  item.attributes["amount"] = Money(1000001, "EUR");
  auto v = ev.Evaluate(item.In(docket::v1::CHECKPOINT_COMPLETE));
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FLAG);
  ASSERT_EQ(v.violations_size(), 1);
  EXPECT_THAT(v.violations(0).message(), HasSubstr("10000.01 EUR is above 10000.00 EUR: needs a second approver"));
  item.attributes["amount"] = Money(99999999, "GBP");  // no limit for GBP
  EXPECT_EQ(ev.Evaluate(item.In(docket::v1::CHECKPOINT_COMPLETE)).outcome(), docket::v1::OUTCOME_PASS);
  // Not at the submit checkpoint.
  item.attributes["amount"] = Money(99999999, "EUR");
  EXPECT_EQ(ev.Evaluate(item.In(docket::v1::CHECKPOINT_SUBMIT)).outcome(), docket::v1::OUTCOME_PASS);
}

TEST(EvaluatorTest, ThresholdOnANumber) {
  PolicySet p = Policies("  - {id: risk, type: threshold, kinds: [k], checkpoint: submit, field: risk, above: 80}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["risk"] = testutil::Num(80);
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_PASS);
  item.attributes["risk"] = testutil::Num(80.5);
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_FLAG);
}

TEST(EvaluatorTest, SegregationFailsWhenTheCompleterIsTheSubmitter) {
  PolicySet p = Policies(
      "  - {id: four-eyes, type: segregation, kinds: [k], checkpoint: complete, parties: [submitter, completer], action: fail}\n");
  Evaluator ev(p);
  Item item;
  auto in = item.In(docket::v1::CHECKPOINT_COMPLETE);
  in.submitter = "alice";
  in.completer = "bob";
  EXPECT_EQ(ev.Evaluate(in).outcome(), docket::v1::OUTCOME_PASS);
  in.completer = "alice";
  auto v = ev.Evaluate(in);
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FAIL);
  ASSERT_EQ(v.violations_size(), 1);
  EXPECT_EQ(v.violations(0).message(), "the completer is also the submitter: this rule needs different people");
  in.submitter = "";  // unknown: not compared
  EXPECT_EQ(ev.Evaluate(in).outcome(), docket::v1::OUTCOME_PASS);
}

TEST(EvaluatorTest, ReleaseByTheCompleterBreaksAReleaserRule) {
  PolicySet p = Policies(
      "  - {id: four-eyes-release, type: segregation, kinds: [\"*\"], checkpoint: complete, parties: [completer, releaser]}\n");
  Evaluator ev(p);
  Item item;
  auto in = item.In(docket::v1::CHECKPOINT_COMPLETE);
  in.completer = "alice";
  EXPECT_EQ(ev.Evaluate(in).outcome(), docket::v1::OUTCOME_PASS) << "no releaser yet at completion";
  in.releaser = "bob";
  EXPECT_TRUE(ev.CheckRelease(in).empty());
  in.releaser = "alice";
  auto broken = ev.CheckRelease(in);
  ASSERT_EQ(broken.size(), 1u);
  EXPECT_EQ(broken[0].rule_id(), "four-eyes-release");
}

TEST(EvaluatorTest, DenyListMatchesNormalisedValues) {
  // Loading the file is policy_test's; here the rule is built by hand.
  PolicySet set;
  set.version = "t1";
  Rule r;
  r.id = "sanctioned";
  r.type = RuleType::kDenyList;
  r.action = docket::v1::OUTCOME_FAIL;
  r.kinds = {"k"};
  r.checkpoints = {docket::v1::CHECKPOINT_SUBMIT};
  r.fields = {"vendor"};
  r.deny = {"evil corp"};
  r.deny_list_name = "sanctioned.txt";
  set.rules.push_back(r);
  Evaluator ev(set);
  Item item;
  item.attributes["vendor"] = Str("Good Corp");
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_PASS);
  item.attributes["vendor"] = Str("  EVIL   corp ");
  auto v = ev.Evaluate(item.In());
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FAIL);
  EXPECT_EQ(v.violations(0).message(), "attributes.vendor is on the deny list sanctioned.txt");
}

TEST(EvaluatorTest, AllowedValuesFlagAnythingElseWithoutEchoingIt) {
  PolicySet p = Policies("  - {id: countries, type: allowed_values, kinds: [k], checkpoint: submit, field: country, values: [DE, FR]}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["country"] = Str("DE");
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_PASS);
  item.attributes["country"] = Str("jane@example.com");
  auto v = ev.Evaluate(item.In());
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FLAG);
  EXPECT_THAT(v.violations(0).message(), HasSubstr("(DE, FR)"));
  EXPECT_THAT(v.violations(0).message(), Not(HasSubstr("jane")));
}

TEST(EvaluatorTest, FailBeatsFlagAndRulesOfOtherKindsDoNotApply) {
  PolicySet p = Policies(
      "  - {id: f, type: required, kinds: [k], checkpoint: submit, fields: [a], action: fail}\n"
      "  - {id: g, type: required, kinds: [k], checkpoint: submit, fields: [b]}\n"
      "  - {id: other, type: required, kinds: [other_kind], checkpoint: submit, fields: [c], action: fail}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["a"] = Str("x");
  item.attributes["c"] = Str("x");
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_FLAG);
  item.attributes.erase("a");
  EXPECT_EQ(ev.Evaluate(item.In()).outcome(), docket::v1::OUTCOME_FAIL);
}

TEST(EvaluatorTest, VerdictIdIsDeterministicPerEventAndCheckpoint) {
  EXPECT_EQ(VerdictId("e1", docket::v1::CHECKPOINT_SUBMIT), VerdictId("e1", docket::v1::CHECKPOINT_SUBMIT));
  EXPECT_NE(VerdictId("e1", docket::v1::CHECKPOINT_SUBMIT), VerdictId("e1", docket::v1::CHECKPOINT_COMPLETE));
  EXPECT_NE(VerdictId("e1", docket::v1::CHECKPOINT_SUBMIT), VerdictId("e2", docket::v1::CHECKPOINT_SUBMIT));
  EXPECT_EQ(VerdictId("e1", docket::v1::CHECKPOINT_SUBMIT).size(), 32u);
  PolicySet p = Policies("  - {id: g, type: required, kinds: [k], checkpoint: submit, fields: [b]}\n");
  Evaluator ev(p);
  Item item;
  auto a = ev.Evaluate(item.In());
  auto b = ev.Evaluate(item.In());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(a.id(), VerdictId("item-1:submitted", docket::v1::CHECKPOINT_SUBMIT));
  EXPECT_EQ(a.policy_version(), "t1");
}

TEST(EvaluatorTest, ShippedPolicyFlagsAnOverThresholdInvoiceWithACardInItsNotes) {
  auto set = LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml", &testutil::ShippedCatalog());
  ASSERT_TRUE(set.ok()) << set.status();
  Evaluator ev(*set);
  auto sub = testutil::Invoice();
  EvaluationInput in;
  in.kind = sub.kind();
  in.checkpoint = docket::v1::CHECKPOINT_SUBMIT;
  in.attributes = &sub.attributes();
  in.source_event_id = "x";
  EXPECT_EQ(ev.Evaluate(in).outcome(), docket::v1::OUTCOME_PASS) << ev.Evaluate(in).DebugString();
  (*sub.mutable_attributes())["notes"] = Str("card 5555 5555 5555 4444 for fees");
  (*sub.mutable_attributes())["amount"] = Money(2500000, "EUR");
  in.checkpoint = docket::v1::CHECKPOINT_COMPLETE;
  auto v = ev.Evaluate(in);
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FLAG) << v.DebugString();
  std::set<std::string> rules;
  for (const auto& x : v.violations()) rules.insert(x.rule_id());
  EXPECT_TRUE(rules.count("pii-payment-card"));
  EXPECT_TRUE(rules.count("invoice-second-approver"));
  EXPECT_THAT(v.DebugString(), Not(HasSubstr("5555 5555 5555 4444")));
}

TEST(EvaluatorTest, RedactionByIntakeIsTheRuleViolationWithTheMaskedFormOnly) {
  PolicySet p = Policies(
      "  - {id: pii-card, type: pii, kinds: [\"*\"], checkpoint: [submit, complete], detect: [card], redact: true}\n");
  Evaluator ev(p);
  Item item;
  item.attributes["notes"] = Str("Pay with card **** **** **** 1111 please");  // as intake admitted it
  google::protobuf::RepeatedPtrField<docket::v1::Redaction> redactions;
  auto* r = redactions.Add();
  r->set_field("notes");
  r->set_rule_id("pii-card");
  r->set_pii("card");
  r->set_masked("**** **** **** 1111");
  EvaluationInput in = item.In();
  in.redactions = &redactions;
  auto v = ev.Evaluate(in);
  EXPECT_EQ(v.outcome(), docket::v1::OUTCOME_FLAG);
  ASSERT_EQ(v.violations_size(), 1);
  EXPECT_EQ(v.violations(0).rule_id(), "pii-card");
  EXPECT_EQ(v.violations(0).field(), "attributes.notes");
  EXPECT_THAT(v.violations(0).message(), HasSubstr("(**** **** **** 1111); intake redacted it"));
  // A redaction record of another rule is not this rule's violation, and at
  // the complete checkpoint the (already masked) text is clean.
  r->set_rule_id("other-rule");
  EXPECT_EQ(ev.Evaluate(in).outcome(), docket::v1::OUTCOME_PASS);
  r->set_rule_id("pii-card");
  EXPECT_EQ(ev.Evaluate(item.In(docket::v1::CHECKPOINT_COMPLETE)).outcome(), docket::v1::OUTCOME_PASS);
}

}  // namespace
}  // namespace docket::compliance
