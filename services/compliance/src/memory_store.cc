#include "services/compliance/src/store.h"

#include <algorithm>

namespace docket::compliance {

absl::Status InMemoryComplianceStore::MaybeFail() {
  if (fail_count_ > 0) {
    --fail_count_;
    return fail_status_;
  }
  return absl::OkStatus();
}

void InMemoryComplianceStore::FailNext(int count, absl::Status status) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_status_ = std::move(status);
}

absl::StatusOr<ChainHead> InMemoryComplianceStore::Head(const std::string& chain) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  auto it = heads_.find(chain);
  return it == heads_.end() ? ChainHead{} : it->second;
}

absl::StatusOr<AppendResult> InMemoryComplianceStore::Append(const docket::v1::AuditRecord& record,
                                                             const std::string& verdict) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  AppendResult result;
  const auto key = std::make_pair(record.chain(), record.subject_event_id());
  if (auto it = subjects_.find(key); it != subjects_.end()) {
    result.status = AppendStatus::kDuplicate;
    result.entry = it->second;
    return result;
  }
  ChainHead& head = heads_[record.chain()];
  if (head.sequence + 1 != record.sequence()) {
    result.status = AppendStatus::kConflict;
    return result;
  }
  head = ChainHead{record.sequence(), record.hash()};
  records_[record.chain()][record.sequence()] = record;
  StoredEntry entry{record, verdict, false};
  subjects_[key] = entry;
  result.status = AppendStatus::kAppended;
  result.entry = std::move(entry);
  return result;
}

absl::Status InMemoryComplianceStore::Index(const docket::v1::AuditRecord& record) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  chains_.insert(record.chain());
  trails_[record.item_id()][{record.chain(), record.sequence()}] = record;
  return absl::OkStatus();
}

absl::Status InMemoryComplianceStore::MarkPublished(const std::string& chain,
                                                    const std::string& subject) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  if (auto it = subjects_.find({chain, subject}); it != subjects_.end()) it->second.published = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<docket::v1::AuditRecord>> InMemoryComplianceStore::Trail(
    const std::string& item_id) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  std::vector<docket::v1::AuditRecord> out;
  if (auto it = trails_.find(item_id); it != trails_.end()) {
    for (const auto& [k, r] : it->second) out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.recorded_at().seconds(), a.recorded_at().nanos()) <
           std::make_pair(b.recorded_at().seconds(), b.recorded_at().nanos());
  });
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

absl::Status InMemoryComplianceStore::SaveItem(const docket::v1::WorkItem& item, std::int64_t) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  items_[item.id()] = item;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<docket::v1::WorkItem>> InMemoryComplianceStore::LoadItem(
    const std::string& id) {
  std::lock_guard lock(mu_);
  if (auto s = MaybeFail(); !s.ok()) return s;
  auto it = items_.find(id);
  if (it == items_.end()) return std::optional<docket::v1::WorkItem>();
  return std::optional<docket::v1::WorkItem>(it->second);
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
