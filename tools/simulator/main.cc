// docket-simulate: a simulated back-office day through the real stack, and
// the day's report checked against what the simulator itself did.
//
//   docket-simulate [--env-file=.docket/local.env] [--config-dir=deploy/config]
//                   [--items=400] [--duration=60] [--seed=7] [--json-report=PATH]
//
// Publishers submit a realistic mix of work over a two-peak day (intake);
// five workers with skills and shifts claim, complete, return, escalate and
// reject it (processing); supervisors release or reject what compliance
// held. Then it waits for the event stream to settle and prints KPIs against
// objectives, the process map with its bottleneck, the compliance summary
// and the verified ledger. Exit 0 only if every check held.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/catalog/catalog.h"
#include "docket/v1/compliance_service.grpc.pb.h"
#include "docket/v1/intake_service.grpc.pb.h"
#include "docket/v1/kpi_service.grpc.pb.h"
#include "docket/v1/work_service.grpc.pb.h"
#include "tools/objectives/objectives.h"
#include "tools/simulator/workload.h"

namespace docket::sim {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr char kPublisherKey[] = "dk_demo_acme_publisher_LOCAL_STACK_ONLY";
constexpr char kOperatorKey[] = "dk_demo_operator_LOCAL_STACK_ONLY";

struct Flags {
  std::string env_file = ".docket/local.env";
  std::string config_dir = "deploy/config";
  int items = 400;
  double duration = 60;
  unsigned seed = 7;
  std::string json_report;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::cerr << "docket-simulate: " << problem << "\n"
            << "usage: docket-simulate [--env-file=PATH] [--config-dir=DIR] [--items=N] "
               "[--duration=SECONDS] [--seed=N] [--json-report=PATH]\n";
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    std::string k = a.substr(0, eq), v = eq == std::string::npos ? "" : a.substr(eq + 1);
    try {
      if (k == "--env-file") f.env_file = v;
      else if (k == "--config-dir") f.config_dir = v;
      else if (k == "--items") f.items = std::stoi(v);
      else if (k == "--duration") f.duration = std::stod(v);
      else if (k == "--seed") f.seed = static_cast<unsigned>(std::stoul(v));
      else if (k == "--json-report") f.json_report = v;
      else if (k == "--help" || k == "-h") Usage("a simulated back-office day through the running stack");
      else Usage("unknown flag " + k);
    } catch (const std::exception&) {
      Usage("bad value for " + k + ": \"" + v + "\"");
    }
  }
  if (f.items <= 0 || f.duration <= 0) Usage("--items and --duration must be positive");
  return f;
}

std::map<std::string, std::string> ReadEnv(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  if (!in) {
    std::cerr << "docket-simulate: cannot read " << path << " (start the stack with deploy/local/up.sh)\n";
    std::exit(1);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (auto eq = line.find('='); eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& key, std::chrono::seconds deadline = 10s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + key);
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  return ctx;
}

std::string Code(const grpc::Status& s) {
  static const char* names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  const int c = s.error_code();
  return c >= 0 && c <= 16 ? names[c] : std::to_string(c);
}

// What the simulator did: the ground truth the report is checked against.
struct Truth {
  std::mutex mu;
  std::vector<std::string> admitted;  // item ids
  int refused = 0;                    // INVALID_ARGUMENT at intake
  int planned_invalid = 0;
  std::set<std::string> awaiting_check;  // completed by a person, verdict pending
  std::set<std::string> seen_held;
  std::map<std::string, std::string> completer;  // item -> worker
  std::atomic<int> claims{0}, completes{0}, returns{0}, escalations{0}, rejects{0}, releases{0},
      lease_lost{0};
};

class Simulation {
 public:
  Simulation(const Flags& flags, const std::map<std::string, std::string>& env,
             const catalog::Catalog& catalog)
      : flags_(flags), catalog_(catalog) {
    auto channel = [&](const char* var) {
      auto it = env.find(var);
      if (it == env.end()) {
        std::cerr << "docket-simulate: " << var << " missing in " << flags.env_file << "\n";
        std::exit(1);
      }
      return grpc::CreateChannel(it->second, grpc::InsecureChannelCredentials());
    };
    intake_ = docket::v1::Intake::NewStub(channel("DOCKET_INTAKE_ADDR"));
    work_ = docket::v1::Work::NewStub(channel("DOCKET_WORK_ADDR"));
    compliance_ = docket::v1::Compliance::NewStub(channel("DOCKET_COMPLIANCE_ADDR"));
    kpi_ = docket::v1::Kpi::NewStub(channel("DOCKET_KPI_ADDR"));
    if (auto it = env.find("DOCKET_SIM_CLOCK"); it != env.end()) {
      if (std::sscanf(it->second.c_str(), "%lld,%lld,%lf", &real_origin_ms_, &sim_origin_ms_, &scale_) != 3 ||
          scale_ <= 0) {
        std::cerr << "docket-simulate: DOCKET_SIM_CLOCK \"" << it->second
                  << "\" is not <real epoch ms>,<simulated epoch ms>,<scale>\n";
        std::exit(1);
      }
      // The business day opens at the first 07:00 UTC the simulated clock
      // reaches (up.sh starts it a little before, so the stack is up by then).
      constexpr long long kDayMs = 24LL * 3600 * 1000, kOpensMs = 7LL * 3600 * 1000;
      day_start_sim_ms_ = sim_origin_ms_ / kDayMs * kDayMs + kOpensMs;
      if (day_start_sim_ms_ < sim_origin_ms_) day_start_sim_ms_ += kDayMs;
    }
  }

  void Run() {
    WorkloadOptions wo;
    wo.items = flags_.items;
    wo.seed = flags_.seed;
    wo.denied_vendors = ReadList(flags_.config_dir + "/deny-lists/sanctioned-vendors.txt");
    plan_ = PlanDay(catalog_, wo);
    for (const auto& p : plan_) truth_.planned_invalid += p.invalid;
    start_ = Clock::now();
    if (const double late = DayShare(); late > 0.02) {
      std::cerr << absl::StrFormat(
          "docket-simulate: the business day opened %.0f%% of it ago (the stack was slow to start); "
          "the items that arrived by now are submitted at once\n",
          100 * std::min(late, 1.0));
    }
    std::vector<std::thread> threads;
    threads.emplace_back([this] { Submit(); });
    for (const auto& w : DemoRoster()) threads.emplace_back([this, w] { Work(w); });
    threads.emplace_back([this] { Progress(); });
    for (auto& t : threads) t.join();
    day_over_at_ = Clock::now();
    std::cerr << "\n";
  }

  // Waits for every event to be counted, then builds the report; returns
  // whether every check held.
  bool Report(std::ostream& out) {
    // Ground truth from processing, once verdicts pending at the end of the
    // day have arrived.
    // The day is over; business time runs on. Give the watchdog a few ticks
    // (one a second) to flag what fell due at the end of the day.
    std::this_thread::sleep_until(day_over_at_ + kWatchdogGrace);
    Observed seen;
    const auto settle_deadline = Clock::now() + 30s;
    while (!(seen = Observe()).settled && Clock::now() < settle_deadline) std::this_thread::sleep_for(500ms);

    // The KPI service, once it has counted everything. The watchdog may
    // still find an item past due meanwhile, so the items are read again
    // with each snapshot.
    docket::v1::KpiSnapshot kpi;
    const auto kpi_deadline = Clock::now() + 60s;
    for (;;) {
      docket::v1::GetSnapshotRequest req;
      req.mutable_filter()->set_tenant("acme");
      auto ctx = Ctx(kOperatorKey);
      grpc::Status s = kpi_->GetSnapshot(ctx.get(), req, &kpi);
      if (s.ok() && seen.Matches(kpi)) break;
      if (Clock::now() > kpi_deadline) break;
      std::this_thread::sleep_for(500ms);
      seen = Observe();
    }
    const int admitted = static_cast<int>(truth_.admitted.size());
    const int completed = seen.completed, automated = seen.automated, rejected = seen.rejected;
    const int open = admitted - completed - automated - rejected;
    const std::set<std::string>& held = seen.held;

    std::vector<std::pair<std::string, bool>> checks;
    auto check = [&](const std::string& what, bool ok) { checks.emplace_back(what, ok); };

    out << "\n== Docket: a simulated back-office day (tenant acme) ==\n";
    if (scale_ > 0) {
      out << absl::StrFormat("Business time ran %.0fx: %.1f simulated hours in %.0f s.\n", scale_,
                             flags_.duration * scale_ / 3600, flags_.duration);
    }
    out << absl::StrFormat("Submitted %d items: %d admitted, %d refused by intake (%d planned with a missing field).\n",
                           static_cast<int>(plan_.size()), admitted, truth_.refused, truth_.planned_invalid);
    out << absl::StrFormat("Workers: %d claims, %d completions, %d returned for rework, %d escalated, %d rejected, %d released after a hold, %d leases lost.\n",
                           truth_.claims.load(), truth_.completes.load(), truth_.returns.load(),
                           truth_.escalations.load(), truth_.rejects.load(), truth_.releases.load(),
                           truth_.lease_lost.load());
    out << "\n  outcome            simulator   KPI service\n";
    auto row = [&](const char* name, std::int64_t truth, std::int64_t measured) {
      out << absl::StrFormat("  %-18s %9d   %11d  %s\n", name, truth, measured, truth == measured ? "ok" : "MISMATCH");
      check(absl::StrCat(name, ": simulator ", truth, " = KPI ", measured), truth == measured);
    };
    row("arrivals", admitted, kpi.arrivals());
    row("completed", completed, kpi.completed());
    row("auto-completed", automated, kpi.auto_completed());
    row("rejected", rejected, kpi.rejected());
    row("backlog", open, kpi.backlog());
    row("held by compliance", static_cast<std::int64_t>(held.size()), kpi.holds());
    check(absl::StrCat("submitted ", admitted, " = completed + auto + rejected + backlog (",
                       kpi.completed() + kpi.auto_completed() + kpi.rejected() + kpi.backlog(), ")"),
          admitted == kpi.completed() + kpi.auto_completed() + kpi.rejected() + kpi.backlog());
    row("SLA met", seen.sla_met, kpi.sla_met());
    row("SLA missed", seen.sla_missed, kpi.sla_missed());
    row("SLA breaches", seen.sla_breaches, kpi.sla_breaches());
    check(absl::StrCat("every open item past its due time was flagged breached by the watchdog (",
                       seen.overdue - seen.overdue_unflagged, " of ", seen.overdue, ")"),
          seen.overdue_unflagged == 0);
    check(absl::StrCat("SLA met + missed (", kpi.sla_met() + kpi.sla_missed(), ") = completions (",
                       kpi.completed() + kpi.auto_completed(), ")"),
          kpi.sla_met() + kpi.sla_missed() == kpi.completed() + kpi.auto_completed());
    check(absl::StrCat("refused by intake (", truth_.refused, ") = planned invalid (", truth_.planned_invalid, ")"),
          truth_.refused == truth_.planned_invalid);

    out << absl::StrFormat(
        "\n  throughput %.1f/h   SLA attainment %.1f%% (%d met, %d missed)   first-pass yield %.1f%%\n"
        "  automation %.1f%%   cycle time p50 %s, p90 %s   reworks %d   escalations %d   SLA breaches %d\n"
        "  oldest open item %s\n",
        kpi.throughput_per_hour(), 100 * kpi.sla_attainment(), kpi.sla_met(), kpi.sla_missed(),
        100 * kpi.first_pass_yield(), 100 * kpi.automation_rate(), Human(kpi.cycle_time_p50_seconds()),
        Human(kpi.cycle_time_p90_seconds()), kpi.reworks(), kpi.escalations(), kpi.sla_breaches(),
        Human(kpi.oldest_item_age_seconds()));

    ObjectivesSection(out);
    ProcessMapSection(out);

    // Compliance: holds and the ledger.
    out << "\n== Compliance ==\n";
    out << absl::StrFormat("  %d items held by a FLAG or FAIL verdict (%d released by a second person).\n",
                           static_cast<int>(held.size()), truth_.releases.load());
    docket::v1::VerifyAuditRequest vreq;
    docket::v1::VerifyAuditResponse vresp;
    auto vctx = Ctx(kOperatorKey, 60s);
    grpc::Status vs = compliance_->VerifyAudit(vctx.get(), vreq, &vresp);
    if (vs.ok()) {
      out << absl::StrFormat("  audit ledger: %d records verified, %s\n", vresp.records_checked(),
                             vresp.ok() ? "chain intact" : "BROKEN at " + vresp.first_bad_chain() + " #" +
                                                               std::to_string(vresp.first_bad_sequence()) +
                                                               ": " + vresp.problem());
    } else {
      out << "  audit ledger: VerifyAudit failed: " << Code(vs) << ": " << vs.error_message() << "\n";
    }
    check(absl::StrCat("audit ledger verified (", vresp.records_checked(), " records)"),
          vs.ok() && vresp.ok() && vresp.records_checked() > 0);

    out << "\n== Checks ==\n";
    bool all = true;
    for (const auto& [what, ok] : checks) {
      out << "  " << (ok ? "PASS " : "FAIL ") << what << "\n";
      all = all && ok;
    }
    if (!flags_.json_report.empty()) {
      nlohmann::json j{{"planned", plan_.size()}, {"admitted", admitted}, {"refused", truth_.refused},
                       {"truth", {{"completed", completed}, {"auto_completed", automated},
                                  {"rejected", rejected}, {"open", open}, {"held", held.size()},
                                  {"sla_met", seen.sla_met}, {"sla_missed", seen.sla_missed},
                                  {"sla_breaches", seen.sla_breaches}}},
                       {"kpi", {{"arrivals", kpi.arrivals()}, {"completed", kpi.completed()},
                                {"auto_completed", kpi.auto_completed()}, {"rejected", kpi.rejected()},
                                {"backlog", kpi.backlog()}, {"sla_met", kpi.sla_met()},
                                {"sla_missed", kpi.sla_missed()}, {"holds", kpi.holds()},
                                {"sla_breaches", kpi.sla_breaches()}}},
                       {"ledger", {{"ok", vs.ok() && vresp.ok()}, {"records", vresp.records_checked()}}},
                       {"checks_passed", all}};
      std::ofstream(flags_.json_report) << j.dump(2) << "\n";
    }
    return all;
  }

 private:
  // Business time, as the services' clock has it (DOCKET_SIM_CLOCK).
  double SimNowMs() const {
    const double real_now_ms =
        std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (scale_ <= 0) return real_now_ms;
    return static_cast<double>(sim_origin_ms_) + (real_now_ms - static_cast<double>(real_origin_ms_)) * scale_;
  }
  // How much of the day has passed (below 0 before it opens). On the
  // simulated clock the day is the business day the services see: shifts,
  // arrivals and the bulk upload happen at the business times they stand
  // for, however long the stack took to start.
  double DayShare() const {
    if (scale_ > 0) {
      return (SimNowMs() - static_cast<double>(day_start_sim_ms_)) / (flags_.duration * scale_ * 1000);
    }
    return std::chrono::duration<double>(Clock::now() - start_).count() / flags_.duration;
  }
  bool DayOver() const { return DayShare() >= 1.0; }
  // Simulated seconds as real time.
  std::chrono::milliseconds Real(double sim_seconds) const {
    const double scale = scale_ > 0 ? scale_ : 600;
    return std::chrono::milliseconds(static_cast<std::int64_t>(sim_seconds / scale * 1000));
  }
  static std::string Human(double s) {
    if (s < 120) return absl::StrFormat("%.0fs", s);
    if (s < 7200) return absl::StrFormat("%.0fm", s / 60);
    return absl::StrFormat("%.1fh", s / 3600);
  }

  // What processing holds for the admitted items: their states, and their
  // SLA outcomes as the items record them (finished_at against due_at, the
  // watchdog's sla_breached_at).
  struct Observed {
    bool settled = false;  // every item routed, no verdict pending
    int admitted = 0;
    int completed = 0, automated = 0, rejected = 0;
    int sla_met = 0, sla_missed = 0, sla_breaches = 0;
    // Open items whose due time passed a while ago (longer than the
    // watchdog's tick), and of them those it did not flag as breached.
    int overdue = 0, overdue_unflagged = 0;
    std::set<std::string> held;  // ever held by compliance (seen by supervisors, or now)

    bool Matches(const docket::v1::KpiSnapshot& kpi) const {
      return kpi.arrivals() == admitted && kpi.completed() == completed && kpi.auto_completed() == automated &&
             kpi.rejected() == rejected && kpi.holds() == static_cast<std::int64_t>(held.size()) &&
             kpi.sla_met() == sla_met && kpi.sla_missed() == sla_missed &&
             kpi.sla_breaches() == sla_breaches;
    }
  };

  Observed Observe() {
    Observed o;
    o.settled = true;
    o.admitted = static_cast<int>(truth_.admitted.size());
    const double overdue_before =
        SimNowMs() - static_cast<double>(std::chrono::milliseconds(kWatchdogGrace).count()) * (scale_ > 0 ? scale_ : 1);
    for (const auto& id : truth_.admitted) {
      docket::v1::GetRequest req;
      req.set_item_id(id);
      docket::v1::WorkItemResponse resp;
      auto ctx = Ctx(kOperatorKey);
      if (!work_->Get(ctx.get(), req, &resp).ok()) {  // not routed yet
        o.settled = false;
        continue;
      }
      const docket::v1::WorkItem& item = resp.item();
      switch (item.state()) {
        case docket::v1::WORK_STATE_COMPLETED: ++o.completed; break;
        case docket::v1::WORK_STATE_AUTO_COMPLETED: ++o.automated; break;
        case docket::v1::WORK_STATE_REJECTED: ++o.rejected; break;
        case docket::v1::WORK_STATE_COMPLETION_REQUESTED: o.settled = false; break;
        case docket::v1::WORK_STATE_HELD: o.held.insert(id); break;
        default: break;
      }
      if (item.state() == docket::v1::WORK_STATE_COMPLETED ||
          item.state() == docket::v1::WORK_STATE_AUTO_COMPLETED) {
        ++(Millis(item.finished_at()) <= Millis(item.due_at()) ? o.sla_met : o.sla_missed);
      }
      o.sla_breaches += item.has_sla_breached_at() ? 1 : 0;
      const bool open = item.state() == docket::v1::WORK_STATE_QUEUED ||
                        item.state() == docket::v1::WORK_STATE_CLAIMED;
      if (open && Millis(item.due_at()) < overdue_before) {
        ++o.overdue;
        o.overdue_unflagged += item.has_sla_breached_at() ? 0 : 1;
      }
    }
    std::lock_guard lock(truth_.mu);
    o.held.insert(truth_.seen_held.begin(), truth_.seen_held.end());
    return o;
  }

  static std::int64_t Millis(const google::protobuf::Timestamp& t) {
    return t.seconds() * 1000 + t.nanos() / 1000000;
  }

  void Submit() {
    std::size_t next = 0;
    while (next < plan_.size()) {
      const double now = DayShare();
      docket::v1::SubmitBatchRequest req;
      std::vector<std::size_t> batch;
      while (next < plan_.size() && plan_[next].arrival <= now && batch.size() < 200) {
        *req.add_items()->mutable_submission() = plan_[next].submission;
        batch.push_back(next++);
      }
      if (batch.empty()) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      docket::v1::SubmitBatchResponse resp;
      auto ctx = Ctx(kPublisherKey);
      grpc::Status s = intake_->SubmitBatch(ctx.get(), req, &resp);
      if (!s.ok()) {  // the whole batch failed: retry it (same idempotency keys)
        std::cerr << "\ndocket-simulate: SubmitBatch " << Code(s) << ": " << s.error_message() << "; retrying\n";
        next = batch.front();
        std::this_thread::sleep_for(200ms);
        continue;
      }
      std::lock_guard lock(truth_.mu);
      for (int i = 0; i < resp.results_size(); ++i) {
        const auto& r = resp.results(i);
        if (r.code() == 0) {
          if (!r.duplicate()) truth_.admitted.push_back(r.item_id());
        } else if (r.code() == grpc::StatusCode::INVALID_ARGUMENT) {
          ++truth_.refused;
        } else {  // retryable: put it back
          next = std::min(next, batch[static_cast<std::size_t>(i)]);
        }
      }
    }
  }

  void Work(const SimWorker& w) {
    std::mt19937 rng(flags_.seed ^ static_cast<unsigned>(std::hash<std::string>()(w.name)));
    std::uniform_real_distribution<double> u(0, 1);
    docket::v1::ClaimNextRequest creq;
    creq.set_tenant("acme");
    std::optional<docket::v1::WorkItem> carried;  // claimed by the last Complete ("complete and next")
    while (!DayOver()) {
      const double t = DayShare();
      if (!carried && (t < w.shift_start || t > w.shift_end)) {
        std::this_thread::sleep_for(50ms);
        continue;
      }
      if (w.supervisor) ReviewHeld(w, rng);
      docket::v1::ClaimNextResponse cresp;
      if (carried) {
        *cresp.mutable_item() = *std::move(carried);
        carried.reset();
      } else {
        auto ctx = Ctx(w.key);
        grpc::Status s = work_->ClaimNext(ctx.get(), creq, &cresp);
        if (!s.ok() || !cresp.has_item()) {
          std::this_thread::sleep_for(s.ok() ? 50ms : 200ms);
          continue;
        }
        ++truth_.claims;
      }
      const auto& item = cresp.item();
      std::this_thread::sleep_for(Real(HandleSeconds(item.kind(), rng)));
      const double dice = u(rng);
      docket::v1::WorkItemResponse resp;
      auto actx = Ctx(w.key);
      grpc::Status as;
      if (dice < 0.02) {
        docket::v1::RejectRequest r;
        r.set_item_id(item.id());
        r.set_reason("duplicate of an earlier request");
        as = work_->Reject(actx.get(), r, &resp);
        if (as.ok()) ++truth_.rejects;
      } else if (dice < 0.05 && catalog_.FindQueue(item.queue()) &&
                 catalog_.FindQueue(item.queue())->escalation) {
        docket::v1::EscalateRequest r;
        r.set_item_id(item.id());
        r.set_reason("needs a senior decision");
        as = work_->Escalate(actx.get(), r, &resp);
        if (as.ok()) ++truth_.escalations;
      } else if (dice < 0.13) {
        docket::v1::ReturnRequest r;
        r.set_item_id(item.id());
        r.set_reason("missing information");
        as = work_->Return(actx.get(), r, &resp);
        if (as.ok()) ++truth_.returns;
      } else {
        docket::v1::CompleteRequest r;
        r.set_item_id(item.id());
        (*r.mutable_outcome())["decision"].set_string_value("approved");
        // Within the shift, "complete and next": the next item comes with
        // the answer. Near its end, no new item is taken on.
        const double now = DayShare();
        if (!DayOver() && now >= w.shift_start && now <= w.shift_end) *r.mutable_claim_next() = creq;
        as = work_->Complete(actx.get(), r, &resp);
        if (as.ok() && resp.has_next()) {
          ++truth_.claims;
          carried = resp.next();
        }
        if (as.ok()) {
          ++truth_.completes;
          if (resp.item().state() == docket::v1::WORK_STATE_COMPLETION_REQUESTED) {
            std::lock_guard lock(truth_.mu);
            truth_.awaiting_check.insert(item.id());
            truth_.completer[item.id()] = w.name;
          }
        }
      }
      if (!as.ok()) {
        if (as.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
            as.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
          ++truth_.lease_lost;  // the lease ran out while the worker was busy
        } else {
          std::cerr << "\ndocket-simulate: " << w.name << ": " << Code(as) << ": " << as.error_message() << "\n";
        }
      }
    }
  }

  // A supervisor looks at items compliance may have held and releases
  // (mostly) or rejects them; never one they completed themselves.
  void ReviewHeld(const SimWorker& w, std::mt19937& rng) {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(truth_.mu);
      ids.assign(truth_.awaiting_check.begin(), truth_.awaiting_check.end());
    }
    for (const auto& id : ids) {
      docket::v1::GetRequest g;
      g.set_item_id(id);
      docket::v1::WorkItemResponse item;
      auto ctx = Ctx(w.key);
      if (!work_->Get(ctx.get(), g, &item).ok()) continue;
      const auto state = item.item().state();
      std::lock_guard lock(truth_.mu);
      if (state == docket::v1::WORK_STATE_COMPLETION_REQUESTED) continue;
      if (state != docket::v1::WORK_STATE_HELD) {
        truth_.awaiting_check.erase(id);
        continue;
      }
      truth_.seen_held.insert(id);
      if (truth_.completer[id] == w.name) continue;  // four-eyes: someone else
      docket::v1::WorkItemResponse resp;
      auto actx = Ctx(w.key);
      if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.8) {
        docket::v1::ReleaseRequest r;
        r.set_item_id(id);
        r.set_comment("checked the documents");
        if (work_->Release(actx.get(), r, &resp).ok()) ++truth_.releases;
      } else {
        docket::v1::RejectRequest r;
        r.set_item_id(id);
        r.set_reason("policy violation confirmed");
        if (work_->Reject(actx.get(), r, &resp).ok()) ++truth_.rejects;
      }
      truth_.awaiting_check.erase(id);
    }
  }

  void Progress() {
    while (!DayOver()) {
      std::this_thread::sleep_for(1s);
      int admitted;
      {
        std::lock_guard lock(truth_.mu);
        admitted = static_cast<int>(truth_.admitted.size());
      }
      const int done = truth_.completes + truth_.rejects;
      std::cerr << absl::StrFormat("\rday %3.0f%% | submitted %d | in progress %d | completed %d | rejected %d   ",
                                   std::clamp(100 * DayShare(), 0.0, 100.0), admitted,
                                   std::max(0, admitted - done), truth_.completes.load(),
                                   truth_.rejects.load())
                << std::flush;
    }
  }

  void ObjectivesSection(std::ostream& out) {
    auto objectives = objectives::LoadObjectives(flags_.config_dir + "/objectives.yaml");
    out << "\n== KPIs against objectives (this day) ==\n";
    if (!objectives.ok()) {
      out << "  objectives.yaml: " << objectives.status().message() << "\n";
      return;
    }
    for (const auto& o : objectives->objectives) {
      const auto kpi = o.kpi;
      if (kpi != objectives::Kpi::kSlaAttainment && kpi != objectives::Kpi::kFirstPassYield &&
          kpi != objectives::Kpi::kAutomationRate)
        continue;
      docket::v1::GetSnapshotRequest req;
      req.mutable_filter()->set_tenant(o.scope.tenant.value_or("acme"));
      req.mutable_filter()->set_kind(o.scope.kind.value_or(""));
      req.mutable_filter()->set_queue(o.scope.queue.value_or(""));
      docket::v1::KpiSnapshot s;
      auto ctx = Ctx(kOperatorKey);
      if (!kpi_->GetSnapshot(ctx.get(), req, &s).ok()) continue;
      double actual = kpi == objectives::Kpi::kSlaAttainment    ? s.sla_attainment()
                      : kpi == objectives::Kpi::kFirstPassYield ? s.first_pass_yield()
                                                                : s.automation_rate();
      const bool measured = s.completed() + s.auto_completed() > 0;
      out << absl::StrFormat("  %-28s %-17s target %5.1f%%  actual %s  %s\n", o.name,
                             std::string(objectives::KpiName(kpi)), 100 * o.target,
                             measured ? absl::StrFormat("%5.1f%%", 100 * actual) : "    -",
                             !measured ? "(no completions)" : actual >= o.target ? "met" : "MISSED");
    }
  }

  void ProcessMapSection(std::ostream& out) {
    docket::v1::GetProcessMapRequest req;
    req.set_tenant("acme");
    docket::v1::ProcessMap m;
    auto ctx = Ctx(kOperatorKey);
    grpc::Status s = kpi_->GetProcessMap(ctx.get(), req, &m);
    out << "\n== Process map (all kinds) ==\n";
    if (!s.ok()) {
      out << "  GetProcessMap: " << Code(s) << ": " << s.error_message() << "\n";
      return;
    }
    for (const auto& t : m.transitions()) {
      out << absl::StrFormat("  %-22s -> %-22s %6d  mean %s\n", t.from(), t.to(), t.count(), Human(t.mean_seconds()));
    }
    if (m.bottlenecks_size() > 0) {
      out << absl::StrFormat("  Bottleneck: %s (items wait there %s on average); rework loops: %d\n",
                             m.bottlenecks(0).state(), Human(m.bottlenecks(0).mean_wait_seconds()),
                             m.rework_loops());
    }
  }

  const Flags& flags_;
  const catalog::Catalog& catalog_;
  std::unique_ptr<docket::v1::Intake::Stub> intake_;
  std::unique_ptr<docket::v1::Work::Stub> work_;
  std::unique_ptr<docket::v1::Compliance::Stub> compliance_;
  std::unique_ptr<docket::v1::Kpi::Stub> kpi_;
  long long real_origin_ms_ = 0, sim_origin_ms_ = 0, day_start_sim_ms_ = 0;
  double scale_ = 0;
  std::vector<PlannedItem> plan_;
  Truth truth_;
  Clock::time_point start_;
  Clock::time_point day_over_at_;
  // Real time within which processing's watchdog (a tick a second) flags an
  // item past its due time.
  static constexpr std::chrono::seconds kWatchdogGrace{3};
};

}  // namespace
}  // namespace docket::sim

int main(int argc, char** argv) {
  using namespace docket;
  const sim::Flags flags = sim::ParseFlags(argc, argv);
  const auto env = sim::ReadEnv(flags.env_file);
  auto catalog = catalog::Catalog::Load(flags.config_dir + "/catalog.yaml");
  if (!catalog.ok()) {
    std::cerr << "docket-simulate: " << catalog.status().message() << "\n";
    return 2;
  }
  sim::Simulation simulation(flags, env, *catalog);
  simulation.Run();
  return simulation.Report(std::cout) ? 0 : 1;
}
