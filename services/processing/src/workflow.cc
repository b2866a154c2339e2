#include "services/processing/src/workflow.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/kafka/record.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "services/processing/src/automation.h"
#include "services/processing/src/event_ids.h"
#include "services/processing/src/state_machine.h"
#include "services/processing/src/urgency.h"

namespace docket::processing {
namespace {

using docket::v1::WorkItem;
using docket::v1::WorkState;
using google::protobuf::util::TimeUtil;

const log::Logger& Log() {
  static const log::Logger logger("processing.workflow");
  return logger;
}

constexpr char kLeases[] = "docket:leases";
constexpr char kSla[] = "docket:sla";
constexpr char kOutbox[] = "docket:outbox:log";
// The outbox before it was a stream (a hash by event id and a zset of when
// each was written). A replica of the version before writes there during a
// rolling upgrade; RelayOutbox drains it. Remove once no deployment has it.
constexpr char kLegacyOutbox[] = "docket:outbox";
constexpr char kLegacyOutboxAt[] = "docket:outbox:at";
constexpr char kClaiming[] = "docket:claiming";
constexpr char kClaimingFrom[] = "docket:claiming:from";
constexpr char kItemKeyPrefix[] = "docket:item:";
constexpr char kAutomationActorPrefix[] = "automation/";
// Stale index entries one ClaimNext drops before it gives up (they are
// rare: every transition out of QUEUED takes the item out of its queue).
constexpr int kMaxStaleEntries = 64;

// The command that takes events out of the outbox stream by their entry
// ids, for the clearer's batches and the relay's pages alike.
std::vector<std::string> ClearFromOutbox(std::vector<std::string>::const_iterator begin,
                                         std::vector<std::string>::const_iterator end) {
  std::vector<std::string> xdel = {"XDEL", kOutbox};
  xdel.insert(xdel.end(), begin, end);
  return xdel;
}

std::int64_t RealNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ItemKey(const std::string& id) { return kItemKeyPrefix + id; }
std::string QueueKey(const std::string& tenant, const std::string& queue) {
  return absl::StrCat("docket:q:", tenant, ":", queue);
}
std::string QueueAgeKey(const std::string& tenant, const std::string& queue) {
  return absl::StrCat("docket:qage:", tenant, ":", queue);
}
std::string WipKey(const std::string& tenant, const std::string& worker) {
  return absl::StrCat("docket:wip:", tenant, ":", worker);
}

std::int64_t ToMs(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
Clock::TimePoint FromMs(std::int64_t ms) { return Clock::TimePoint(std::chrono::milliseconds(ms)); }
google::protobuf::Timestamp Ts(std::int64_t ms) { return TimeUtil::MillisecondsToTimestamp(ms); }
std::int64_t Ms(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMilliseconds(t); }

bool MayActFor(const Worker& w, const std::string& tenant) {
  if (tenant.empty()) return false;
  return std::any_of(w.tenants.begin(), w.tenants.end(),
                     [&](const std::string& t) { return t == "*" || t == tenant; });
}

// Publisher keys see only items of their kinds; staff see every kind.
bool MaySeeKind(const Worker& w, const std::string& kind) {
  if (!w.publisher || w.kinds.empty()) return true;
  return std::any_of(w.kinds.begin(), w.kinds.end(),
                     [&](const std::string& k) { return k == "*" || k == kind; });
}

bool HasSkillFor(const Worker& w, const catalog::Queue& q) {
  return std::any_of(q.skills.begin(), q.skills.end(), [&](const std::string& s) {
    return std::find(w.skills.begin(), w.skills.end(), s) != w.skills.end();
  });
}

docket::v1::Actor Person(const std::string& id) {
  docket::v1::Actor a;
  a.set_type(docket::v1::Actor::TYPE_PERSON);
  a.set_id(id);
  return a;
}

docket::v1::Actor System() {
  docket::v1::Actor a;
  a.set_type(docket::v1::Actor::TYPE_SYSTEM);
  a.set_id("processing");
  return a;
}

// Who a caller is in events: a person, a bot (a worker key marked bot), or
// the publisher (the requester's side).
docket::v1::Actor ActorOf(const Worker& w) {
  docket::v1::Actor a = Person(w.id);
  if (w.publisher) a.set_type(docket::v1::Actor::TYPE_PUBLISHER);
  if (w.bot) a.set_type(docket::v1::Actor::TYPE_BOT);
  return a;
}

absl::Status CheckNote(const std::string& field, const std::string& text, bool required) {
  if (required && text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  if (text.size() > kMaxNoteBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", text.size(), " bytes, at most ",
                                                   kMaxNoteBytes, " allowed"));
  }
  return absl::OkStatus();
}

// What working on a stale copy of an item can cause: a lost CAS, or a
// refusal of what the stored item may allow. Anything else (Redis down, say)
// stands.
bool MayBeStale(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted || s.code() == absl::StatusCode::kFailedPrecondition ||
         s.code() == absl::StatusCode::kPermissionDenied;
}

bool Automated(const WorkItem& item) {
  return item.completer().type() == docket::v1::Actor::TYPE_BOT &&
         item.completer().id().starts_with(kAutomationActorPrefix);
}

// The event id of a transition caused by an API call or the watchdog: the
// item's version makes it unique, the CAS makes it happen once.
std::string VersionedId(const WorkItem& item, std::int64_t version, std::string_view what) {
  return DerivedEventId(absl::StrCat(item.id(), "@v", version), what);
}

// The compare-and-set of one item: see workflow.h. KEYS: the item, the
// outbox stream. ARGV: expected version (0 = create), item bytes, #events,
// event bytes..., #fields,
// (name, value)... ("" deletes), #ops, (verb, key, a, b)...
// Verbs: zadd key member score | zrem key member | zmember key member (must
// be present, then removed; absent = conflict) | sadd/srem key member |
// cap key limit (SCARD key < limit, else {-1}) | hdel key field |
// pexpire key ms (after the item is written, so it also applies to an item
// created by this call).
// Returns {1, new version, the events' outbox entry ids...}, {0, current
// version} on conflict, {-1, 0} at a cap. The stream keeps the events in
// commit order, so the relay replays an item's events in the order they
// happened, even those of one script.
const redis::Script& CasScript() {
  static const redis::Script script(R"lua(
local item = KEYS[1]
local expected = tonumber(ARGV[1])
local cur = redis.call('HGET', item, 'v')
if expected == 0 then
  if cur then return {0, tonumber(cur)} end
elseif (not cur) or tonumber(cur) ~= expected then
  return {0, tonumber(cur or '0')}
end
local nev = tonumber(ARGV[3])
local i = 4 + nev
local nfields = tonumber(ARGV[i])
local fi = i + 1
i = fi + 2 * nfields
local nops = tonumber(ARGV[i])
local oi = i + 1
for k = 0, nops - 1 do
  local verb, key, a = ARGV[oi + 4 * k], ARGV[oi + 4 * k + 1], ARGV[oi + 4 * k + 2]
  if verb == 'zmember' then
    if not redis.call('ZSCORE', key, a) then return {0, expected} end
  elseif verb == 'cap' then
    if redis.call('SCARD', key) >= tonumber(a) then return {-1, 0} end
  end
end
for k = 0, nops - 1 do
  local verb, key, a, b = ARGV[oi + 4 * k], ARGV[oi + 4 * k + 1], ARGV[oi + 4 * k + 2], ARGV[oi + 4 * k + 3]
  if verb == 'zadd' then redis.call('ZADD', key, b, a)
  elseif verb == 'zrem' or verb == 'zmember' then redis.call('ZREM', key, a)
  elseif verb == 'sadd' then redis.call('SADD', key, a)
  elseif verb == 'srem' then redis.call('SREM', key, a)
  elseif verb == 'hdel' then redis.call('HDEL', key, a)
  end
end
for f = 0, nfields - 1 do
  local name, value = ARGV[fi + 2 * f], ARGV[fi + 2 * f + 1]
  if value == '' then redis.call('HDEL', item, name) else redis.call('HSET', item, name, value) end
end
local nv = expected + 1
redis.call('HSET', item, 'pb', ARGV[2], 'v', nv)
for k = 0, nops - 1 do
  if ARGV[oi + 4 * k] == 'pexpire' then redis.call('PEXPIRE', ARGV[oi + 4 * k + 1], ARGV[oi + 4 * k + 2]) end
end
local out = {1, nv}
for e = 1, nev do out[2 + e] = redis.call('XADD', KEYS[2], '*', 'e', ARGV[3 + e]) end
return out
)lua");
  return script;
}

// Reserves the most urgent items of the worker's queues for one claim call:
// takes them out of their queues into docket:claiming (see workflow.h), in
// one atomic step, so no two claims ever get the same item. KEYS: claiming
// zset, claiming:from hash, the worker's WIP set, n queue keys, their n
// queue-age keys. ARGV: n, reservation deadline ms, WIP limit, item key
// prefix, how many items at most. Takes no more than the WIP cap leaves room
// for. Returns {} when every queue is empty; {-1} when the worker is at its
// WIP cap (nothing reserved); else one {id, queue index (0-based), score, pb,
// v, check, held, queued at} per item (missing fields nil), most urgent
// first, read in the same step.
const redis::Script& ReserveScript() {
  static const redis::Script script(R"lua(
local n = tonumber(ARGV[1])
local want = tonumber(ARGV[5])
local room = tonumber(ARGV[3]) - redis.call('SCARD', KEYS[3])
local heads = {}
for i = 1, n do heads[i] = redis.call('ZRANGE', KEYS[3 + i], 0, 0, 'WITHSCORES') end
local out = {}
while #out < want do
  local best, best_score, best_q
  for i = 1, n do
    local head = heads[i]
    if head[1] and (not best or tonumber(head[2]) < tonumber(best_score)) then
      best, best_score, best_q = head[1], head[2], i
    end
  end
  if not best then break end
  if room <= 0 then
    if #out == 0 then return {-1} end
    break
  end
  local queue = KEYS[3 + best_q]
  redis.call('ZREM', queue, best)
  redis.call('ZADD', KEYS[1], ARGV[2], best)
  redis.call('HSET', KEYS[2], best, best_score .. ' ' .. queue)
  local f = redis.call('HMGET', ARGV[4] .. best, 'pb', 'v', 'check', 'held')
  local queued_at = redis.call('ZSCORE', KEYS[3 + n + best_q], best)
  out[#out + 1] = {best, best_q - 1, best_score, f[1], f[2], f[3], f[4], queued_at}
  room = room - 1
  if #out < want then heads[best_q] = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES') end
end
return out
)lua");
  return script;
}

// Ends a claim reservation. KEYS: claiming zset, claiming:from hash, item
// hash, the queue the item is in now. ARGV: item id, the version at which the
// caller saw it QUEUED in that queue ("" = it is not: just drop the
// reservation). Back into the queue only if it was reserved from that queue
// (ZADD NX: a change that re-enqueued it meanwhile set a newer score).
// Returns 0 no reservation, 1 back in its queue, 2 dropped, -1 the version
// changed (read the item again).
const redis::Script& UnreserveScript() {
  static const redis::Script script(R"lua(
local id = ARGV[1]
if not redis.call('ZSCORE', KEYS[1], id) then return 0 end
local result = 2
local from = redis.call('HGET', KEYS[2], id)
if ARGV[2] ~= '' and from then
  if redis.call('HGET', KEYS[3], 'v') ~= ARGV[2] then return -1 end
  local sp = string.find(from, ' ', 1, true)
  if sp and string.sub(from, sp + 1) == KEYS[4] then
    redis.call('ZADD', KEYS[4], 'NX', string.sub(from, 1, sp - 1), id)
    result = 1
  end
end
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
return result
)lua");
  return script;
}

// Merges SLA timers kept by versions before docket:sla (two zsets, at-risk
// and due times) into it, keeping each item's earlier moment; replicas of
// those versions may still write them during a rolling update. KEYS:
// docket:sla, docket:sla:risk, docket:sla:due. Returns how many old keys it
// found.
const redis::Script& MergeLegacySlaScript() {
  static const redis::Script script(R"lua(
local n = redis.call('EXISTS', KEYS[2], KEYS[3])
if n > 0 then
  redis.call('ZUNIONSTORE', KEYS[1], 3, KEYS[1], KEYS[2], KEYS[3], 'AGGREGATE', 'MIN')
  redis.call('DEL', KEYS[2], KEYS[3])
end
return n
)lua");
  return script;
}

}  // namespace

// ---- metrics ----

class WorkflowMetrics {
 public:
  WorkflowMetrics(metrics::MetricsRegistry& r, const catalog::Catalog& catalog)
      : catalog_(catalog),
        transitions_(prometheus::BuildCounter()
                         .Name("docket_processing_transitions_total")
                         .Help("Work item transitions, by kind and the state entered.")
                         .Register(r.registry())),
        depth_(prometheus::BuildGauge()
                   .Name("docket_processing_queue_depth")
                   .Help("Items waiting in a queue.")
                   .Register(r.registry())),
        oldest_(prometheus::BuildGauge()
                    .Name("docket_processing_queue_oldest_age_seconds")
                    .Help("Age of the item that has waited longest in a queue.")
                    .Register(r.registry())),
        claim_(prometheus::BuildHistogram()
                   .Name("docket_processing_claim_duration_seconds")
                   .Help("Time to answer ClaimNext.")
                   .Register(r.registry())),
        leases_(prometheus::BuildCounter()
                    .Name("docket_processing_lease_expiries_total")
                    .Help("Claims whose lease ran out (the item went back to its queue).")
                    .Register(r.registry())),
        sla_(prometheus::BuildCounter()
                 .Name("docket_processing_sla_events_total")
                 .Help("SLA watchdog events, by queue and event (at_risk, breached, escalated).")
                 .Register(r.registry())),
        claim_hist_(&claim_.Add({}, metrics::LatencyBuckets())) {
    // Bounded label sets start at 0, so rate() and alerts see them from the start.
    for (const auto& q : catalog.queues()) {
      for (const char* event : {"at_risk", "breached", "escalated"}) sla_.Add({{"queue", q.name}, {"event", event}});
      leases_.Add({{"queue", q.name}});
    }
    for (const auto& k : catalog.kinds()) transition_counters_.try_emplace(k.name, std::make_unique<ByState>());
    transition_counters_.try_emplace("other", std::make_unique<ByState>());
  }

  // Four per work item: the series is looked up once (Family::Add builds a
  // label map and locks), then its counter is reused.
  void Transition(const std::string& kind, WorkState state) {
    auto it = transition_counters_.find(kind);
    if (it == transition_counters_.end()) it = transition_counters_.find("other");
    if (state < 0 || state >= docket::v1::WorkState_ARRAYSIZE) {
      transitions_.Add({{"kind", it->first}, {"state", absl::StrCat(static_cast<int>(state))}}).Increment();
      return;
    }
    std::atomic<prometheus::Counter*>& slot = (*it->second)[state];
    prometheus::Counter* counter = slot.load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Racing threads get the same series back from Add.
      counter = &transitions_.Add({{"kind", it->first}, {"state", docket::v1::WorkState_Name(state)}});
      slot.store(counter, std::memory_order_release);
    }
    counter->Increment();
  }
  void Claim(double seconds) { claim_hist_->Observe(seconds); }
  void LeaseExpired(const std::string& queue) { leases_.Add({{"queue", QueueLabel(queue)}}).Increment(); }
  void Sla(const std::string& queue, const std::string& event) {
    sla_.Add({{"queue", QueueLabel(queue)}, {"event", event}}).Increment();
  }
  void Queue(const std::string& tenant, const std::string& queue, double depth, double oldest) {
    depth_.Add({{"tenant", tenant}, {"queue", queue}}).Set(depth);
    oldest_.Add({{"tenant", tenant}, {"queue", queue}}).Set(oldest);
  }

 private:
  std::string QueueLabel(const std::string& q) const { return catalog_.FindQueue(q) ? q : "other"; }
  const catalog::Catalog& catalog_;
  prometheus::Family<prometheus::Counter>& transitions_;
  prometheus::Family<prometheus::Gauge>& depth_;
  prometheus::Family<prometheus::Gauge>& oldest_;
  prometheus::Family<prometheus::Histogram>& claim_;
  prometheus::Family<prometheus::Counter>& leases_;
  prometheus::Family<prometheus::Counter>& sla_;
  prometheus::Histogram* claim_hist_;
  // Filled in the constructor (the catalog's kinds and "other"), read-only
  // after; each slot is set on the first transition into its state.
  using ByState = std::array<std::atomic<prometheus::Counter*>, docket::v1::WorkState_ARRAYSIZE>;
  std::unordered_map<std::string, std::unique_ptr<ByState>> transition_counters_;
};

// ---- state ----

struct Workflow::Loaded {
  WorkItem item;
  std::int64_t version = 0;
  std::string check;        // event id of the CompletionRequested awaiting a verdict
  std::int64_t held_ms = 0;  // when the item was held (SLA clock paused)
};

// Items this replica just claimed, as committed: the worker's Complete
// usually follows on the same replica, and then needs no read. A copy is
// only ever a guess: the CAS still checks its version, and any failure on a
// copy is judged again on what Redis holds (see Complete).
class Workflow::ClaimedItems {
 public:
  void Put(Loaded l) {
    std::lock_guard lock(mu_);
    std::string id = l.item.id();
    if (items_.insert_or_assign(id, std::move(l)).second) order_.push_back(std::move(id));
    while (order_.size() > kMax) {
      items_.erase(order_.front());
      order_.pop_front();
    }
  }
  std::optional<Loaded> Take(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = items_.find(id);
    if (it == items_.end()) return std::nullopt;
    Loaded l = std::move(it->second);
    items_.erase(it);  // its id stays in order_ until evicted: harmless
    return l;
  }

 private:
  static constexpr std::size_t kMax = 4096;  // ~2 MB of copies at most
  std::mutex mu_;
  std::unordered_map<std::string, Loaded> items_;
  std::deque<std::string> order_;
};

struct Workflow::Change {
  std::int64_t expected_version = 0;  // 0 = the item must not exist yet
  WorkItem item;                      // the new state
  std::vector<docket::v1::Event> events;
  std::vector<kafka::Record> records;  // the events as published (CasCall encodes them once)
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::array<std::string, 4>> ops;
  bool transition = true;  // false: the state did not change (a comment)
  void Op(std::string verb, std::string key, std::string a, std::string b = "") {
    ops.push_back({std::move(verb), std::move(key), std::move(a), std::move(b)});
  }
};

// Clears confirmed events from the outbox in batches, on its own thread:
// one XDEL for everything confirmed since the last round trip, instead
// of one round trip per event on the producer's delivery thread. What it
// cannot clear (Redis away) the relay publishes again later: a duplicate
// event id, which consumers drop.
class Workflow::OutboxClearer {
 public:
  explicit OutboxClearer(redis::RedisClient& redis) : redis_(redis), thread_([this] { Loop(); }) {}
  ~OutboxClearer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // `entry`: the event's outbox stream entry id.
  void Add(std::string entry) {
    {
      std::lock_guard lock(mu_);
      pending_.push_back(std::move(entry));
      ++added_;
    }
    cv_.notify_all();
  }

  // Returns once everything added before the call was cleared (or tried).
  void Flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = added_;
    cv_.wait(lock, [&] { return done_ >= target || stop_; });
  }

 private:
  static constexpr std::size_t kMaxBatch = 1000;

  void Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, nothing left
      std::vector<std::string> batch;
      batch.swap(pending_);
      lock.unlock();
      for (std::size_t i = 0; i < batch.size(); i += kMaxBatch) {
        const std::size_t end = std::min(batch.size(), i + kMaxBatch);
        if (auto r = redis_.Command(ClearFromOutbox(batch.cbegin() + i, batch.cbegin() + end)); !r.ok()) {
          Log().Warn("clearing published events from the outbox failed; the relay publishes them again",
                     {{"events", static_cast<std::int64_t>(end - i)},
                      {"error", std::string(r.status().message())}});
        }
      }
      lock.lock();
      done_ += batch.size();
      cv_.notify_all();
    }
  }

  redis::RedisClient& redis_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> pending_;
  std::uint64_t added_ = 0;
  std::uint64_t done_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

Workflow::Workflow(const catalog::Catalog& catalog, redis::RedisClient& redis,
                   kafka::EventPublisher& publisher, const Clock& clock,
                   const kafka::Topics& topics, WorkflowOptions options)
    : catalog_(catalog), redis_(redis), publisher_(publisher), clock_(clock), topics_(topics),
      options_(std::move(options)), ids_(clock), claimed_(std::make_unique<ClaimedItems>()), clearer_(std::make_unique<OutboxClearer>(redis)) {}

Workflow::~Workflow() = default;

absl::StatusOr<std::unique_ptr<Workflow>> Workflow::Create(
    const catalog::Catalog& catalog, redis::RedisClient& redis, kafka::EventPublisher& publisher,
    const Clock& clock, const kafka::Topics& topics, metrics::MetricsRegistry* metrics,
    WorkflowOptions options) {
  std::unique_ptr<Workflow> w(new Workflow(catalog, redis, publisher, clock, topics, options));
  for (const auto& q : catalog.queues()) {
    DOCKET_ASSIGN_OR_RETURN(BusinessCalendar cal, BusinessCalendar::ForQueue(catalog, q));
    w->calendars_.emplace(q.name, std::move(cal));
  }
  if (metrics) w->metrics_ = std::make_unique<WorkflowMetrics>(*metrics, catalog);
  return w;
}

std::int64_t Workflow::NowMs() const { return ToMs(clock_.Now()); }

const BusinessCalendar& Workflow::CalendarOf(const std::string& queue) const {
  static const BusinessCalendar kAlways = BusinessCalendar::TwentyFourSeven();
  auto it = calendars_.find(queue);
  return it == calendars_.end() ? kAlways : it->second;
}

docket::v1::Event Workflow::NewEvent(const WorkItem& item, const std::string& id) const {
  docket::v1::Event e;
  e.set_id(id);
  e.set_source(options_.source);
  e.set_subject(item.id());
  e.set_tenant(item.tenant());
  *e.mutable_time() = Ts(NowMs());
  return e;
}

void Workflow::Enqueue(Change& c, const WorkItem& item, std::int64_t now_ms) const {
  c.Op("zadd", QueueKey(item.tenant(), item.queue()), item.id(),
       absl::StrCat(static_cast<std::int64_t>(UrgencyScore(item.priority(), FromMs(Ms(item.due_at()))))));
  c.Op("zadd", QueueAgeKey(item.tenant(), item.queue()), item.id(), absl::StrCat(now_ms));
}

void Workflow::ArmSla(Change& c, const WorkItem& item) const {
  const catalog::Kind* kind = catalog_.FindKind(item.kind());
  const catalog::Queue* queue = catalog_.FindQueue(item.queue());
  const std::int64_t due = Ms(item.due_at());
  std::int64_t next = due;
  if (kind && queue && kind->sla.count() > 0) {
    // At-risk once the queue's share of the budget is used, shifted by any
    // pause that moved the due time.
    const auto& cal = CalendarOf(item.queue());
    const auto submitted = FromMs(Ms(item.submitted_at()));
    const auto share = std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(kind->sla.count()) * queue->at_risk_share));
    const std::int64_t shift = due - ToMs(cal.AddBusinessTime(submitted, kind->sla));
    const std::int64_t risk = ToMs(cal.AddBusinessTime(submitted, share)) + shift;
    if (risk > NowMs() && risk < due) next = risk;
  }
  c.Op("zadd", kSla, item.id(), absl::StrCat(next));
}

void Workflow::DisarmSla(Change& c, const std::string& id) const { c.Op("zrem", kSla, id); }

absl::StatusOr<std::optional<Workflow::Loaded>> Workflow::Load(const std::string& item_id) {
  DOCKET_ASSIGN_OR_RETURN(redis::Reply r,
                          redis_.Command({"HMGET", ItemKey(item_id), "pb", "v", "check", "held"}));
  return FromFields(item_id, r.elements);
}

absl::StatusOr<std::optional<Workflow::Loaded>> Workflow::FromFields(
    const std::string& item_id, const std::vector<redis::Reply>& f) {
  if (f.size() != 4 || f[0].is_nil()) return std::nullopt;
  Loaded l;
  if (!l.item.ParseFromString(f[0].str)) {
    return absl::DataLossError(absl::StrCat("item ", item_id, " in Redis does not parse"));
  }
  l.version = std::stoll(f[1].str);
  l.check = f[2].str;
  if (!f[3].is_nil()) l.held_ms = std::stoll(f[3].str);
  return l;
}

redis::EvalCall Workflow::UnreserveCall(const std::string& item_id, const std::optional<Loaded>& loaded) const {
  const bool queued = loaded && loaded->item.state() == docket::v1::WORK_STATE_QUEUED;
  return {&UnreserveScript(),
          {kClaiming, kClaimingFrom, ItemKey(item_id),
           queued ? QueueKey(loaded->item.tenant(), loaded->item.queue()) : ""},
          {item_id, queued ? absl::StrCat(loaded->version) : ""}};
}

void Workflow::GiveBack(std::vector<std::pair<std::string, std::optional<Loaded>>> items) {
  std::vector<std::string> alone;  // not read, changed since, or the pipeline failed
  std::vector<redis::EvalCall> calls;
  std::vector<std::string> piped;
  for (const auto& [id, loaded] : items) {
    if (!loaded) {
      alone.push_back(id);
      continue;
    }
    calls.push_back(UnreserveCall(id, loaded));
    piped.push_back(id);
  }
  if (!calls.empty()) {
    absl::StatusOr<std::vector<redis::Reply>> replies = redis::EvalPipeline(redis_, std::move(calls));
    for (std::size_t i = 0; i < piped.size(); ++i) {
      if (!replies.ok() || (*replies)[i].is_error() || (*replies)[i].integer == -1) alone.push_back(piped[i]);
    }
  }
  for (const std::string& id : alone) {  // reading the item again
    if (absl::StatusOr<bool> back = Unreserve(id, std::nullopt); !back.ok()) {
      Log().Warn("a reservation could not be given back; the watchdog will",
                 {{"item_id", id}, {"error", std::string(back.status().message())}});
    }
  }
}

absl::StatusOr<bool> Workflow::Unreserve(const std::string& item_id, std::optional<Loaded> loaded) {
  // A few rounds: each one that loses means the item changed between the read
  // and the script; past them the reservation waits for the watchdog.
  for (int round = 0; round < 4; ++round) {
    if (round > 0 || !loaded) {
      absl::StatusOr<std::optional<Loaded>> l = Load(item_id);
      // An item that no longer parses cannot go back to a queue.
      if (!l.ok() && l.status().code() != absl::StatusCode::kDataLoss) return l.status();
      loaded = l.ok() ? *std::move(l) : std::nullopt;
    }
    const redis::EvalCall call = UnreserveCall(item_id, loaded);
    DOCKET_ASSIGN_OR_RETURN(redis::Reply r, redis_.Eval(*call.script, call.keys, call.args));
    if (r.integer != -1) return r.integer == 1;
  }
  return absl::AbortedError(absl::StrCat("work item ", item_id, " kept changing; its claim reservation is left to the watchdog"));
}

bool Workflow::Visible(const Worker& worker, const Loaded& l) {
  return MayActFor(worker, l.item.tenant()) && MaySeeKind(worker, l.item.kind());
}

absl::StatusOr<Workflow::Loaded> Workflow::LoadForWorker(const Worker& worker,
                                                         const std::string& item_id) {
  if (item_id.empty()) return absl::InvalidArgumentError("item_id is required");
  DOCKET_ASSIGN_OR_RETURN(std::optional<Loaded> l, Load(item_id));
  // Another tenant's item is "not found": its existence is not revealed.
  if (!l || !Visible(worker, *l)) {
    return absl::NotFoundError(absl::StrCat("work item ", item_id.substr(0, 64), " not found"));
  }
  return *l;
}

namespace {

// An item that just finished records when: the time its Completed,
// AutoCompleted or Rejected event carries, so Get and the event agree on
// whether the SLA was met.
void StampFinished(WorkItem& item, const std::vector<docket::v1::Event>& events) {
  if (!IsTerminal(item.state()) || item.has_finished_at()) return;
  for (const auto& e : events) {
    const google::protobuf::Timestamp* at = e.has_completed()        ? &e.completed().completed_at()
                                            : e.has_auto_completed() ? &e.auto_completed().completed_at()
                                            : e.has_rejected()       ? &e.rejected().rejected_at()
                                                                     : nullptr;
    if (at) {
      *item.mutable_finished_at() = *at;
      return;
    }
  }
}

}  // namespace

redis::EvalCall Workflow::CasCall(Change& c) const {
  redis::EvalCall call;
  call.script = &CasScript();
  call.keys = {ItemKey(c.item.id()), kOutbox};
  std::vector<std::string>& args = call.args;
  args.reserve(8 + c.events.size() * 2 + c.fields.size() * 2 + c.ops.size() * 4);
  // The item as stored carries the version the CAS gives it (no copy: the
  // change's item is what the caller returns once committed).
  WorkItem& item = c.item;
  item.set_version(c.expected_version + 1);
  StampFinished(item, c.events);
  args.push_back(absl::StrCat(c.expected_version));
  args.push_back(item.SerializeAsString());
  args.push_back(absl::StrCat(c.events.size()));
  // Each event is encoded once: its bytes go to the outbox here and, as the
  // same record, to Kafka once the CAS committed.
  c.records.clear();
  c.records.reserve(c.events.size());
  for (auto& e : c.events) {
    e.set_type(kafka::EventType(e));
    kafka::Record& record = c.records.emplace_back(kafka::EncodeEvent(topics_.work(), e));
    args.push_back(record.value);
  }
  args.push_back(absl::StrCat(c.fields.size()));
  for (const auto& [name, value] : c.fields) {
    args.push_back(name);
    args.push_back(value);
  }
  // A finished item is kept for terminal_retention (Get, comments, replay
  // safety), then Redis drops it: Redis does not grow with history.
  const bool terminal = IsTerminal(item.state());
  args.push_back(absl::StrCat(c.ops.size() + (terminal ? 1 : 0)));
  for (const auto& op : c.ops) args.insert(args.end(), op.begin(), op.end());
  if (terminal) {
    args.insert(args.end(), {"pexpire", ItemKey(item.id()), absl::StrCat(options_.terminal_retention.count()), ""});
  }
  return call;
}

absl::Status Workflow::Committed(Change& c, const redis::Reply& r) {
  if (r.is_error()) return absl::InternalError(absl::StrCat("the CAS script failed: ", r.str));
  if (r.elements.size() < 2) return absl::InternalError("unexpected reply of the CAS script");
  if (r.elements[0].integer == -1) {
    return absl::ResourceExhaustedError("the worker is at the work-in-progress limit");
  }
  if (r.elements[0].integer == 0) {
    return absl::AbortedError(absl::StrCat("work item ", c.item.id(),
                                           " was changed concurrently; retry"));
  }
  if (metrics_ && c.transition) metrics_->Transition(c.item.kind(), c.item.state());
  // Committed: the events are in the outbox whatever follows.
  std::vector<std::string> entries(c.records.size());
  if (r.elements.size() == 2 + c.records.size()) {
    for (std::size_t i = 0; i < entries.size(); ++i) entries[i] = r.elements[2 + i].str;
  } else {
    Log().Error("the CAS script answered another number of outbox entries than events; the relay clears them",
                {{"item_id", c.item.id()}, {"events", static_cast<std::int64_t>(c.records.size())},
                 {"entries", static_cast<std::int64_t>(r.elements.size()) - 2}});
  }
  PublishAndClear(std::move(c.records), std::move(entries));
  return absl::OkStatus();
}

absl::Status Workflow::Commit(Change& c) {
  const redis::EvalCall call = CasCall(c);
  DOCKET_ASSIGN_OR_RETURN(redis::Reply r, redis_.Eval(*call.script, call.keys, call.args));
  return Committed(c, r);
}

void Workflow::PublishAndClear(std::vector<kafka::Record> records, std::vector<std::string> entries) {
  // The events are durable in the outbox: publish without waiting, and clear
  // each (in batches) once Kafka confirmed it. A failure leaves it for
  // RelayOutbox.
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::string id = records[i].Header("ce_id").value_or("");
    publisher_.PublishAsync(std::move(records[i]),
                            [this, id = std::move(id), entry = std::move(entries[i])](absl::Status s) mutable {
                              if (!s.ok()) {
                                Log().Warn("event publish failed; the outbox relay retries",
                                           {{"event_id", id}, {"error", std::string(s.message())}});
                                return;
                              }
                              if (!entry.empty()) clearer_->Add(std::move(entry));
                            });
  }
}

// ---- consumer side ----

const std::vector<docket::v1::Event::PayloadCase>& Workflow::HandledPayloads() {
  static const std::vector<docket::v1::Event::PayloadCase> kHandled = {docket::v1::Event::kSubmitted,
                                                                       docket::v1::Event::kVerdict};
  return kHandled;
}

absl::Status Workflow::Handle(const docket::v1::Event& event) { return HandleBatch({&event})[0]; }

namespace {

// The item an input event changes ("" for events Handle ignores).
const std::string& InputItem(const docket::v1::Event& e) {
  static const std::string kNone;
  if (e.has_submitted()) return e.subject();
  if (e.has_verdict() && e.verdict().checkpoint() == docket::v1::CHECKPOINT_COMPLETE) return e.verdict().item_id();
  return kNone;
}

}  // namespace

std::vector<absl::Status> Workflow::HandleBatch(const std::vector<const docket::v1::Event*>& events) {
  std::vector<absl::Status> out(events.size());
  // Segments without two events of one item: within a segment every change
  // is computed from what Redis held before it, so a second event of an item
  // waits for the next segment, which sees the first one's effect.
  std::size_t begin = 0;
  while (begin < events.size()) {
    std::set<std::string_view> items;
    std::size_t end = begin;
    for (; end < events.size(); ++end) {
      const std::string& item = InputItem(*events[end]);
      if (!item.empty() && !items.insert(item).second) break;
    }
    HandleSegment(events, begin, end, out);
    begin = end;
  }
  return out;
}

void Workflow::HandleSegment(const std::vector<const docket::v1::Event*>& events, std::size_t begin,
                             std::size_t end, std::vector<absl::Status>& out) {
  // One round trip reads every item a verdict judges.
  std::vector<std::size_t> verdicts;
  std::vector<std::vector<std::string>> reads;
  for (std::size_t i = begin; i < end; ++i) {
    if (events[i]->has_verdict() && !InputItem(*events[i]).empty()) {
      verdicts.push_back(i);
      reads.push_back({"HMGET", ItemKey(InputItem(*events[i])), "pb", "v", "check", "held"});
    }
  }
  absl::StatusOr<std::vector<redis::Reply>> loaded = redis_.Pipeline(reads);
  // Then every change is computed, and one round trip commits them all.
  std::vector<Change> changes;
  std::vector<std::size_t> of;  // event index of each change
  changes.reserve(end - begin);
  std::size_t next_verdict = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const docket::v1::Event& e = *events[i];
    absl::StatusOr<std::optional<Change>> change = std::nullopt;
    if (e.has_submitted()) {
      change = RouteChange(e);
    } else if (!InputItem(e).empty()) {
      const std::size_t v = next_verdict++;
      if (!loaded.ok()) {
        change = loaded.status();
      } else if ((*loaded)[v].is_error()) {
        change = absl::InternalError(absl::StrCat("reading item ", InputItem(e), ": ", (*loaded)[v].str));
      } else {
        absl::StatusOr<std::optional<Loaded>> item = FromFields(InputItem(e), (*loaded)[v].elements);
        change = item.ok() ? VerdictChange(e, *item) : item.status();
      }
    }
    if (!change.ok()) {
      out[i] = change.status();
    } else if (*change) {
      changes.push_back(**std::move(change));
      of.push_back(i);
    }
  }
  std::vector<redis::EvalCall> calls;
  calls.reserve(changes.size());
  for (Change& c : changes) calls.push_back(CasCall(c));
  absl::StatusOr<std::vector<redis::Reply>> replies = redis::EvalPipeline(redis_, std::move(calls));
  for (std::size_t k = 0; k < changes.size(); ++k) {
    const std::size_t i = of[k];
    absl::Status s = replies.ok() ? Committed(changes[k], (*replies)[k]) : replies.status();
    // A routing that lost means the item exists: routed by another delivery.
    // A verdict that lost is retried by the consumer against the new version.
    if (s.code() == absl::StatusCode::kAborted && events[i]->has_submitted()) s = absl::OkStatus();
    out[i] = std::move(s);
  }
}

docket::v1::Event Workflow::CompletedEvent(const WorkItem& item, const std::string& id,
                                           std::int64_t now, const std::string& verdict_id) const {
  docket::v1::Event e = NewEvent(item, id);
  auto* p = e.mutable_completed();
  p->set_queue(item.queue());
  *p->mutable_completer() = item.completer();
  *p->mutable_outcome() = item.outcome();
  *p->mutable_submitted_at() = item.submitted_at();
  *p->mutable_claimed_at() = item.claimed_at();
  *p->mutable_completed_at() = Ts(now);
  *p->mutable_due_at() = item.due_at();
  p->set_attempt(item.attempt());
  p->set_rework_count(item.rework_count());
  p->set_sla_met(now <= Ms(item.due_at()));
  p->set_kind(item.kind());
  p->set_verdict_id(verdict_id);
  return e;
}

docket::v1::Event Workflow::AutoCompletedEvent(const WorkItem& item, const std::string& id,
                                               const std::string& rule_id, std::int64_t now,
                                               const std::string& verdict_id) const {
  docket::v1::Event e = NewEvent(item, id);
  auto* p = e.mutable_auto_completed();
  p->set_queue(item.queue());
  p->set_rule_id(rule_id);
  *p->mutable_submitted_at() = item.submitted_at();
  *p->mutable_completed_at() = Ts(now);
  *p->mutable_due_at() = item.due_at();
  p->set_sla_met(now <= Ms(item.due_at()));
  p->set_kind(item.kind());
  p->set_verdict_id(verdict_id);
  return e;
}

absl::StatusOr<std::optional<Workflow::Change>> Workflow::RouteChange(const docket::v1::Event& event) {
  const auto& sub = event.submitted().submission();
  const std::string& id = event.subject();
  if (id.empty()) return absl::InvalidArgumentError("Submitted event without a subject (item id)");
  // A redelivery needs no read: the CAS creates the item only if it does not
  // exist yet.
  const catalog::Kind* kind = catalog_.FindKind(sub.kind());
  if (!kind) {
    // Unless routed before the kind left the catalog, this can never apply.
    DOCKET_ASSIGN_OR_RETURN(std::optional<Loaded> existing, Load(id));
    if (existing) return std::nullopt;
    return absl::InvalidArgumentError(
        absl::StrCat("item ", id, ": kind \"", sub.kind().substr(0, 64), "\" is not in the catalog"));
  }
  const std::int64_t now = NowMs();
  Change c;
  WorkItem& item = c.item;
  item.set_id(id);
  item.set_tenant(sub.tenant());
  item.set_kind(sub.kind());
  *item.mutable_attributes() = sub.attributes();
  item.set_priority(sub.priority() != docket::v1::PRIORITY_UNSPECIFIED ? sub.priority()
                                                                       : kind->priority);
  item.set_queue(kind->queue);
  *item.mutable_submitted_at() =
      event.submitted().has_submitted_at() ? event.submitted().submitted_at() : Ts(now);
  const auto& cal = CalendarOf(kind->queue);
  *item.mutable_due_at() = Ts(ToMs(cal.AddBusinessTime(FromMs(Ms(item.submitted_at())), kind->sla)));
  item.set_attempt(1);
  item.set_external_ref(sub.external_ref());
  *item.mutable_requester() = sub.requester();
  DOCKET_ASSIGN_OR_RETURN(WorkState queued, Apply(docket::v1::WORK_STATE_SUBMITTED, Action::kRoute));
  item.set_state(queued);

  docket::v1::Event routed = NewEvent(item, DerivedEventId(event.id(), "Routed"));
  auto* r = routed.mutable_routed();
  r->set_queue(item.queue());
  r->set_priority(item.priority());
  *r->mutable_due_at() = item.due_at();
  *r->mutable_sla() = TimeUtil::MillisecondsToDuration(kind->sla.count());
  *r->mutable_submitted_at() = item.submitted_at();
  r->set_kind(item.kind());
  c.events.push_back(routed);

  if (const catalog::AutomationRule* rule = MatchAutomation(*kind, sub.attributes())) {
    docket::v1::Actor bot;
    bot.set_type(docket::v1::Actor::TYPE_BOT);
    bot.set_id(kAutomationActorPrefix + rule->id);
    *item.mutable_completer() = bot;
    if (kind->check_on_complete) {
      DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(item.state(), Action::kAutomate));
      item.set_state(s);
      docket::v1::Event cr = NewEvent(item, DerivedEventId(event.id(), "CompletionRequested"));
      auto* p = cr.mutable_completion_requested();
      p->set_queue(item.queue());
      *p->mutable_completer() = bot;
      *p->mutable_submitted_at() = item.submitted_at();
      *p->mutable_due_at() = item.due_at();
      p->set_attempt(item.attempt());
      p->set_kind(item.kind());
      c.fields.emplace_back("check", cr.id());
      c.events.push_back(cr);
      ArmSla(c, item);
    } else {
      DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(item.state(), Action::kAutoComplete));
      item.set_state(s);
      c.events.push_back(
          AutoCompletedEvent(item, DerivedEventId(event.id(), "AutoCompleted"), rule->id, now, ""));
    }
  } else {
    Enqueue(c, item, now);
    ArmSla(c, item);
  }
  return c;
}

absl::StatusOr<std::optional<Workflow::Change>> Workflow::VerdictChange(
    const docket::v1::Event& event, const std::optional<Loaded>& l) {
  const auto& v = event.verdict();
  if (!l) {
    Log().Warn("verdict for an unknown item ignored", {{"item_id", v.item_id()}});
    return std::nullopt;
  }
  // Only the verdict on the current completion counts; a redelivered or
  // stale one changes nothing.
  if (l->item.state() != docket::v1::WORK_STATE_COMPLETION_REQUESTED ||
      l->check != v.source_event_id()) {
    return std::nullopt;
  }
  const std::int64_t now = NowMs();
  Change c;
  c.expected_version = l->version;
  c.item = l->item;
  WorkItem& item = c.item;
  c.fields.emplace_back("check", "");
  DisarmSla(c, item.id());
  if (v.outcome() == docket::v1::OUTCOME_PASS) {
    const bool automated = Automated(item);
    DOCKET_ASSIGN_OR_RETURN(WorkState s,
                            Apply(item.state(), automated ? Action::kAutoComplete : Action::kComplete));
    item.set_state(s);
    if (automated) {
      c.events.push_back(AutoCompletedEvent(item, DerivedEventId(event.id(), "AutoCompleted"),
                                            item.completer().id().substr(sizeof(kAutomationActorPrefix) - 1),
                                            now, v.id()));
    } else {
      c.events.push_back(CompletedEvent(item, DerivedEventId(event.id(), "Completed"), now, v.id()));
    }
  } else {
    DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(item.state(), Action::kHold));
    item.set_state(s);
    c.fields.emplace_back("held", absl::StrCat(now));
    docket::v1::Event e = NewEvent(item, DerivedEventId(event.id(), "Held"));
    auto* p = e.mutable_held();
    p->set_queue(item.queue());
    p->set_verdict_id(v.id());
    p->set_reason(docket::v1::Outcome_Name(v.outcome()));
    *p->mutable_submitted_at() = item.submitted_at();
    *p->mutable_due_at() = item.due_at();
    p->set_kind(item.kind());
    c.events.push_back(e);
  }
  return c;
}

// ---- worker API ----

struct Workflow::ClaimPlan {
  std::chrono::steady_clock::time_point started;
  std::string tenant;
  std::vector<const catalog::Queue*> queues;
  std::vector<std::string> keys;  // the claim script's
  int wip_limit = 0;
  int max_items = 1;
};

absl::StatusOr<Workflow::ClaimPlan> Workflow::PlanClaim(
    const Worker& worker, const docket::v1::ClaimNextRequest& request) const {
  ClaimPlan plan;
  plan.started = std::chrono::steady_clock::now();
  plan.tenant = request.tenant();
  const std::string& tenant = plan.tenant;
  if (!MayActFor(worker, tenant)) {
    return absl::PermissionDeniedError(
        absl::StrCat("worker ", worker.id, " may not work for tenant \"", tenant.substr(0, 64), "\""));
  }
  std::vector<const catalog::Queue*>& queues = plan.queues;
  for (const auto& q : catalog_.queues()) {
    const bool asked = request.queues().empty() ||
                       std::find(request.queues().begin(), request.queues().end(), q.name) !=
                           request.queues().end();
    if (asked && HasSkillFor(worker, q)) queues.push_back(&q);
  }
  for (const auto& name : request.queues()) {
    const catalog::Queue* q = catalog_.FindQueue(name);
    if (!q) return absl::InvalidArgumentError(absl::StrCat("queues: unknown queue \"", name.substr(0, 64), "\""));
    if (!HasSkillFor(worker, *q)) {
      return absl::PermissionDeniedError(
          absl::StrCat("worker ", worker.id, " has no skill for queue ", name));
    }
  }
  if (queues.empty()) {
    return absl::PermissionDeniedError(absl::StrCat("worker ", worker.id, " has no skill for any queue"));
  }
  plan.wip_limit = worker.wip_limit > 0 ? worker.wip_limit : options_.default_wip_limit;
  if (request.max_items() < 0 || request.max_items() > kMaxClaimBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_items: ", request.max_items(), " is not between 0 and ", kMaxClaimBatch));
  }
  plan.max_items = std::max(1, request.max_items());
  // The claim script takes the most urgent item of these queues out of its
  // queue for this call alone (a reservation); the claim then commits with
  // the CAS. Other workers never see the item meanwhile, so they do not race
  // for it: the CAS fails only if the item itself changed.
  plan.keys = {kClaiming, kClaimingFrom, WipKey(tenant, worker.id)};
  for (const auto* q : queues) plan.keys.push_back(QueueKey(tenant, q->name));
  for (const auto* q : queues) plan.keys.push_back(QueueAgeKey(tenant, q->name));
  return plan;
}

redis::EvalCall Workflow::ReserveCall(const ClaimPlan& plan, int count) const {
  return {&ReserveScript(), plan.keys,
          {absl::StrCat(plan.queues.size()), absl::StrCat(NowMs() + options_.claim_reservation.count()),
           absl::StrCat(plan.wip_limit), kItemKeyPrefix, absl::StrCat(count)}};
}

absl::StatusOr<std::vector<WorkItem>> Workflow::ClaimItems(const Worker& worker,
                                                           const docket::v1::ClaimNextRequest& request) {
  DOCKET_ASSIGN_OR_RETURN(ClaimPlan plan, PlanClaim(worker, request));
  return Claim(worker, plan, std::nullopt);
}

absl::StatusOr<std::optional<WorkItem>> Workflow::ClaimNext(const Worker& worker,
                                                            const docket::v1::ClaimNextRequest& request) {
  docket::v1::ClaimNextRequest one = request;
  one.clear_max_items();
  DOCKET_ASSIGN_OR_RETURN(std::vector<WorkItem> items, ClaimItems(worker, one));
  if (items.empty()) return std::optional<WorkItem>();
  return std::optional<WorkItem>(std::move(items.front()));
}

void Workflow::GiveBack(const redis::Reply& reserved) {
  if (reserved.is_error()) return;
  std::vector<std::pair<std::string, std::optional<Loaded>>> items;
  for (const redis::Reply& t : reserved.elements) {
    if (t.elements.empty()) continue;  // {-1}: nothing was reserved
    std::optional<Loaded> read;
    if (t.elements.size() == 8) {
      absl::StatusOr<std::optional<Loaded>> l = FromFields(t.elements[0].str, {t.elements.begin() + 3, t.elements.begin() + 7});
      if (l.ok()) read = *std::move(l);
    }
    items.emplace_back(t.elements[0].str, std::move(read));
  }
  GiveBack(std::move(items));
}

absl::StatusOr<std::vector<WorkItem>> Workflow::Claim(const Worker& worker, const ClaimPlan& plan,
                                                      std::optional<redis::Reply> reserved) {
  const std::string& tenant = plan.tenant;
  const std::vector<const catalog::Queue*>& queues = plan.queues;
  const int wip_limit = plan.wip_limit;
  auto observe = [&] {
    if (metrics_) metrics_->Claim(std::chrono::duration<double>(std::chrono::steady_clock::now() - plan.started).count());
  };
  std::vector<WorkItem> claimed;
  bool capped = false;
  absl::Status failed;  // the first failure other than a lost race
  int stale = 0;
  int attempt = 0;
  while (claimed.size() < static_cast<std::size_t>(plan.max_items) && attempt < options_.claim_attempts) {
    const std::int64_t now = NowMs();
    redis::Reply r;
    if (reserved) {
      r = *std::move(reserved);
      reserved.reset();
      if (r.is_error()) return absl::InternalError(absl::StrCat("the claim script failed: ", r.str));
    } else {
      const redis::EvalCall call = ReserveCall(plan, plan.max_items - static_cast<int>(claimed.size()));
      absl::StatusOr<redis::Reply> reply = redis_.Eval(*call.script, call.keys, call.args);
      if (!reply.ok()) {
        failed = reply.status();
        break;
      }
      r = *std::move(reply);
    }
    if (r.elements.empty()) break;  // nothing waiting
    if (r.elements.size() == 1 && r.elements[0].type == redis::Reply::Type::kInteger) {
      capped = true;
      break;
    }
    for (const redis::Reply& t : r.elements) {
      if (t.elements.size() != 8 || t.elements[1].integer < 0 ||
          static_cast<std::size_t>(t.elements[1].integer) >= queues.size()) {
        GiveBack(r);
        failed = absl::InternalError("unexpected reply of the claim script");
        break;
      }
    }
    if (!failed.ok()) break;
    // What each reserved item's claim changes; the claims commit together.
    std::vector<Change> changes;
    std::vector<Loaded> reads;
    std::vector<std::pair<std::string, std::optional<Loaded>>> back;  // reserved, not claimed
    bool again = false;  // look again: a stale entry or a lost race
    for (const redis::Reply& t : r.elements) {
      const std::string& id = t.elements[0].str;
      if (!failed.ok()) {  // a failure stops the claim: the rest goes back
        absl::StatusOr<std::optional<Loaded>> read =
            FromFields(id, {t.elements.begin() + 3, t.elements.begin() + 7});
        back.emplace_back(id, read.ok() ? *std::move(read) : std::nullopt);
        continue;
      }
      const catalog::Queue* queue = queues[static_cast<std::size_t>(t.elements[1].integer)];
      const redis::Reply& queued_at = t.elements[7];
      absl::StatusOr<std::optional<Loaded>> loaded =
          FromFields(id, {t.elements.begin() + 3, t.elements.begin() + 7});
      if (!loaded.ok()) {
        back.emplace_back(id, std::nullopt);
        if (failed.ok()) failed = loaded.status();
        continue;
      }
      std::optional<Loaded>& l = *loaded;
      if (!l || l->item.state() != docket::v1::WORK_STATE_QUEUED || l->item.queue() != queue->name) {
        // A stale index entry: the reservation drops it; look again.
        if (absl::StatusOr<bool> dropped = Unreserve(id, std::move(l)); !dropped.ok()) {
          failed = dropped.status();
        } else if (++stale > kMaxStaleEntries) {
          failed = absl::AbortedError("too many stale queue entries; retry");
        } else {
          again = true;
        }
        continue;
      }
      absl::StatusOr<WorkState> s = Apply(l->item.state(), Action::kClaim);
      if (!s.ok()) {
        back.emplace_back(id, std::move(l));
        if (failed.ok()) failed = s.status();
        continue;
      }
      if (options_.claim_reserved_hook) DOCKET_RETURN_IF_ERROR(options_.claim_reserved_hook(id));
      Change& c = changes.emplace_back();
      c.expected_version = l->version;
      c.item = l->item;
      WorkItem& item = c.item;
      item.set_state(*s);
      item.set_worker(worker.id);
      item.set_worker_type(ActorOf(worker).type());
      *item.mutable_claimed_at() = Ts(now);
      *item.mutable_lease_expires_at() = Ts(now + options_.lease.count());
      // The item is no longer in its queue but in the reservation, which the
      // claim must still hold (else the watchdog gave it back meanwhile).
      c.Op("zmember", kClaiming, item.id());
      c.Op("hdel", kClaimingFrom, item.id());
      c.Op("zrem", QueueAgeKey(tenant, item.queue()), item.id());
      c.Op("cap", WipKey(tenant, worker.id), absl::StrCat(wip_limit));
      c.Op("sadd", WipKey(tenant, worker.id), item.id());
      c.Op("zadd", kLeases, item.id(), absl::StrCat(now + options_.lease.count()));
      docket::v1::Event e = NewEvent(item, VersionedId(item, l->version, "Claimed"));
      auto* p = e.mutable_claimed();
      p->set_queue(item.queue());
      *p->mutable_worker() = ActorOf(worker);
      *p->mutable_claimed_at() = item.claimed_at();
      *p->mutable_lease_expires_at() = item.lease_expires_at();
      *p->mutable_submitted_at() = item.submitted_at();
      if (!queued_at.is_nil()) *p->mutable_queued_at() = Ts(std::stoll(queued_at.str));
      *p->mutable_due_at() = item.due_at();
      p->set_attempt(item.attempt());
      p->set_kind(item.kind());
      c.events.push_back(std::move(e));
      reads.push_back(*std::move(l));
    }
    if (changes.empty()) {
      GiveBack(std::move(back));
      if (again && failed.ok()) continue;
      break;
    }
    // One claim: one EVALSHA; several: one pipeline of them.
    std::vector<absl::Status> commits;
    if (changes.size() == 1) {
      commits.push_back(Commit(changes[0]));
    } else {
      std::vector<redis::EvalCall> calls;
      calls.reserve(changes.size());
      for (Change& c : changes) calls.push_back(CasCall(c));
      absl::StatusOr<std::vector<redis::Reply>> replies = redis::EvalPipeline(redis_, std::move(calls));
      for (std::size_t i = 0; i < changes.size(); ++i) {
        commits.push_back(replies.ok() ? Committed(changes[i], (*replies)[i]) : replies.status());
      }
    }
    for (std::size_t i = 0; i < changes.size(); ++i) {
      const absl::Status& st = commits[i];
      if (st.ok()) {
        const Loaded& l = reads[i];
        claimed_->Put(Loaded{.item = changes[i].item, .version = l.version + 1, .check = l.check, .held_ms = l.held_ms});
        claimed.push_back(std::move(changes[i].item));  // CasCall stamped the new version
        continue;
      }
      // Whatever failed, the item goes back (if it is still waiting there),
      // with the others in one round trip. A failure to do so leaves it to
      // the watchdog.
      back.emplace_back(changes[i].item.id(), std::move(reads[i]));
      if (st.code() == absl::StatusCode::kAborted) {  // the item changed meanwhile
        again = true;
      } else if (st.code() == absl::StatusCode::kResourceExhausted) {
        capped = true;
      } else if (failed.ok()) {
        failed = st;
      }
    }
    GiveBack(std::move(back));
    if (capped || !failed.ok() || !again) break;
    ++attempt;
  }
  // What was claimed before a failure is the caller's: it is returned (the
  // failure, if it lasts, comes again on the next call).
  if (claimed.empty()) {
    if (!failed.ok()) return failed;
    if (capped) return absl::ResourceExhaustedError("the worker is at the work-in-progress limit");
    if (attempt >= options_.claim_attempts) {
      return absl::AbortedError("the items to claim kept changing while being claimed; retry");
    }
  }
  observe();
  return claimed;
}

absl::StatusOr<WorkItem> Workflow::Complete(const Worker& worker,
                                            const docket::v1::CompleteRequest& request) {
  return CompleteFrom(worker, request, claimed_->Take(request.item_id()));
}

absl::StatusOr<WorkItem> Workflow::CompleteFrom(const Worker& worker,
                                                const docket::v1::CompleteRequest& request,
                                                std::optional<Loaded> copy) {
  // The copy kept by this replica's claim saves a read; whatever goes wrong
  // with it (it may be stale) is decided again on the item as stored.
  if (copy && Visible(worker, *copy)) {
    absl::StatusOr<WorkItem> done = Complete(worker, request, *std::move(copy));
    if (!MayBeStale(done.status())) return done;
  }
  DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, request.item_id()));
  return Complete(worker, request, std::move(l));
}

Workflow::Completed Workflow::CompleteBatch(const Worker& worker,
                                            const std::vector<const docket::v1::CompleteRequest*>& requests,
                                            const docket::v1::ClaimNextRequest* claim_next) {
  Completed out;
  out.completed.assign(requests.size(), absl::UnknownError("not completed"));
  std::optional<absl::StatusOr<ClaimPlan>> plan;
  if (claim_next) plan = PlanClaim(worker, *claim_next);
  // Completions on this replica's copies from their claims go in one
  // pipeline; the others are decided on the stored item first, so the
  // reservation below sees every WIP slot they free.
  std::vector<std::size_t> piped;
  std::vector<Change> changes;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    std::optional<Loaded> copy = claimed_->Take(requests[i]->item_id());
    if (copy && Visible(worker, *copy)) {
      absl::StatusOr<Change> change = CompleteChange(worker, *requests[i], *std::move(copy));
      if (change.ok()) {
        piped.push_back(i);
        changes.push_back(*std::move(change));
        continue;
      }
      if (!MayBeStale(change.status())) {
        out.completed[i] = change.status();
        continue;
      }
    }
    out.completed[i] = CompleteFrom(worker, *requests[i], std::nullopt);
  }
  const bool reserve = plan && plan->ok() && !piped.empty();
  std::optional<redis::Reply> reserved;
  std::vector<std::size_t> lost;
  if (!piped.empty()) {
    std::vector<redis::EvalCall> calls;
    calls.reserve(changes.size() + 1);
    for (Change& c : changes) calls.push_back(CasCall(c));
    // The reservation runs after the completions: it sees the slots they free.
    if (reserve) calls.push_back(ReserveCall(**plan, (*plan)->max_items));
    absl::StatusOr<std::vector<redis::Reply>> replies = redis::EvalPipeline(redis_, std::move(calls));
    if (!replies.ok()) {
      for (std::size_t i : piped) out.completed[i] = replies.status();
      return out;
    }
    for (std::size_t k = 0; k < piped.size(); ++k) {
      absl::Status committed = Committed(changes[k], (*replies)[k]);
      if (committed.ok()) {
        out.completed[piped[k]] = std::move(changes[k].item);  // CasCall stamped the new version
      } else if (MayBeStale(committed)) {
        lost.push_back(piped[k]);
      } else {
        out.completed[piped[k]] = committed;
      }
    }
    if (reserve) reserved = std::move(replies->back());
  }
  // A completion that lost on its copy is decided again on the stored item;
  // the reservation made before it goes back (it may not have seen the WIP
  // slot freed now), and the claim is made again after it.
  for (std::size_t i : lost) out.completed[i] = CompleteFrom(worker, *requests[i], std::nullopt);
  const bool any = std::any_of(out.completed.begin(), out.completed.end(),
                               [](const absl::StatusOr<WorkItem>& c) { return c.ok(); });
  if (reserved && (!lost.empty() || !any)) {
    GiveBack(*reserved);
    reserved.reset();
  }
  if (!plan || !any) return out;
  if (!plan->ok()) {
    out.next = plan->status();
    return out;
  }
  if (!reserved) (*plan)->started = std::chrono::steady_clock::now();  // the claim's own latency
  out.next = Claim(worker, **plan, std::move(reserved));
  return out;
}

absl::StatusOr<WorkItem> Workflow::Complete(const Worker& worker,
                                            const docket::v1::CompleteRequest& request, Loaded l) {
  DOCKET_ASSIGN_OR_RETURN(Change c, CompleteChange(worker, request, std::move(l)));
  DOCKET_RETURN_IF_ERROR(Commit(c));  // stamps the new version on c.item
  return std::move(c.item);
}

absl::StatusOr<Workflow::Change> Workflow::CompleteChange(const Worker& worker,
                                                          const docket::v1::CompleteRequest& request,
                                                          Loaded l) const {
  DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(l.item.state(), Action::kComplete));
  if (l.item.worker() != worker.id) {
    return absl::PermissionDeniedError(
        absl::StrCat("work item ", l.item.id(), " is claimed by another worker"));
  }
  if (request.expected_version() != 0 && request.expected_version() != l.version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "work item ", l.item.id(), " is at version ", l.version, ", not ", request.expected_version()));
  }
  const catalog::Kind* kind = catalog_.FindKind(l.item.kind());
  const bool check = kind && kind->check_on_complete;
  const std::int64_t now = NowMs();
  Change c;
  c.expected_version = l.version;
  c.item = std::move(l.item);  // the caller's copy is not used again
  WorkItem& item = c.item;
  *item.mutable_outcome() = request.outcome();
  *item.mutable_completer() = ActorOf(worker);
  item.clear_lease_expires_at();
  c.Op("zrem", kLeases, item.id());
  c.Op("srem", WipKey(item.tenant(), worker.id), item.id());
  if (check) {
    DOCKET_ASSIGN_OR_RETURN(s, Apply(item.state(), Action::kRequestCompletion));
    item.set_state(s);
    docket::v1::Event e = NewEvent(item, VersionedId(item, l.version, "CompletionRequested"));
    auto* p = e.mutable_completion_requested();
    p->set_queue(item.queue());
    *p->mutable_completer() = item.completer();
    *p->mutable_outcome() = item.outcome();
    *p->mutable_submitted_at() = item.submitted_at();
    *p->mutable_claimed_at() = item.claimed_at();
    *p->mutable_due_at() = item.due_at();
    p->set_attempt(item.attempt());
    p->set_kind(item.kind());
    c.fields.emplace_back("check", e.id());
    c.events.push_back(e);
  } else {
    item.set_state(s);
    DisarmSla(c, item.id());
    c.events.push_back(CompletedEvent(item, VersionedId(item, l.version, "Completed"), now, ""));
  }
  return c;
}

absl::StatusOr<WorkItem> Workflow::Return(const Worker& worker, const std::string& item_id,
                                          const std::string& reason) {
  DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, item_id));
  DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(l.item.state(), Action::kReturn));
  const bool held = l.item.state() == docket::v1::WORK_STATE_HELD;
  if (held ? !worker.supervisor : l.item.worker() != worker.id && !worker.supervisor) {
    return absl::PermissionDeniedError(held ? "returning a held item needs the supervisor role"
                                            : "only the claiming worker or a supervisor may return it");
  }
  const std::int64_t now = NowMs();
  Change c;
  c.expected_version = l.version;
  c.item = l.item;
  WorkItem& item = c.item;
  const std::string previous_worker = item.worker();
  item.set_state(s);
  item.set_rework_count(item.rework_count() + 1);
  item.set_attempt(item.attempt() + 1);
  item.clear_worker();
  item.clear_worker_type();
  item.clear_lease_expires_at();
  item.clear_completer();
  item.clear_outcome();
  if (held && l.held_ms > 0) {  // the SLA clock was paused while held
    *item.mutable_due_at() = Ts(ToMs(CalendarOf(item.queue())
                                         .ExtendDue(FromMs(Ms(item.due_at())), FromMs(l.held_ms), FromMs(now))));
    c.fields.emplace_back("held", "");
  }
  c.Op("zrem", kLeases, item.id());
  if (!previous_worker.empty()) c.Op("srem", WipKey(item.tenant(), previous_worker), item.id());
  Enqueue(c, item, now);
  ArmSla(c, item);
  docket::v1::Event e = NewEvent(item, VersionedId(item, l.version, "Returned"));
  auto* p = e.mutable_returned();
  p->set_queue(item.queue());
  *p->mutable_worker() = ActorOf(worker);
  p->set_reason(reason);
  p->set_rework_count(item.rework_count());
  *p->mutable_submitted_at() = item.submitted_at();
  *p->mutable_due_at() = item.due_at();
  p->set_kind(item.kind());
  c.events.push_back(e);
  DOCKET_RETURN_IF_ERROR(Commit(c));
  item.set_version(l.version + 1);
  return item;
}

absl::StatusOr<WorkItem> Workflow::Escalate(const Worker& worker, const std::string& item_id,
                                            const std::string& reason) {
  DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, item_id));
  DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(l.item.state(), Action::kEscalate));
  if (!worker.supervisor && l.item.worker() != worker.id) {
    return absl::PermissionDeniedError("only the claiming worker or a supervisor may escalate it");
  }
  const catalog::Queue* from = catalog_.FindQueue(l.item.queue());
  if (!from || !from->escalation) {
    return absl::FailedPreconditionError(
        absl::StrCat("queue ", l.item.queue(), " has no escalation queue configured"));
  }
  const std::int64_t now = NowMs();
  Change c;
  c.expected_version = l.version;
  c.item = l.item;
  WorkItem& item = c.item;
  c.Op("zrem", QueueKey(item.tenant(), item.queue()), item.id());
  c.Op("zrem", QueueAgeKey(item.tenant(), item.queue()), item.id());
  c.Op("zrem", kLeases, item.id());
  if (!item.worker().empty()) c.Op("srem", WipKey(item.tenant(), item.worker()), item.id());
  item.set_state(s);
  item.set_queue(from->escalation->queue);
  item.set_priority(BumpPriority(item.priority(), from->escalation->priority_bump));
  item.set_escalation_count(item.escalation_count() + 1);
  item.clear_worker();
  item.clear_worker_type();
  item.clear_lease_expires_at();
  Enqueue(c, item, now);
  docket::v1::Event e = NewEvent(item, VersionedId(item, l.version, "Escalated"));
  auto* p = e.mutable_escalated();
  p->set_from_queue(from->name);
  p->set_to_queue(item.queue());
  p->set_priority(item.priority());
  *p->mutable_actor() = ActorOf(worker);
  p->set_reason(reason);
  *p->mutable_submitted_at() = item.submitted_at();
  *p->mutable_due_at() = item.due_at();
  p->set_kind(item.kind());
  c.events.push_back(e);
  DOCKET_RETURN_IF_ERROR(Commit(c));
  item.set_version(l.version + 1);
  return item;
}

absl::StatusOr<WorkItem> Workflow::Release(const Worker& worker, const std::string& item_id,
                                           const std::string& comment) {
  DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, item_id));
  if (!worker.supervisor) return absl::PermissionDeniedError("Release needs the supervisor role");
  DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(l.item.state(), Action::kRelease));
  DOCKET_RETURN_IF_ERROR(CheckFourEyes(l.item, worker.id));
  const std::int64_t now = NowMs();
  Change c;
  c.expected_version = l.version;
  c.item = l.item;
  WorkItem& item = c.item;
  item.set_state(s);
  // The SLA clock was paused while held.
  const std::int64_t due =
      l.held_ms > 0 ? ToMs(CalendarOf(item.queue())
                               .ExtendDue(FromMs(Ms(item.due_at())), FromMs(l.held_ms), FromMs(now)))
                    : Ms(item.due_at());
  *item.mutable_due_at() = Ts(due);
  c.fields.emplace_back("held", "");
  DisarmSla(c, item.id());
  docket::v1::Event rel = NewEvent(item, VersionedId(item, l.version, "Released"));
  auto* r = rel.mutable_released();
  r->set_queue(item.queue());
  *r->mutable_releaser() = ActorOf(worker);
  r->set_comment(comment);
  *r->mutable_submitted_at() = item.submitted_at();
  *r->mutable_due_at() = item.due_at();
  r->set_kind(item.kind());
  c.events.push_back(rel);
  c.events.push_back(CompletedEvent(item, VersionedId(item, l.version, "Completed"), now, ""));
  DOCKET_RETURN_IF_ERROR(Commit(c));
  item.set_version(l.version + 1);
  return item;
}

absl::StatusOr<WorkItem> Workflow::Reject(const Worker& worker, const std::string& item_id,
                                          const std::string& reason) {
  DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, item_id));
  DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(l.item.state(), Action::kReject));
  const bool own_claim = l.item.state() == docket::v1::WORK_STATE_CLAIMED && l.item.worker() == worker.id;
  if (!worker.supervisor && !own_claim) {
    return absl::PermissionDeniedError("only a supervisor, or the worker holding the claim, may reject it");
  }
  if (reason.empty()) return absl::InvalidArgumentError("reason is required to reject an item");
  const std::int64_t now = NowMs();
  Change c;
  c.expected_version = l.version;
  c.item = l.item;
  WorkItem& item = c.item;
  c.Op("zrem", QueueKey(item.tenant(), item.queue()), item.id());
  c.Op("zrem", QueueAgeKey(item.tenant(), item.queue()), item.id());
  c.Op("zrem", kLeases, item.id());
  if (!item.worker().empty()) c.Op("srem", WipKey(item.tenant(), item.worker()), item.id());
  DisarmSla(c, item.id());
  c.fields.emplace_back("check", "");
  c.fields.emplace_back("held", "");
  item.set_state(s);
  item.clear_lease_expires_at();
  docket::v1::Event e = NewEvent(item, VersionedId(item, l.version, "Rejected"));
  auto* p = e.mutable_rejected();
  p->set_queue(item.queue());
  *p->mutable_actor() = ActorOf(worker);
  p->set_reason(reason);
  *p->mutable_submitted_at() = item.submitted_at();
  *p->mutable_rejected_at() = Ts(now);
  *p->mutable_due_at() = item.due_at();
  p->set_kind(item.kind());
  c.events.push_back(e);
  DOCKET_RETURN_IF_ERROR(Commit(c));
  item.set_version(l.version + 1);
  return item;
}

absl::StatusOr<WorkItem> Workflow::Get(const Worker& worker, const std::string& item_id) {
  DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, item_id));
  return l.item;
}

absl::StatusOr<WorkItem> Workflow::Comment(const Worker& worker, const std::string& item_id,
                                           const std::string& text) {
  DOCKET_RETURN_IF_ERROR(CheckNote("text", text, true));
  absl::Status last;
  for (int attempt = 0; attempt < options_.claim_attempts; ++attempt) {
    DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, item_id));
    const std::int64_t now = NowMs();
    Change c;
    c.expected_version = l.version;
    c.transition = false;
    c.item = l.item;
    WorkItem& item = c.item;
    docket::v1::ItemComment* note = item.add_comments();
    *note->mutable_author() = ActorOf(worker);
    note->set_text(text);
    *note->mutable_at() = Ts(now);
    if (item.comments_size() > kMaxCommentsPerItem) {
      item.mutable_comments()->DeleteSubrange(0, item.comments_size() - kMaxCommentsPerItem);
    }
    docket::v1::Event e = NewEvent(item, VersionedId(item, l.version, "Commented"));
    auto* p = e.mutable_commented();
    *p->mutable_author() = ActorOf(worker);
    p->set_text(text);
    *p->mutable_commented_at() = Ts(now);
    p->set_queue(item.queue());
    p->set_kind(item.kind());
    c.events.push_back(e);
    last = Commit(c);
    if (last.ok()) {
      item.set_version(l.version + 1);
      return item;
    }
    if (!absl::IsAborted(last)) return last;
  }
  return last;
}

absl::StatusOr<std::string> Workflow::SubmitFeedback(const Worker& worker,
                                                     const docket::v1::SubmitFeedbackRequest& request) {
  if (!catalog::IsFeedbackCategory(request.category())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "category: \"", request.category().substr(0, 64), "\" is not one of ",
        absl::StrJoin(catalog::kFeedbackCategories, ", ",
                      [](std::string* out, std::string_view c) { out->append(c); })));
  }
  DOCKET_RETURN_IF_ERROR(CheckNote("text", request.text(), false));
  std::string tenant = request.tenant();
  std::string kind = request.kind();
  std::string queue = request.queue();
  if (!request.item_id().empty()) {
    DOCKET_ASSIGN_OR_RETURN(Loaded l, LoadForWorker(worker, request.item_id()));
    if (!tenant.empty() && tenant != l.item.tenant()) {
      return absl::InvalidArgumentError("tenant: does not match the item's tenant");
    }
    tenant = l.item.tenant();
    if (kind.empty()) kind = l.item.kind();
    if (queue.empty()) queue = l.item.queue();
  }
  if (tenant.empty()) return absl::InvalidArgumentError("tenant: is required");
  if (!MayActFor(worker, tenant)) {
    return absl::PermissionDeniedError(
        absl::StrCat("may not give feedback for tenant \"", tenant.substr(0, 64), "\""));
  }
  if (kind.empty() && queue.empty()) {
    return absl::InvalidArgumentError("kind, queue: give the kind or the queue the feedback is about");
  }
  if (!kind.empty()) {
    const catalog::Kind* k = catalog_.FindKind(kind);
    if (!k) return absl::InvalidArgumentError(absl::StrCat("kind: unknown kind \"", kind.substr(0, 64), "\""));
    if (!MaySeeKind(worker, kind)) {
      return absl::PermissionDeniedError(absl::StrCat("may not give feedback on kind \"", kind, "\""));
    }
    if (queue.empty()) queue = k->queue;
  }
  if (!catalog_.FindQueue(queue)) {
    return absl::InvalidArgumentError(absl::StrCat("queue: unknown queue \"", queue.substr(0, 64), "\""));
  }
  docket::v1::Event e;
  e.set_id(ids_.Next());
  e.set_source(options_.source);
  e.set_subject(request.item_id());
  e.set_tenant(tenant);
  *e.mutable_time() = Ts(NowMs());
  auto* f = e.mutable_feedback();
  f->set_category(request.category());
  *f->mutable_actor() = ActorOf(worker);
  f->set_kind(kind);
  f->set_queue(queue);
  f->set_text(request.text());
  f->set_item_id(request.item_id());
  e.set_type(kafka::EventType(e));
  DOCKET_RETURN_IF_ERROR(publisher_.Publish(topics_.work(), e));
  return e.id();
}

absl::StatusOr<docket::v1::ListQueueResponse> Workflow::ListQueue(
    const Worker& worker, const docket::v1::ListQueueRequest& request) {
  if (!MayActFor(worker, request.tenant())) {
    return absl::PermissionDeniedError(absl::StrCat("may not read tenant \"", request.tenant().substr(0, 64), "\""));
  }
  if (!catalog_.FindQueue(request.queue())) {
    return absl::InvalidArgumentError(absl::StrCat("queue: unknown queue \"", request.queue().substr(0, 64), "\""));
  }
  const int size = request.page_size() <= 0 ? 50 : std::min(request.page_size(), 500);
  std::int64_t offset = 0;
  if (!request.page_token().empty()) {
    try {
      offset = std::stoll(request.page_token());
    } catch (const std::exception&) {
      offset = -1;
    }
    if (offset < 0) return absl::InvalidArgumentError("page_token: not a token this API returned");
  }
  // One more than the page, to know whether there is a next page.
  DOCKET_ASSIGN_OR_RETURN(redis::Reply ids,
                          redis_.Command({"ZRANGE", QueueKey(request.tenant(), request.queue()),
                                          absl::StrCat(offset), absl::StrCat(offset + size)}));
  docket::v1::ListQueueResponse out;
  std::vector<std::vector<std::string>> gets;
  for (std::size_t i = 0; i < ids.elements.size() && i < static_cast<std::size_t>(size); ++i) {
    gets.push_back({"HGET", ItemKey(ids.elements[i].str), "pb"});
  }
  DOCKET_ASSIGN_OR_RETURN(std::vector<redis::Reply> items, redis_.Pipeline(gets));
  for (const auto& r : items) {
    if (r.is_nil()) continue;
    if (!out.add_items()->ParseFromString(r.str)) return absl::DataLossError("an item in Redis does not parse");
  }
  if (ids.elements.size() > static_cast<std::size_t>(size)) out.set_next_page_token(absl::StrCat(offset + size));
  return out;
}

// ---- watchdog ----

// At risk: a warning, no state change; the item's SLA entry moves to its due time.
absl::StatusOr<bool> Workflow::WarnAtRisk(const Loaded& l) {
  Change c;
  c.expected_version = l.version;
  c.item = l.item;
  const catalog::Queue* q = catalog_.FindQueue(c.item.queue());
  docket::v1::Event e = NewEvent(c.item, VersionedId(c.item, l.version, "SlaAtRisk"));
  auto* p = e.mutable_sla_at_risk();
  p->set_queue(c.item.queue());
  *p->mutable_due_at() = c.item.due_at();
  p->set_budget_used(q ? q->at_risk_share : 0.8);
  p->set_kind(c.item.kind());
  c.events.push_back(e);
  c.Op("zmember", kSla, c.item.id());
  c.Op("zadd", kSla, c.item.id(), absl::StrCat(Ms(c.item.due_at())));
  c.transition = false;  // a warning: the item stays in its state
  absl::Status st = Commit(c);
  if (st.code() == absl::StatusCode::kAborted) return false;  // another replica, or a worker, was first
  DOCKET_RETURN_IF_ERROR(st);
  if (metrics_) metrics_->Sla(c.item.queue(), "at_risk");
  return true;
}

absl::StatusOr<int> Workflow::Tick() {
  const std::int64_t now = NowMs();
  int changed = 0;
  auto due_members = [&](const char* key) -> absl::StatusOr<std::vector<std::string>> {
    DOCKET_ASSIGN_OR_RETURN(redis::Reply r, redis_.Command({"ZRANGEBYSCORE", key, "-inf",
                                                            absl::StrCat(now), "LIMIT", "0", "200"}));
    std::vector<std::string> out;
    for (const auto& e : r.elements) out.push_back(e.str);
    return out;
  };

  // Claim reservations that ran out (a replica died between reserving an
  // item and committing its claim): the item goes back to its queue.
  DOCKET_ASSIGN_OR_RETURN(std::vector<std::string> stuck, due_members(kClaiming));
  for (const auto& id : stuck) {
    absl::StatusOr<bool> back = Unreserve(id, std::nullopt);
    if (back.status().code() == absl::StatusCode::kAborted) continue;  // the next tick
    DOCKET_RETURN_IF_ERROR(back.status());
    if (*back) {
      Log().Warn("a claim reservation ran out; the item is back in its queue", {{"item_id", id}});
      ++changed;
    }
  }

  // Leases that ran out: the item goes back to its queue.
  DOCKET_ASSIGN_OR_RETURN(std::vector<std::string> expired, due_members(kLeases));
  for (const auto& id : expired) {
    DOCKET_ASSIGN_OR_RETURN(std::optional<Loaded> l, Load(id));
    if (!l || l->item.state() != docket::v1::WORK_STATE_CLAIMED ||
        Ms(l->item.lease_expires_at()) > now) {
      if (!l || l->item.state() != docket::v1::WORK_STATE_CLAIMED) (void)redis_.Command({"ZREM", kLeases, id});
      continue;
    }
    Change c;
    c.expected_version = l->version;
    c.item = l->item;
    WorkItem& item = c.item;
    DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(item.state(), Action::kLeaseExpire));
    docket::v1::Event e = NewEvent(item, VersionedId(item, l->version, "LeaseExpired"));
    auto* p = e.mutable_lease_expired();
    p->set_queue(item.queue());
    *p->mutable_worker() = Person(item.worker());
    if (item.worker_type() == docket::v1::Actor::TYPE_BOT) p->mutable_worker()->set_type(docket::v1::Actor::TYPE_BOT);
    *p->mutable_claimed_at() = item.claimed_at();
    p->set_kind(item.kind());
    c.Op("zmember", kLeases, item.id());
    c.Op("srem", WipKey(item.tenant(), item.worker()), item.id());
    item.set_state(s);
    item.clear_worker();
  item.clear_worker_type();
    item.clear_lease_expires_at();
    Enqueue(c, item, now);
    c.events.push_back(e);
    absl::Status st = Commit(c);
    if (st.code() == absl::StatusCode::kAborted) continue;  // another replica, or the worker, was first
    DOCKET_RETURN_IF_ERROR(st);
    if (metrics_) metrics_->LeaseExpired(item.queue());
    ++changed;
  }

  // SLA timers: one entry per item, at its at-risk time while the warning is
  // ahead (then moved to its due time), else at its due time.
  DOCKET_RETURN_IF_ERROR(
      redis_.Eval(MergeLegacySlaScript(), {kSla, "docket:sla:risk", "docket:sla:due"}, {}).status());
  DOCKET_ASSIGN_OR_RETURN(redis::Reply sla, redis_.Command({"ZRANGEBYSCORE", kSla, "-inf", absl::StrCat(now),
                                                            "WITHSCORES", "LIMIT", "0", "200"}));
  for (std::size_t i = 0; i + 1 < sla.elements.size(); i += 2) {
    const std::string& id = sla.elements[i].str;
    const std::int64_t at = static_cast<std::int64_t>(std::stod(sla.elements[i + 1].str));
    DOCKET_ASSIGN_OR_RETURN(std::optional<Loaded> l, Load(id));
    if (!l || !SlaClockRuns(l->item.state())) {
      (void)redis_.Command({"ZREM", kSla, id});
      continue;
    }
    if (at < Ms(l->item.due_at())) {
      DOCKET_ASSIGN_OR_RETURN(bool warned, WarnAtRisk(*l));
      changed += warned ? 1 : 0;
      continue;
    }
    Change c;
    c.expected_version = l->version;
    c.item = l->item;
    WorkItem& item = c.item;
    DOCKET_ASSIGN_OR_RETURN(WorkState same, Apply(item.state(), Action::kSlaBreach));
    item.set_state(same);
    // An item breaches its SLA once: one SlaBreached, counted once, however
    // often it is queued again past its due time (a return, a lapsed lease).
    // Queued again, it is still escalated.
    const bool first_breach = !item.has_sla_breached_at();
    if (first_breach) {
      docket::v1::Event e = NewEvent(item, VersionedId(item, l->version, "SlaBreached"));
      auto* p = e.mutable_sla_breached();
      p->set_queue(item.queue());
      *p->mutable_due_at() = item.due_at();
      *p->mutable_breached_at() = Ts(now);
      p->set_kind(item.kind());
      *item.mutable_sla_breached_at() = Ts(now);
      c.events.push_back(e);
    }
    c.Op("zmember", kSla, id);
    const catalog::Queue* q = catalog_.FindQueue(item.queue());
    bool escalated = false;
    if (item.state() == docket::v1::WORK_STATE_QUEUED && q && q->escalation &&
        q->escalation->queue != item.queue()) {
      DOCKET_ASSIGN_OR_RETURN(WorkState s, Apply(item.state(), Action::kEscalate));
      c.Op("zrem", QueueKey(item.tenant(), item.queue()), id);
      c.Op("zrem", QueueAgeKey(item.tenant(), item.queue()), id);
      const std::string from = item.queue();
      item.set_state(s);
      item.set_queue(q->escalation->queue);
      item.set_priority(BumpPriority(item.priority(), q->escalation->priority_bump));
      item.set_escalation_count(item.escalation_count() + 1);
      Enqueue(c, item, now);
      docket::v1::Event esc = NewEvent(item, VersionedId(item, l->version, "Escalated"));
      auto* ep = esc.mutable_escalated();
      ep->set_from_queue(from);
      ep->set_to_queue(item.queue());
      ep->set_priority(item.priority());
      *ep->mutable_actor() = System();
      ep->set_reason("SLA breached");
      *ep->mutable_submitted_at() = item.submitted_at();
      *ep->mutable_due_at() = item.due_at();
      ep->set_kind(item.kind());
      c.events.push_back(esc);
      escalated = true;
    }
    if (!first_breach && !escalated) {
      (void)redis_.Command({"ZREM", kSla, id});
      continue;
    }
    c.transition = escalated;  // a breach alone leaves the state as it is
    absl::Status st = Commit(c);
    if (st.code() == absl::StatusCode::kAborted) continue;
    DOCKET_RETURN_IF_ERROR(st);
    if (metrics_) {
      if (first_breach) metrics_->Sla(l->item.queue(), "breached");
      if (escalated) metrics_->Sla(l->item.queue(), "escalated");
    }
    ++changed;
  }
  return changed;
}

// What a relay page sends: each readable event as its record, and what to
// take out of the outbox once Kafka confirmed it (`entries[i]` for
// `records[i]`); `unreadable` goes at once.
struct Workflow::RelayPage {
  std::vector<kafka::Record> records;
  std::vector<std::string> entries;
  std::vector<std::string> unreadable;

  void Add(const kafka::Topics& topics, std::string entry, const redis::Reply& bytes) {
    docket::v1::Event e;
    if (bytes.is_nil() || !e.ParseFromString(bytes.str)) {
      unreadable.push_back(std::move(entry));
      return;
    }
    records.push_back(kafka::EncodeEvent(topics.work(), e));
    entries.push_back(std::move(entry));
  }
};

absl::StatusOr<int> Workflow::RelayOutbox(std::chrono::milliseconds min_age) {
  clearer_->Flush();  // what Kafka confirmed is not relayed again
  const std::string before = absl::StrCat(RealNowMs() - min_age.count());
  // Stream entry ids start with Redis's clock in ms: the page is the oldest
  // entries written before `before`, in commit order.
  DOCKET_ASSIGN_OR_RETURN(redis::Reply page,
                          redis_.Command({"XRANGE", kOutbox, "-", before, "COUNT", "500"}));
  RelayPage p;
  for (const redis::Reply& entry : page.elements) {
    // [id, [field, value, ...]]; the event is the value of field "e".
    if (entry.elements.size() != 2) return absl::InternalError("unexpected reply of XRANGE");
    static const redis::Reply kMissing;
    const redis::Reply* bytes = &kMissing;
    const auto& fv = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fv.size(); i += 2) {
      if (fv[i].str == "e") bytes = &fv[i + 1];
    }
    p.Add(topics_, entry.elements[0].str, *bytes);
  }
  DOCKET_ASSIGN_OR_RETURN(int relayed, Relay(std::move(p), [this](std::vector<std::string> done) {
                            return redis_.Command(ClearFromOutbox(done.cbegin(), done.cend())).status();
                          }));
  if (relayed > 0 || !page.elements.empty()) return relayed;

  // The stream is drained: the outbox of the version before, if any.
  DOCKET_ASSIGN_OR_RETURN(redis::Reply ids, redis_.Command({"ZRANGEBYSCORE", kLegacyOutboxAt, "-inf", before,
                                                            "LIMIT", "0", "500"}));
  if (ids.elements.empty()) return 0;
  std::vector<std::string> hmget = {"HMGET", kLegacyOutbox};
  for (const auto& id : ids.elements) hmget.push_back(id.str);
  DOCKET_ASSIGN_OR_RETURN(redis::Reply values, redis_.Command(hmget));
  if (values.elements.size() != ids.elements.size()) return absl::InternalError("unexpected reply of HMGET");
  RelayPage legacy;
  for (std::size_t i = 0; i < ids.elements.size(); ++i) legacy.Add(topics_, ids.elements[i].str, values.elements[i]);
  return Relay(std::move(legacy), [this](std::vector<std::string> done) {
    std::vector<std::string> hdel = {"HDEL", kLegacyOutbox};
    std::vector<std::string> zrem = {"ZREM", kLegacyOutboxAt};
    hdel.insert(hdel.end(), done.begin(), done.end());
    zrem.insert(zrem.end(), done.begin(), done.end());
    return redis_.Pipeline({hdel, zrem}).status();
  });
}

absl::StatusOr<int> Workflow::Relay(RelayPage page,
                                    const std::function<absl::Status(std::vector<std::string>)>& clear) {
  // The page goes out at once, one wait for all of it (after an outage the
  // outbox may hold many pages; one at a time would take a linger each).
  const std::vector<absl::Status> confirmed = publisher_.PublishAll(std::move(page.records));
  std::vector<std::string> done = std::move(page.unreadable);
  absl::Status first_error;
  int relayed = 0;
  for (std::size_t i = 0; i < page.entries.size(); ++i) {
    if (confirmed[i].ok()) {
      done.push_back(std::move(page.entries[i]));
      ++relayed;
    } else if (first_error.ok()) {
      first_error = confirmed[i];
    }
  }
  if (!done.empty()) DOCKET_RETURN_IF_ERROR(clear(std::move(done)));
  DOCKET_RETURN_IF_ERROR(first_error);
  return relayed;
}

absl::Status Workflow::RefreshQueueGauges() {
  if (!metrics_) return absl::OkStatus();
  std::vector<std::vector<std::string>> cmds;
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& t : catalog_.tenants()) {
    for (const auto& q : catalog_.queues()) {
      cmds.push_back({"ZCARD", QueueKey(t.id, q.name)});
      cmds.push_back({"ZRANGE", QueueAgeKey(t.id, q.name), "0", "0", "WITHSCORES"});
      keys.emplace_back(t.id, q.name);
    }
  }
  DOCKET_ASSIGN_OR_RETURN(std::vector<redis::Reply> r, redis_.Pipeline(cmds));
  const std::int64_t now = NowMs();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& oldest = r[2 * i + 1];
    const double age =
        oldest.elements.size() == 2 ? (now - std::stoll(oldest.elements[1].str)) / 1000.0 : 0.0;
    metrics_->Queue(keys[i].first, keys[i].second, static_cast<double>(r[2 * i].integer),
                    std::max(0.0, age));
  }
  return absl::OkStatus();
}

}  // namespace docket::processing
