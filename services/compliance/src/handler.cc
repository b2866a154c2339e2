#include "services/compliance/src/handler.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/auth/api_keys.h"
#include "common/hash/sha256.h"
#include "common/catalog/catalog.h"
#include "common/log/log.h"
#include "common/status/macros.h"

namespace docket::compliance {
namespace {

using docket::v1::AuditRecord;
using docket::v1::Event;

const log::Logger& Log() {
  static const log::Logger logger("compliance");
  return logger;
}

// Every failure on the ledger path is retried by the consumer: a record the
// ledger could not take must hold the partition, never be skipped or DLQ'd.
absl::Status Retryable(std::string_view stage, const absl::Status& s) {
  return absl::UnavailableError(absl::StrCat(std::string(stage), ": ", std::string(s.message())));
}

std::string_view RecordTypeLabel(AuditRecord::Type type) {
  switch (type) {
    case AuditRecord::TYPE_VERDICT: return "verdict";
    case AuditRecord::TYPE_RELEASE: return "release";
    case AuditRecord::TYPE_REJECT: return "reject";
    case AuditRecord::TYPE_ESCALATION: return "escalation";
    default: return "other";
  }
}

}  // namespace

ComplianceHandler::ComplianceHandler(const catalog::Catalog* catalog, const Evaluator& evaluator,
                                     ComplianceStore& store, kafka::EventPublisher& publisher,
                                     const kafka::Topics& topics, const Clock& clock,
                                     ComplianceMetrics* metrics, HandlerOptions options)
    : catalog_(catalog),
      evaluator_(evaluator),
      store_(store),
      publisher_(publisher),
      topics_(topics),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {}

std::string ComplianceHandler::ChainOf(const kafka::Record& record) {
  return absl::StrCat(record.topic, "/", record.partition);
}

std::string ComplianceHandler::AuditEventId(const std::string& subject_event_id) {
  return hash::Sha256Hex(absl::StrCat(subject_event_id, "\x1f", "audit")).substr(0, 32);
}

std::string ComplianceHandler::VerdictSummary(const docket::v1::Verdict& verdict) {
  std::set<std::string> rules;
  for (const auto& v : verdict.violations()) rules.insert(v.rule_id());
  return absl::StrCat("verdict checkpoint=", std::string(CheckpointName(verdict.checkpoint())),
                      " outcome=", std::string(OutcomeName(verdict.outcome())),
                      " policy=", verdict.policy_version(), " rules=", absl::StrJoin(rules, ","));
}

google::protobuf::Timestamp ComplianceHandler::Now() const {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count());
}

bool ComplianceHandler::Checks(const std::string& kind, docket::v1::Checkpoint checkpoint) const {
  if (!catalog_) return true;
  const catalog::Kind* k = catalog_->FindKind(kind);
  if (!k) return false;
  return checkpoint == docket::v1::CHECKPOINT_SUBMIT ? k->check_on_submit : k->check_on_complete;
}

bool ComplianceHandler::KeepsCopy(const std::string& kind) const {
  if (!catalog_ || kind.empty()) return true;
  const catalog::Kind* k = catalog_->FindKind(kind);
  return k == nullptr || k->check_on_complete;
}

const std::vector<Event::PayloadCase>& ComplianceHandler::HandledPayloads() {
  static const std::vector<Event::PayloadCase> kHandled = {
      Event::kSubmitted, Event::kCompletionRequested, Event::kReleased, Event::kRejected, Event::kEscalated,
      Event::kCompleted, Event::kAutoCompleted};
  return kHandled;
}

// One event on its way through HandleBatch.
struct ComplianceHandler::Job {
  const Event* event = nullptr;
  std::size_t index = 0;  // in the batch
  std::string chain;      // of the record it came from
  absl::Status status;  // the first failure; OK while it goes on, and at the end
  // The item as this event leaves it, to save (Submitted, CompletionRequested).
  std::optional<docket::v1::WorkItem> save;
  // The stored copy stays as it is: the completion passed, and its completer
  // and outcome matter only to the release of an item a verdict held. (Later
  // events of the batch see the stored copy too, as they would one by one.)
  bool stored_copy_suffices = false;
  // The item ended here (Completed, AutoCompleted, Rejected): drop its copy.
  bool ended = false;
  // The record to write (verdicts and overrides), sealed in Append.
  bool ledger = false;
  AuditRecord draft;
  AuditRecord sealed;
  std::optional<docket::v1::Verdict> verdict;  // verdict events: as evaluated now
  std::string verdict_bytes;
  double seconds = 0;
  // What the store holds for the subject once appended (or found recorded).
  StoredEntry entry;
};

// The jobs of one HandleBatch call, and which partitions are held.
class ComplianceHandler::Batch {
 public:
  Batch(const std::vector<const Event*>& events, const std::vector<const kafka::Record*>& records,
        ComplianceMetrics* metrics)
      : jobs_(events.size()), metrics_(metrics) {
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      jobs_[i].event = events[i];
      jobs_[i].index = i;
      jobs_[i].chain = ChainOf(*records[i]);
    }
  }

  std::vector<Job>& jobs() { return jobs_; }
  const std::vector<Job>& jobs() const { return jobs_; }

  // False once the job failed, or once an earlier job of its partition did
  // (then it fails too, held behind that one: the consumer delivers it again
  // after the failed one, and its effects must not overtake that one's).
  bool Going(Job& job) {
    if (!job.status.ok()) return false;
    auto it = failed_.find(job.chain);
    if (it == failed_.end() || it->second->index > job.index) return true;
    job.status = absl::UnavailableError(absl::StrCat("held behind event ", it->second->event->id(),
                                                     " of the same partition: ",
                                                     it->second->status.message()));
    return false;
  }

  // A poison status (INVALID_ARGUMENT) holds nothing: the consumer goes on.
  void Fail(Job& job, absl::Status status) {
    job.status = std::move(status);
    if (job.status.code() == absl::StatusCode::kInvalidArgument) return;
    auto [it, inserted] = failed_.emplace(job.chain, &job);
    if (!inserted && job.index < it->second->index) it->second = &job;
  }

  // Fails the job retryably (see Retryable); `stage` labels the failure metric.
  void Failed(Job& job, const std::string& stage, std::string_view what, const absl::Status& status) {
    if (metrics_) metrics_->Failure(stage);
    Fail(job, Retryable(what, status));
  }
  // The same for each of `jobs` whose status (at the same index) is not OK.
  void FailedWhere(const std::vector<Job*>& jobs, const std::vector<absl::Status>& statuses,
                   const std::string& stage, std::string_view what) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!statuses[i].ok()) Failed(*jobs[i], stage, what, statuses[i]);
    }
  }

  std::vector<absl::Status> Statuses() {
    std::vector<absl::Status> out;
    out.reserve(jobs_.size());
    for (Job& job : jobs_) {
      Going(job);
      out.push_back(job.status);
    }
    return out;
  }

 private:
  std::vector<Job> jobs_;
  std::map<std::string, const Job*> failed_;  // chain -> its earliest failed job
  ComplianceMetrics* metrics_;
};

absl::Status ComplianceHandler::Handle(const Event& e, const kafka::Record& r) {
  return HandleBatch({&e}, {&r}).front();
}

std::vector<absl::Status> ComplianceHandler::HandleBatch(const std::vector<const Event*>& events,
                                                         const std::vector<const kafka::Record*>& records) {
  if (events.size() != records.size()) {
    return std::vector<absl::Status>(
        events.size(), absl::InternalError(absl::StrCat("HandleBatch got ", events.size(), " events and ",
                                                        records.size(), " records")));
  }
  Batch batch(events, records, metrics_);
  LoadAndEvaluate(batch);
  WriteItems(batch);
  Append(batch);
  Index(batch);
  PublishAuditRecords(batch);
  PublishVerdicts(batch);
  TrimOldRecords(batch);
  return batch.Statuses();
}

void ComplianceHandler::TrimOldRecords(const Batch& batch) {
  const auto now = clock_.Now();
  std::vector<std::string> due;
  {
    std::lock_guard lock(trim_mu_);
    for (const Job& job : batch.jobs()) {
      if (job.chain.empty() || std::find(due.begin(), due.end(), job.chain) != due.end()) continue;
      auto [it, first] = last_trim_.try_emplace(job.chain, now);
      if (!first && now - it->second < options_.trim_every) continue;
      it->second = now;
      due.push_back(job.chain);
    }
  }
  const LedgerSettings& ledger = evaluator_.policies().ledger;
  const google::protobuf::Timestamp cutoff = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          (now - std::chrono::seconds(ledger.audit_retention_seconds)).time_since_epoch())
          .count());
  for (const std::string& chain : due) {
    absl::StatusOr<std::uint64_t> trimmed =
        TrimStoredChain(store_, chain, cutoff, options_.trim_max, ledger.hmac_key);
    if (!trimmed.ok()) {
      Log().Warn("trimming audit records past their retention failed; retried later",
                 {{"chain", chain}, {"error", std::string(trimmed.status().message())}});
    } else if (*trimmed > 0) {
      if (metrics_) metrics_->Trimmed(*trimmed);
      Log().Info("audit records past their retention trimmed from Redis",
                 {{"chain", chain}, {"records", static_cast<std::int64_t>(*trimmed)}});
    }
  }
}

void ComplianceHandler::LoadAndEvaluate(Batch& batch) {
  const auto& handled = HandledPayloads();
  std::vector<std::string> ids;  // the items completions and releases look at
  absl::flat_hash_set<std::string_view> listed;
  for (Job& job : batch.jobs()) {
    const Event& e = *job.event;
    if (std::find(handled.begin(), handled.end(), e.payload_case()) == handled.end()) continue;
    if (e.subject().empty() || e.id().empty()) {
      batch.Fail(job, absl::InvalidArgumentError(
                          absl::StrCat("work event of type ", e.type(), " has no subject (item id) or no id")));
      continue;
    }
    if ((e.has_completion_requested() || e.has_released()) && listed.insert(e.subject()).second) {
      ids.push_back(e.subject());
    }
  }
  auto loaded = store_.LoadItems(ids);
  // The batch's view of its items: what the store held, then what each
  // event of the batch left (an item submitted in this batch is not stored
  // yet). It points into `loaded` and the jobs' `save`, which outlive it:
  // no copy of an item (and its attributes) per event.
  struct View {
    const absl::Status* error = nullptr;          // the load failed
    const docket::v1::WorkItem* item = nullptr;  // nullptr: unknown
  };
  std::map<std::string, View> items;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    View v;
    if (!loaded[i].ok()) {
      v.error = &loaded[i].status();
    } else if (loaded[i]->has_value()) {
      v.item = &**loaded[i];
    }
    items.emplace(ids[i], v);
  }
  for (Job& job : batch.jobs()) {
    const Event& e = *job.event;
    if (!batch.Going(job) || std::find(handled.begin(), handled.end(), e.payload_case()) == handled.end()) {
      continue;
    }
    if (e.has_submitted()) {
      OnSubmitted(job);
      if (!KeepsCopy(job.save->kind())) job.save.reset();
      items.insert_or_assign(e.subject(), job.save ? View{nullptr, &*job.save} : View{});
      continue;
    }
    if (e.has_completed() || e.has_auto_completed()) {
      job.ended = KeepsCopy(e.has_completed() ? e.completed().kind() : e.auto_completed().kind());
      items.insert_or_assign(e.subject(), View{});
      continue;
    }
    if (e.has_rejected() || e.has_escalated()) {
      OnOverride(job, nullptr);
      if (e.has_rejected()) {
        job.ended = true;
        items.insert_or_assign(e.subject(), View{});
      }
      continue;
    }
    const View& item = items.at(e.subject());
    if (item.error != nullptr) {
      batch.Failed(job, "store", "loading the item", *item.error);
      continue;
    }
    if (e.has_released()) {
      OnOverride(job, item.item);
      continue;
    }
    OnCompletionRequested(job, item.item);
    if (!KeepsCopy(job.save->kind())) job.save.reset();  // (catalogs that disagree)
    job.stored_copy_suffices = job.save && item.item != nullptr && job.verdict &&
                               job.verdict->outcome() == docket::v1::OUTCOME_PASS;
    if (job.stored_copy_suffices) continue;  // later events see the stored copy, as one by one
    items.insert_or_assign(e.subject(), job.save ? View{nullptr, &*job.save} : View{});
  }
}

void ComplianceHandler::OnSubmitted(Job& job) {
  const Event& e = *job.event;
  const auto& sub = e.submitted().submission();
  docket::v1::WorkItem& item = job.save.emplace();
  item.set_id(e.subject());
  item.set_tenant(e.tenant().empty() ? sub.tenant() : e.tenant());
  item.set_kind(sub.kind());
  *item.mutable_attributes() = sub.attributes();
  *item.mutable_requester() = sub.requester();
  if (!Checks(item.kind(), docket::v1::CHECKPOINT_SUBMIT)) return;

  EvaluationInput in;
  in.item_id = item.id();
  in.tenant = item.tenant();
  in.kind = item.kind();
  in.checkpoint = docket::v1::CHECKPOINT_SUBMIT;
  in.attributes = &item.attributes();
  in.redactions = &e.submitted().redactions();
  in.submitter = sub.requester().id();
  in.source_event_id = e.id();
  in.evaluated_at = Now();
  const auto start = clock_.Monotonic();
  docket::v1::Verdict verdict = evaluator_.Evaluate(in);
  const double seconds = std::chrono::duration<double>(clock_.Monotonic() - start).count();
  DraftVerdict(job, std::move(verdict), in.submitter, seconds);
}

void ComplianceHandler::OnCompletionRequested(Job& job, const docket::v1::WorkItem* known) {
  const Event& e = *job.event;
  const auto& done = e.completion_requested();
  docket::v1::WorkItem& item = job.save.emplace(known ? *known : docket::v1::WorkItem());
  if (!known) {
    item.set_id(e.subject());
    item.set_tenant(e.tenant());
  }
  if (!done.kind().empty()) item.set_kind(done.kind());
  *item.mutable_completer() = done.completer();
  *item.mutable_outcome() = done.outcome();
  if (!Checks(item.kind(), docket::v1::CHECKPOINT_COMPLETE)) return;

  EvaluationInput in;
  in.item_id = item.id();
  in.tenant = item.tenant();
  in.kind = item.kind();
  in.checkpoint = docket::v1::CHECKPOINT_COMPLETE;
  in.attributes = &item.attributes();
  in.outcome = &done.outcome();
  in.submitter = item.requester().id();
  in.completer = done.completer().id();
  in.source_event_id = e.id();
  in.evaluated_at = Now();
  const auto start = clock_.Monotonic();
  docket::v1::Verdict verdict = evaluator_.Evaluate(in);
  if (!known) {
    // Without the submission the attribute rules could not look at anything:
    // never let that pass silently.
    auto* v = verdict.add_violations();
    v->set_rule_id("submission-unknown");
    v->set_message("compliance has no record of this item's submission; its attributes were not checked");
    v->set_action(docket::v1::OUTCOME_FLAG);
    v->set_severity(docket::v1::SEVERITY_HIGH);
    if (verdict.outcome() == docket::v1::OUTCOME_PASS) verdict.set_outcome(docket::v1::OUTCOME_FLAG);
  }
  const double seconds = std::chrono::duration<double>(clock_.Monotonic() - start).count();
  DraftVerdict(job, std::move(verdict), in.completer, seconds);
}

void ComplianceHandler::OnOverride(Job& job, const docket::v1::WorkItem* known) {
  const Event& e = *job.event;
  AuditRecord& draft = job.draft;
  job.ledger = true;
  draft.set_chain(job.chain);
  draft.set_item_id(e.subject());
  draft.set_tenant(e.tenant());
  *draft.mutable_recorded_at() = Now();
  draft.set_subject_event_id(e.id());
  if (e.has_released()) {
    const auto& rel = e.released();
    EvaluationInput in;
    in.item_id = e.subject();
    in.tenant = e.tenant();
    in.kind = rel.kind();
    in.releaser = rel.releaser().id();
    if (known) {
      if (in.kind.empty()) in.kind = known->kind();
      in.submitter = known->requester().id();
      in.completer = known->completer().id();
    }
    std::vector<std::string> broken;
    for (const auto& v : evaluator_.CheckRelease(in)) {
      broken.push_back(v.rule_id());
      if (metrics_) metrics_->ReleaseViolation(v.rule_id());
    }
    draft.set_type(AuditRecord::TYPE_RELEASE);
    draft.set_actor_id(rel.releaser().id());
    draft.set_summary(absl::StrCat(
        "release queue=", rel.queue(), " segregation=",
        broken.empty() ? std::string("ok") : absl::StrCat("violated:", absl::StrJoin(broken, ","))));
    if (!broken.empty()) {
      Log().Warn("release broke a segregation-of-duties rule",
                 {{"item", e.subject()}, {"rules", absl::StrJoin(broken, ",")}});
    }
  } else if (e.has_rejected()) {
    // The reason is free text (it may carry personal data): not recorded.
    draft.set_type(AuditRecord::TYPE_REJECT);
    draft.set_actor_id(e.rejected().actor().id());
    draft.set_summary(absl::StrCat("reject queue=", e.rejected().queue()));
  } else {
    draft.set_type(AuditRecord::TYPE_ESCALATION);
    draft.set_actor_id(e.escalated().actor().id());
    draft.set_summary(absl::StrCat("escalation from=", e.escalated().from_queue(),
                                   " to=", e.escalated().to_queue()));
  }
}

void ComplianceHandler::DraftVerdict(Job& job, docket::v1::Verdict verdict, const std::string& actor,
                                     double seconds) {
  AuditRecord& draft = job.draft;
  job.ledger = true;
  draft.set_chain(job.chain);
  draft.set_type(AuditRecord::TYPE_VERDICT);
  draft.set_item_id(verdict.item_id());
  draft.set_tenant(verdict.tenant());
  *draft.mutable_recorded_at() = verdict.evaluated_at();
  draft.set_subject_event_id(verdict.id());
  draft.set_actor_id(actor);
  draft.set_summary(VerdictSummary(verdict));
  job.verdict_bytes = verdict.SerializeAsString();
  job.verdict = std::move(verdict);
  job.seconds = seconds;
}

void ComplianceHandler::WriteItems(Batch& batch) {
  // An item that ends later in the batch is not saved first (an automated
  // item's Submitted and AutoCompleted often come together): if dropping its
  // copy fails, the consumer delivers the ending again, which needs no copy.
  std::set<std::string_view> ending;
  std::vector<bool> superseded(batch.jobs().size());
  for (auto it = batch.jobs().rbegin(); it != batch.jobs().rend(); ++it) {
    if (!batch.Going(*it)) continue;
    if (it->ended) ending.insert(it->event->subject());
    if (it->save && ending.contains(it->event->subject())) superseded[it->index] = true;
  }
  std::vector<Job*> jobs;
  std::vector<ItemWrite> writes;
  for (Job& job : batch.jobs()) {
    const bool saves = job.save && !job.stored_copy_suffices;
    if (!batch.Going(job) || (!saves && !job.ended) || superseded[job.index]) continue;
    jobs.push_back(&job);
    writes.push_back({job.event->subject(), job.ended ? nullptr : &*job.save});
  }
  if (jobs.empty()) return;
  batch.FailedWhere(jobs, store_.WriteItems(writes, evaluator_.policies().ledger.item_ttl_seconds), "store",
                    "writing the item");
}

void ComplianceHandler::Append(Batch& batch) {
  std::map<std::string, std::vector<Job*>> chains;  // each chain's jobs, in order
  for (Job& job : batch.jobs()) {
    if (batch.Going(job) && job.ledger) chains[job.chain].push_back(&job);
  }
  if (chains.empty()) return;
  std::vector<std::string> names;
  for (const auto& [chain, jobs] : chains) names.push_back(chain);
  auto heads = store_.Heads(names);

  // Seal each chain's records one after the other from its head, and append
  // them all at once: each append still compares its head, so a record only
  // lands right after the one it was sealed after.
  const std::string& key = evaluator_.policies().ledger.hmac_key;
  std::vector<AppendRequest> requests;
  std::vector<Job*> sent;
  std::size_t h = 0;
  for (auto& [chain, jobs] : chains) {
    const absl::StatusOr<ChainHead>& head = heads[h++];
    if (!head.ok()) {
      batch.Failed(*jobs.front(), "store", "reading the chain head", head.status());
      continue;
    }
    ChainHead after = *head;
    for (Job* job : jobs) {
      job->sealed = job->draft;
      Seal(after, key, &job->sealed);
      after = ChainHead{job->sealed.sequence(), job->sealed.hash()};
      requests.push_back(AppendRequest{job->sealed, job->verdict_bytes});
      sent.push_back(job);
    }
  }
  auto results = store_.Append(requests);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    Job& job = *sent[i];
    if (!batch.Going(job)) continue;
    if (!results[i].ok()) {
      batch.Failed(job, "store", "appending to the ledger", results[i].status());
    } else if (results[i]->status == AppendStatus::kConflict) {
      // Another writer moved the head (or an earlier record of the batch was
      // a duplicate): from here on this chain goes one record at a time.
      AppendCarefully(batch, job);
    } else {
      Recorded(job, *std::move(results[i]));
    }
  }
}

void ComplianceHandler::AppendCarefully(Batch& batch, Job& job) {
  const std::string& key = evaluator_.policies().ledger.hmac_key;
  for (int attempt = 0; attempt < options_.max_append_attempts; ++attempt) {
    auto head = store_.Head(job.chain);
    if (!head.ok()) {
      batch.Failed(job, "store", "reading the chain head", head.status());
      return;
    }
    job.sealed = job.draft;
    Seal(*head, key, &job.sealed);
    auto result = std::move(store_.Append({AppendRequest{job.sealed, job.verdict_bytes}}).front());
    if (!result.ok()) {
      batch.Failed(job, "store", "appending to the ledger", result.status());
      return;
    }
    if (result->status != AppendStatus::kConflict) {
      Recorded(job, *std::move(result));
      return;
    }
  }
  batch.Failed(job, "store", "appending to the ledger",
               absl::UnavailableError(absl::StrCat("chain ", job.chain, " head kept moving")));
}

void ComplianceHandler::Recorded(Job& job, AppendResult result) {
  if (metrics_ && result.status == AppendStatus::kAppended) {
    // Counted once per recorded record, not per delivery attempt.
    metrics_->Append(std::string(RecordTypeLabel(job.sealed.type())));
    if (job.verdict) {
      metrics_->Evaluation(job.verdict->kind(), std::string(CheckpointName(job.verdict->checkpoint())),
                           std::string(OutcomeName(job.verdict->outcome())), job.seconds);
      for (const auto& v : job.verdict->violations()) metrics_->Violation(v.rule_id());
    }
  } else if (metrics_) {
    metrics_->Duplicate();
  }
  job.entry = std::move(result.entry);
}

void ComplianceHandler::Index(Batch& batch) {
  std::vector<Job*> jobs;
  std::vector<const AuditRecord*> records;
  for (Job& job : batch.jobs()) {
    if (batch.Going(job) && job.ledger) {
      jobs.push_back(&job);
      records.push_back(&job.entry.record);
    }
  }
  if (jobs.empty()) return;
  batch.FailedWhere(jobs, store_.Index(records), "store", "indexing the audit record");
}

void ComplianceHandler::PublishAuditRecords(Batch& batch) {
  std::vector<Job*> jobs;
  std::vector<kafka::Record> out;
  for (Job& job : batch.jobs()) {
    if (!batch.Going(job) || !job.ledger || job.entry.published) continue;
    const AuditRecord& record = job.entry.record;
    Event e;
    e.set_id(AuditEventId(record.subject_event_id()));
    e.set_source(options_.source);
    *e.mutable_time() = record.recorded_at();
    e.set_subject(record.item_id());
    e.set_tenant(record.tenant());
    e.set_traceparent(job.event->traceparent());
    *e.mutable_audit_record() = record;
    kafka::Record rec = kafka::EncodeEvent(topics_.audit(), e);
    // Keyed by chain, not item: one chain stays in one partition, in order.
    rec.key = record.chain();
    jobs.push_back(&job);
    out.push_back(std::move(rec));
  }
  if (jobs.empty()) return;
  const auto confirmed = publisher_.PublishAll(std::move(out));
  std::vector<Job*> marked;
  std::vector<const AuditRecord*> records;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (!confirmed[i].ok()) {
      batch.Failed(*jobs[i], "audit_topic", "publishing the audit record", confirmed[i]);
    } else if (batch.Going(*jobs[i])) {
      marked.push_back(jobs[i]);
      records.push_back(&jobs[i]->entry.record);
    }
  }
  const auto stored = store_.MarkPublished(records);
  for (std::size_t i = 0; i < marked.size(); ++i) marked[i]->entry.published = stored[i].ok();
  // Harmless to retry: the record would be published once more, and
  // verifiers skip an identical copy.
  batch.FailedWhere(marked, stored, "store", "marking the audit record published");
}

void ComplianceHandler::PublishVerdicts(Batch& batch) {
  std::vector<Job*> jobs;
  std::vector<kafka::Record> out;
  for (Job& job : batch.jobs()) {
    if (!batch.Going(job) || !job.verdict) continue;
    // Publish what the ledger holds: on a redelivery that is the verdict of
    // the first evaluation, even if the policy changed in between.
    docket::v1::Verdict recorded;
    if (!recorded.ParseFromString(job.entry.verdict)) {
      batch.Fail(job, absl::UnavailableError("the stored verdict does not parse"));
      continue;
    }
    Event e;
    e.set_id(recorded.id());
    e.set_source(options_.source);
    *e.mutable_time() = recorded.evaluated_at();
    e.set_subject(recorded.item_id());
    e.set_tenant(recorded.tenant());
    e.set_traceparent(job.event->traceparent());
    *e.mutable_verdict() = std::move(recorded);
    jobs.push_back(&job);
    out.push_back(kafka::EncodeEvent(topics_.compliance(), e));
  }
  if (jobs.empty()) return;
  batch.FailedWhere(jobs, publisher_.PublishAll(std::move(out)), "verdict_topic", "publishing the verdict");
}

absl::StatusOr<docket::v1::Verdict> ComplianceHandler::DryRun(
    const docket::v1::WorkSubmission& submission, docket::v1::Checkpoint checkpoint) const {
  if (submission.tenant().empty()) return absl::InvalidArgumentError("submission.tenant is required");
  if (catalog_ && !catalog_->FindKind(submission.kind())) {
    return absl::InvalidArgumentError(absl::StrCat("unknown kind \"", submission.kind(), "\""));
  }
  if (checkpoint == docket::v1::CHECKPOINT_UNSPECIFIED) checkpoint = docket::v1::CHECKPOINT_SUBMIT;
  EvaluationInput in;
  in.tenant = submission.tenant();
  in.kind = submission.kind();
  in.checkpoint = checkpoint;
  in.attributes = &submission.attributes();
  in.submitter = submission.requester().id();
  in.source_event_id = absl::StrCat("dry-run:", submission.tenant(), ":", submission.idempotency_key());
  in.evaluated_at = Now();
  return evaluator_.Evaluate(in);
}

absl::StatusOr<VerifyResult> VerifyStoredChains(ComplianceStore& store, const std::string& chain,
                                                std::uint64_t from, std::uint64_t to,
                                                const std::string& hmac_key) {
  constexpr std::size_t kPage = 1000;
  std::vector<std::string> chains;
  if (chain.empty()) {
    auto all = store.Chains();
    if (!all.ok()) return all.status();
    chains = *std::move(all);
  } else {
    chains = {chain};
  }
  VerifyResult total;
  for (const auto& c : chains) {
    auto trimmed = store.Anchor(c);
    if (!trimmed.ok()) return trimmed.status();
    if (trimmed->sequence > 0 && trimmed->mac != AnchorMac(c, trimmed->sequence, trimmed->hash, hmac_key)) {
      total.ok = false;
      total.first_bad_chain = c;
      total.first_bad_sequence = trimmed->sequence;
      total.problem = "the anchor of the trimmed records does not verify: it was changed";
      return total;
    }
    const std::uint64_t first = std::max<std::uint64_t>(from, trimmed->sequence + 1);
    ChainHead anchor;
    if (first == trimmed->sequence + 1) {
      anchor = ChainHead{trimmed->sequence, trimmed->hash};
    } else {
      auto before = store.Range(c, first - 1, first - 1, 1);
      if (!before.ok()) return before.status();
      if (before->empty()) {
        total.ok = false;
        total.first_bad_chain = c;
        total.first_bad_sequence = first - 1;
        total.problem = "the record before the range is missing";
        return total;
      }
      anchor = ChainHead{before->front().sequence(), before->front().hash()};
    }
    std::uint64_t next = first;
    while (true) {
      auto page = store.Range(c, next, to, kPage);
      if (!page.ok()) return page.status();
      VerifyResult part = VerifyChain(c, *page, anchor, hmac_key);
      total.records_checked += part.records_checked;
      if (!part.ok) {
        part.records_checked = total.records_checked;
        return part;
      }
      if (page->size() < kPage) break;
      anchor = ChainHead{page->back().sequence(), page->back().hash()};
      next = anchor.sequence + 1;
    }
    if (to == 0) {
      // A dropped tail leaves no gap to see: compare with the head.
      auto head = store.Head(c);
      if (!head.ok()) return head.status();
      auto last = store.Range(c, head->sequence, head->sequence, 1);
      if (!last.ok()) return last.status();
      if (head->sequence > 0 && (last->empty() || last->front().hash() != head->hash)) {
        total.ok = false;
        total.first_bad_chain = c;
        total.first_bad_sequence = head->sequence;
        total.problem = "the chain head's record is missing or differs from the head";
        return total;
      }
    }
  }
  return total;
}

absl::StatusOr<std::uint64_t> TrimStoredChain(ComplianceStore& store, const std::string& chain,
                                              const google::protobuf::Timestamp& cutoff, std::size_t max,
                                              const std::string& hmac_key) {
  DOCKET_ASSIGN_OR_RETURN(ChainAnchor anchor, store.Anchor(chain));
  DOCKET_ASSIGN_OR_RETURN(ChainHead head, store.Head(chain));
  if (head.sequence <= anchor.sequence + 1) return 0;  // the head's record always stays
  const std::uint64_t last = std::min<std::uint64_t>(anchor.sequence + max, head.sequence - 1);
  // Sequence order is the order records were sealed in, so "recorded before
  // the cutoff" holds for a prefix: find its end by bisection, one record
  // read at a time (usually just one: everything up to `last` is old).
  auto record = [&](std::uint64_t sequence) -> absl::StatusOr<docket::v1::AuditRecord> {
    DOCKET_ASSIGN_OR_RETURN(std::vector<docket::v1::AuditRecord> r, store.Range(chain, sequence, sequence, 1));
    if (r.empty()) return absl::DataLossError(absl::StrCat("chain ", chain, " has no record ", sequence));
    return std::move(r.front());
  };
  DOCKET_ASSIGN_OR_RETURN(docket::v1::AuditRecord found, record(last));
  if (found.recorded_at() >= cutoff) {
    std::uint64_t old_end = anchor.sequence;  // newest known old one (or the anchor)
    std::uint64_t young = last;              // oldest known young one
    std::optional<docket::v1::AuditRecord> best;
    while (young - old_end > 1) {
      const std::uint64_t mid = old_end + (young - old_end) / 2;
      DOCKET_ASSIGN_OR_RETURN(docket::v1::AuditRecord r, record(mid));
      if (r.recorded_at() < cutoff) {
        old_end = mid;
        best = std::move(r);
      } else {
        young = mid;
      }
    }
    if (!best) return 0;
    found = *std::move(best);
  }
  return store.TrimTo(chain, ChainAnchor{found.sequence(), found.hash(),
                                         AnchorMac(chain, found.sequence(), found.hash(), hmac_key)});
}

}  // namespace docket::compliance
