#pragma once

// Processing's core: every work item's state, in Redis, changed only through
// the transition table (state_machine.h) by one compare-and-set Lua script
// that in the same atomic step
//   - writes the item (serialized WorkItem) with version + 1,
//   - updates the indexes (queue order, queue age, leases, SLA timers, WIP),
//   - puts the lifecycle events into a Redis outbox.
// After the script the events are published (acks=all) and taken out of the
// outbox; if that publish fails, the outbox relay (RelayOutbox) publishes
// them later. Event ids are deterministic (input event id, or item id and
// version, plus the transition), so a re-published event is dropped
// downstream and a redelivered input changes nothing twice.
//
// Workers never race for an item: ClaimNext's claim script takes the most
// urgent item of the worker's queues out of its queue into a short
// reservation (docket:claiming) in one atomic step, then the claim commits
// through the CAS like any change. A failed commit puts the item back; so
// does the watchdog when a replica died between the two steps.
//
// Redis keys (single Redis; not cluster-slot aware):
//   docket:item:<id>                 hash: pb (WorkItem), v (version),
//                                    check (event id awaiting a verdict), held (ms);
//                                    expires terminal_retention after the item finished
//   docket:q:<tenant>:<queue>        zset: item id -> urgency score (urgency.h)
//   docket:qage:<tenant>:<queue>     zset: item id -> queued at (ms)
//   docket:leases                    zset: item id -> lease expiry (ms)
//   docket:claiming                  zset: item id -> reservation deadline (ms); only
//                                    items mid-claim (taken out of their queue by the
//                                    claim script, not yet committed as CLAIMED)
//   docket:claiming:from             hash: item id -> "<urgency score> <queue key>", to put
//                                    a reserved item back (same members as docket:claiming)
//   docket:sla                       zset: item id -> the item's next SLA moment (ms): its
//                                    at-risk time while that warning is ahead, else its
//                                    due time (one entry per item: ~137 B in Redis)
//   docket:wip:<tenant>:<worker>     set of claimed item ids
//   docket:outbox:log                stream: one entry per event not yet confirmed by
//                                    Kafka, field e = serialized Event, in commit order
//                                    (entry ids start with Redis's clock, in ms)

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "common/ids/uuid7.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_config.h"
#include "common/metrics/metrics.h"
#include "common/redis/redis_client.h"
#include "docket/v1/event.pb.h"
#include "docket/v1/work_service.pb.h"
#include "services/processing/src/business_calendar.h"

namespace docket::processing {

// Who calls the worker API (from the API key).
struct Worker {
  std::string id{};                    // actor id (four-eyes compares these)
  std::vector<std::string> tenants{};  // "*" = any
  std::vector<std::string> skills{};
  bool supervisor = false;
  bool bot = false;   // software, not a person: its actions are recorded as TYPE_BOT
  int wip_limit = 0;  // 0 = the default
  // A publisher's key: may only Comment on, and give feedback about, items
  // of its tenants and kinds (the requester's side of the conversation).
  bool publisher = false;
  std::vector<std::string> kinds{};  // publisher keys: empty or "*" = any kind
};

// Limits of Comment and SubmitFeedback.
inline constexpr std::size_t kMaxNoteBytes = 4096;
inline constexpr int kMaxCommentsPerItem = 50;  // older ones are dropped from the item
// Most items one ClaimNext (max_items) or CompleteBatch handles.
inline constexpr int kMaxClaimBatch = 100;

struct WorkflowOptions {
  std::chrono::milliseconds lease{std::chrono::minutes(15)};
  int default_wip_limit = 5;
  // How long a finished (completed, auto-completed, rejected) item stays in
  // Redis. Must exceed docket.work.v1's retention: a replay from the
  // beginning must find every item it could re-route.
  std::chrono::milliseconds terminal_retention{std::chrono::hours(24 * 30)};
  std::string source = "//docket/processing";
  // Claim attempts when the reserved item changed before its claim committed
  // (e.g. a comment or an escalation at the same moment).
  int claim_attempts = 8;
  // How long an item may sit reserved by a claim (out of its queue, not yet
  // CLAIMED) before the watchdog puts it back: only a replica that died
  // mid-claim leaves one that long.
  std::chrono::milliseconds claim_reservation{std::chrono::seconds(30)};
  // Test seam: runs after ClaimNext reserved an item, before its claim
  // commits. A non-OK status ends ClaimNext with that status and leaves the
  // reservation in place, as a replica dying at that point would.
  std::function<absl::Status(const std::string& item_id)> claim_reserved_hook{};
};

class WorkflowMetrics;

class Workflow {
 public:
  // `catalog`, `redis`, `publisher`, `clock` must outlive the workflow;
  // `metrics` may be null. INVALID_ARGUMENT if a queue's calendar is bad.
  static absl::StatusOr<std::unique_ptr<Workflow>> Create(
      const catalog::Catalog& catalog, redis::RedisClient& redis,
      kafka::EventPublisher& publisher, const Clock& clock, const kafka::Topics& topics,
      metrics::MetricsRegistry* metrics, WorkflowOptions options = {});
  ~Workflow();

  // Consumer side: Submitted (route, automate) and Verdict (gate completion).
  // Other events are ignored. OK when done or nothing to do (redelivery);
  // INVALID_ARGUMENT for an input that can never apply (unknown kind);
  // retryable statuses when Redis is unavailable.
  absl::Status Handle(const docket::v1::Event& event);
  // The same for events fetched together, one status per event: one Redis
  // round trip reads the items the verdicts judge, one commits every change
  // (a pipeline of CAS scripts), instead of two per event. Events of one
  // item are applied in order. Handle is a batch of one.
  std::vector<absl::Status> HandleBatch(const std::vector<const docket::v1::Event*>& events);
  // The payloads Handle acts on: the consumer skips the rest undecoded.
  static const std::vector<docket::v1::Event::PayloadCase>& HandledPayloads();

  // Worker API. NOT_FOUND for an item of another tenant (never revealed),
  // PERMISSION_DENIED for a missing role or skill, FAILED_PRECONDITION for an
  // illegal transition, RESOURCE_EXHAUSTED at the WIP cap, ABORTED when a
  // concurrent change won (retry).
  // Claims up to request.max_items items (0 or 1: one; INVALID_ARGUMENT
  // past kMaxClaimBatch), most urgent first: one reservation script takes
  // them all out of their queues, one pipeline commits their claims. Fewer
  // come when fewer wait or the WIP cap leaves less room; empty when none
  // waits; RESOURCE_EXHAUSTED when the cap leaves no room at all.
  absl::StatusOr<std::vector<docket::v1::WorkItem>> ClaimItems(
      const Worker& worker, const docket::v1::ClaimNextRequest& request);
  // One item (request.max_items is not looked at).
  absl::StatusOr<std::optional<docket::v1::WorkItem>> ClaimNext(
      const Worker& worker, const docket::v1::ClaimNextRequest& request);
  absl::StatusOr<docket::v1::WorkItem> Complete(const Worker& worker,
                                                const docket::v1::CompleteRequest& request);
  // Several completions, each on its own (as Complete would decide it), then
  // optionally ClaimItems(*claim_next) for the same worker. Completions of
  // claims this replica made go in one Redis pipeline, together with the
  // reservation of the next items; the others (and any that lost on a stale
  // copy) are decided on the stored item first. `next` is set only when
  // claim_next is given and at least one completion committed. The
  // requests' own claim_next is not looked at.
  struct Completed {
    std::vector<absl::StatusOr<docket::v1::WorkItem>> completed;  // one per request
    std::optional<absl::StatusOr<std::vector<docket::v1::WorkItem>>> next;
  };
  Completed CompleteBatch(const Worker& worker,
                          const std::vector<const docket::v1::CompleteRequest*>& requests,
                          const docket::v1::ClaimNextRequest* claim_next);
  absl::StatusOr<docket::v1::WorkItem> Return(const Worker& worker, const std::string& item_id,
                                              const std::string& reason);
  absl::StatusOr<docket::v1::WorkItem> Escalate(const Worker& worker, const std::string& item_id,
                                                const std::string& reason);
  absl::StatusOr<docket::v1::WorkItem> Release(const Worker& worker, const std::string& item_id,
                                               const std::string& comment);
  absl::StatusOr<docket::v1::WorkItem> Reject(const Worker& worker, const std::string& item_id,
                                              const std::string& reason);
  absl::StatusOr<docket::v1::WorkItem> Get(const Worker& worker, const std::string& item_id);
  // Adds a note to the item's history in any state (a Commented event);
  // the item keeps the newest kMaxCommentsPerItem. Retries a concurrent
  // change itself (a comment does not depend on the state).
  absl::StatusOr<docket::v1::WorkItem> Comment(const Worker& worker, const std::string& item_id,
                                               const std::string& text);
  // Publishes a Feedback event (acks=all) and returns its id. INVALID_ARGUMENT
  // names the bad field (category outside catalog::kFeedbackCategories,
  // unknown kind or queue, neither given, text too long).
  absl::StatusOr<std::string> SubmitFeedback(const Worker& worker,
                                             const docket::v1::SubmitFeedbackRequest& request);
  absl::StatusOr<docket::v1::ListQueueResponse> ListQueue(
      const Worker& worker, const docket::v1::ListQueueRequest& request);

  // Watchdog, run periodically by every replica (the CAS makes it safe):
  // expired leases and expired claim reservations back to their queue;
  // SlaAtRisk and SlaBreached, with the queue's escalation. Returns how many
  // items it changed.
  absl::StatusOr<int> Tick();
  // Publishes outbox events older than `min_age` (their inline publish
  // failed, or the replica died before it), up to 500 at once, oldest
  // first, and clears those Kafka confirmed; once the stream has none, the
  // same from the outbox hash of the version before (see workflow.cc).
  // Returns how many; the first refusal, if any, as the error (what was
  // refused stays for the next round).
  absl::StatusOr<int> RelayOutbox(std::chrono::milliseconds min_age);
  // Queue depth and oldest item age per (tenant, queue) into the gauges.
  absl::Status RefreshQueueGauges();

 private:
  struct Loaded;
  struct Change;
  Workflow(const catalog::Catalog& catalog, redis::RedisClient& redis,
           kafka::EventPublisher& publisher, const Clock& clock, const kafka::Topics& topics,
           WorkflowOptions options);

  // events[begin, end), no two of one item, into out[begin, end).
  void HandleSegment(const std::vector<const docket::v1::Event*>& events, std::size_t begin,
                     std::size_t end, std::vector<absl::Status>& out);
  // What routing a Submitted event changes; nullopt: nothing (routed before).
  absl::StatusOr<std::optional<Change>> RouteChange(const docket::v1::Event& event);
  // What a verdict changes on the item as read (`loaded`); nullopt: nothing
  // (an unknown item, or a stale or redelivered verdict).
  absl::StatusOr<std::optional<Change>> VerdictChange(const docket::v1::Event& event,
                                                       const std::optional<Loaded>& loaded);
  absl::StatusOr<std::optional<Loaded>> Load(const std::string& item_id);
  // The item from its hash fields pb, v, check, held (nullopt: no item).
  static absl::StatusOr<std::optional<Loaded>> FromFields(const std::string& item_id,
                                                          const std::vector<redis::Reply>& fields);
  // Ends the claim reservation of `item_id` (see docket:claiming): back into
  // its queue with its original score if the item is still QUEUED there,
  // else just dropped. Atomic against every other change (version-checked).
  // `loaded` is what the caller last read (nullopt = read it). Returns
  // whether the item went back into its queue.
  absl::StatusOr<bool> Unreserve(const std::string& item_id, std::optional<Loaded> loaded);
  // SlaAtRisk for an item whose at-risk time has come; false when another
  // change was first (the next tick sees it again).
  absl::StatusOr<bool> WarnAtRisk(const Loaded& l);
  absl::StatusOr<Loaded> LoadForWorker(const Worker& worker, const std::string& item_id);
  // Whether the worker may see the item at all (else it is "not found").
  static bool Visible(const Worker& worker, const Loaded& l);
  // Complete on this replica's copy of the item from its claim if given
  // (and visible), else on the item as stored; see Complete.
  absl::StatusOr<docket::v1::WorkItem> CompleteFrom(const Worker& worker,
                                                    const docket::v1::CompleteRequest& request,
                                                    std::optional<Loaded> copy);
  // Complete on the item as `l` holds it.
  absl::StatusOr<docket::v1::WorkItem> Complete(const Worker& worker,
                                                const docket::v1::CompleteRequest& request, Loaded l);
  // The change a completion of `l` makes, or why it may not (`l` is
  // consumed: its item moves into the change).
  absl::StatusOr<Change> CompleteChange(const Worker& worker,
                                        const docket::v1::CompleteRequest& request,
                                        Loaded l) const;
  // A checked ClaimNext request: the worker's queues to claim from and the
  // keys of the claim script.
  struct ClaimPlan;
  absl::StatusOr<ClaimPlan> PlanClaim(const Worker& worker,
                                      const docket::v1::ClaimNextRequest& request) const;
  // The claim script's call for up to `count` items.
  redis::EvalCall ReserveCall(const ClaimPlan& plan, int count) const;
  // The claim of up to plan.max_items: `reserved` is the claim script's
  // reply if the caller already ran ReserveCall (in a pipeline), else it is
  // run here.
  absl::StatusOr<std::vector<docket::v1::WorkItem>> Claim(const Worker& worker,
                                                         const ClaimPlan& plan,
                                                         std::optional<redis::Reply> reserved);
  // Ends the reservations of a claim script's reply (see Unreserve); what
  // cannot go back is left to the watchdog.
  void GiveBack(const redis::Reply& reserved);
  // The same for reserved items and what the caller last read of each
  // (nullopt: not read): one pipeline of the unreserve script, then each
  // item that changed since on its own.
  void GiveBack(std::vector<std::pair<std::string, std::optional<Loaded>>> items);
  redis::EvalCall UnreserveCall(const std::string& item_id, const std::optional<Loaded>& loaded) const;
  // Runs the CAS script; ABORTED on a version conflict, RESOURCE_EXHAUSTED at
  // a WIP cap. Then publishes the change's events.
  absl::Status Commit(Change& change);
  // The CAS script's call for a change (stamps the events' types and the
  // item's new version), and what its reply means (publishing the events
  // once it committed).
  redis::EvalCall CasCall(Change& change) const;
  absl::Status Committed(Change& change, const redis::Reply& reply);
  // Publishes a committed change's records (CasCall encoded them), and
  // clears each from the outbox (its stream entry id in `entries`; "" leaves
  // it to the relay) once Kafka confirmed it.
  void PublishAndClear(std::vector<kafka::Record> records, std::vector<std::string> entries);
  struct RelayPage;
  // Publishes a relay page and runs `clear` on what Kafka confirmed (and
  // what did not parse). Returns how many went out, or the first refusal.
  absl::StatusOr<int> Relay(RelayPage page, const std::function<absl::Status(std::vector<std::string>)>& clear);

  docket::v1::Event NewEvent(const docket::v1::WorkItem& item, const std::string& id) const;
  // The terminal events of a completion at `now` (verdict_id "" = no check).
  docket::v1::Event CompletedEvent(const docket::v1::WorkItem& item, const std::string& id,
                                   std::int64_t now, const std::string& verdict_id) const;
  docket::v1::Event AutoCompletedEvent(const docket::v1::WorkItem& item, const std::string& id,
                                       const std::string& rule_id, std::int64_t now,
                                       const std::string& verdict_id) const;
  const BusinessCalendar& CalendarOf(const std::string& queue) const;
  // Index ops that put a live item into its queue with SLA timers.
  void Enqueue(Change& c, const docket::v1::WorkItem& item, std::int64_t now_ms) const;
  void ArmSla(Change& c, const docket::v1::WorkItem& item) const;
  void DisarmSla(Change& c, const std::string& id) const;
  std::int64_t NowMs() const;

  const catalog::Catalog& catalog_;
  redis::RedisClient& redis_;
  kafka::EventPublisher& publisher_;
  const Clock& clock_;
  kafka::Topics topics_;
  WorkflowOptions options_;
  std::map<std::string, BusinessCalendar> calendars_;  // by queue
  std::unique_ptr<WorkflowMetrics> metrics_;
  UuidV7Generator ids_;  // ids of original events (Feedback)
  class ClaimedItems;
  std::unique_ptr<ClaimedItems> claimed_;
  class OutboxClearer;
  std::unique_ptr<OutboxClearer> clearer_;  // last: stops before the rest goes
};

}  // namespace docket::processing
