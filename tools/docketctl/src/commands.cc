#include "tools/docketctl/src/commands.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/catalog/catalog.h"
#include "tools/docketctl/src/items_file.h"
#include "tools/docketctl/src/render.h"
#include "tools/docketctl/src/stream_submit.h"
#include "tools/docketctl/src/submission.h"
#include "tools/objectives/objectives.h"
#include "tools/objectives/rules.h"

namespace docket::ctl {
namespace {

using nlohmann::json;
namespace v1 = docket::v1;

struct Command;

// What a running command has at hand.
struct Ctx {
  const Command& command;
  const Args& args;
  const Settings& settings;
  Connector& connector;
  Io& io;
  const EnvLookup& env;
};

struct Command {
  std::string name;     // "queue ls"
  std::string operands; // "ITEM", for the usage line
  std::string summary;  // one line, for docketctl --help
  std::string details;  // the flags, for docketctl <command> --help
  std::vector<FlagSpec> flags;
  std::size_t min_positional = 0, max_positional = 0;
  std::function<int(Ctx&)> run;
};

// ---- errors: exactly one line on stderr ----

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

int Fail(Ctx& c, const std::string& message, int code = kExitFailed) {
  c.io.err << "docketctl: " << c.command.name << ": " << OneLine(message) << "\n";
  return code;
}

int UsageError(Ctx& c, const std::string& message) {
  return Fail(c, absl::StrCat(message, " (see docketctl ", c.command.name, " --help)"), kExitUsage);
}

int CallFailed(Ctx& c, const grpc::Status& s, Service service) {
  std::string message = absl::StrCat(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())), ": ", s.error_message());
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    absl::StrAppend(&message, " (", InfoOf(service).name, " at ", c.settings.addresses.at(service),
                    "; is it running?)");
  } else if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    absl::StrAppend(&message, " (no answer from ", InfoOf(service).name, " within ",
                    c.settings.timeout.count(), " ms; --timeout)");
  }
  return Fail(c, message, kExitFailed);
}

// The address of `service`, or a usage error on stderr (returns nullopt).
std::optional<std::string> AddressOr(Ctx& c, Service service) {
  auto it = c.settings.addresses.find(service);
  if (it != c.settings.addresses.end()) return it->second;
  const ServiceInfo& info = InfoOf(service);
  UsageError(c, absl::StrCat("no address for ", info.name, ": pass --", info.flag, "=HOST:PORT, set ", info.env,
                             ", or start the local stack (deploy/local/up.sh writes ", kDefaultEnvFile, ")"));
  return std::nullopt;
}

bool HaveKey(Ctx& c) {
  if (!c.settings.api_key.empty()) return true;
  UsageError(c, "no API key: pass --key=KEY or --key-file=FILE, or set DOCKET_API_KEY "
                "(demo keys: deploy/config/README.md)");
  return false;
}

void Prepare(Ctx& c, grpc::ClientContext& ctx) {
  ctx.AddMetadata("authorization", "Bearer " + c.settings.api_key);
  ctx.set_deadline(std::chrono::system_clock::now() + c.settings.timeout);
}

// Runs a unary call on the stub of `service` made by `make`: checks address
// and key, prepares the context, maps a failure to the error line.
template <typename Stub, typename Call>
int Unary(Ctx& c, Service service, Stub& (Connector::*make)(const std::string&), Call call) {
  auto address = AddressOr(c, service);
  if (!address) return kExitUsage;
  if (!HaveKey(c)) return kExitUsage;
  Stub& stub = (c.connector.*make)(*address);
  grpc::ClientContext ctx;
  Prepare(c, ctx);
  grpc::Status s = call(stub, ctx);
  if (!s.ok()) return CallFailed(c, s, service);
  return kExitOk;
}

bool Json(const Ctx& c) { return c.args.Has("json"); }

std::optional<google::protobuf::Duration> WindowOr(Ctx& c, bool& failed) {
  failed = false;
  auto text = c.args.Get("window");
  if (!text) return std::nullopt;
  auto ms = ParseDuration(*text);
  if (!ms.ok()) {
    UsageError(c, absl::StrCat("--window: ", ms.status().message()));
    failed = true;
    return std::nullopt;
  }
  return google::protobuf::util::TimeUtil::MillisecondsToDuration(ms->count());
}

// --attr / --outcome flags into a JSON object of attributes.
absl::StatusOr<json> AttributeFlags(Ctx& c, const char* flag) {
  json attributes = json::object();
  for (const std::string& text : c.args.GetAll(flag)) {
    auto attr = ParseAttributeFlag(text, absl::StrCat("--", flag));
    if (!attr.ok()) return attr.status();
    if (attributes.contains(attr->first)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", attr->first, " is given twice"));
    }
    attributes[attr->first] = std::move(attr->second);
  }
  return attributes;
}

// ---- submit ----

int SubmitFile(Ctx& c, const std::string& path);

int Submit(Ctx& c) {
  if (auto file = c.args.Get("file")) {
    for (const char* flag : {"attr", "idempotency-key", "priority", "external-ref"}) {
      if (c.args.Has(flag)) return UsageError(c, absl::StrCat("--", flag, " cannot be combined with --file"));
    }
    return SubmitFile(c, *file);
  }
  if (c.args.Has("file-format")) return UsageError(c, "--file-format needs --file");
  const auto tenant = c.args.Get("tenant");
  const auto kind = c.args.Get("kind");
  if (!tenant || tenant->empty()) return UsageError(c, "--tenant is required");
  if (!kind || kind->empty()) return UsageError(c, "--kind is required");
  auto attributes = AttributeFlags(c, "attr");
  if (!attributes.ok()) return UsageError(c, std::string(attributes.status().message()));
  json object = {{"tenant", *tenant}, {"kind", *kind}, {"attributes", *attributes}};
  object["idempotency_key"] = c.args.GetOr("idempotency-key", RandomKey());
  if (auto p = c.args.Get("priority")) object["priority"] = *p;
  if (auto r = c.args.Get("external-ref")) object["external_ref"] = *r;
  auto submission = SubmissionFromJson(object);
  if (!submission.ok()) return UsageError(c, std::string(submission.status().message()));

  v1::SubmitResponse resp;
  const int rc = Unary(c, Service::kIntake, &Connector::Intake, [&](auto& stub, auto& ctx) {
    v1::SubmitRequest req;
    *req.mutable_submission() = *submission;
    return stub.Submit(&ctx, req, &resp);
  });
  if (rc != kExitOk) return rc;
  const std::string key = object["idempotency_key"];
  if (Json(c)) {
    c.io.out << json{{"item_id", resp.item_id()}, {"duplicate", resp.duplicate()}, {"idempotency_key", key}}.dump()
             << "\n";
  } else if (resp.duplicate()) {
    c.io.out << "item " << resp.item_id() << " was already submitted with idempotency key " << key
             << " (duplicate; nothing changed)\n";
  } else {
    c.io.out << "item " << resp.item_id() << " submitted (idempotency key " << key << ")\n";
  }
  return kExitOk;
}

int SubmitFile(Ctx& c, const std::string& path) {
  auto format = FormatFor(path, c.args.Get("file-format"));
  if (!format.ok()) return UsageError(c, std::string(format.status().message()));
  std::ifstream in_file;
  std::istream* in = &std::cin;
  if (path != "-") {
    in_file.open(path, std::ios::binary);
    if (!in_file) return UsageError(c, absl::StrCat("--file ", path, ": cannot be read"));
    in = &in_file;
  }
  auto address = AddressOr(c, Service::kIntake);
  if (!address) return kExitUsage;
  if (!HaveKey(c)) return kExitUsage;
  StreamOptions options;
  options.default_tenant = c.args.GetOr("tenant", "");
  options.default_kind = c.args.GetOr("kind", "");
  options.api_key = c.settings.api_key;
  auto reader = NewItemReader(*in, *format);
  auto& stub = c.connector.Intake(*address);
  const auto started = std::chrono::steady_clock::now();
  const bool progress = c.io.progress || c.args.Has("progress");
  StreamSummary summary = SubmitItems(stub, *reader, options, [&](const StreamSummary& s) {
    if (!progress) return;
    c.io.err << "\rsubmit: " << s.items << " read, " << s.admitted << " admitted, " << s.duplicates
             << " duplicates, " << s.rejected.size() << " rejected" << std::flush;
  });
  if (progress) c.io.err << "\n";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (Json(c)) {
    json rejected = json::array();
    for (const auto& r : summary.rejected) rejected.push_back({{"line", r.line}, {"reason", r.reason}});
    c.io.out << json{{"file", path},          {"items", summary.items},
                     {"admitted", summary.admitted}, {"duplicates", summary.duplicates},
                     {"rejected", rejected}}
                    .dump()
             << "\n";
  } else {
    char took[32];
    std::snprintf(took, sizeof(took), "%.1f", seconds);
    c.io.out << path << ": " << summary.items << " items in " << took << "s: " << summary.admitted
             << " admitted, " << summary.duplicates << " duplicates, " << summary.rejected.size()
             << " rejected\n";
    constexpr std::size_t kShown = 20;
    for (std::size_t i = 0; i < summary.rejected.size() && i < kShown; ++i) {
      c.io.out << "  line " << summary.rejected[i].line << ": " << summary.rejected[i].reason << "\n";
    }
    if (summary.rejected.size() > kShown) {
      c.io.out << "  ... and " << summary.rejected.size() - kShown << " more (--json lists them all)\n";
    }
  }
  if (!summary.status.ok()) return CallFailed(c, summary.status, Service::kIntake);
  if (!summary.rejected.empty()) {
    return Fail(c, absl::StrCat(summary.rejected.size(), " of ", summary.items, " items were rejected"));
  }
  return kExitOk;
}

// ---- work ----

void PrintItemResult(Ctx& c, const v1::WorkItem& item) {
  if (Json(c)) {
    c.io.out << ToJson(item) << "\n";
  } else {
    c.io.out << "item " << item.id() << " is " << StateName(item.state());
    if (!item.queue().empty()) c.io.out << " in queue " << item.queue();
    c.io.out << "\n";
  }
}

int Claim(Ctx& c) {
  const auto tenant = c.args.Get("tenant");
  if (!tenant || tenant->empty()) return UsageError(c, "--tenant is required");
  v1::ClaimNextRequest req;
  req.set_tenant(*tenant);
  for (const std::string& q : c.args.GetAll("queue")) req.add_queues(q);
  int max = 1;
  if (auto m = c.args.Get("max")) {
    if (!absl::SimpleAtoi(*m, &max) || max < 1 || max > 100) {
      return UsageError(c, "--max: expected a whole number from 1 to 100 (items to claim at most)");
    }
    req.set_max_items(max);
  }
  v1::ClaimNextResponse resp;
  const int rc = Unary(c, Service::kWork, &Connector::Work,
                       [&](auto& stub, auto& ctx) { return stub.ClaimNext(&ctx, req, &resp); });
  if (rc != kExitOk) return rc;
  if (max > 1) {  // every item claimed: a JSON array, or one block each
    if (Json(c)) {
      c.io.out << "[";
      for (int i = 0; i < resp.items_size(); ++i) c.io.out << (i ? "," : "") << ToJson(resp.items(i));
      c.io.out << "]\n";
    } else if (resp.items().empty()) {
      c.io.out << "no item available for you right now\n";
    } else {
      c.io.out << "claimed " << resp.items_size() << (resp.items_size() == 1 ? " item" : " items") << "\n";
      for (const auto& item : resp.items()) {
        c.io.out << "\n";
        PrintItem(c.io.out, item);
      }
    }
    return kExitOk;
  }
  if (!resp.has_item()) {
    c.io.out << (Json(c) ? "{}" : "no item available for you right now") << "\n";
    return kExitOk;
  }
  if (Json(c)) {
    c.io.out << ToJson(resp.item()) << "\n";
  } else {
    PrintItem(c.io.out, resp.item());
  }
  return kExitOk;
}

int Complete(Ctx& c) {
  auto outcome = AttributeFlags(c, "outcome");
  if (!outcome.ok()) return UsageError(c, std::string(outcome.status().message()));
  auto attributes = AttributesFromJson(*outcome);
  if (!attributes.ok()) return UsageError(c, absl::StrCat("--outcome ", attributes.status().message()));
  v1::CompleteRequest req;
  req.set_item_id(c.args.positional[0]);
  *req.mutable_outcome() = *attributes;
  if (auto v = c.args.Get("expected-version")) {
    char* end = nullptr;
    const long long version = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || version < 0) {
      return UsageError(c, "--expected-version: expected a whole number (the item's version)");
    }
    req.set_expected_version(version);
  }
  const bool next = c.args.Has("next");
  if (next) {
    const auto tenant = c.args.Get("tenant");
    if (!tenant || tenant->empty()) return UsageError(c, "--next needs --tenant (where to claim the next item)");
    req.mutable_claim_next()->set_tenant(*tenant);
    for (const std::string& q : c.args.GetAll("queue")) req.mutable_claim_next()->add_queues(q);
  } else if (c.args.Get("tenant") || !c.args.GetAll("queue").empty()) {
    return UsageError(c, "--tenant and --queue only go with --next");
  }
  v1::WorkItemResponse resp;
  const int rc = Unary(c, Service::kWork, &Connector::Work,
                       [&](auto& stub, auto& ctx) { return stub.Complete(&ctx, req, &resp); });
  if (rc != kExitOk) return rc;
  if (!next) {
    PrintItemResult(c, resp.item());
    return kExitOk;
  }
  if (Json(c)) {  // {"item": ..., "next": ... or absent, "next_code": 0, "next_message": ""}
    c.io.out << ToJson(resp) << "\n";
    return kExitOk;
  }
  PrintItemResult(c, resp.item());
  if (resp.has_next()) {
    c.io.out << "next: ";
    PrintItem(c.io.out, resp.next());
  } else if (resp.next_code() != 0) {
    // The completion stands; only the claim was refused.
    c.io.out << "no next item claimed: " << absl::StatusCodeToString(static_cast<absl::StatusCode>(resp.next_code()))
             << ": " << resp.next_message() << "\n";
  } else {
    c.io.out << "no next item available for you right now\n";
  }
  return kExitOk;
}

// Return, Escalate, Release, Reject, Comment: an item id and one text.
template <typename Request>
int ItemAction(Ctx& c, const char* text_flag, bool required,
               grpc::Status (v1::Work::StubInterface::*call)(grpc::ClientContext*, const Request&,
                                                             v1::WorkItemResponse*),
               void (*set_text)(Request&, const std::string&)) {
  const auto text = c.args.Get(text_flag);
  if (required && (!text || text->empty())) return UsageError(c, absl::StrCat("--", text_flag, " is required"));
  Request req;
  req.set_item_id(c.args.positional[0]);
  if (text) set_text(req, *text);
  v1::WorkItemResponse resp;
  const int rc = Unary(c, Service::kWork, &Connector::Work,
                       [&](auto& stub, auto& ctx) { return (stub.*call)(&ctx, req, &resp); });
  if (rc == kExitOk) PrintItemResult(c, resp.item());
  return rc;
}

int Get(Ctx& c) {
  v1::GetRequest req;
  req.set_item_id(c.args.positional[0]);
  v1::WorkItemResponse resp;
  const int rc = Unary(c, Service::kWork, &Connector::Work,
                       [&](auto& stub, auto& ctx) { return stub.Get(&ctx, req, &resp); });
  if (rc != kExitOk) return rc;
  if (Json(c)) {
    c.io.out << ToJson(resp.item()) << "\n";
  } else {
    PrintItem(c.io.out, resp.item());
  }
  return kExitOk;
}

int QueueLs(Ctx& c) {
  const auto tenant = c.args.Get("tenant");
  const auto queue = c.args.Get("queue");
  if (!tenant || tenant->empty()) return UsageError(c, "--tenant is required");
  if (!queue || queue->empty()) return UsageError(c, "--queue is required");
  int page_size = 100;
  if (auto p = c.args.Get("page-size")) {
    page_size = std::atoi(p->c_str());
    if (page_size <= 0 || page_size > 500) return UsageError(c, "--page-size: expected 1..500");
  }
  v1::ListQueueResponse all;
  std::string token;
  do {
    v1::ListQueueRequest req;
    req.set_tenant(*tenant);
    req.set_queue(*queue);
    req.set_page_size(page_size);
    req.set_page_token(token);
    v1::ListQueueResponse page;
    const int rc = Unary(c, Service::kWork, &Connector::Work,
                         [&](auto& stub, auto& ctx) { return stub.ListQueue(&ctx, req, &page); });
    if (rc != kExitOk) return rc;
    for (auto& item : *page.mutable_items()) *all.add_items() = std::move(item);
    token = page.next_page_token();
  } while (!token.empty());
  if (Json(c)) {
    c.io.out << ToJson(all) << "\n";
    return kExitOk;
  }
  if (all.items().empty()) {
    c.io.out << "queue " << *queue << " of " << *tenant << " is empty\n";
    return kExitOk;
  }
  PrintItemTableHeader(c.io.out);
  for (const auto& item : all.items()) PrintItemRow(c.io.out, item);
  c.io.out << all.items_size() << (all.items_size() == 1 ? " item\n" : " items\n");
  return kExitOk;
}

// ---- metrics ----

int Kpis(Ctx& c) {
  bool bad_window = false;
  auto window = WindowOr(c, bad_window);
  if (bad_window) return kExitUsage;
  v1::GetSnapshotRequest req;
  req.mutable_filter()->set_tenant(c.args.GetOr("tenant", ""));
  req.mutable_filter()->set_kind(c.args.GetOr("kind", ""));
  req.mutable_filter()->set_queue(c.args.GetOr("queue", ""));
  if (window) *req.mutable_window() = *window;
  v1::KpiSnapshot snapshot;
  const int rc = Unary(c, Service::kKpi, &Connector::Kpi,
                       [&](auto& stub, auto& ctx) { return stub.GetSnapshot(&ctx, req, &snapshot); });
  if (rc != kExitOk) return rc;
  if (Json(c)) {
    c.io.out << ToJson(snapshot) << "\n";
  } else {
    PrintKpis(c.io.out, snapshot, c.args.GetOr("window", ""));
  }
  return kExitOk;
}

int ProcessMap(Ctx& c) {
  const std::string format = c.args.GetOr("format", "text");
  if (format != "text" && format != "mermaid" && format != "dot" && format != "json") {
    return UsageError(c, absl::StrCat("--format \"", format.substr(0, 32), "\": expected text, mermaid, dot or json"));
  }
  bool bad_window = false;
  auto window = WindowOr(c, bad_window);
  if (bad_window) return kExitUsage;
  v1::GetProcessMapRequest req;
  req.set_tenant(c.args.GetOr("tenant", ""));
  req.set_kind(c.args.GetOr("kind", ""));
  if (window) *req.mutable_window() = *window;
  v1::ProcessMap map;
  const int rc = Unary(c, Service::kKpi, &Connector::Kpi,
                       [&](auto& stub, auto& ctx) { return stub.GetProcessMap(&ctx, req, &map); });
  if (rc != kExitOk) return rc;
  if (format == "mermaid") {
    c.io.out << map.mermaid();
  } else if (format == "dot") {
    c.io.out << map.graphviz();
  } else if (format == "json") {
    c.io.out << map.json() << "\n";
  } else {
    PrintProcessMap(c.io.out, map, req.tenant(), c.args.GetOr("window", ""));
  }
  return kExitOk;
}

// ---- compliance ----

int AuditVerify(Ctx& c) {
  v1::VerifyAuditRequest req;
  req.set_chain(c.args.GetOr("chain", ""));
  for (const auto& [flag, set] : {std::pair{"from", &v1::VerifyAuditRequest::set_from_sequence},
                                  std::pair{"to", &v1::VerifyAuditRequest::set_to_sequence}}) {
    if (auto v = c.args.Get(flag)) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0') return UsageError(c, absl::StrCat("--", flag, ": expected a sequence number"));
      (req.*set)(n);
    }
  }
  const std::string source = c.args.GetOr("source", "ledger");
  if (source == "topic") {
    req.set_source(v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC);
  } else if (source != "ledger") {
    return UsageError(c, absl::StrCat("--source: expected ledger or topic, got \"", source, "\""));
  }
  v1::VerifyAuditResponse resp;
  const int rc = Unary(c, Service::kCompliance, &Connector::Compliance,
                       [&](auto& stub, auto& ctx) { return stub.VerifyAudit(&ctx, req, &resp); });
  if (rc != kExitOk) return rc;
  const std::string scope = req.chain().empty() ? "every chain" : "chain " + req.chain();
  const std::string what = source == "topic" ? "audit topic" : "audit ledger";
  if (Json(c)) c.io.out << ToJson(resp) << "\n";
  if (!resp.ok()) {
    return Fail(c, absl::StrCat("the ", what, " does NOT verify: ", resp.first_bad_chain(), " #",
                                resp.first_bad_sequence(), ": ", resp.problem(), " (", resp.records_checked(),
                                " records checked)"));
  }
  if (!Json(c)) {
    c.io.out << what << " verified: " << resp.records_checked()
             << (resp.records_checked() == 1 ? " record in " : " records in ") << scope << "\n";
  }
  return kExitOk;
}

int AuditTrail(Ctx& c) {
  v1::GetAuditTrailRequest req;
  req.set_item_id(c.args.positional[0]);
  v1::GetAuditTrailResponse resp;
  const int rc = Unary(c, Service::kCompliance, &Connector::Compliance,
                       [&](auto& stub, auto& ctx) { return stub.GetAuditTrail(&ctx, req, &resp); });
  if (rc != kExitOk) return rc;
  if (Json(c)) {
    c.io.out << ToJson(resp) << "\n";
  } else {
    PrintAuditTrail(c.io.out, resp);
  }
  return kExitOk;
}

int Feedback(Ctx& c) {
  v1::SubmitFeedbackRequest req;
  req.set_tenant(c.args.GetOr("tenant", ""));
  req.set_kind(c.args.GetOr("kind", ""));
  req.set_queue(c.args.GetOr("queue", ""));
  req.set_item_id(c.args.GetOr("item", ""));
  req.set_category(c.args.GetOr("category", ""));
  req.set_text(c.args.GetOr("text", ""));
  if (req.category().empty()) return UsageError(c, "--category is required");
  if (req.kind().empty() && req.queue().empty() && req.item_id().empty()) {
    return UsageError(c, "give --kind, --queue or --item: what the feedback is about");
  }
  v1::SubmitFeedbackResponse resp;
  const int rc = Unary(c, Service::kWork, &Connector::Work,
                       [&](auto& stub, auto& ctx) { return stub.SubmitFeedback(&ctx, req, &resp); });
  if (rc != kExitOk) return rc;
  if (Json(c)) {
    c.io.out << ToJson(resp) << "\n";
  } else {
    c.io.out << "feedback recorded: " << resp.event_id() << "\n";
  }
  return kExitOk;
}

// ---- objectives (local: no service involved) ----

int ObjectivesRender(Ctx& c) {
  const std::string config_dir = c.env("DOCKET_CONFIG_DIR").value_or("deploy/config");
  const std::string path = c.args.GetOr("objectives", config_dir + "/objectives.yaml");
  auto objectives = objectives::LoadObjectives(path);
  if (!objectives.ok()) return Fail(c, std::string(objectives.status().message()));
  std::string catalog_path = c.args.GetOr("catalog", "");
  if (catalog_path.empty()) {
    const auto beside = std::filesystem::path(path).parent_path() / "catalog.yaml";
    if (std::filesystem::exists(beside)) catalog_path = beside.string();
  }
  if (!catalog_path.empty() && catalog_path != "none") {
    auto catalog = catalog::Catalog::Load(catalog_path);
    if (!catalog.ok()) return Fail(c, std::string(catalog.status().message()));
    if (auto s = objectives::CheckScopes(*objectives, *catalog); !s.ok()) return Fail(c, std::string(s.message()));
  }
  const auto out_dir = c.args.Get("out");
  if (c.args.Has("check")) {
    if (!out_dir) return UsageError(c, "--check needs --out=DIR (the rules directory to compare)");
    if (auto s = objectives::CheckRules(*objectives, *out_dir); !s.ok()) return Fail(c, std::string(s.message()));
    c.io.out << *out_dir << " is up to date with " << path << "\n";
    return kExitOk;
  }
  if (out_dir) {
    if (auto s = objectives::WriteRules(*objectives, *out_dir); !s.ok()) return Fail(c, std::string(s.message()));
    c.io.out << "wrote the rules of " << objectives->objectives.size() << " objectives to " << *out_dir << "\n";
    return kExitOk;
  }
  auto rules = objectives::RenderRules(*objectives);
  if (!rules.ok()) return Fail(c, std::string(rules.status().message()));
  c.io.out << *rules;
  return kExitOk;
}

// ---- health ----

int Health(Ctx& c) {
  const auto timeout = c.args.Has("timeout") ? c.settings.timeout : std::chrono::milliseconds(3000);
  int unhealthy = 0;
  if (c.settings.addresses.empty()) {
    return UsageError(c, absl::StrCat("no endpoints: set DOCKET_INTAKE_ADDR etc., pass --intake-addr=..., or "
                                      "start the local stack (deploy/local/up.sh writes ",
                                      c.args.GetOr("env-file", kDefaultEnvFile), ")"));
  }
  char line[160];
  std::snprintf(line, sizeof(line), "%-11s %-22s %s\n", "SERVICE", "ADDRESS", "HEALTH");
  c.io.out << line;
  for (const ServiceInfo& info : Services()) {
    auto it = c.settings.addresses.find(info.service);
    if (it == c.settings.addresses.end()) continue;
    auto& stub = c.connector.Health(it->second);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    ctx.set_wait_for_ready(true);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(info.grpc_service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub.Check(&ctx, req, &resp);
    std::string verdict;
    if (!s.ok()) {
      verdict = absl::StrCat("DOWN (", absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())),
                             ": ", OneLine(s.error_message()), ")");
      ++unhealthy;
    } else {
      verdict = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
      if (resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) ++unhealthy;
    }
    std::snprintf(line, sizeof(line), "%-11s %-22s %s\n", info.name, it->second.c_str(), verdict.c_str());
    c.io.out << line;
  }
  if (unhealthy > 0) return Fail(c, absl::StrCat(unhealthy, " service(s) not SERVING"));
  return kExitOk;
}

// ---- the table ----

const char kConnectionHelp[] =
    "connection (every command):\n"
    "  --env-file=PATH         KEY=value file (default .docket/local.env, written by deploy/local/up.sh)\n"
    "  --intake-addr=H:P       else DOCKET_INTAKE_ADDR (also --work-addr, --compliance-addr, --kpi-addr)\n"
    "  --key=KEY               API key, else --key-file=FILE, else DOCKET_API_KEY (never printed)\n"
    "  --timeout=DURATION      per call (default 10s; health 3s)\n"
    "  --tls-ca=PEM            TLS, trusting this CA (else DOCKET_TLS_CA_FILE; --tls alone: the system's CAs)\n"
    "  --tls-cert=PEM --tls-key=PEM  client certificate for mTLS (else DOCKET_TLS_CLIENT_CERT_FILE/_KEY_FILE)\n"
    "  --tls-server-name=NAME  the name the services' certificates carry, e.g. through a port-forward\n";

std::vector<Command> MakeCommands() {
  using namespace std::placeholders;
  std::vector<Command> cmds;
  cmds.push_back({"submit", "",
                  "submit one item (flags) or every item of a JSONL/CSV file (streamed)",
                  "  --tenant=T --kind=K     the item's tenant and kind (with --file: defaults for items without)\n"
                  "  --attr=NAME=VALUE       an attribute, repeatable; VALUE is JSON when it reads as JSON, else\n"
                  "                          text: pages=3  verified=true  document_id=D-1  ref='\"0042\"'\n"
                  "                          amount='{\"amount\":\"12.50\",\"currency\":\"EUR\"}'  due='{\"date\":\"2026-11-23\"}'\n"
                  "  --idempotency-key=K     default: a fresh random key (printed)\n"
                  "  --priority=low|normal|high|urgent  --external-ref=REF\n"
                  "  --file=PATH             items.jsonl (one JSON submission object a line, as on Kafka) or\n"
                  "                          items.csv (header row; tenant, kind, idempotency_key, priority,\n"
                  "                          external_ref columns, the rest attributes, typed as name:money etc.);\n"
                  "                          \"-\" reads stdin; an item without idempotency_key gets one from its content\n"
                  "  --file-format=jsonl|csv when the extension does not tell\n"
                  "  --progress              show the progress line even when stderr is not a terminal\n"
                  "  --json                  print the result as JSON\n",
                  {{"tenant"}, {"kind"}, {"attr", true, true}, {"idempotency-key"}, {"priority"}, {"external-ref"},
                   {"file"}, {"file-format"}, {"progress", false}, {"json", false}},
                  0, 0, Submit});
  cmds.push_back({"claim", "", "claim the next item you may work on (a lease)",
                  "  --tenant=T              required\n"
                  "  --queue=Q               only this queue (repeatable; default: every queue your skills allow)\n"
                  "  --max=N                 claim up to N items at once, most urgent first (1..100; your WIP cap\n"
                  "                          may allow fewer)\n"
                  "  --json                  the item as JSON ({} when none is available; with --max > 1 an array)\n",
                  {{"tenant"}, {"queue", true, true}, {"max"}, {"json", false}}, 0, 0, Claim});
  cmds.push_back({"complete", "ITEM", "complete a claimed item",
                  "  --outcome=NAME=VALUE    an outcome attribute, repeatable (values as submit --attr)\n"
                  "  --expected-version=N    refuse (ABORTED) if the item changed since version N\n"
                  "  --next                  then claim your next item in the same call (needs --tenant)\n"
                  "  --tenant=T, --queue=Q   with --next: where to claim, as claim takes them\n"
                  "  --json                  the item as JSON (with --next: item, next, next_code, next_message)\n",
                  {{"outcome", true, true}, {"expected-version"}, {"next", false}, {"tenant"}, {"queue", true, true},
                   {"json", false}},
                  1, 1, Complete});
  cmds.push_back({"return", "ITEM", "send a claimed or held item back for rework",
                  "  --reason=TEXT           required\n  --json\n", {{"reason"}, {"json", false}}, 1, 1,
                  std::bind(ItemAction<v1::ReturnRequest>, _1, "reason", true, &v1::Work::StubInterface::Return,
                            [](v1::ReturnRequest& r, const std::string& t) { r.set_reason(t); })});
  cmds.push_back({"escalate", "ITEM", "move an item to its queue's escalation queue",
                  "  --reason=TEXT           required\n  --json\n", {{"reason"}, {"json", false}}, 1, 1,
                  std::bind(ItemAction<v1::EscalateRequest>, _1, "reason", true,
                            &v1::Work::StubInterface::Escalate, [](v1::EscalateRequest& r, const std::string& t) { r.set_reason(t); })});
  cmds.push_back({"release", "ITEM", "release a held item as its second approver (four-eyes)",
                  "  --comment=TEXT\n  --json\n", {{"comment"}, {"json", false}}, 1, 1,
                  std::bind(ItemAction<v1::ReleaseRequest>, _1, "comment", false,
                            &v1::Work::StubInterface::Release, [](v1::ReleaseRequest& r, const std::string& t) { r.set_comment(t); })});
  cmds.push_back({"reject", "ITEM", "reject an item (terminal)", "  --reason=TEXT           required\n  --json\n",
                  {{"reason"}, {"json", false}}, 1, 1,
                  std::bind(ItemAction<v1::RejectRequest>, _1, "reason", true, &v1::Work::StubInterface::Reject,
                            [](v1::RejectRequest& r, const std::string& t) { r.set_reason(t); })});
  cmds.push_back({"comment", "ITEM", "add a note to an item's history",
                  "  --text=TEXT             required (up to 4096 bytes)\n  --json\n", {{"text"}, {"json", false}}, 1, 1,
                  std::bind(ItemAction<v1::CommentRequest>, _1, "text", true, &v1::Work::StubInterface::Comment,
                            [](v1::CommentRequest& r, const std::string& t) { r.set_text(t); })});
  cmds.push_back({"feedback", "", "feedback on a kind, a queue or an item, counted by the metrics service",
                  "  --category=C            required: unclear-instructions|missing-data|tooling|workload|policy|other\n"
                  "  --kind=K --queue=Q --item=ITEM   what it is about (at least one)\n"
                  "  --tenant=T              required unless --item is given\n"
                  "  --text=TEXT             free text (up to 4096 bytes)\n  --json\n",
                  {{"category"}, {"kind"}, {"queue"}, {"item"}, {"tenant"}, {"text"}, {"json", false}}, 0, 0,
                  Feedback});
  cmds.push_back({"get", "ITEM", "show an item", "  --json                  the item as JSON\n",
                  {{"json", false}}, 1, 1, Get});
  cmds.push_back({"queue ls", "", "list a queue in claim order (follows every page)",
                  "  --tenant=T --queue=Q    required\n  --page-size=N           items per call (default 100)\n"
                  "  --json                  {\"items\": [...]}\n",
                  {{"tenant"}, {"queue"}, {"page-size"}, {"json", false}}, 0, 0, QueueLs});
  cmds.push_back({"kpis", "", "KPIs from the metrics service as a table",
                  "  --tenant=T --kind=K --queue=Q   filter (tenant may be left out only with a key for every tenant)\n"
                  "  --window=DURATION       look back this far (24h, 7d; default: all time)\n"
                  "  --json                  the snapshot as JSON\n",
                  {{"tenant"}, {"kind"}, {"queue"}, {"window"}, {"json", false}}, 0, 0, Kpis});
  cmds.push_back({"process-map", "", "how items flow between states, and the bottleneck",
                  "  --tenant=T --kind=K     filter\n  --window=DURATION\n"
                  "  --format=text|mermaid|dot|json   default text\n",
                  {{"tenant"}, {"kind"}, {"window"}, {"format"}}, 0, 0, ProcessMap});
  cmds.push_back({"audit verify", "", "verify the hash-chained audit ledger (exit 1 if it does not verify)",
                  "  --chain=NAME            one chain (default: every chain)\n"
                  "  --from=SEQ --to=SEQ     a range of sequence numbers (ledger only)\n"
                  "  --source=ledger|topic   the ledger in Redis (default; within audit_retention), or\n"
                  "                          docket.audit.v1 read whole (every record ever published;\n"
                  "                          give it a --timeout to match the topic's size)\n  --json\n",
                  {{"chain"}, {"from"}, {"to"}, {"source"}, {"json", false}}, 0, 0, AuditVerify});
  cmds.push_back({"audit trail", "ITEM", "the audit records of an item", "  --json\n", {{"json", false}}, 1, 1,
                  AuditTrail});
  cmds.push_back({"objectives render", "", "Prometheus rules from objectives.yaml (local; no service call)",
                  "  --objectives=FILE       default $DOCKET_CONFIG_DIR/objectives.yaml, else deploy/config/objectives.yaml\n"
                  "  --catalog=FILE|none     catalog the scopes must name (default: catalog.yaml beside FILE)\n"
                  "  --out=DIR               write the rules file there (default: print it)\n"
                  "  --check                 with --out: exit 1 if DIR is not what render would write\n",
                  {{"objectives"}, {"catalog"}, {"out"}, {"check", false}}, 0, 0, ObjectivesRender});
  cmds.push_back({"health", "", "gRPC health of every service with an address; exit 1 if any is not SERVING", "", {},
                  0, 0, Health});
  return cmds;
}

void PrintUsage(std::ostream& out, const std::vector<Command>& cmds) {
  out << "usage: docketctl <command> [flags]\n\ncommands:\n";
  for (const Command& c : cmds) {
    std::string head = c.name + (c.operands.empty() ? "" : " " + c.operands);
    head.resize(std::max<std::size_t>(head.size() + 1, 20), ' ');
    out << "  " << head << c.summary << "\n";
  }
  out << "\n" << kConnectionHelp
      << "\nErrors are one line on stderr; exit 0 done, 1 a call failed, 2 a usage error.\n"
         "docketctl <command> --help shows the command's flags.\n";
}

void PrintCommandHelp(std::ostream& out, const Command& c) {
  out << "usage: docketctl " << c.name << (c.operands.empty() ? "" : " " + c.operands) << " [flags]\n\n"
      << c.summary << "\n";
  if (!c.details.empty()) out << "\n" << c.details;
  out << "\n" << kConnectionHelp;
}

}  // namespace

int Run(const std::vector<std::string>& argv, const EnvLookup& env, Connector& connector, Io& io) {
  const std::vector<Command> cmds = MakeCommands();
  if (argv.empty()) {
    PrintUsage(io.err, cmds);
    return kExitUsage;
  }
  if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    PrintUsage(io.out, cmds);
    return kExitOk;
  }
  const Command* command = nullptr;
  std::size_t words = 0;
  for (const Command& c : cmds) {
    const std::string two = argv.size() > 1 ? argv[0] + " " + argv[1] : "";
    if (c.name == two) {
      command = &c;
      words = 2;
      break;
    }
    if (c.name == argv[0]) {
      command = &c;
      words = 1;
    }
  }
  if (command == nullptr) {
    std::string subcommands;
    for (const Command& c : cmds) {
      if (c.name.rfind(argv[0] + " ", 0) == 0) {
        absl::StrAppend(&subcommands, subcommands.empty() ? "" : ", ", c.name.substr(argv[0].size() + 1));
      }
    }
    if (!subcommands.empty()) {
      io.err << "docketctl: " << argv[0] << ": expected one of: " << subcommands << " (see docketctl --help)\n";
    } else {
      io.err << "docketctl: unknown command \"" << argv[0].substr(0, 64) << "\" (see docketctl --help)\n";
    }
    return kExitUsage;
  }
  std::vector<FlagSpec> spec = command->flags;
  for (FlagSpec& f : ConnectionFlags()) spec.push_back(std::move(f));
  auto args = ParseArgs(std::vector<std::string>(argv.begin() + static_cast<std::ptrdiff_t>(words), argv.end()), spec);
  Settings no_settings;
  if (!args.ok()) {
    Args empty;
    Ctx c{*command, empty, no_settings, connector, io, env};
    return UsageError(c, std::string(args.status().message()));
  }
  if (args->help) {
    PrintCommandHelp(io.out, *command);
    return kExitOk;
  }
  Ctx early{*command, *args, no_settings, connector, io, env};
  const std::size_t n = args->positional.size();
  if (n < command->min_positional) return UsageError(early, absl::StrCat("expected ", command->operands));
  if (n > command->max_positional) {
    return UsageError(early, absl::StrCat("unexpected argument \"", args->positional[command->max_positional].substr(0, 64), "\""));
  }
  auto settings = ResolveSettings(*args, env);
  if (!settings.ok()) return UsageError(early, std::string(settings.status().message()));
  if (absl::Status s = connector.UseTls(settings->tls); !s.ok()) return UsageError(early, std::string(s.message()));
  Ctx c{*command, *args, *settings, connector, io, env};
  return command->run(c);
}

}  // namespace docket::ctl
