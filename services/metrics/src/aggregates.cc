#include "services/metrics/src/aggregates.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include <nlohmann/json.hpp>
#include <prometheus/metric_family.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"

namespace docket::kpi {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr std::int64_t kHourMs = 3600 * 1000;
constexpr char kSep = '\x1f';

std::int64_t Ms(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMilliseconds(t); }
std::int64_t Hour(std::int64_t ms) { return ms >= 0 ? ms / kHourMs : 0; }
double Seconds(std::int64_t ms) { return std::max<std::int64_t>(ms, 0) / 1000.0; }

// FNV-1a, 64 bits: stable across builds and processes, because the hashes
// are persisted with the snapshot.
constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
std::uint64_t Fnv1a(std::string_view s, std::uint64_t h = kFnvOffset) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The entry of the seen-id set that marks an item as finished: the hash of
// "closed\x1f<item id>" (what snapshots before hashing stored as a string).
std::uint64_t ClosedMarker(const std::string& item_id) {
  static const std::uint64_t prefix = Fnv1a("closed\x1f");
  return Fnv1a(item_id, prefix);
}

// A sealed chunk takes at most this many ids, so the window moves in steps
// of at most this much even when nothing is snapshotted.
constexpr std::size_t kSeenChunkIds = 4096;

std::string EncodeIds(const std::vector<std::uint64_t>& ids) {
  std::string out(ids.size() * 8, '\0');
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (int b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>((ids[i] >> (8 * b)) & 0xff);
  }
  return out;
}

std::string Join(std::initializer_list<std::string_view> parts) {
  std::string out;
  bool first = true;
  for (std::string_view p : parts) {
    if (!first) out.push_back(kSep);
    out.append(p.data(), p.size());
    first = false;
  }
  return out;
}

// <0, 0, >0 as `joined` compares with the parts joined by kSep (as
// std::string compares: bytes as unsigned char), without joining them.
int CompareJoined(std::string_view joined, const HourKeyView& v) {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < v.size; ++i) {
    if (i > 0) {
      if (pos == joined.size()) return -1;
      if (joined[pos] != kSep) return static_cast<unsigned char>(joined[pos]) < kSep ? -1 : 1;
      ++pos;
    }
    const std::string_view part = v.parts[i];
    const std::size_t n = std::min(part.size(), joined.size() - pos);
    if (int c = joined.substr(pos, n).compare(part.substr(0, n)); c != 0) return c;
    if (n < part.size()) return -1;  // `joined` ended inside this part
    pos += n;
  }
  return pos == joined.size() ? 0 : 1;
}

// The entry of `key`, added (empty) if new.
template <class V>
V& FindOrAdd(HourlyMap<V>& map, const HourKeyView& key) {
  auto it = map.find(key);
  if (it == map.end()) {
    std::string joined;
    for (std::size_t i = 0; i < key.size; ++i) {
      if (i > 0) joined.push_back(kSep);
      joined.append(key.parts[i].data(), key.parts[i].size());
    }
    it = map.emplace(HourKey{std::move(joined), key.hour}, V{}).first;
  }
  return it->second;
}

std::vector<std::string> Split(const std::string& key) {
  return absl::StrSplit(key, kSep);
}

// Lowercase outcome / checkpoint names for labels.
std::string OutcomeLabel(docket::v1::Outcome o) {
  switch (o) {
    case docket::v1::OUTCOME_PASS: return "pass";
    case docket::v1::OUTCOME_FLAG: return "flag";
    case docket::v1::OUTCOME_FAIL: return "fail";
    default: return "other";
  }
}
std::string CheckpointLabel(docket::v1::Checkpoint c) {
  switch (c) {
    case docket::v1::CHECKPOINT_SUBMIT: return "submit";
    case docket::v1::CHECKPOINT_COMPLETE: return "complete";
    default: return "other";
  }
}

json ToJson(const Histogram& h) { return json{{"b", h.buckets}, {"s", h.sum}, {"c", h.count}}; }
Histogram HistFromJson(const json& j) {
  Histogram h;
  h.buckets = j.at("b").get<std::vector<std::uint64_t>>();
  h.sum = j.at("s").get<double>();
  h.count = j.at("c").get<std::uint64_t>();
  return h;
}

#define DOCKET_KPI_COUNTERS(X)                                                                  \
  X(arrivals) X(completed) X(bot_completed) X(auto_completed) X(rejected) X(sla_met) X(sla_missed) X(first_pass) \
  X(reworks) X(escalations) X(holds) X(breaches)

}  // namespace

const std::vector<double>& DurationBounds() {
  static const std::vector<double> bounds = {1,    5,     15,    30,    60,     300,    900,    1800,
                                             3600, 7200,  14400, 28800, 86400,  172800, 604800, 2592000};
  return bounds;
}

void Histogram::Observe(double seconds) {
  const auto& bounds = DurationBounds();
  if (buckets.empty()) buckets.assign(bounds.size() + 1, 0);
  std::size_t i = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
  ++buckets[i];
  sum += seconds;
  ++count;
}

void Histogram::Merge(const Histogram& o) {
  if (o.buckets.empty()) return;
  if (buckets.empty()) buckets.assign(o.buckets.size(), 0);
  for (std::size_t i = 0; i < buckets.size() && i < o.buckets.size(); ++i) buckets[i] += o.buckets[i];
  sum += o.sum;
  count += o.count;
}

double Histogram::Quantile(double q) const {
  if (count == 0) return 0;
  const auto& bounds = DurationBounds();
  const double rank = q * static_cast<double>(count);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const std::uint64_t before = cumulative;
    cumulative += buckets[i];
    if (static_cast<double>(cumulative) >= rank && buckets[i] > 0) {
      if (i == bounds.size()) return bounds.back();  // +Inf bucket: its lower bound
      const double lower = i == 0 ? 0 : bounds[i - 1];
      const double upper = bounds[i];
      return lower + (upper - lower) * (rank - static_cast<double>(before)) / static_cast<double>(buckets[i]);
    }
  }
  return bounds.back();
}

void Counters::Merge(const Counters& o) {
#define X(f) f += o.f;
  DOCKET_KPI_COUNTERS(X)
#undef X
  cycle.Merge(o.cycle);
  wait.Merge(o.wait);
  handle.Merge(o.handle);
}

bool HourKeyLess::operator()(const HourKey& a, const HourKeyView& b) const {
  const int c = CompareJoined(a.first, b);
  return c < 0 || (c == 0 && a.second < b.hour);
}

bool HourKeyLess::operator()(const HourKeyView& a, const HourKey& b) const {
  const int c = CompareJoined(b.first, a);
  return c > 0 || (c == 0 && a.hour < b.second);
}

PartitionAggregates::LabelValues PartitionAggregates::Label(const std::string& tenant,
                                                            const std::string& kind,
                                                            const std::string& queue) const {
  return {catalog_->HasTenant(tenant) ? std::string_view(tenant) : "other",
          catalog_->FindKind(kind) ? std::string_view(kind) : "other",
          catalog_->FindQueue(queue) ? std::string_view(queue) : "other"};
}

Counters& PartitionAggregates::At(const LabelValues& l, std::int64_t ms) {
  return FindOrAdd(hourly_, HourKeyView{{l[0], l[1], l[2]}, 3, Hour(ms)});
}

bool PartitionAggregates::Seen(const std::string& event_id) {
  if (event_id.empty()) return false;
  return Remember(Fnv1a(event_id));
}

bool PartitionAggregates::Remember(std::uint64_t hash) {
  if (!seen_.insert(hash).second) return true;
  seen_chunks_.back().ids.push_back(hash);
  if (seen_chunks_.back().ids.size() >= kSeenChunkIds) Seal();
  // Forget the oldest chunk once the others still hold the whole window.
  while (seen_chunks_.size() > 1 && seen_.size() - seen_chunks_.front().ids.size() >= kSeenEventIds) {
    for (std::uint64_t h : seen_chunks_.front().ids) seen_.erase(h);
    seen_unwritten_.erase(seen_chunks_.front().seq);
    seen_dropped_.insert(seen_chunks_.front().seq);  // deleting a key never written is harmless
    seen_chunks_.pop_front();
  }
  return false;
}

void PartitionAggregates::Seal() {
  const std::uint64_t seq = seen_chunks_.back().seq;
  seen_unwritten_.insert(seq);
  seen_chunks_.push_back(SeenChunk{seq + 1, {}});
}

PartitionAggregates::SeenDelta PartitionAggregates::SealSeen() {
  if (!seen_chunks_.back().ids.empty()) Seal();
  SeenDelta d;
  for (const auto& c : seen_chunks_) {
    if (seen_unwritten_.contains(c.seq)) d.put.emplace_back(c.seq, EncodeIds(c.ids));
  }
  d.drop.assign(seen_dropped_.begin(), seen_dropped_.end());
  return d;
}

void PartitionAggregates::SeenWritten(const SeenDelta& delta) {
  for (const auto& [seq, bytes] : delta.put) seen_unwritten_.erase(seq);
  for (std::uint64_t seq : delta.drop) seen_dropped_.erase(seq);
}

std::vector<std::uint64_t> PartitionAggregates::SeenChunks() const {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i + 1 < seen_chunks_.size(); ++i) out.push_back(seen_chunks_[i].seq);
  return out;
}

absl::Status PartitionAggregates::RestoreSeenChunk(std::uint64_t seq, const std::string& bytes) {
  if (bytes.size() % 8 != 0) {
    return absl::DataLossError(absl::StrCat("seen-id chunk ", seq, " is ", bytes.size(),
                                            " bytes, not a multiple of 8"));
  }
  for (std::size_t i = 0; i + 1 < seen_chunks_.size(); ++i) {
    SeenChunk& c = seen_chunks_[i];
    if (c.seq != seq) continue;
    for (std::size_t o = 0; o < bytes.size(); o += 8) {
      std::uint64_t h = 0;
      for (int b = 0; b < 8; ++b) h |= std::uint64_t{static_cast<unsigned char>(bytes[o + b])} << (8 * b);
      if (seen_.insert(h).second) c.ids.push_back(h);
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("the snapshot refers to no seen-id chunk ", seq));
}

void PartitionAggregates::Move(const docket::v1::Event& e, const std::string& to_state,
                               std::int64_t at_ms, bool terminal) {
  // Remembered with the seen event ids (bounded, snapshotted with them), so a
  // late Routed of a finished item does not reopen it.
  if (terminal && !e.subject().empty()) Remember(ClosedMarker(e.subject()));
  auto it = live_.find(e.subject());
  if (it == live_.end()) return;
  LiveItem& item = it->second;
  auto& t = FindOrAdd(transitions_, HourKeyView{{item.tenant, item.kind, item.state, to_state}, 4, Hour(at_ms)});
  ++t.count;
  t.seconds.Observe(Seconds(at_ms - item.since_ms));
  if (terminal) {
    live_.erase(it);
  } else {
    item.state = to_state;
    item.since_ms = at_ms;
  }
}

bool PartitionAggregates::Apply(const docket::v1::Event& e) {
  if (Seen(e.id())) return false;
  const std::int64_t now = e.has_time() ? Ms(e.time()) : 0;
  const std::string& tenant = e.tenant();
  switch (e.payload_case()) {
    case docket::v1::Event::kRouted: {
      const auto& p = e.routed();
      const LabelValues l = Label(tenant, p.kind(), p.queue());
      const std::int64_t submitted = Ms(p.submitted_at());
      ++At(l, submitted).arrivals;
      // A Routed that arrives after the item's terminal event (an outbox
      // re-publish) still counts the arrival but opens no backlog item.
      if (seen_.contains(ClosedMarker(e.subject()))) break;
      live_[e.subject()] = LiveItem{std::string(l[0]), std::string(l[1]), std::string(l[2]), "SUBMITTED",
                                    submitted, submitted, false};
      Move(e, "QUEUED", now, false);
      break;
    }
    case docket::v1::Event::kClaimed: {
      const auto& p = e.claimed();
      if (p.has_queued_at()) {
        At(Label(tenant, p.kind(), p.queue()), Ms(p.claimed_at()))
            .wait.Observe(Seconds(Ms(p.claimed_at()) - Ms(p.queued_at())));
      }
      Move(e, "CLAIMED", Ms(p.claimed_at()), false);
      break;
    }
    case docket::v1::Event::kCompletionRequested:
      Move(e, "COMPLETION_REQUESTED", now, false);
      break;
    case docket::v1::Event::kCompleted: {
      const auto& p = e.completed();
      const std::int64_t done = Ms(p.completed_at());
      Counters& c = At(Label(tenant, p.kind(), p.queue()), done);
      ++c.completed;
      if (p.completer().type() == docket::v1::Actor::TYPE_BOT) ++c.bot_completed;
      c.cycle.Observe(Seconds(done - Ms(p.submitted_at())));
      if (p.has_claimed_at()) c.handle.Observe(Seconds(done - Ms(p.claimed_at())));
      ++(p.sla_met() ? c.sla_met : c.sla_missed);
      if (p.rework_count() == 0) ++c.first_pass;
      Move(e, "COMPLETED", done, true);
      break;
    }
    case docket::v1::Event::kAutoCompleted: {
      const auto& p = e.auto_completed();
      const std::int64_t done = Ms(p.completed_at());
      Counters& c = At(Label(tenant, p.kind(), p.queue()), done);
      ++c.auto_completed;
      c.cycle.Observe(Seconds(done - Ms(p.submitted_at())));
      ++(p.sla_met() ? c.sla_met : c.sla_missed);
      ++c.first_pass;
      Move(e, "AUTO_COMPLETED", done, true);
      break;
    }
    case docket::v1::Event::kRejected: {
      const auto& p = e.rejected();
      ++At(Label(tenant, p.kind(), p.queue()), Ms(p.rejected_at())).rejected;
      Move(e, "REJECTED", Ms(p.rejected_at()), true);
      break;
    }
    case docket::v1::Event::kReturned: {
      const auto& p = e.returned();
      ++At(Label(tenant, p.kind(), p.queue()), now).reworks;
      Move(e, "QUEUED", now, false);
      break;
    }
    case docket::v1::Event::kEscalated: {
      const auto& p = e.escalated();
      ++At(Label(tenant, p.kind(), p.from_queue()), now).escalations;
      if (auto it = live_.find(e.subject()); it != live_.end()) {
        it->second.queue = catalog_->FindQueue(p.to_queue()) ? p.to_queue() : "other";
      }
      Move(e, "QUEUED", now, false);
      break;
    }
    case docket::v1::Event::kHeld: {
      const auto& p = e.held();
      ++At(Label(tenant, p.kind(), p.queue()), now).holds;
      Move(e, "HELD", now, false);
      break;
    }
    case docket::v1::Event::kSlaAtRisk:
      if (auto it = live_.find(e.subject()); it != live_.end()) it->second.at_risk = true;
      break;
    case docket::v1::Event::kSlaBreached: {
      const auto& p = e.sla_breached();
      ++At(Label(tenant, p.kind(), p.queue()), Ms(p.breached_at())).breaches;
      break;
    }
    case docket::v1::Event::kLeaseExpired:
      Move(e, "QUEUED", now, false);
      break;
    case docket::v1::Event::kFeedback: {
      const auto& p = e.feedback();
      const LabelValues l = Label(tenant, p.kind(), p.queue());
      const std::string_view category =
          catalog::IsFeedbackCategory(p.category()) ? std::string_view(p.category()) : "other";
      ++feedback_[Join({l[0], l[1], l[2], category})];
      break;
    }
    case docket::v1::Event::kVerdict: {
      const auto& v = e.verdict();
      const LabelValues l = Label(v.tenant(), v.kind(), "");
      ++verdicts_[Join({l[0], l[1], CheckpointLabel(v.checkpoint()), OutcomeLabel(v.outcome())})];
      std::set<std::string> rules;
      for (const auto& violation : v.violations()) rules.insert(violation.rule_id().substr(0, 64));
      for (const auto& rule : rules) ++violations_[Join({l[0], l[1], rule})];
      break;
    }
    default:
      break;  // Submitted (counted at Routed), Released (Completed follows), audit records
  }
  return true;
}

// ---- persistence ----

std::string PartitionAggregates::Serialize() const {
  json j;
  j["next_offset"] = next_offset;
  json hourly = json::array();
  for (const auto& [k, c] : hourly_) {
    json o{{"k", k.first}, {"h", k.second}};
#define X(f) if (c.f) o[#f] = c.f;
    DOCKET_KPI_COUNTERS(X)
#undef X
    if (c.cycle.count) o["cycle"] = ToJson(c.cycle);
    if (c.wait.count) o["wait"] = ToJson(c.wait);
    if (c.handle.count) o["handle"] = ToJson(c.handle);
    hourly.push_back(std::move(o));
  }
  j["hourly"] = std::move(hourly);
  json live = json::object();
  for (const auto& [id, i] : live_) {
    live[id] = {i.tenant, i.kind, i.queue, i.state, i.since_ms, i.submitted_ms, i.at_risk};
  }
  j["live"] = std::move(live);
  j["verdicts"] = verdicts_;
  j["violations"] = violations_;
  j["feedback"] = feedback_;
  json transitions = json::array();
  for (const auto& [k, t] : transitions_) {
    transitions.push_back({{"k", k.first}, {"h", k.second}, {"n", t.count}, {"t", ToJson(t.seconds)}});
  }
  j["transitions"] = std::move(transitions);
  j["seen_chunks"] = SeenChunks();
  j["seen_open"] = {{"seq", seen_chunks_.back().seq}, {"ids", seen_chunks_.back().ids}};
  return j.dump();
}

absl::StatusOr<PartitionAggregates> PartitionAggregates::Parse(const std::string& text,
                                                               const catalog::Catalog& catalog) {
  PartitionAggregates a(catalog);
  try {
    const json j = json::parse(text);
    a.next_offset = j.at("next_offset").get<std::int64_t>();
    for (const auto& o : j.at("hourly")) {
      Counters c;
#define X(f) c.f = o.value(#f, std::int64_t{0});
      DOCKET_KPI_COUNTERS(X)
#undef X
      if (o.contains("cycle")) c.cycle = HistFromJson(o["cycle"]);
      if (o.contains("wait")) c.wait = HistFromJson(o["wait"]);
      if (o.contains("handle")) c.handle = HistFromJson(o["handle"]);
      a.hourly_[{o.at("k").get<std::string>(), o.at("h").get<std::int64_t>()}] = std::move(c);
    }
    for (const auto& [id, v] : j.at("live").items()) {
      a.live_[id] = LiveItem{v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    }
    a.verdicts_ = j.at("verdicts").get<std::map<std::string, std::int64_t>>();
    a.violations_ = j.at("violations").get<std::map<std::string, std::int64_t>>();
    for (const auto& [key, n] : j.at("feedback").get<std::map<std::string, std::int64_t>>()) {
      auto parts = Split(key);
      // Snapshots before feedback had a queue: tenant, kind, category.
      if (parts.size() == 3) parts.insert(parts.begin() + 2, "other");
      if (parts.size() != 4) return absl::DataLossError("a feedback key of the snapshot has no 4 parts");
      a.feedback_[Join({parts[0], parts[1], parts[2], parts[3]})] += n;
    }
    for (const auto& t : j.at("transitions")) {
      TransitionStats s;
      s.count = t.at("n").get<std::int64_t>();
      s.seconds = HistFromJson(t.at("t"));
      a.transitions_[{t.at("k").get<std::string>(), t.at("h").get<std::int64_t>()}] = std::move(s);
    }
    if (j.contains("seen")) {
      // A snapshot from before the ids were hashed: the ids themselves, all
      // of them in the JSON. They go to the next snapshot's chunks.
      for (const auto& id : j.at("seen")) a.Remember(Fnv1a(id.get<std::string>()));
    } else {
      a.seen_chunks_.clear();
      for (const auto& seq : j.at("seen_chunks")) a.seen_chunks_.push_back(SeenChunk{seq.get<std::uint64_t>(), {}});
      const auto& open = j.at("seen_open");
      a.seen_chunks_.push_back(SeenChunk{open.at("seq").get<std::uint64_t>(), {}});
      for (const auto& h : open.at("ids")) a.Remember(h.get<std::uint64_t>());
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("KPI snapshot does not parse: ", e.what()));
  }
  return a;
}

// ---- queries ----

namespace {

bool Matches(const std::vector<std::string>& labels, const Query& q) {
  return (q.tenant.empty() || labels[0] == q.tenant) && (q.kind.empty() || labels[1] == q.kind) &&
         (q.queue.empty() || labels.size() < 3 || labels[2] == q.queue);
}

std::string Mermaid(const docket::v1::ProcessMap& m) {
  std::string out = "flowchart LR\n";
  for (const auto& t : m.transitions()) {
    absl::StrAppend(&out, "  ", t.from(), " -->|", t.count(), " · mean ",
                    static_cast<std::int64_t>(std::llround(t.mean_seconds())), "s| ", t.to(), "\n");
  }
  return out;
}

std::string Graphviz(const docket::v1::ProcessMap& m) {
  std::string out = "digraph process {\n  rankdir=LR;\n";
  for (const auto& t : m.transitions()) {
    absl::StrAppend(&out, "  \"", t.from(), "\" -> \"", t.to(), "\" [label=\"", t.count(), " (mean ",
                    static_cast<std::int64_t>(std::llround(t.mean_seconds())), "s)\"];\n");
  }
  out += "}\n";
  return out;
}

}  // namespace

docket::v1::KpiSnapshot Snapshot(const std::vector<const PartitionAggregates*>& parts, const Query& q) {
  Counters total;
  std::int64_t first_hour = -1;
  const std::int64_t from_hour = q.from_ms > 0 ? Hour(q.from_ms) : 0;
  std::int64_t backlog = 0;
  double oldest = 0;
  for (const auto* p : parts) {
    for (const auto& [k, c] : p->hourly()) {
      if (k.second < from_hour || !Matches(Split(k.first), q)) continue;
      total.Merge(c);
      if (first_hour < 0 || k.second < first_hour) first_hour = k.second;
    }
    for (const auto& [id, item] : p->live()) {
      if (!Matches({item.tenant, item.kind, item.queue}, q)) continue;
      ++backlog;
      oldest = std::max(oldest, Seconds(q.now_ms - item.submitted_ms));
    }
  }
  docket::v1::KpiSnapshot s;
  s.mutable_filter()->set_tenant(q.tenant);
  s.mutable_filter()->set_kind(q.kind);
  s.mutable_filter()->set_queue(q.queue);
  s.set_arrivals(total.arrivals);
  s.set_completed(total.completed);
  s.set_bot_completed(total.bot_completed);
  s.set_auto_completed(total.auto_completed);
  s.set_rejected(total.rejected);
  s.set_backlog(backlog);
  s.set_sla_met(total.sla_met);
  s.set_sla_missed(total.sla_missed);
  s.set_reworks(total.reworks);
  s.set_escalations(total.escalations);
  s.set_holds(total.holds);
  s.set_sla_breaches(total.breaches);
  s.set_oldest_item_age_seconds(oldest);
  const std::int64_t done = total.completed + total.auto_completed;
  const double hours =
      q.from_ms > 0 ? (q.now_ms - q.from_ms) / 3.6e6
                    : (first_hour < 0 ? 0 : (q.now_ms - first_hour * kHourMs) / 3.6e6);
  s.set_throughput_per_hour(hours > 0 ? static_cast<double>(done) / hours : 0);
  const std::int64_t sla = total.sla_met + total.sla_missed;
  s.set_sla_attainment(sla ? static_cast<double>(total.sla_met) / static_cast<double>(sla) : 0);
  s.set_first_pass_yield(done ? static_cast<double>(total.first_pass) / static_cast<double>(done) : 0);
  s.set_automation_rate(done ? static_cast<double>(total.auto_completed) / static_cast<double>(done) : 0);
  s.set_cycle_time_p50_seconds(total.cycle.Quantile(0.5));
  s.set_cycle_time_p90_seconds(total.cycle.Quantile(0.9));
  return s;
}

docket::v1::ProcessMap ProcessMap(const std::vector<const PartitionAggregates*>& parts, const Query& q) {
  std::map<std::pair<std::string, std::string>, TransitionStats> merged;
  std::int64_t reworks = 0;
  const std::int64_t from_hour = q.from_ms > 0 ? Hour(q.from_ms) : 0;
  for (const auto* p : parts) {
    for (const auto& [k, t] : p->transitions()) {
      if (k.second < from_hour) continue;
      auto l = Split(k.first);  // tenant, kind, from, to
      if (!Matches({l[0], l[1]}, q)) continue;
      auto& m = merged[{l[2], l[3]}];
      m.count += t.count;
      m.seconds.Merge(t.seconds);
    }
    for (const auto& [k, c] : p->hourly()) {
      if (k.second >= from_hour && Matches(Split(k.first), q)) reworks += c.reworks;
    }
  }
  docket::v1::ProcessMap m;
  m.set_kind(q.kind);
  std::set<std::string> states;
  std::map<std::string, std::pair<double, std::int64_t>> waits;  // from state -> (sum s, count)
  for (const auto& [ft, t] : merged) {
    states.insert(ft.first);
    states.insert(ft.second);
    auto* pt = m.add_transitions();
    pt->set_from(ft.first);
    pt->set_to(ft.second);
    pt->set_count(t.count);
    pt->set_mean_seconds(t.seconds.count ? t.seconds.sum / static_cast<double>(t.seconds.count) : 0);
    pt->set_p90_seconds(t.seconds.Quantile(0.9));
    waits[ft.first].first += t.seconds.sum;
    waits[ft.first].second += static_cast<std::int64_t>(t.seconds.count);
  }
  for (const auto& s : states) m.add_states(s);
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [state, w] : waits) {
    if (w.second) ranked.emplace_back(w.first / static_cast<double>(w.second), state);
  }
  std::sort(ranked.rbegin(), ranked.rend());
  int rank = 0;
  for (const auto& [mean, state] : ranked) {
    auto* b = m.add_bottlenecks();
    b->set_state(state);
    b->set_mean_wait_seconds(mean);
    b->set_rank(++rank);
  }
  m.set_rework_loops(reworks);
  json j{{"kind", q.kind}, {"states", states}, {"rework_loops", reworks}};
  for (const auto& t : m.transitions()) {
    j["transitions"].push_back({{"from", t.from()}, {"to", t.to()}, {"count", t.count()},
                                {"mean_seconds", t.mean_seconds()}, {"p90_seconds", t.p90_seconds()}});
  }
  for (const auto& b : m.bottlenecks()) {
    j["bottlenecks"].push_back({{"state", b.state()}, {"mean_wait_seconds", b.mean_wait_seconds()}, {"rank", b.rank()}});
  }
  m.set_json(j.dump());
  m.set_mermaid(Mermaid(m));
  m.set_graphviz(Graphviz(m));
  return m;
}

// ---- Prometheus ----

namespace {

prometheus::ClientMetric Labeled(const std::vector<std::pair<std::string, std::string>>& labels) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  return m;
}

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void AddHistogram(prometheus::MetricFamily& f, prometheus::ClientMetric m, const Histogram& h) {
  const auto& bounds = DurationBounds();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    if (i < h.buckets.size()) cumulative += h.buckets[i];
    prometheus::ClientMetric::Bucket b;
    b.upper_bound = i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
    b.cumulative_count = cumulative;
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum;
  f.metric.push_back(std::move(m));
}

}  // namespace

std::vector<prometheus::MetricFamily> Families(
    const std::vector<std::pair<std::string, const PartitionAggregates*>>& parts, std::int64_t now_ms) {
  using prometheus::MetricType;
  auto counter = [](const char* name, const char* help) { return Family(name, help, MetricType::Counter); };
  auto gauge = [](const char* name, const char* help) { return Family(name, help, MetricType::Gauge); };
  auto hist = [](const char* name, const char* help) { return Family(name, help, MetricType::Histogram); };
  prometheus::MetricFamily arrivals = counter("docket_kpi_arrivals_total", "Work items that arrived (were routed).");
  prometheus::MetricFamily completions = counter("docket_kpi_completions_total", "Work items done, by path: person or bot (through the Work API), automated (a catalog rule), rejected.");
  prometheus::MetricFamily met = counter("docket_kpi_sla_met_total", "Completions within their SLA.");
  prometheus::MetricFamily missed = counter("docket_kpi_sla_missed_total", "Completions after their due time.");
  prometheus::MetricFamily first = counter("docket_kpi_first_pass_total", "Completions without rework.");
  prometheus::MetricFamily rework = counter("docket_kpi_rework_total", "Items returned for rework.");
  prometheus::MetricFamily esc = counter("docket_kpi_escalations_total", "Escalations.");
  prometheus::MetricFamily holds = counter("docket_kpi_holds_total", "Items held by a compliance verdict.");
  prometheus::MetricFamily breaches = counter("docket_kpi_sla_breaches_total", "SLA breaches while the item was open.");
  prometheus::MetricFamily cycle = hist("docket_kpi_cycle_time_seconds", "Submit to done.");
  prometheus::MetricFamily wait = hist("docket_kpi_wait_time_seconds", "Queued to claimed.");
  prometheus::MetricFamily handle = hist("docket_kpi_handle_time_seconds", "Claimed to done.");
  prometheus::MetricFamily backlog = gauge("docket_kpi_backlog", "Work in progress: items submitted and not done.");
  prometheus::MetricFamily oldest = gauge("docket_kpi_oldest_item_age_seconds", "Age of the oldest open item.");
  prometheus::MetricFamily at_risk = gauge("docket_kpi_items_at_risk", "Open items past their at-risk point.");
  prometheus::MetricFamily verdicts = counter("docket_kpi_compliance_verdicts_total", "Compliance verdicts by checkpoint and outcome.");
  prometheus::MetricFamily violations = counter("docket_kpi_compliance_violations_total", "Compliance violations by rule.");
  prometheus::MetricFamily feedback = counter("docket_kpi_feedback_total", "Feedback from staff and departments (Work.SubmitFeedback) by kind, queue and category.");
  prometheus::MetricFamily bottleneck = gauge("docket_kpi_bottleneck_wait_seconds", "Mean time items spent in a state before leaving it.");

  for (const auto& [partition, p] : parts) {
    const std::string& part = partition;
    std::map<std::string, Counters> totals;
    for (const auto& [k, c] : p->hourly()) totals[k.first].Merge(c);
    for (const auto& [key, c] : totals) {
      const auto l = Split(key);
      const std::vector<std::pair<std::string, std::string>> labels = {
          {"tenant", l[0]}, {"kind", l[1]}, {"queue", l[2]}, {"partition", part}};
      auto with = [&](prometheus::MetricFamily& f, double v) {
        auto m = Labeled(labels);
        m.counter.value = v;
        f.metric.push_back(std::move(m));
      };
      with(arrivals, static_cast<double>(c.arrivals));
      for (const auto& [path, v] : {std::pair<const char*, std::int64_t>{"person", c.completed - c.bot_completed},
                                    {"bot", c.bot_completed},
                                    {"automated", c.auto_completed},
                                    {"rejected", c.rejected}}) {
        auto m = Labeled(labels);
        m.label.push_back({"path", path});
        m.counter.value = static_cast<double>(v);
        completions.metric.push_back(std::move(m));
      }
      with(met, static_cast<double>(c.sla_met));
      with(missed, static_cast<double>(c.sla_missed));
      with(first, static_cast<double>(c.first_pass));
      with(rework, static_cast<double>(c.reworks));
      with(esc, static_cast<double>(c.escalations));
      with(holds, static_cast<double>(c.holds));
      with(breaches, static_cast<double>(c.breaches));
      AddHistogram(cycle, Labeled(labels), c.cycle);
      AddHistogram(wait, Labeled(labels), c.wait);
      AddHistogram(handle, Labeled(labels), c.handle);
    }
    std::map<std::string, std::tuple<std::int64_t, double, std::int64_t>> open;  // n, oldest, at risk
    for (const auto& [id, item] : p->live()) {
      auto& [n, age, risky] = open[Join({item.tenant, item.kind, item.queue})];
      ++n;
      age = std::max(age, Seconds(now_ms - item.submitted_ms));
      if (item.at_risk) ++risky;
    }
    for (const auto& [key, v] : open) {
      const auto l = Split(key);
      const std::vector<std::pair<std::string, std::string>> labels = {
          {"tenant", l[0]}, {"kind", l[1]}, {"queue", l[2]}, {"partition", part}};
      auto m = Labeled(labels);
      m.gauge.value = static_cast<double>(std::get<0>(v));
      backlog.metric.push_back(m);
      m.gauge.value = std::get<1>(v);
      oldest.metric.push_back(m);
      m.gauge.value = static_cast<double>(std::get<2>(v));
      at_risk.metric.push_back(m);
    }
    for (const auto& [key, n] : p->verdicts()) {
      const auto l = Split(key);
      auto m = Labeled({{"tenant", l[0]}, {"kind", l[1]}, {"checkpoint", l[2]}, {"outcome", l[3]}, {"partition", part}});
      m.counter.value = static_cast<double>(n);
      verdicts.metric.push_back(std::move(m));
    }
    for (const auto& [key, n] : p->violations()) {
      const auto l = Split(key);
      auto m = Labeled({{"tenant", l[0]}, {"kind", l[1]}, {"rule", l[2]}, {"partition", part}});
      m.counter.value = static_cast<double>(n);
      violations.metric.push_back(std::move(m));
    }
    for (const auto& [key, n] : p->feedback()) {
      const auto l = Split(key);
      auto m = Labeled({{"tenant", l[0]}, {"kind", l[1]}, {"queue", l[2]}, {"category", l[3]},
                        {"partition", part}});
      m.counter.value = static_cast<double>(n);
      feedback.metric.push_back(std::move(m));
    }
    std::map<std::pair<std::string, std::string>, std::pair<double, std::uint64_t>> in_state;
    for (const auto& [k, t] : p->transitions()) {
      const auto l = Split(k.first);
      auto& s = in_state[{l[1], l[2]}];
      s.first += t.seconds.sum;
      s.second += t.seconds.count;
    }
    for (const auto& [ks, s] : in_state) {
      auto m = Labeled({{"kind", ks.first}, {"state", ks.second}, {"partition", part}});
      m.gauge.value = s.second ? s.first / static_cast<double>(s.second) : 0;
      bottleneck.metric.push_back(std::move(m));
    }
  }
  return {arrivals, completions, met,     missed,   first,     rework,     esc,
          holds,    breaches,    cycle,   wait,     handle,    backlog,    oldest,
          at_risk,  verdicts,    violations, feedback, bottleneck};
}

}  // namespace docket::kpi
