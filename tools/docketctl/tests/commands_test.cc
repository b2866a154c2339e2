// The commands against gmock stubs: what each prints, the requests it
// sends, and that every failure is exactly one line on stderr with the
// right exit code (2 usage, 1 a refused call) that never shows the key.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "docket/v1/compliance_service_mock.grpc.pb.h"
#include "docket/v1/intake_service_mock.grpc.pb.h"
#include "docket/v1/kpi_service_mock.grpc.pb.h"
#include "docket/v1/work_service_mock.grpc.pb.h"
#include "grpc/health/v1/health_mock.grpc.pb.h"
#include "tools/docketctl/src/commands.h"

namespace docket::ctl {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::SetArgPointee;
using ::testing::StartsWith;

constexpr char kKey[] = "dk_test_SECRET_KEY";

class FakeConnector : public Connector {
 public:
  docket::v1::Intake::StubInterface& Intake(const std::string&) override { return intake; }
  docket::v1::Work::StubInterface& Work(const std::string&) override { return work; }
  docket::v1::Compliance::StubInterface& Compliance(const std::string&) override { return compliance; }
  docket::v1::Kpi::StubInterface& Kpi(const std::string&) override { return kpi; }
  grpc::health::v1::Health::StubInterface& Health(const std::string&) override { return health; }

  ::testing::StrictMock<docket::v1::MockIntakeStub> intake;
  ::testing::StrictMock<docket::v1::MockWorkStub> work;
  ::testing::StrictMock<docket::v1::MockComplianceStub> compliance;
  ::testing::StrictMock<docket::v1::MockKpiStub> kpi;
  ::testing::StrictMock<grpc::health::v1::MockHealthStub> health;
};

struct Result {
  int code;
  std::string out, err;
};

class CommandsTest : public ::testing::Test {
 protected:
  // Every address set and the key given, unless the test says otherwise.
  Result Ctl(std::vector<std::string> argv, bool with_env = true) {
    std::ostringstream out, err;
    Io io{out, err};
    std::map<std::string, std::string> vars;
    if (with_env) {
      vars = {{"DOCKET_INTAKE_ADDR", "127.0.0.1:1"}, {"DOCKET_WORK_ADDR", "127.0.0.1:2"},
              {"DOCKET_COMPLIANCE_ADDR", "127.0.0.1:3"}, {"DOCKET_KPI_ADDR", "127.0.0.1:4"},
              {"DOCKET_API_KEY", kKey}};
    }
    argv.push_back("--env-file=/dev/null");
    EnvLookup env = [vars](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    const int code = docket::ctl::Run(argv, env, connector_, io);
    Result r{code, out.str(), err.str()};
    EXPECT_THAT(r.out + r.err, Not(HasSubstr(kKey))) << "the API key was printed";
    if (code != 0) {
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one error line: " << r.err;
      EXPECT_THAT(r.err, StartsWith("docketctl: "));
    }
    return r;
  }

  FakeConnector connector_;
};

docket::v1::WorkItem Item(const std::string& id, docket::v1::WorkState state) {
  docket::v1::WorkItem item;
  item.set_id(id);
  item.set_tenant("acme");
  item.set_kind("data_entry");
  item.set_state(state);
  item.set_queue("data-entry");
  item.set_priority(docket::v1::PRIORITY_NORMAL);
  (*item.mutable_attributes())["pages"].set_number_value(3);
  auto& money = *(*item.mutable_attributes())["amount"].mutable_money_value();
  money.set_minor_units(123450);
  money.set_currency("EUR");
  return item;
}

TEST_F(CommandsTest, HelpListsCommandsAndEachCommandHasItsOwnHelp) {
  Result all = Ctl({"--help"});
  EXPECT_EQ(all.code, 0);
  EXPECT_THAT(all.out, HasSubstr("queue ls"));
  EXPECT_THAT(all.out, HasSubstr("process-map"));
  Result get = Ctl({"get", "--help"});
  EXPECT_EQ(get.code, 0);
  EXPECT_THAT(get.out, StartsWith("usage: docketctl get ITEM [flags]"));
  Result ls = Ctl({"queue", "ls", "--help"});
  EXPECT_THAT(ls.out, HasSubstr("--page-size"));
}

TEST_F(CommandsTest, UsageErrorsExitTwoWithOneLineNamingTheProblem) {
  EXPECT_EQ(Ctl({"frobnicate"}).err, "docketctl: unknown command \"frobnicate\" (see docketctl --help)\n");
  Result flag = Ctl({"get", "ITEM", "--bogus"});
  EXPECT_EQ(flag.code, 2);
  EXPECT_EQ(flag.err, "docketctl: get: unknown flag --bogus (see docketctl get --help)\n");
  Result missing = Ctl({"get"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, "docketctl: get: expected ITEM (see docketctl get --help)\n");
  Result extra = Ctl({"get", "a", "b"});
  EXPECT_THAT(extra.err, HasSubstr("unexpected argument \"b\""));
  Result group = Ctl({"audit"});
  EXPECT_EQ(group.code, 2);
  EXPECT_EQ(group.err, "docketctl: audit: expected one of: verify, trail (see docketctl --help)\n");
  Result reason = Ctl({"reject", "ITEM"});
  EXPECT_EQ(reason.code, 2);
  EXPECT_THAT(reason.err, HasSubstr("--reason is required"));
  Result max = Ctl({"claim", "--tenant=acme", "--max=0"});
  EXPECT_EQ(max.code, 2);
  EXPECT_THAT(max.err, HasSubstr("--max: expected a whole number from 1 to 100"));
}

TEST_F(CommandsTest, MalformedAttrIsAUsageErrorBeforeAnyCall) {
  Result r = Ctl({"submit", "--tenant=acme", "--kind=invoice_approval",
                  R"(--attr=amount={"amount":"1.234","currency":"EUR"})"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "docketctl: submit: --attr amount.amount: has more than 2 decimal places (see docketctl submit --help)\n");
  Result no_eq = Ctl({"submit", "--tenant=acme", "--kind=data_entry", "--attr=pages"});
  EXPECT_THAT(no_eq.err, HasSubstr("--attr \"pages\": expected name=value"));
}

TEST_F(CommandsTest, MissingKeyOrAddressIsAUsageErrorThatSaysWhereToSetIt) {
  Result r = Ctl({"get", "ITEM"}, /*with_env=*/false);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no address for processing: pass --work-addr=HOST:PORT, set DOCKET_WORK_ADDR"));
  Result key = Ctl({"get", "ITEM", "--work-addr=127.0.0.1:2"}, /*with_env=*/false);
  EXPECT_EQ(key.code, 2);
  EXPECT_THAT(key.err, HasSubstr("no API key: pass --key=KEY"));
}

TEST_F(CommandsTest, RefusedCallExitsOneWithTheCodeNameAndServerMessageOnOneLine) {
  EXPECT_CALL(connector_.work, Get(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "API key x may only read\n(role)")));
  Result r = Ctl({"get", "ITEM-1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "docketctl: get: PERMISSION_DENIED: API key x may only read (role)\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(CommandsTest, UnavailableNamesTheServiceAndAddress) {
  EXPECT_CALL(connector_.kpi, GetSnapshot(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect")));
  Result r = Ctl({"kpis", "--tenant=acme"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "docketctl: kpis: UNAVAILABLE: failed to connect (metrics at 127.0.0.1:4; is it running?)\n");
}

TEST_F(CommandsTest, GetShowsTheItemWithTypedAttributes) {
  docket::v1::WorkItemResponse resp;
  *resp.mutable_item() = Item("0193-a", docket::v1::WORK_STATE_QUEUED);
  EXPECT_CALL(connector_.work, Get(_, ::testing::Property(&docket::v1::GetRequest::item_id, "0193-a"), _))
      .WillOnce(DoAll(SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  Result r = Ctl({"get", "0193-a"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("state       QUEUED"));
  EXPECT_THAT(r.out, HasSubstr("amount  1234.50 EUR"));
  EXPECT_THAT(r.out, HasSubstr("pages   3"));
}

TEST_F(CommandsTest, GetShowsWhenALateItemBreachedItsSlaAndWhenItFinished) {
  docket::v1::WorkItemResponse resp;
  *resp.mutable_item() = Item("0193-b", docket::v1::WORK_STATE_COMPLETED);
  resp.mutable_item()->mutable_sla_breached_at()->set_seconds(1796652000);  // 2026-12-07T14:00:00Z
  resp.mutable_item()->mutable_finished_at()->set_seconds(1796653800);      // 2026-12-07T14:30:00Z
  EXPECT_CALL(connector_.work, Get(_, _, _)).WillOnce(DoAll(SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  Result r = Ctl({"get", "0193-b"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("breached    2026-12-07T14:00:00Z"));
  EXPECT_THAT(r.out, HasSubstr("finished    2026-12-07T14:30:00Z"));

  *resp.mutable_item() = Item("0193-c", docket::v1::WORK_STATE_QUEUED);
  EXPECT_CALL(connector_.work, Get(_, _, _)).WillOnce(DoAll(SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  r = Ctl({"get", "0193-c"});
  EXPECT_THAT(r.out, Not(HasSubstr("breached"))) << "an item that never breached shows no breach";
  EXPECT_THAT(r.out, Not(HasSubstr("finished")));
}

TEST_F(CommandsTest, SubmitSendsTypedAttributesAndAFreshIdempotencyKey) {
  docket::v1::SubmitRequest sent;
  docket::v1::SubmitResponse resp;
  resp.set_item_id("0193-new");
  EXPECT_CALL(connector_.intake, Submit(_, _, _))
      .WillOnce(DoAll(::testing::SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  Result r = Ctl({"submit", "--tenant=acme", "--kind=data_entry", "--attr=document_id=D-1",
                  "--attr=document_type=receipt", "--attr=pages=2", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto& a = sent.submission().attributes();
  EXPECT_EQ(a.at("document_id").string_value(), "D-1");
  EXPECT_EQ(a.at("pages").number_value(), 2);
  EXPECT_THAT(sent.submission().idempotency_key(), StartsWith("docketctl-"));
  auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["item_id"], "0193-new");
  EXPECT_EQ(out["idempotency_key"], sent.submission().idempotency_key());
}

TEST_F(CommandsTest, QueueLsFollowsEveryPage) {
  docket::v1::ListQueueResponse first, second;
  *first.add_items() = Item("item-1", docket::v1::WORK_STATE_QUEUED);
  first.set_next_page_token("p2");
  *second.add_items() = Item("item-2", docket::v1::WORK_STATE_QUEUED);
  EXPECT_CALL(connector_.work, ListQueue(_, ::testing::Property(&docket::v1::ListQueueRequest::page_token, ""), _))
      .WillOnce(DoAll(SetArgPointee<2>(first), Return(grpc::Status::OK)));
  EXPECT_CALL(connector_.work, ListQueue(_, ::testing::Property(&docket::v1::ListQueueRequest::page_token, "p2"), _))
      .WillOnce(DoAll(SetArgPointee<2>(second), Return(grpc::Status::OK)));
  Result r = Ctl({"queue", "ls", "--tenant=acme", "--queue=data-entry", "--page-size=1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("item-1"));
  EXPECT_THAT(r.out, HasSubstr("item-2"));
  EXPECT_THAT(r.out, HasSubstr("2 items"));
}

TEST_F(CommandsTest, KpisAsATableAndAsJson) {
  docket::v1::KpiSnapshot snap;
  snap.mutable_filter()->set_tenant("acme");
  snap.set_arrivals(10);
  snap.set_completed(8);
  snap.set_sla_met(6);
  snap.set_sla_missed(2);
  snap.set_sla_attainment(0.75);
  snap.set_cycle_time_p50_seconds(3725);
  EXPECT_CALL(connector_.kpi, GetSnapshot(_, _, _)).Times(2).WillRepeatedly(DoAll(SetArgPointee<2>(snap), Return(grpc::Status::OK)));
  Result table = Ctl({"kpis", "--tenant=acme", "--window=24h"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("SLA attainment      75.0 %  (6 met, 2 missed)"));
  EXPECT_THAT(table.out, HasSubstr("cycle time p50      1h 02m"));
  EXPECT_THAT(table.out, HasSubstr("window 24h"));
  EXPECT_THAT(table.out, HasSubstr("completed           8\n")) << "no bot work: no split";
  Result json = Ctl({"kpis", "--tenant=acme", "--json"});
  auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["arrivals"], "10") << "int64 is a string in proto JSON";
  EXPECT_EQ(parsed["sla_attainment"], 0.75);
  EXPECT_TRUE(parsed.contains("rejected")) << "zero fields are printed too";
}

TEST_F(CommandsTest, KpisSplitCompletionsBetweenPeopleAndBots) {
  docket::v1::KpiSnapshot snap;
  snap.set_completed(8);
  snap.set_bot_completed(5);
  EXPECT_CALL(connector_.kpi, GetSnapshot(_, _, _)).WillOnce(DoAll(SetArgPointee<2>(snap), Return(grpc::Status::OK)));
  Result table = Ctl({"kpis", "--tenant=acme"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("completed           8  (3 by people, 5 by bots)"));
}

TEST_F(CommandsTest, BadWindowIsAUsageError) {
  Result r = Ctl({"kpis", "--window=yesterday"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--window: \"yesterday\" is not a duration"));
}

TEST_F(CommandsTest, ProcessMapTextNamesTheBottleneckAndOtherFormatsPassThrough) {
  docket::v1::ProcessMap map;
  map.set_kind("data_entry");
  auto* t = map.add_transitions();
  t->set_from("QUEUED");
  t->set_to("CLAIMED");
  t->set_count(5);
  t->set_mean_seconds(600);
  auto* b = map.add_bottlenecks();
  b->set_state("QUEUED");
  b->set_mean_wait_seconds(600);
  b->set_rank(1);
  map.set_mermaid("flowchart LR\n  QUEUED -->|5| CLAIMED\n");
  EXPECT_CALL(connector_.kpi, GetProcessMap(_, _, _)).Times(2).WillRepeatedly(DoAll(SetArgPointee<2>(map), Return(grpc::Status::OK)));
  Result text = Ctl({"process-map", "--tenant=acme", "--kind=data_entry"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("QUEUED -> CLAIMED"));
  EXPECT_THAT(text.out, HasSubstr("bottleneck: QUEUED (items wait 10m 00s there on average)"));
  Result mermaid = Ctl({"process-map", "--tenant=acme", "--format=mermaid"});
  EXPECT_EQ(mermaid.out, map.mermaid());
  Result bad = Ctl({"process-map", "--format=png"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("expected text, mermaid, dot or json"));
}

TEST_F(CommandsTest, AuditVerifyFailsWithTheFirstBadRecord) {
  docket::v1::VerifyAuditResponse bad;
  bad.set_ok(false);
  bad.set_records_checked(7);
  bad.set_first_bad_chain("docket.work.v1/2");
  bad.set_first_bad_sequence(4);
  bad.set_problem("prev_hash breaks the chain");
  EXPECT_CALL(connector_.compliance, VerifyAudit(_, _, _)).WillOnce(DoAll(SetArgPointee<2>(bad), Return(grpc::Status::OK)));
  Result r = Ctl({"audit", "verify"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "docketctl: audit verify: the audit ledger does NOT verify: docket.work.v1/2 #4: "
                   "prev_hash breaks the chain (7 records checked)\n");
}

TEST_F(CommandsTest, AuditVerifySourceTopicAsksForTheTopicAndABadSourceIsAUsageError) {
  docket::v1::VerifyAuditRequest sent;
  docket::v1::VerifyAuditResponse good;
  good.set_ok(true);
  good.set_records_checked(12);
  EXPECT_CALL(connector_.compliance, VerifyAudit(_, _, _))
      .WillOnce(DoAll(::testing::SaveArg<1>(&sent), SetArgPointee<2>(good), Return(grpc::Status::OK)));
  Result r = Ctl({"audit", "verify", "--source=topic"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sent.source(), docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  EXPECT_EQ(r.out, "audit topic verified: 12 records in every chain\n");
  Result bad = Ctl({"audit", "verify", "--source=kafka"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--source: expected ledger or topic, got \"kafka\""));
}

TEST_F(CommandsTest, ClaimWithNothingAvailableSaysSoAndSucceeds) {
  EXPECT_CALL(connector_.work, ClaimNext(_, _, _)).WillOnce(Return(grpc::Status::OK));
  Result r = Ctl({"claim", "--tenant=acme", "--queue=data-entry"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "no item available for you right now\n");
}

TEST_F(CommandsTest, CompleteSendsTypedOutcome) {
  docket::v1::CompleteRequest sent;
  docket::v1::WorkItemResponse resp;
  *resp.mutable_item() = Item("item-1", docket::v1::WORK_STATE_COMPLETED);
  EXPECT_CALL(connector_.work, Complete(_, _, _))
      .WillOnce(DoAll(::testing::SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  Result r = Ctl({"complete", "item-1", "--outcome=approved=true", "--expected-version=3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(sent.outcome().at("approved").bool_value());
  EXPECT_EQ(sent.expected_version(), 3);
  EXPECT_EQ(r.out, "item item-1 is COMPLETED in queue data-entry\n");
}

TEST_F(CommandsTest, CommentSendsTheTextAndGetShowsTheItemsComments) {
  docket::v1::CommentRequest sent;
  docket::v1::WorkItemResponse resp;
  *resp.mutable_item() = Item("item-1", docket::v1::WORK_STATE_CLAIMED);
  auto* note = resp.mutable_item()->add_comments();
  note->mutable_author()->set_type(docket::v1::Actor::TYPE_PERSON);
  note->mutable_author()->set_id("alice");
  note->set_text("PO follows tomorrow");
  EXPECT_CALL(connector_.work, Comment(_, _, _))
      .WillOnce(DoAll(::testing::SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  EXPECT_CALL(connector_.work, Get(_, _, _)).WillOnce(DoAll(SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  Result r = Ctl({"comment", "item-1", "--text=PO follows tomorrow"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sent.item_id(), "item-1");
  EXPECT_EQ(sent.text(), "PO follows tomorrow");
  Result shown = Ctl({"get", "item-1"});
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("alice (person): PO follows tomorrow"));
  Result missing = Ctl({"comment", "item-1"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--text is required"));
}

TEST_F(CommandsTest, FeedbackSendsWhatItIsAboutAndPrintsTheEventId) {
  docket::v1::SubmitFeedbackRequest sent;
  docket::v1::SubmitFeedbackResponse resp;
  resp.set_event_id("0193-feedback");
  EXPECT_CALL(connector_.work, SubmitFeedback(_, _, _))
      .WillOnce(DoAll(::testing::SaveArg<1>(&sent), SetArgPointee<2>(resp), Return(grpc::Status::OK)));
  Result r = Ctl({"feedback", "--tenant=acme", "--kind=invoice_approval", "--category=missing-data",
                  "--text=no PO number"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sent.tenant(), "acme");
  EXPECT_EQ(sent.kind(), "invoice_approval");
  EXPECT_EQ(sent.category(), "missing-data");
  EXPECT_EQ(sent.text(), "no PO number");
  EXPECT_EQ(r.out, "feedback recorded: 0193-feedback\n");
  Result no_category = Ctl({"feedback", "--tenant=acme", "--kind=invoice_approval"});
  EXPECT_EQ(no_category.code, 2);
  EXPECT_THAT(no_category.err, HasSubstr("--category is required"));
  Result about_nothing = Ctl({"feedback", "--tenant=acme", "--category=tooling"});
  EXPECT_EQ(about_nothing.code, 2);
  EXPECT_THAT(about_nothing.err, HasSubstr("--kind, --queue or --item"));
}

}  // namespace
}  // namespace docket::ctl
