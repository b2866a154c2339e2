#pragma once

// The KPI aggregates of ONE partition of the event stream, and the pure logic
// that folds events into them. Kept per partition so that a partition moving
// to another replica takes its totals with it (snapshotted to Redis together
// with the partition's next offset), and so that sums across partitions, and
// across replicas, are the true totals.
//
// Labels are tenant, kind and queue, with values from the catalog only
// (anything else is "other"), so cardinality is bounded; never an item or
// worker id. Counters are also kept per hour of event time, so a KPI can be
// asked for a window.

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/catalog/catalog.h"
#include "docket/v1/event.pb.h"
#include "docket/v1/kpi_service.pb.h"

namespace prometheus {
struct MetricFamily;
}

namespace docket::kpi {

// Business-duration histogram bounds, seconds (1 s .. 30 d).
const std::vector<double>& DurationBounds();

struct Histogram {
  std::vector<std::uint64_t> buckets;  // per bound, not cumulative; last = +Inf
  double sum = 0;
  std::uint64_t count = 0;
  void Observe(double seconds);
  void Merge(const Histogram& other);
  // Linear interpolation inside the bucket, as Prometheus' histogram_quantile.
  double Quantile(double q) const;
};

// Counters of one (tenant, kind, queue) in one hour.
struct Counters {
  std::int64_t arrivals = 0;
  std::int64_t completed = 0;       // through the Work API (incl. released after a hold)
  std::int64_t bot_completed = 0;   // of `completed`, by a bot's key rather than a person's
  std::int64_t auto_completed = 0;
  std::int64_t rejected = 0;
  std::int64_t sla_met = 0;
  std::int64_t sla_missed = 0;
  std::int64_t first_pass = 0;
  std::int64_t reworks = 0;
  std::int64_t escalations = 0;
  std::int64_t holds = 0;
  std::int64_t breaches = 0;
  Histogram cycle, wait, handle;
  void Merge(const Counters& other);
};

// Time spent between two states of a kind's items.
struct TransitionStats {
  std::int64_t count = 0;
  Histogram seconds;
};

// A live (not terminal) item, for backlog, oldest age, at-risk and the
// process map's time in state.
struct LiveItem {
  std::string tenant, kind, queue;  // label values
  std::string state;                // short state name, e.g. "QUEUED"
  std::int64_t since_ms = 0;        // entered `state`
  std::int64_t submitted_ms = 0;
  bool at_risk = false;
};

// Keys of the per-hour maps: label values joined with \x1f, and the hour.
// The fold finds an entry by its parts (HourKeyView) without building the
// joined string: one lookup per event, no allocation unless the entry is new.
using HourKey = std::pair<std::string, std::int64_t>;
struct HourKeyView {
  std::array<std::string_view, 4> parts;
  std::size_t size = 0;  // parts used
  std::int64_t hour = 0;
};
struct HourKeyLess {
  using is_transparent = void;
  bool operator()(const HourKey& a, const HourKey& b) const { return a < b; }
  bool operator()(const HourKey& a, const HourKeyView& b) const;
  bool operator()(const HourKeyView& a, const HourKey& b) const;
};
template <class V>
using HourlyMap = std::map<HourKey, V, HourKeyLess>;

class PartitionAggregates {
 public:
  explicit PartitionAggregates(const catalog::Catalog& catalog) : catalog_(&catalog) {}

  // Folds one event in. Returns false (and changes nothing) for an event id
  // already counted (a redelivery or an outbox re-publish).
  bool Apply(const docket::v1::Event& event);

  std::int64_t next_offset = 0;  // of the partition, stored with the aggregates

  // JSON of everything but the sealed chunks of seen event ids, which the
  // store keeps in keys of their own (see SealSeen): a snapshot stays small
  // however many ids the duplicate window holds.
  std::string Serialize() const;
  // The chunks Serialize() refers to are empty after Parse: the store loads
  // them with RestoreSeenChunk (only a partition's owner needs them).
  static absl::StatusOr<PartitionAggregates> Parse(const std::string& json,
                                                   const catalog::Catalog& catalog);

  // ---- the seen event ids, persisted in chunks ----
  // Ids are remembered as 64-bit FNV-1a hashes, in chunks: the open chunk
  // takes new ids; SealSeen() closes it. What a snapshot must write first
  // (`put`: sealed chunks not yet confirmed written, as (seq, bytes)) and may
  // delete after it (`drop`: chunks that left the window). SeenWritten()
  // confirms both once the store wrote the snapshot.
  struct SeenDelta {
    std::vector<std::pair<std::uint64_t, std::string>> put;
    std::vector<std::uint64_t> drop;
  };
  SeenDelta SealSeen();
  void SeenWritten(const SeenDelta& delta);
  // Sequence numbers of the sealed chunks a parsed snapshot refers to.
  std::vector<std::uint64_t> SeenChunks() const;
  // Fills chunk `seq` from the bytes SealSeen() gave; DATA_LOSS if malformed.
  absl::Status RestoreSeenChunk(std::uint64_t seq, const std::string& bytes);
  std::size_t seen_ids() const { return seen_.size(); }

  // ---- read side ----
  // key = tenant \x1f kind \x1f queue
  const HourlyMap<Counters>& hourly() const { return hourly_; }
  const std::map<std::string, LiveItem>& live() const { return live_; }
  const std::map<std::string, std::int64_t>& verdicts() const { return verdicts_; }
  const std::map<std::string, std::int64_t>& violations() const { return violations_; }
  const std::map<std::string, std::int64_t>& feedback() const { return feedback_; }
  // key = tenant \x1f kind \x1f from \x1f to, per hour
  const HourlyMap<TransitionStats>& transitions() const { return transitions_; }

 private:
  // tenant, kind, queue as labelled: the value, or "other" if not in the
  // catalog (views of the arguments; valid as long as they are).
  using LabelValues = std::array<std::string_view, 3>;
  LabelValues Label(const std::string& tenant, const std::string& kind, const std::string& queue) const;
  Counters& At(const LabelValues& label, std::int64_t ms);
  void Move(const docket::v1::Event& e, const std::string& to_state, std::int64_t at_ms,
            bool terminal);
  bool Seen(const std::string& event_id);
  bool Remember(std::uint64_t hash);  // true if already seen
  void Seal();                        // closes the open chunk

  const catalog::Catalog* catalog_;
  HourlyMap<Counters> hourly_;
  std::map<std::string, LiveItem> live_;
  std::map<std::string, std::int64_t> verdicts_;    // tenant,kind,checkpoint,outcome
  std::map<std::string, std::int64_t> violations_;  // tenant,kind,rule
  std::map<std::string, std::int64_t> feedback_;    // tenant,kind,queue,category
  HourlyMap<TransitionStats> transitions_;
  // Recently counted event ids (bounded), so a duplicate is never counted
  // twice. Oldest chunk first; back() is the open one. Every hash in seen_ is
  // in exactly one chunk.
  struct SeenChunk {
    std::uint64_t seq = 0;
    std::vector<std::uint64_t> ids;
  };
  std::deque<SeenChunk> seen_chunks_{SeenChunk{}};
  absl::flat_hash_set<std::uint64_t> seen_;
  std::set<std::uint64_t> seen_unwritten_;  // sealed, not yet confirmed written
  std::set<std::uint64_t> seen_dropped_;    // left the window, not yet confirmed deleted
};

// How many recent event ids (and finished-item markers) each partition
// remembers. A false match needs two of ~this many 64-bit hashes to collide:
// ~3e-15 per event.
inline constexpr std::size_t kSeenEventIds = 50000;

// Merged view of several partitions, filtered and windowed.
struct Query {
  std::string tenant, kind, queue;  // "" = all
  std::int64_t from_ms = 0;         // window start (0 = all time)
  std::int64_t now_ms = 0;
};

docket::v1::KpiSnapshot Snapshot(const std::vector<const PartitionAggregates*>& parts, const Query& q);
docket::v1::ProcessMap ProcessMap(const std::vector<const PartitionAggregates*>& parts, const Query& q);

// Prometheus families of the given partitions (label `partition` = "<topic>:<n>" on each
// series, so a partition's series moves with it between replicas).
std::vector<prometheus::MetricFamily> Families(
    const std::vector<std::pair<std::string, const PartitionAggregates*>>& parts, std::int64_t now_ms);

}  // namespace docket::kpi
