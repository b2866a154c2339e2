#include "services/compliance/src/audit_schedule.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace docket::compliance {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("compliance");
  return logger;
}

}  // namespace

AuditSchedule::AuditSchedule(const ComplianceApi& api, Claim claim, const Clock& clock,
                             std::vector<Entry> entries, std::chrono::seconds first_after)
    : api_(api), claim_(std::move(claim)), clock_(clock) {
  for (const Entry& e : entries) {
    if (e.every.count() > 0) due_.push_back({e, clock_.Monotonic() + first_after});
  }
}

AuditSchedule::~AuditSchedule() { Stop(); }

AuditSchedule::Steady::time_point AuditSchedule::RunDue() {
  Steady::time_point next = Steady::time_point::max();
  for (Due& d : due_) {
    const Steady::time_point now = clock_.Monotonic();
    if (now >= d.at) {
      d.at = now + d.entry.every;
      const std::string source = SourceLabel(d.entry.source);
      // The claim lapses a tenth of a period early: Redis's clock and ours
      // race at the period's end, and a replica that lost that race to its
      // own claim would skip a whole period.
      const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(d.entry.every - d.entry.every / 10);
      absl::StatusOr<bool> mine = claim_(source, ttl);
      if (!mine.ok()) {
        Log().Warn("scheduled audit verification skipped: cannot take this period's claim",
                   {{"source", source}, {"error", std::string(mine.status().message())}});
      } else if (*mine) {
        docket::v1::VerifyAuditRequest request;
        request.set_source(d.entry.source);
        const auto start = clock_.Monotonic();
        absl::StatusOr<VerifyResult> result = api_.Verify(request);
        const double seconds = std::chrono::duration<double>(clock_.Monotonic() - start).count();
        if (!result.ok()) {
          Log().Warn("scheduled audit verification could not run",
                     {{"source", source}, {"error", std::string(result.status().message())}});
        } else if (result->ok) {
          Log().Info("scheduled audit verification passed",
                     {{"source", source},
                      {"records", static_cast<std::int64_t>(result->records_checked)},
                      {"seconds", seconds}});
        } else {
          Log().Error("scheduled audit verification found a broken chain",
                      {{"source", source},
                       {"chain", result->first_bad_chain},
                       {"sequence", static_cast<std::int64_t>(result->first_bad_sequence)},
                       {"problem", result->problem}});
        }
      }
    }
    next = std::min(next, d.at);
  }
  return next;
}

void AuditSchedule::Start() {
  if (due_.empty() || thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      const Steady::time_point next = RunDue();
      lock.lock();
      wake_.wait_until(lock, next, [this] { return stopping_; });
    }
  });
}

void AuditSchedule::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

AuditSchedule::Claim ClaimInRedis(redis::RedisClient& redis, std::string owner) {
  return [&redis, owner = std::move(owner)](const std::string& name,
                                            std::chrono::milliseconds ttl) -> absl::StatusOr<bool> {
    auto reply = redis.Command({"SET", absl::StrCat("docket:audit:verify:", name), owner, "NX", "PX",
                                absl::StrCat(std::max<std::int64_t>(ttl.count(), 1))});
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) return absl::UnavailableError(absl::StrCat("redis: ", reply->str));
    return !reply->is_nil();
  };
}

}  // namespace docket::compliance
