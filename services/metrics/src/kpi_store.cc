#include "services/metrics/src/kpi_store.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/kafka/record.h"
#include "common/log/log.h"
#include "common/status/macros.h"

namespace docket::kpi {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("metrics.kpi");
  return logger;
}

constexpr char kPartitions[] = "docket:kpi:partitions";
std::string SnapKey(const std::string& name) { return absl::StrCat("docket:kpi:snap:", name); }
std::string SeenKey(const std::string& name, std::uint64_t seq) {
  return absl::StrCat("docket:kpi:seen:", name, ":", seq);
}

std::int64_t NowMs(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch()).count();
}

class StoreCollectable final : public prometheus::Collectable {
 public:
  explicit StoreCollectable(std::function<std::vector<prometheus::MetricFamily>()> f) : f_(std::move(f)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return f_(); }

 private:
  std::function<std::vector<prometheus::MetricFamily>()> f_;
};

// Distinguishes stores for the per-thread cache of Handle (an address may
// be reused by the next store).
std::uint64_t NextStoreId() {
  static std::atomic<std::uint64_t> next{1};
  return next++;
}

}  // namespace

absl::StatusOr<const docket::v1::Event*> DecodeForKpis(const kafka::Record& record) {
  // A quarter of the stream, and its largest records (the submitted
  // attributes): arrivals are counted at Routed, so Submitted is not decoded.
  // A record without a ce_type header is decoded, so a malformed one still
  // goes to the DLQ.
  static const std::string kSubmitted = kafka::EventType(docket::v1::Event::kSubmitted);
  if (const std::string* type = record.FindHeader("ce_type"); type && *type == kSubmitted) {
    return nullptr;
  }
  // One envelope per consumer thread: parsing into it reuses its strings and
  // messages instead of allocating them for every record.
  thread_local docket::v1::Event event;
  DOCKET_RETURN_IF_ERROR(kafka::DecodeEventInto(record, event));
  return &event;
}

KpiStore::KpiStore(const catalog::Catalog& catalog, redis::RedisClient& redis, const Clock& clock,
                   KpiStoreOptions options)
    : id_(NextStoreId()), catalog_(catalog), redis_(redis), clock_(clock), options_(options) {}

std::string KpiStore::Name(const kafka::TopicPartition& tp) {
  return absl::StrCat(tp.topic, ":", tp.partition);
}

std::vector<std::pair<kafka::TopicPartition, std::int64_t>> KpiStore::OnAssigned(
    const std::vector<kafka::TopicPartition>& partitions) {
  std::vector<std::pair<kafka::TopicPartition, std::int64_t>> seek;
  for (const auto& tp : partitions) {
    const std::string name = Name(tp);
    auto shared = std::make_shared<Owned>();
    Owned& owned = *shared;
    owned.snapshot_at = std::chrono::steady_clock::now();
    const redis::Reply snap = ReadOrAbort({"GET", SnapKey(name)}, "the KPI snapshot", name);
    if (snap.is_nil()) {
      // Never counted: from the partition's beginning, whatever the group
      // committed (the snapshot, not the commit, is the source of truth).
      owned.agg = std::make_unique<PartitionAggregates>(catalog_);
      seek.emplace_back(tp, 0);
    } else {
      auto parsed = PartitionAggregates::Parse(snap.str, catalog_);
      if (!parsed.ok()) {
        Log().Error("KPI snapshot unreadable; the consumer stops",
                    {{"partition", name}, {"error", std::string(parsed.status().message())}});
        std::abort();
      }
      owned.agg = std::make_unique<PartitionAggregates>(*std::move(parsed));
      RestoreSeen(name, *owned.agg);
      seek.emplace_back(tp, owned.agg->next_offset);
    }
    Log().Info("partition assigned", {{"partition", name}, {"offset", owned.agg->next_offset}});
    std::lock_guard lock(mu_);
    owned_[name] = std::move(shared);
  }
  return seek;
}

std::shared_ptr<KpiStore::Owned> KpiStore::Find(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = owned_.find(name);
  return it == owned_.end() ? nullptr : it->second;
}

redis::Reply KpiStore::ReadOrAbort(const std::vector<std::string>& command, const char* what,
                                  const std::string& partition) {
  // Redis may be briefly away: wait for it rather than start from zero,
  // which would count everything again.
  absl::StatusOr<redis::Reply> r;
  for (int attempt = 0; attempt < 60; ++attempt) {
    r = redis_.Command(command);
    if (r.ok()) return *std::move(r);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  Log().Error(absl::StrCat("cannot read ", what, "; the consumer stops"), {{"partition", partition}});
  std::abort();  // restart the pod: never count a partition from the wrong offset
}

void KpiStore::RestoreSeen(const std::string& name, PartitionAggregates& agg) {
  const std::vector<std::uint64_t> chunks = agg.SeenChunks();
  if (chunks.empty()) return;
  std::vector<std::string> mget{"MGET"};
  for (std::uint64_t seq : chunks) mget.push_back(SeenKey(name, seq));
  const redis::Reply r = ReadOrAbort(mget, "the KPI seen-id chunks", name);
  if (r.elements.size() != chunks.size()) {
    Log().Error("MGET of the KPI seen-id chunks answered the wrong count; the consumer stops",
                {{"partition", name}});
    std::abort();
  }
  int missing = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    if (r.elements[i].is_nil()) {
      ++missing;
      continue;
    }
    if (absl::Status s = agg.RestoreSeenChunk(chunks[i], r.elements[i].str); !s.ok()) {
      Log().Error("KPI seen-id chunk unreadable; the consumer stops",
                  {{"partition", name}, {"error", std::string(s.message())}});
      std::abort();
    }
  }
  if (missing) {
    // Counting stays exact from the snapshot's offset; only a re-publish of
    // an event from those chunks would be counted again.
    Log().Warn("KPI seen-id chunks missing from Redis; duplicates of their events are not recognised",
               {{"partition", name}, {"missing_chunks", missing}, {"chunks", static_cast<int>(chunks.size())}});
  }
}

void KpiStore::OnRevoked(const std::vector<kafka::TopicPartition>& partitions) {
  for (const auto& tp : partitions) {
    const std::string name = Name(tp);
    std::shared_ptr<Owned> owned = Find(name);
    if (!owned) continue;
    std::lock_guard write_lock(owned->write_mu);
    if (absl::Status s = WriteSnapshot(name, *owned); !s.ok()) {
      Log().Warn("snapshot on revocation failed; the next owner replays from the last one",
                 {{"partition", name}, {"error", std::string(s.message())}});
    }
    {
      // The snapshot timer may still hold it: it must not write it again,
      // over what the next owner writes.
      std::lock_guard lock(owned->mu);
      owned->revoked = true;
    }
    std::lock_guard lock(mu_);
    owned_.erase(name);
  }
}

absl::Status KpiStore::WriteSnapshot(const std::string& name, Owned& owned) {
  std::string json;
  PartitionAggregates::SeenDelta seen;
  std::size_t records = 0;
  {
    std::lock_guard lock(owned.mu);
    if (owned.revoked) return absl::OkStatus();
    seen = owned.agg->SealSeen();
    json = owned.agg->Serialize();
    records = owned.since_snapshot;
  }
  // Chunks before the snapshot that refers to them; stale ones after the
  // snapshot that no longer does. A pipeline is applied in order.
  std::vector<std::vector<std::string>> cmds;
  for (const auto& [seq, bytes] : seen.put) cmds.push_back({"SET", SeenKey(name, seq), bytes});
  cmds.push_back({"SET", SnapKey(name), std::move(json)});
  cmds.push_back({"SADD", kPartitions, name});
  for (std::uint64_t seq : seen.drop) cmds.push_back({"DEL", SeenKey(name, seq)});
  DOCKET_ASSIGN_OR_RETURN(std::vector<redis::Reply> r, redis_.Pipeline(cmds));
  for (const auto& reply : r) {
    if (reply.is_error()) return absl::UnavailableError(absl::StrCat("KPI snapshot: ", reply.str));
  }
  std::lock_guard lock(owned.mu);
  owned.agg->SeenWritten(seen);
  owned.since_snapshot -= std::min(records, owned.since_snapshot);
  owned.snapshot_at = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

absl::Status KpiStore::Handle(const kafka::Record& record) {
  auto event = DecodeForKpis(record);
  // Records come in runs of one partition: each consumer thread keeps the
  // partition it folded last, instead of taking the store's lock and building
  // the name for every record. A revoked one is looked up again.
  struct Last {
    std::uint64_t store = 0;
    std::string topic;
    std::int32_t partition = -1;
    std::string name;
    std::shared_ptr<Owned> owned;
  };
  thread_local Last last;
  if (last.store != id_ || last.partition != record.partition || last.topic != record.topic ||
      !last.owned) {
    last.store = id_;
    last.topic = record.topic;
    last.partition = record.partition;
    last.name = Name({record.topic, record.partition});
    last.owned = Find(last.name);
  }
  const std::string& name = last.name;
  std::shared_ptr<Owned> owned = last.owned;
  if (!owned) return absl::UnavailableError(absl::StrCat("partition ", name, " not assigned"));
  bool due = false;
  {
    std::lock_guard lock(owned->mu);
    if (owned->revoked) {
      last.owned = nullptr;
      return absl::UnavailableError(absl::StrCat("partition ", name, " not assigned"));
    }
    if (record.offset < owned->agg->next_offset) return absl::OkStatus();  // already in the snapshot
    if (event.ok() && *event) owned->agg->Apply(**event);
    owned->agg->next_offset = record.offset + 1;
    ++owned->since_snapshot;
    // The clock is read every 64th record: a busy partition reaches the
    // record count long before the time, an idle one has the timer thread.
    due = owned->since_snapshot >= options_.snapshot_every_records ||
          (owned->since_snapshot % 64 == 0 &&
           std::chrono::steady_clock::now() - owned->snapshot_at >= options_.snapshot_every);
  }
  if (due) {
    std::lock_guard write_lock(owned->write_mu);
    DOCKET_RETURN_IF_ERROR(WriteSnapshot(name, *owned));
  }
  // An undecodable record is counted nowhere and goes to the DLQ.
  return event.ok() ? absl::OkStatus() : event.status();
}

absl::Status KpiStore::SnapshotAll() {
  std::vector<std::pair<std::string, std::shared_ptr<Owned>>> all;
  {
    std::lock_guard lock(mu_);
    all.assign(owned_.begin(), owned_.end());
  }
  for (const auto& [name, owned] : all) {
    std::lock_guard write_lock(owned->write_mu);
    bool pending;
    {
      std::lock_guard lock(owned->mu);
      pending = owned->since_snapshot > 0;
    }
    if (pending) DOCKET_RETURN_IF_ERROR(WriteSnapshot(name, *owned));
  }
  return absl::OkStatus();
}

template <typename F>
absl::Status KpiStore::ForAll(F f) {
  // Other replicas' partitions come from Redis, read before taking the lock.
  DOCKET_ASSIGN_OR_RETURN(redis::Reply names, redis_.Command({"SMEMBERS", kPartitions}));
  std::set<std::string> mine;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, owned] : owned_) mine.insert(name);
  }
  std::vector<std::pair<std::string, std::unique_ptr<PartitionAggregates>>> loaded;
  for (const auto& n : names.elements) {
    if (mine.contains(n.str)) continue;
    DOCKET_ASSIGN_OR_RETURN(redis::Reply snap, redis_.Command({"GET", SnapKey(n.str)}));
    if (snap.is_nil()) continue;
    DOCKET_ASSIGN_OR_RETURN(PartitionAggregates agg, PartitionAggregates::Parse(snap.str, catalog_));
    loaded.emplace_back(n.str, std::make_unique<PartitionAggregates>(std::move(agg)));
  }
  std::lock_guard lock(mu_);
  std::vector<std::unique_lock<std::mutex>> locks;
  std::vector<const PartitionAggregates*> parts;
  for (const auto& [name, owned] : owned_) {
    locks.emplace_back(owned->mu);
    parts.push_back(owned->agg.get());
  }
  for (const auto& [name, agg] : loaded) {
    if (!owned_.contains(name)) parts.push_back(agg.get());  // assigned here meanwhile: counted above
  }
  f(parts);
  return absl::OkStatus();
}

absl::StatusOr<docket::v1::KpiSnapshot> KpiStore::Snapshot(const Query& q) {
  docket::v1::KpiSnapshot out;
  DOCKET_RETURN_IF_ERROR(ForAll([&](const auto& parts) { out = kpi::Snapshot(parts, q); }));
  return out;
}

absl::StatusOr<docket::v1::ProcessMap> KpiStore::ProcessMap(const Query& q) {
  docket::v1::ProcessMap out;
  DOCKET_RETURN_IF_ERROR(ForAll([&](const auto& parts) { out = kpi::ProcessMap(parts, q); }));
  return out;
}

std::shared_ptr<prometheus::Collectable> KpiStore::Collectable() {
  return std::make_shared<StoreCollectable>([this] {
    std::lock_guard lock(mu_);
    std::vector<std::unique_lock<std::mutex>> locks;
    std::vector<std::pair<std::string, const PartitionAggregates*>> parts;
    for (const auto& [name, owned] : owned_) {
      locks.emplace_back(owned->mu);
      parts.emplace_back(name, owned->agg.get());
    }
    return Families(parts, NowMs(clock_));
  });
}

}  // namespace docket::kpi
