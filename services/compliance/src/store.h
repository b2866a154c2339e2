#pragma once

// Where compliance keeps its state: the audit chains (head, records, which
// subjects are already recorded), the audit index by item, and what it knows
// of each item (its submission, for the complete checkpoint and four-eyes).
// RedisComplianceStore is the real one; InMemoryComplianceStore is for unit
// tests. Both are thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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
  kConflict,   // the head is not the record it was sealed after: re-read the head and re-seal
};

struct AppendResult {
  AppendStatus status = AppendStatus::kAppended;
  StoredEntry entry;
};

// One record to append, with its serialized verdict ("" for overrides).
struct AppendRequest {
  const docket::v1::AuditRecord& record;
  const std::string& verdict;
};

// What compliance keeps of one item: `item` set = store it; null = the item
// ended (completed or rejected), so nothing will look at it again: drop the
// copy of `id`.
struct ItemWrite {
  std::string_view id;
  const docket::v1::WorkItem* item = nullptr;
};

// The write and item methods take a batch and cost one round trip for all
// of it (a single record is a batch of one). They return one result per
// element, in order; elements are applied in order and one failing does not
// stop the others. When the store cannot be reached every element carries
// the error, and any of them may or may not have been applied.
//
// Errors: UNAVAILABLE / DEADLINE_EXCEEDED when the backing store cannot be
// reached (retryable), INTERNAL for corrupt stored data or an error reply.
class ComplianceStore {
 public:
  virtual ~ComplianceStore() = default;

  virtual std::vector<absl::StatusOr<ChainHead>> Heads(const std::vector<std::string>& chains) = 0;
  // One chain's head (Heads of one).
  absl::StatusOr<ChainHead> Head(const std::string& chain) { return std::move(Heads({chain}).front()); }
  // Atomically for each record: if `record.subject_event_id` is already
  // recorded in `record.chain`, kDuplicate with the stored entry; else if the
  // chain's head is not (record.sequence - 1, record.prev_hash), kConflict;
  // else stores the record (with `verdict`), marks the subject recorded and
  // makes it the head. Records of one chain sealed one after the other may
  // go in one call: each links to the one before it only if that one is the
  // head by then.
  virtual std::vector<absl::StatusOr<AppendResult>> Append(const std::vector<AppendRequest>& records) = 0;
  // Idempotent: lists each record's chain and adds the record to its item's trail.
  virtual std::vector<absl::Status> Index(const std::vector<const docket::v1::AuditRecord*>& records) = 0;
  // Idempotent: each record's subject is on the audit topic.
  virtual std::vector<absl::Status> MarkPublished(
      const std::vector<const docket::v1::AuditRecord*>& records) = 0;
  // Whether each record's subject is marked published (false once the
  // subject expired).
  virtual std::vector<absl::StatusOr<bool>> Published(
      const std::vector<const docket::v1::AuditRecord*>& records) = 0;

  // An item's records, oldest first.
  virtual absl::StatusOr<std::vector<docket::v1::AuditRecord>> Trail(const std::string& item_id) = 0;
  // Records of a chain with from <= sequence <= to (to = 0: to the end), at
  // most `limit`, by sequence.
  virtual absl::StatusOr<std::vector<docket::v1::AuditRecord>> Range(const std::string& chain,
                                                                     std::uint64_t from,
                                                                     std::uint64_t to,
                                                                     std::size_t limit) = 0;
  virtual absl::StatusOr<std::vector<std::string>> Chains() = 0;
  // Where the chain's retained records start ({0, "", ""}: nothing trimmed).
  virtual absl::StatusOr<ChainAnchor> Anchor(const std::string& chain) = 0;
  // Atomically drops the chain's records up to anchor.sequence and makes
  // `anchor` the chain's anchor; nothing when its anchor is already there or
  // past it. FAILED_PRECONDITION for an anchor at or past the head (the
  // head's record always stays). Returns how many records it dropped.
  virtual absl::StatusOr<std::uint64_t> TrimTo(const std::string& chain, const ChainAnchor& anchor) = 0;

  // Applies each write in order: stores the item (with a TTL), or drops the
  // copy of an item that ended; the same id twice: the later one stays.
  virtual std::vector<absl::Status> WriteItems(const std::vector<ItemWrite>& writes,
                                               std::int64_t ttl_seconds) = 0;
  // Each id's item, nullopt when the store does not know it.
  virtual std::vector<absl::StatusOr<std::optional<docket::v1::WorkItem>>> LoadItems(
      const std::vector<std::string>& ids) = 0;
};

// Keys (all under "docket:"; the chain in braces keeps one chain's keys in
// one Redis Cluster slot, so the append script may touch them together):
//   docket:audit:{<chain>}:head                HASH seq, hash; anchor_seq, anchor_hash,
//                                              anchor_mac once records were trimmed
//   docket:audit:{<chain>}:records             ZSET score = sequence, member = AuditRecord bytes
//   (records are trimmed behind the anchor past ledger.audit_retention)
//   docket:audit:{<chain>}:subject:<subject>   HASH seq, verdict, published; expires
//                                              `audit_retention` after its append
//   docket:audit:chains                        SET of chain names
//   docket:audit:item:{<item>}                 ZSET score = sequence, member = "<chain>@<sequence>";
//                                              expires `audit_retention` after its last record
// A record is stored once, in its chain's records; a subject or trail
// entry written before that holds the AuditRecord bytes (a subject's
// `record` field, a trail member) and is read as such.
//   docket:compliance:item:{<item>}            STRING WorkItem bytes, with a TTL (policies.yaml
//                                              ledger.item_ttl); deleted once the item is
//                                              completed or rejected
std::unique_ptr<ComplianceStore> MakeRedisComplianceStore(redis::RedisClient& redis,
                                                          std::chrono::seconds audit_retention);

class InMemoryComplianceStore final : public ComplianceStore {
 public:
  std::vector<absl::StatusOr<ChainHead>> Heads(const std::vector<std::string>& chains) override;
  std::vector<absl::StatusOr<AppendResult>> Append(const std::vector<AppendRequest>& records) override;
  std::vector<absl::Status> Index(const std::vector<const docket::v1::AuditRecord*>& records) override;
  std::vector<absl::Status> MarkPublished(const std::vector<const docket::v1::AuditRecord*>& records) override;
  std::vector<absl::StatusOr<bool>> Published(const std::vector<const docket::v1::AuditRecord*>& records) override;
  absl::StatusOr<std::vector<docket::v1::AuditRecord>> Trail(const std::string& item_id) override;
  absl::StatusOr<std::vector<docket::v1::AuditRecord>> Range(const std::string& chain,
                                                             std::uint64_t from, std::uint64_t to,
                                                             std::size_t limit) override;
  absl::StatusOr<std::vector<std::string>> Chains() override;
  absl::StatusOr<ChainAnchor> Anchor(const std::string& chain) override;
  absl::StatusOr<std::uint64_t> TrimTo(const std::string& chain, const ChainAnchor& anchor) override;
  std::vector<absl::Status> WriteItems(const std::vector<ItemWrite>& writes,
                                       std::int64_t ttl_seconds) override;
  std::vector<absl::StatusOr<std::optional<docket::v1::WorkItem>>> LoadItems(
      const std::vector<std::string>& ids) override;

  // Test controls. The next `count` operations fail with `status`; each
  // element of a batch counts as one.
  void FailNext(int count, absl::Status status);
  enum class Operation { kHeads, kAppend, kIndex, kMarkPublished, kWriteItems, kLoadItems };
  // The next `count` elements of `op` that concern `key` fail with `status`:
  // the item id for kWriteItems and kLoadItems, the chain for kHeads, the
  // record's subject (verdict id or override event id) for the others.
  void FailFor(Operation op, std::string key, int count, absl::Status status);
  // Direct access to a stored record, to tamper with it in tests.
  docket::v1::AuditRecord* MutableRecord(const std::string& chain, std::uint64_t sequence);
  // Removes a record (as if someone deleted it).
  void EraseRecord(const std::string& chain, std::uint64_t sequence);

 private:
  // FailNext's failure, then (with an operation) FailFor's. Holds mu_.
  absl::Status MaybeFail();
  absl::Status MaybeFail(Operation op, const std::string& key);

  std::mutex mu_;
  int fail_count_ = 0;
  absl::Status fail_status_;
  struct TargetedFailure {
    Operation op;
    std::string key;
    int count;
    absl::Status status;
  };
  std::vector<TargetedFailure> targeted_;
  std::map<std::string, ChainHead> heads_;
  std::map<std::string, ChainAnchor> anchors_;
  std::map<std::string, std::map<std::uint64_t, docket::v1::AuditRecord>> records_;
  std::map<std::pair<std::string, std::string>, StoredEntry> subjects_;
  std::set<std::string> chains_;
  std::map<std::string, std::map<std::pair<std::string, std::uint64_t>, docket::v1::AuditRecord>> trails_;
  std::map<std::string, docket::v1::WorkItem> items_;
};

}  // namespace docket::compliance
