#include <algorithm>

#include "services/compliance/src/store.h"

namespace docket::compliance {

absl::Status InMemoryComplianceStore::MaybeFail() {
  if (fail_count_ > 0) {
    --fail_count_;
    return fail_status_;
  }
  return absl::OkStatus();
}

absl::Status InMemoryComplianceStore::MaybeFail(Operation op, const std::string& key) {
  if (absl::Status s = MaybeFail(); !s.ok()) return s;
  for (auto& f : targeted_) {
    if (f.op == op && f.key == key && f.count > 0) {
      --f.count;
      return f.status;
    }
  }
  return absl::OkStatus();
}

void InMemoryComplianceStore::FailNext(int count, absl::Status status) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_status_ = std::move(status);
}

void InMemoryComplianceStore::FailFor(Operation op, std::string key, int count, absl::Status status) {
  std::lock_guard lock(mu_);
  targeted_.push_back(TargetedFailure{op, std::move(key), count, std::move(status)});
}

std::vector<absl::StatusOr<ChainHead>> InMemoryComplianceStore::Heads(const std::vector<std::string>& chains) {
  std::lock_guard lock(mu_);
  std::vector<absl::StatusOr<ChainHead>> out;
  for (const std::string& chain : chains) {
    if (absl::Status s = MaybeFail(Operation::kHeads, chain); !s.ok()) {
      out.push_back(s);
      continue;
    }
    auto it = heads_.find(chain);
    out.push_back(it == heads_.end() ? ChainHead{} : it->second);
  }
  return out;
}

std::vector<absl::StatusOr<AppendResult>> InMemoryComplianceStore::Append(
    const std::vector<AppendRequest>& records) {
  std::lock_guard lock(mu_);
  std::vector<absl::StatusOr<AppendResult>> out;
  for (const auto& [record, verdict] : records) {
    if (absl::Status s = MaybeFail(Operation::kAppend, record.subject_event_id()); !s.ok()) {
      out.push_back(s);
      continue;
    }
    AppendResult result;
    const auto key = std::make_pair(record.chain(), record.subject_event_id());
    if (auto it = subjects_.find(key); it != subjects_.end()) {
      result.status = AppendStatus::kDuplicate;
      result.entry = it->second;
      out.push_back(std::move(result));
      continue;
    }
    ChainHead& head = heads_[record.chain()];
    if (head.sequence + 1 != record.sequence() || head.hash != record.prev_hash()) {
      result.status = AppendStatus::kConflict;
      out.push_back(std::move(result));
      continue;
    }
    head = ChainHead{record.sequence(), record.hash()};
    records_[record.chain()][record.sequence()] = record;
    StoredEntry entry{record, verdict, false};
    subjects_[key] = entry;
    result.status = AppendStatus::kAppended;
    result.entry = std::move(entry);
    out.push_back(std::move(result));
  }
  return out;
}

std::vector<absl::Status> InMemoryComplianceStore::Index(
    const std::vector<const docket::v1::AuditRecord*>& records) {
  std::lock_guard lock(mu_);
  std::vector<absl::Status> out;
  for (const auto* record : records) {
    out.push_back(MaybeFail(Operation::kIndex, record->subject_event_id()));
    if (!out.back().ok()) continue;
    chains_.insert(record->chain());
    trails_[record->item_id()][{record->chain(), record->sequence()}] = *record;
  }
  return out;
}

std::vector<absl::Status> InMemoryComplianceStore::MarkPublished(
    const std::vector<const docket::v1::AuditRecord*>& records) {
  std::lock_guard lock(mu_);
  std::vector<absl::Status> out;
  for (const auto* record : records) {
    out.push_back(MaybeFail(Operation::kMarkPublished, record->subject_event_id()));
    if (!out.back().ok()) continue;
    if (auto it = subjects_.find({record->chain(), record->subject_event_id()}); it != subjects_.end()) {
      it->second.published = true;
    }
  }
  return out;
}

std::vector<absl::StatusOr<bool>> InMemoryComplianceStore::Published(
    const std::vector<const docket::v1::AuditRecord*>& records) {
  std::lock_guard lock(mu_);
  std::vector<absl::StatusOr<bool>> out;
  for (const auto* record : records) {
    if (absl::Status s = MaybeFail(); !s.ok()) {
      out.push_back(s);
      continue;
    }
    auto it = subjects_.find({record->chain(), record->subject_event_id()});
    out.push_back(it != subjects_.end() && it->second.published);
  }
  return out;
}

absl::StatusOr<std::vector<docket::v1::AuditRecord>> InMemoryComplianceStore::Trail(
    const std::string& item_id) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  std::vector<docket::v1::AuditRecord> out;
  if (auto it = trails_.find(item_id); it != trails_.end()) {
    for (const auto& [k, r] : it->second) out.push_back(r);
  }
  SortOldestFirst(out);
  return out;
}

absl::StatusOr<std::vector<docket::v1::AuditRecord>> InMemoryComplianceStore::Range(
    const std::string& chain, std::uint64_t from, std::uint64_t to, std::size_t limit) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  std::vector<docket::v1::AuditRecord> out;
  auto it = records_.find(chain);
  if (it == records_.end()) return out;
  for (auto r = it->second.lower_bound(from); r != it->second.end() && out.size() < limit; ++r) {
    if (to != 0 && r->first > to) break;
    out.push_back(r->second);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> InMemoryComplianceStore::Chains() {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  return std::vector<std::string>(chains_.begin(), chains_.end());
}

absl::StatusOr<ChainAnchor> InMemoryComplianceStore::Anchor(const std::string& chain) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  auto it = anchors_.find(chain);
  return it == anchors_.end() ? ChainAnchor{} : it->second;
}

absl::StatusOr<std::uint64_t> InMemoryComplianceStore::TrimTo(const std::string& chain,
                                                              const ChainAnchor& anchor) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  if (anchor.sequence >= heads_[chain].sequence) {
    return absl::FailedPreconditionError("an anchor at or past the chain's head");
  }
  if (anchors_[chain].sequence >= anchor.sequence) return 0;
  auto& records = records_[chain];
  std::uint64_t dropped = 0;
  for (auto it = records.begin(); it != records.end() && it->first <= anchor.sequence;) {
    it = records.erase(it);
    ++dropped;
  }
  anchors_[chain] = anchor;
  return dropped;
}

std::vector<absl::Status> InMemoryComplianceStore::WriteItems(const std::vector<ItemWrite>& writes,
                                                             std::int64_t) {
  std::lock_guard lock(mu_);
  std::vector<absl::Status> out;
  for (const ItemWrite& w : writes) {
    const std::string id(w.id);
    out.push_back(MaybeFail(Operation::kWriteItems, id));
    if (!out.back().ok()) continue;
    if (w.item == nullptr) {
      items_.erase(id);
    } else {
      items_[id] = *w.item;
    }
  }
  return out;
}

std::vector<absl::StatusOr<std::optional<docket::v1::WorkItem>>> InMemoryComplianceStore::LoadItems(
    const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  std::vector<absl::StatusOr<std::optional<docket::v1::WorkItem>>> out;
  for (const std::string& id : ids) {
    if (absl::Status s = MaybeFail(Operation::kLoadItems, id); !s.ok()) {
      out.push_back(s);
      continue;
    }
    auto it = items_.find(id);
    out.push_back(it == items_.end() ? std::optional<docket::v1::WorkItem>()
                                     : std::optional<docket::v1::WorkItem>(it->second));
  }
  return out;
}

docket::v1::AuditRecord* InMemoryComplianceStore::MutableRecord(const std::string& chain,
                                                               std::uint64_t sequence) {
  std::lock_guard lock(mu_);
  auto it = records_.find(chain);
  if (it == records_.end()) return nullptr;
  auto r = it->second.find(sequence);
  return r == it->second.end() ? nullptr : &r->second;
}

void InMemoryComplianceStore::EraseRecord(const std::string& chain, std::uint64_t sequence) {
  std::lock_guard lock(mu_);
  if (auto it = records_.find(chain); it != records_.end()) it->second.erase(sequence);
}

}  // namespace docket::compliance
