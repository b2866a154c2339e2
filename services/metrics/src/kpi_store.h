#pragma once

// The metrics service's state: one PartitionAggregates per consumed
// (topic, partition), snapshotted to Redis together with the partition's next
// offset in ONE key (so both are always consistent), restored on assignment
// with the consumer seeking to that offset. Events after the snapshot are
// replayed and events already in it are not seen again, so counters are
// exact across restarts and kill -9, and a partition that moves to another
// replica takes its totals along.
//
//   docket:kpi:snap:<topic>:<partition>        JSON of PartitionAggregates
//   docket:kpi:seen:<topic>:<partition>:<seq>  a sealed chunk of its seen event
//                                              ids (8-byte hashes), written before
//                                              the snapshot that refers to it and
//                                              deleted after the one that no longer does
//   docket:kpi:partitions                      set of "<topic>:<partition>"
//
// Each partition has its own lock, so several consumer threads (each with
// its own partitions) fold records in parallel. A snapshot is serialized
// under the partition's lock (a few KB: counters, live items, chunk numbers)
// and written to Redis without it, so neither the consumer nor a scrape
// waits for Redis; a per-partition write lock keeps the writes in order, so
// an older snapshot never overwrites a newer one.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "absl/status/statusor.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "common/kafka/event_consumer.h"
#include "common/redis/redis_client.h"
#include "services/metrics/src/aggregates.h"

namespace docket::kpi {

// The envelope of a consumed record, as the KPIs fold it; nullptr for a type
// no KPI counts (Submitted). Valid until this thread's next call.
absl::StatusOr<const docket::v1::Event*> DecodeForKpis(const kafka::Record& record);

struct KpiStoreOptions {
  std::size_t snapshot_every_records = 5000;
  std::chrono::milliseconds snapshot_every{2000};
};

class KpiStore {
 public:
  KpiStore(const catalog::Catalog& catalog, redis::RedisClient& redis, const Clock& clock,
           KpiStoreOptions options = {});

  // Consumer callbacks, from any number of consumer threads (a partition's
  // records always come from the one thread that owns it).
  std::vector<std::pair<kafka::TopicPartition, std::int64_t>> OnAssigned(
      const std::vector<kafka::TopicPartition>& partitions);
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions);
  // Folds the record in; a snapshot write failure is UNAVAILABLE (the record
  // is retried; its event id is then recognised and not counted again).
  absl::Status Handle(const kafka::Record& record);
  // Writes every owned partition's snapshot now.
  absl::Status SnapshotAll();

  // Merged across every partition: owned ones from memory, the others from
  // their latest snapshot in Redis.
  absl::StatusOr<docket::v1::KpiSnapshot> Snapshot(const Query& q);
  absl::StatusOr<docket::v1::ProcessMap> ProcessMap(const Query& q);

  // Prometheus families of the owned partitions, computed at scrape time.
  std::shared_ptr<prometheus::Collectable> Collectable();

 private:
  // One consumed partition. Lock order: write_mu, then the store's mu_,
  // then mu; never mu_ while holding mu.
  struct Owned {
    std::mutex write_mu;  // one snapshot write at a time, so they land in order
    std::mutex mu;        // everything below
    std::unique_ptr<PartitionAggregates> agg;
    std::size_t since_snapshot = 0;
    std::chrono::steady_clock::time_point snapshot_at;
    bool revoked = false;  // given up: never written again from here
  };
  static std::string Name(const kafka::TopicPartition& tp);
  std::shared_ptr<Owned> Find(const std::string& name);
  // A read that must succeed before a partition is counted: retried for
  // 30 s while Redis is away, then the process aborts (to be restarted).
  redis::Reply ReadOrAbort(const std::vector<std::string>& command, const char* what,
                           const std::string& partition);
  // Loads the seen-id chunks a restored snapshot refers to.
  void RestoreSeen(const std::string& name, PartitionAggregates& agg);
  // Caller holds owned.write_mu and no other lock of the store.
  absl::Status WriteSnapshot(const std::string& name, Owned& owned);
  // Runs `f` over every partition's aggregates (see Snapshot()).
  template <typename F>
  absl::Status ForAll(F f);

  const std::uint64_t id_;  // unique per store in the process
  const catalog::Catalog& catalog_;
  redis::RedisClient& redis_;
  const Clock& clock_;
  KpiStoreOptions options_;
  std::mutex mu_;  // owned_ (the map; each partition has its own lock)
  std::map<std::string, std::shared_ptr<Owned>> owned_;  // by Name()
};

}  // namespace docket::kpi
