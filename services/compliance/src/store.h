#pragma once

// Where compliance keeps its state: the audit chains (head, records, which
// subjects are already recorded), the audit index by item, and what it knows
// of each item (its submission, for the complete checkpoint and four-eyes).
// RedisComplianceStore is the real one; InMemoryComplianceStore is for unit
// tests. Both are thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "docket/v1/compliance.pb.h"
#include "docket/v1/work.pb.h"
#include "services/compliance/src/ledger.h"

namespace docket::redis {
class RedisClient;
}

namespace docket::compliance {

// One record as the store keeps it.
struct StoredEntry {
  docket::v1::AuditRecord record;
  std::string verdict;      // serialized docket.v1.Verdict; "" for overrides
  bool published = false;   // confirmed on docket.audit.v1
};

enum class AppendStatus {
  kAppended,   // the record is now the chain's head
  kDuplicate,  // its subject was recorded before: entry holds the stored one
  kConflict,   // the head moved (another writer): re-read the head and re-seal
};

struct AppendResult {
  AppendStatus status = AppendStatus::kAppended;
  StoredEntry entry;
};

// Errors: UNAVAILABLE / DEADLINE_EXCEEDED when the backing store cannot be
// reached (retryable), INTERNAL for corrupt stored data.
class ComplianceStore {
 public:
  virtual ~ComplianceStore() = default;

  virtual absl::StatusOr<ChainHead> Head(const std::string& chain) = 0;
  // Atomically: if `record.subject_event_id` is already recorded in
  // `record.chain`, kDuplicate with the stored entry; else if the head is not
  // record.sequence - 1, kConflict; else stores the record (with `verdict`),
  // marks the subject recorded and makes it the head.
  virtual absl::StatusOr<AppendResult> Append(const docket::v1::AuditRecord& record,
                                              const std::string& verdict) = 0;
  // Idempotent: lists the chain and adds the record to its item's trail.
  virtual absl::Status Index(const docket::v1::AuditRecord& record) = 0;
  // Idempotent: the subject's record is on the audit topic.
  virtual absl::Status MarkPublished(const std::string& chain, const std::string& subject) = 0;

  // An item's records, oldest first.
  virtual absl::StatusOr<std::vector<docket::v1::AuditRecord>> Trail(const std::string& item_id) = 0;
  // Records of a chain with from <= sequence <= to (to = 0: to the end), at
  // most `limit`, by sequence.
  virtual absl::StatusOr<std::vector<docket::v1::AuditRecord>> Range(const std::string& chain,
                                                                     std::uint64_t from,
                                                                     std::uint64_t to,
                                                                     std::size_t limit) = 0;
  virtual absl::StatusOr<std::vector<std::string>> Chains() = 0;

  virtual absl::Status SaveItem(const docket::v1::WorkItem& item, std::int64_t ttl_seconds) = 0;
  virtual absl::StatusOr<std::optional<docket::v1::WorkItem>> LoadItem(const std::string& id) = 0;
};

// Keys (all under "docket:"; the chain in braces keeps one chain's keys in
// one Redis Cluster slot, so the append script may touch them together):
//   docket:audit:{<chain>}:head                HASH seq, hash
//   docket:audit:{<chain>}:records             ZSET score = sequence, member = AuditRecord bytes
//   docket:audit:{<chain>}:subject:<subject>   HASH seq, record, verdict, published
//   docket:audit:chains                        SET of chain names
//   docket:audit:item:{<item>}                 ZSET score = sequence, member = AuditRecord bytes
//   docket:compliance:item:{<item>}            STRING WorkItem bytes, with a TTL
std::unique_ptr<ComplianceStore> MakeRedisComplianceStore(redis::RedisClient& redis);

class InMemoryComplianceStore final : public ComplianceStore {
 public:
  absl::StatusOr<ChainHead> Head(const std::string& chain) override;
  absl::StatusOr<AppendResult> Append(const docket::v1::AuditRecord& record,
                                      const std::string& verdict) override;
  absl::Status Index(const docket::v1::AuditRecord& record) override;
  absl::Status MarkPublished(const std::string& chain, const std::string& subject) override;
  absl::StatusOr<std::vector<docket::v1::AuditRecord>> Trail(const std::string& item_id) override;
  absl::StatusOr<std::vector<docket::v1::AuditRecord>> Range(const std::string& chain,
                                                             std::uint64_t from, std::uint64_t to,
                                                             std::size_t limit) override;
  absl::StatusOr<std::vector<std::string>> Chains() override;
  absl::Status SaveItem(const docket::v1::WorkItem& item, std::int64_t ttl_seconds) override;
  absl::StatusOr<std::optional<docket::v1::WorkItem>> LoadItem(const std::string& id) override;

  // Test controls: the next `count` calls fail with `status`.
  void FailNext(int count, absl::Status status);
  // Direct access to a stored record, to tamper with it in tests.
  docket::v1::AuditRecord* MutableRecord(const std::string& chain, std::uint64_t sequence);
  // Removes a record (as if someone deleted it).
  void EraseRecord(const std::string& chain, std::uint64_t sequence);

 private:
  absl::Status MaybeFail();

  std::mutex mu_;
  int fail_count_ = 0;
  absl::Status fail_status_;
  std::map<std::string, ChainHead> heads_;
  std::map<std::string, std::map<std::uint64_t, docket::v1::AuditRecord>> records_;
  std::map<std::pair<std::string, std::string>, StoredEntry> subjects_;
  std::set<std::string> chains_;
  std::map<std::string, std::map<std::pair<std::string, std::uint64_t>, docket::v1::AuditRecord>> trails_;
  std::map<std::string, docket::v1::WorkItem> items_;
};

}  // namespace docket::compliance
