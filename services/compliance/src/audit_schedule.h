#pragma once

// Verifies the audit ledger (Redis) and docket.audit.v1 on a schedule
// (policies.yaml ledger.verify_every, ledger.verify_topic_every), so a broken
// or tampered chain is found without anyone asking, and the outcome is on
// /metrics for the DocketAuditChainBroken and DocketAuditNotVerified alerts.
//
// Once per period across all replicas: a replica verifies a source only when
// it takes that period's claim (Redis SET NX for 90 % of the period), so
// N replicas do not read the whole ledger or topic N times. A replica that
// dies mid-verification leaves the claim to expire: the next period runs it.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/redis/redis_client.h"
#include "docket/v1/compliance_service.pb.h"
#include "services/compliance/src/compliance_service.h"

namespace docket::compliance {

class AuditSchedule {
 public:
  using Source = docket::v1::VerifyAuditRequest::Source;
  using Steady = std::chrono::steady_clock;
  struct Entry {
    Source source = docket::v1::VerifyAuditRequest::SOURCE_LEDGER;
    std::chrono::seconds every{0};  // 0 = never
  };
  // Takes the claim named `name` for `ttl`: true = this replica runs it now,
  // false = another one did this period; an error = unknown (not run, retried
  // at the next period).
  using Claim = std::function<absl::StatusOr<bool>(const std::string& name, std::chrono::milliseconds ttl)>;

  // The first verification of each source is due `first_after` after
  // construction (then every `every`).
  AuditSchedule(const ComplianceApi& api, Claim claim, const Clock& clock, std::vector<Entry> entries,
                std::chrono::seconds first_after);
  ~AuditSchedule();

  // Verifies every source that is due now (Clock::Monotonic) and whose claim
  // this replica takes; returns when the next one is due (Steady::time_point::max()
  // when nothing is scheduled).
  Steady::time_point RunDue();

  // A thread that calls RunDue when it is due, until Stop (the service).
  void Start();
  void Stop();

 private:
  struct Due {
    Entry entry;
    Steady::time_point at;
  };

  const ComplianceApi& api_;
  Claim claim_;
  const Clock& clock_;
  std::vector<Due> due_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The claim in Redis: SET docket:audit:verify:<name> <owner> NX PX <ttl>.
AuditSchedule::Claim ClaimInRedis(redis::RedisClient& redis, std::string owner);

}  // namespace docket::compliance
