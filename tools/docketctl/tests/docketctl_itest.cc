// The built docketctl, run as a process the way an operator runs it,
// against the four real services on redis-server and docket-devkafka:
// items go in with submit, show up in get, are claimed and completed with a
// worker's key; KPIs, the process map and the audit ledger read back; and
// refused keys and bad input give one clear line and the right exit code.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/testing/fixtures.h"
#include "common/testing/service_process.h"
#include "common/testing/test_pki.h"

extern char** environ;

namespace docket {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kPublisher[] = "dk_demo_acme_publisher_LOCAL_STACK_ONLY";
constexpr char kInvoicesOnly[] = "dk_demo_acme_invoices_LOCAL_STACK_ONLY";
constexpr char kDana[] = "dk_demo_dana_worker_LOCAL_STACK_ONLY";  // data-entry, acme
constexpr char kBot[] = "dk_demo_databot_worker_LOCAL_STACK_ONLY";  // data-entry, acme, WIP 1000
constexpr char kOperator[] = "dk_demo_operator_LOCAL_STACK_ONLY";

struct Ctl {
  int code = -1;
  std::string out, err;
};

class DocketctlItest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = redis->release();
    auto kafka = testing::DevKafka::Start(1, 4);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = kafka->release();
    // docketctl reads the endpoints from an env file, as from .docket/local.env.
    env_file_ = testing::LogPath("docketctl-local.env");
    std::ofstream env(env_file_);
    for (const auto& [service, variable] :
         std::vector<std::pair<std::string, std::string>>{{"intake", "DOCKET_INTAKE_ADDR"},
                                                          {"processing", "DOCKET_WORK_ADDR"},
                                                          {"compliance", "DOCKET_COMPLIANCE_ADDR"},
                                                          {"metrics", "DOCKET_KPI_ADDR"}}) {
      auto svc = testing::StartService(service, kafka_->bootstrap(), redis_->url());
      ASSERT_TRUE(svc.ok()) << svc.status();
      env << variable << "=" << svc->grpc_address() << "\n";
      services_.push_back(new testing::ServiceProcess(std::move(*svc)));
    }
  }

  static void TearDownTestSuite() {
    for (auto* s : services_) {
      EXPECT_EQ(s->process->Stop(15s), 0) << s->process->log_path();
      delete s;
    }
    services_.clear();
    delete kafka_;
    delete redis_;
  }

  void SetUp() override { ASSERT_EQ(services_.size(), 4u) << "the stack did not start"; }

  // Runs docketctl with `args` and DOCKET_API_KEY=key (none if empty);
  // stdout and stderr are kept apart.
  // Dana claims (docketctl claim) until `id` comes up: other tests' items may
  // be ahead of it in the queue; each claim must be dana's.
  static void ClaimUntil(const std::string& id) {
    std::string claimed;
    for (int i = 0; i < 20 && claimed != id; ++i) {
      Ctl r = Run({"claim", "--tenant=acme", "--queue=data-entry", "--json"}, kDana);
      ASSERT_EQ(r.code, 0) << r.err;
      const json item = json::parse(r.out);
      ASSERT_TRUE(item.contains("id")) << "the queue ran dry before " << id;
      claimed = item["id"];
      EXPECT_EQ(item["worker"], "dana");
      EXPECT_EQ(item["state"], "WORK_STATE_CLAIMED");
    }
    ASSERT_EQ(claimed, id);
  }

  static Ctl Run(std::vector<std::string> args, const std::string& key) {
    args.insert(args.begin(), testing::Binary("docketctl"));
    args.push_back("--env-file=" + env_file_);
    const std::string out_path = testing::LogPath("docketctl-out"), err_path = testing::LogPath("docketctl-err");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      if (std::string(*e).rfind("DOCKET_API_KEY=", 0) != 0) env.emplace_back(*e);
    }
    if (!key.empty()) env.push_back(std::string("DOCKET_API_KEY=") + key);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    Ctl result;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "cannot start " << argv[0];
      return result;
    }
    int status = 0;
    if (!testing::WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 60s)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "docketctl did not finish within 60 s";
    }
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = testing::ReadFile(out_path);
    result.err = testing::ReadFile(err_path);
    EXPECT_THAT(result.out + result.err, ::testing::Not(HasSubstr(key.empty() ? "\x01" : key)))
        << "docketctl printed the API key";
    return result;
  }

  // Submits a data_entry item (never automated: 2 pages) and returns its id.
  static std::string SubmitDataEntry(const std::string& document_id) {
    Ctl r = Run({"submit", "--tenant=acme", "--kind=data_entry", "--attr=document_id=" + document_id,
                 "--attr=document_type=invoice", "--attr=pages=2", "--json"},
                kPublisher);
    EXPECT_EQ(r.code, 0) << r.err;
    if (r.code != 0) return "";
    return json::parse(r.out).at("item_id").get<std::string>();
  }

  // Waits until processing has routed the item and returns its state.
  static std::string StateOnceRouted(const std::string& id) {
    std::string state;
    testing::WaitFor(
        [&] {
          Ctl r = Run({"get", id, "--json"}, kOperator);
          if (r.code != 0) return false;
          state = json::parse(r.out).value("state", "");
          return state != "" && state != "WORK_STATE_SUBMITTED";
        },
        30s);
    return state;
  }

  static void ExpectOneErrorLine(const Ctl& r, const std::string& command) {
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, StartsWith("docketctl: " + command + ": ")) << r.err;
  }

  static inline testing::RedisServer* redis_ = nullptr;
  static inline testing::DevKafka* kafka_ = nullptr;
  static inline std::vector<testing::ServiceProcess*> services_;
  static inline std::string env_file_;
};

TEST_F(DocketctlItest, HealthReadsTheEnvFileAndEveryServiceIsServing) {
  Ctl r = Run({"health"}, "");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5) << r.out;
  EXPECT_EQ(r.out.find("DOWN"), std::string::npos) << r.out;
}

TEST_F(DocketctlItest, SubmittedItemShowsUpInGetWithItsAttributes) {
  const std::string id = SubmitDataEntry("DOC-GET-1");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(StateOnceRouted(id), "WORK_STATE_QUEUED");
  Ctl r = Run({"get", id}, kOperator);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("kind        data_entry"));
  EXPECT_THAT(r.out, HasSubstr("queue       data-entry"));
  EXPECT_THAT(r.out, HasSubstr("document_id    \"DOC-GET-1\""));
}

TEST_F(DocketctlItest, SubmittingTheSameKeyTwiceIsADuplicateOfTheSameItem) {
  const std::vector<std::string> args = {"submit", "--tenant=acme", "--kind=data_entry",
                                         "--idempotency-key=itest-dup-1", "--attr=document_id=D-DUP",
                                         "--attr=document_type=letter", "--attr=pages=3", "--json"};
  Ctl first = Run(args, kPublisher), second = Run(args, kPublisher);
  ASSERT_EQ(first.code, 0) << first.err;
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(json::parse(first.out)["item_id"], json::parse(second.out)["item_id"]);
  EXPECT_EQ(json::parse(second.out)["duplicate"], true);
}

TEST_F(DocketctlItest, DanaClaimsAndCompletesADataEntryItem) {
  const std::string id = SubmitDataEntry("DOC-CLAIM-1");
  ASSERT_EQ(StateOnceRouted(id), "WORK_STATE_QUEUED");
  ASSERT_NO_FATAL_FAILURE(ClaimUntil(id));
  Ctl done = Run({"complete", id, "--outcome=fields_keyed=12"}, kDana);
  ASSERT_EQ(done.code, 0) << done.err;
  EXPECT_THAT(done.out, HasSubstr("is COMPLETED"));
  Ctl got = Run({"get", id, "--json"}, kOperator);
  ASSERT_EQ(got.code, 0) << got.err;
  EXPECT_EQ(json::parse(got.out)["state"], "WORK_STATE_COMPLETED");
  EXPECT_EQ(json::parse(got.out)["outcome"]["fields_keyed"]["number_value"], 12);
}

// claim --max: a bot's batch claim from the terminal; every item claimed is
// printed (a JSON array with --json), each claimed for the caller.
TEST_F(DocketctlItest, ClaimWithMaxClaimsSeveralItemsAtOnceEachForTheCaller) {
  std::vector<std::string> ids;
  for (const char* ref : {"DOC-BATCH-1", "DOC-BATCH-2", "DOC-BATCH-3"}) {
    ids.push_back(SubmitDataEntry(ref));
    ASSERT_EQ(StateOnceRouted(ids.back()), "WORK_STATE_QUEUED");
  }
  Ctl r = Run({"claim", "--tenant=acme", "--queue=data-entry", "--max=100", "--json"}, kBot);
  ASSERT_EQ(r.code, 0) << r.err;
  const json items = json::parse(r.out);
  ASSERT_TRUE(items.is_array()) << r.out;
  std::set<std::string> claimed;
  for (const auto& item : items) {
    EXPECT_EQ(item["worker"], "databot");
    EXPECT_EQ(item["state"], "WORK_STATE_CLAIMED");
    claimed.insert(item["id"].get<std::string>());
  }
  for (const auto& id : ids) EXPECT_TRUE(claimed.count(id)) << id << " was not claimed: " << r.out;

  // The demo bot's key is marked bot: its completion is recorded as a bot's.
  Ctl done = Run({"complete", ids[0]}, kBot);
  ASSERT_EQ(done.code, 0) << done.err;
  Ctl got = Run({"get", ids[0], "--json"}, kOperator);
  ASSERT_EQ(got.code, 0) << got.err;
  EXPECT_EQ(json::parse(got.out)["completer"]["type"], "TYPE_BOT") << got.out;
  EXPECT_EQ(json::parse(got.out)["completer"]["id"], "databot") << got.out;

  Ctl none = Run({"claim", "--tenant=acme", "--queue=data-entry", "--max=5"}, kBot);
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("no item available"));
  Ctl bad = Run({"claim", "--tenant=acme", "--max=101"}, kBot);
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--max"));
}

TEST_F(DocketctlItest, CompleteWithNextCompletesAndClaimsTheNextItemOrSaysWhyNot) {
  const std::string first = SubmitDataEntry("DOC-NEXT-1");
  const std::string second = SubmitDataEntry("DOC-NEXT-2");
  ASSERT_EQ(StateOnceRouted(first), "WORK_STATE_QUEUED");
  ASSERT_EQ(StateOnceRouted(second), "WORK_STATE_QUEUED");
  ASSERT_NO_FATAL_FAILURE(ClaimUntil(first));

  Ctl done = Run({"complete", first, "--next", "--tenant=acme", "--queue=data-entry", "--json"}, kDana);
  ASSERT_EQ(done.code, 0) << done.err;
  const json both = json::parse(done.out);
  EXPECT_EQ(both["item"]["id"], first);
  EXPECT_EQ(both["item"]["state"], "WORK_STATE_COMPLETED");
  ASSERT_TRUE(both.contains("next")) << done.out;
  EXPECT_EQ(both["next"]["worker"], "dana");
  EXPECT_EQ(both["next"]["state"], "WORK_STATE_CLAIMED");
  const std::string next = both["next"]["id"];

  // A claim dana may not make: the completion stands, the reason is shown.
  Ctl refused = Run({"complete", next, "--next", "--tenant=globex"}, kDana);
  ASSERT_EQ(refused.code, 0) << refused.err;
  EXPECT_THAT(refused.out, HasSubstr("is COMPLETED"));
  EXPECT_THAT(refused.out, HasSubstr("no next item claimed: PERMISSION_DENIED"));

  Ctl bad = Run({"complete", second, "--next"}, kDana);
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--next needs --tenant"));
}

TEST_F(DocketctlItest, UnknownKeyIsUnauthenticatedOnOneLineWithExitOne) {
  Ctl r = Run({"get", "0193aaaa-0000-7000-8000-000000000000"}, "dk_not_a_real_key");
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r, "get");
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_EQ(r.out, "");
}

TEST_F(DocketctlItest, KeyWithoutTheKindIsPermissionDeniedWithTheServersReason) {
  Ctl r = Run({"submit", "--tenant=acme", "--kind=data_entry", "--attr=document_id=D-X",
               "--attr=document_type=form", "--attr=pages=1"},
              kInvoicesOnly);
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r, "submit");
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED: "));
  EXPECT_THAT(r.err, HasSubstr("acme-invoices-demo")) << "the server names the key id";
}

TEST_F(DocketctlItest, BadInputGivesOneClearLine) {
  Ctl flag = Run({"get", "x", "--colour=red"}, kOperator);
  EXPECT_EQ(flag.code, 2);
  EXPECT_EQ(flag.err, "docketctl: get: unknown flag --colour (see docketctl get --help)\n");

  Ctl attr = Run({"submit", "--tenant=acme", "--kind=invoice_approval",
                  R"(--attr=amount={"amount":"12.5O","currency":"EUR"})"},
                 kPublisher);
  EXPECT_EQ(attr.code, 2);
  ExpectOneErrorLine(attr, "submit");
  EXPECT_THAT(attr.err, HasSubstr("--attr amount.amount: expected a decimal amount"));

  Ctl invalid = Run({"submit", "--tenant=acme", "--kind=data_entry", "--attr=document_id=D-1"}, kPublisher);
  EXPECT_EQ(invalid.code, 1);
  ExpectOneErrorLine(invalid, "submit");
  EXPECT_THAT(invalid.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(invalid.err, HasSubstr("pages"));

  Ctl missing = Run({"get", "0193aaaa-0000-7000-8000-000000000000"}, kOperator);
  EXPECT_EQ(missing.code, 1);
  ExpectOneErrorLine(missing, "get");
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));
}

TEST_F(DocketctlItest, SubmitFileStreamsEveryLineAndListsTheRejectedOnes) {
  const std::string file = testing::LogPath("items") + ".jsonl";
  std::ofstream(file)
      << R"({"kind":"data_entry","attributes":{"document_id":"F-1","document_type":"form","pages":1}})" << "\n"
      << R"({"kind":"data_entry","attributes":{"document_id":"F-2"}})" << "\n"
      << "not json\n"
      << R"({"kind":"data_entry","attributes":{"document_id":"F-4","document_type":"letter","pages":4}})" << "\n";
  Ctl r = Run({"submit", "--file=" + file, "--tenant=acme"}, kPublisher);
  EXPECT_EQ(r.code, 1) << "two lines were rejected";
  EXPECT_THAT(r.out, HasSubstr("4 items"));
  EXPECT_THAT(r.out, HasSubstr("2 admitted, 0 duplicates, 2 rejected"));
  EXPECT_THAT(r.out, HasSubstr("line 2: INVALID_ARGUMENT"));
  EXPECT_THAT(r.out, HasSubstr("line 3: is not valid JSON"));
  ExpectOneErrorLine(r, "submit");

  // The same file again: content-derived keys make every good line a duplicate.
  Ctl again = Run({"submit", "--file=" + file, "--tenant=acme", "--json"}, kPublisher);
  const json summary = json::parse(again.out);
  EXPECT_EQ(summary["admitted"], 0);
  EXPECT_EQ(summary["duplicates"], 2);
}

TEST_F(DocketctlItest, KpisJsonParsesAndCountsArrivals) {
  SubmitDataEntry("DOC-KPI-1");
  json kpis;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        Ctl r = Run({"kpis", "--tenant=acme", "--json"}, kOperator);
        if (r.code != 0) return false;
        kpis = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
        return kpis.is_object() && std::stoll(kpis.value("arrivals", "0")) >= 1;
      },
      30s))
      << kpis.dump();
  Ctl table = Run({"kpis", "--tenant=acme", "--window=24h"}, kOperator);
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("SLA attainment"));
}

TEST_F(DocketctlItest, ProcessMapAsMermaidStartsWithFlowchart) {
  Ctl r = Run({"process-map", "--tenant=acme", "--kind=data_entry", "--format=mermaid"}, kOperator);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("flowchart"));
  Ctl text = Run({"process-map", "--tenant=acme", "--kind=data_entry"}, kOperator);
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, StartsWith("process map  tenant acme  kind data_entry"));
}

TEST_F(DocketctlItest, InvoiceWithMoneyAndDateGetsAVerdictInAVerifiedLedger) {
  // invoice_approval is checked at submit: compliance records a verdict.
  Ctl submitted = Run({"submit", "--tenant=acme", "--kind=invoice_approval", "--attr=vendor_id=V-100",
                       "--attr=vendor_name=Muster GmbH", R"(--attr=invoice_number="2026-0042")",
                       R"(--attr=amount={"amount":"1234.50","currency":"EUR"})",
                       R"(--attr=invoice_date={"date":"2026-11-23"})", "--json"},
                      kPublisher);
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  const std::string id = json::parse(submitted.out)["item_id"];
  Ctl trail;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        trail = Run({"audit", "trail", id}, kOperator);
        return trail.code == 0 && trail.out.find("VERDICT") != std::string::npos;
      },
      30s))
      << trail.out << trail.err;
  // Processing routes the item independently of compliance's verdict.
  Ctl got;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        got = Run({"get", id}, kOperator);
        return got.code == 0;
      },
      30s))
      << got.err;
  EXPECT_THAT(got.out, HasSubstr("1234.50 EUR"));
  EXPECT_THAT(got.out, HasSubstr("2026-11-23"));

  Ctl verified = Run({"audit", "verify", "--json"}, kOperator);
  ASSERT_EQ(verified.code, 0) << verified.err;
  const json v = json::parse(verified.out);
  EXPECT_EQ(v["ok"], true);
  EXPECT_GE(std::stoll(v["records_checked"].get<std::string>()), 1);
  Ctl text = Run({"audit", "verify"}, kOperator);
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, StartsWith("audit ledger verified: "));
  Ctl topic = Run({"audit", "verify", "--source=topic"}, kOperator);
  EXPECT_EQ(topic.code, 0) << topic.err;
  EXPECT_THAT(topic.out, StartsWith("audit topic verified: "));
}

// With k8s/components/tls the services speak mTLS only: docketctl reaches
// one with --tls-ca and a client certificate, and says in one line why it
// cannot without them. A compliance of its own (topic prefix "tls.", Redis
// db 1), so the suite's services are not disturbed.
TEST_F(DocketctlItest, OverMutualTlsTheCaAndAClientCertificateAreNeededAndEnough) {
  auto pki = testing::TestPki::Create();
  ASSERT_TRUE(pki.ok()) << pki.status();
  std::string redis_db1 = redis_->url();
  redis_db1.back() = '1';
  auto svc = testing::StartService("compliance", kafka_->bootstrap(), redis_db1,
                                   {"DOCKET_TOPIC_PREFIX=tls.", "DOCKET_TLS_CERT_FILE=" + (*pki)->File("server.crt"),
                                    "DOCKET_TLS_KEY_FILE=" + (*pki)->File("server.key"),
                                    "DOCKET_TLS_CLIENT_CA_FILE=" + (*pki)->File("ca.crt")});
  ASSERT_TRUE(svc.ok()) << svc.status();
  const std::string addr = "--compliance-addr=" + svc->grpc_address();
  const std::string ca = "--tls-ca=" + (*pki)->File("ca.crt");

  Ctl ok = Run({"audit", "verify", addr, ca, "--tls-cert=" + (*pki)->File("client.crt"),
                "--tls-key=" + (*pki)->File("client.key"), "--tls-server-name=localhost"},
               kOperator);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, StartsWith("audit ledger verified: "));

  for (const std::vector<std::string>& refused :
       {std::vector<std::string>{"audit", "verify", addr, ca},  // no client certificate
        std::vector<std::string>{"audit", "verify", addr}}) {   // plaintext
    Ctl r = Run(refused, kOperator);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_THAT(r.err, StartsWith("docketctl: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  Ctl missing = Run({"audit", "verify", addr, "--tls-ca=/nonexistent/ca.crt"}, kOperator);
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--tls-ca /nonexistent/ca.crt: cannot be read"));
  EXPECT_EQ(svc->process->Stop(15s), 0) << svc->process->log_path();
}

}  // namespace
}  // namespace docket
