#include "services/compliance/src/handler.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/auth/api_keys.h"
#include "common/hash/sha256.h"
#include "common/catalog/catalog.h"
#include "common/log/log.h"

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

const std::vector<Event::PayloadCase>& ComplianceHandler::HandledPayloads() {
  static const std::vector<Event::PayloadCase> kHandled = {
      Event::kSubmitted, Event::kCompletionRequested, Event::kReleased, Event::kRejected, Event::kEscalated};
  return kHandled;
}

absl::Status ComplianceHandler::Handle(const Event& e, const kafka::Record& r) {
  const auto& handled = HandledPayloads();
  if (std::find(handled.begin(), handled.end(), e.payload_case()) == handled.end()) return absl::OkStatus();
  if (e.subject().empty() || e.id().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("work event of type ", e.type(), " has no subject (item id) or no id"));
  }
  if (e.has_submitted()) return OnSubmitted(e, r);
  if (e.has_completion_requested()) return OnCompletionRequested(e, r);
  return OnOverride(e, r);
}

absl::Status ComplianceHandler::OnSubmitted(const Event& e, const kafka::Record& r) {
  const auto& sub = e.submitted().submission();
  docket::v1::WorkItem item;
  item.set_id(e.subject());
  item.set_tenant(e.tenant().empty() ? sub.tenant() : e.tenant());
  item.set_kind(sub.kind());
  *item.mutable_attributes() = sub.attributes();
  *item.mutable_requester() = sub.requester();
  if (absl::Status s = store_.SaveItem(item, evaluator_.policies().ledger.item_ttl_seconds); !s.ok()) {
    if (metrics_) metrics_->Failure("store");
    return Retryable("saving the item", s);
  }
  if (!Checks(item.kind(), docket::v1::CHECKPOINT_SUBMIT)) return absl::OkStatus();

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
  return RecordVerdict(e, r, verdict, in.submitter, seconds);
}

absl::Status ComplianceHandler::OnCompletionRequested(const Event& e, const kafka::Record& r) {
  const auto& done = e.completion_requested();
  auto loaded = store_.LoadItem(e.subject());
  if (!loaded.ok()) {
    if (metrics_) metrics_->Failure("store");
    return Retryable("loading the item", loaded.status());
  }
  const bool known = loaded->has_value();
  docket::v1::WorkItem item = known ? **loaded : docket::v1::WorkItem();
  if (!known) {
    item.set_id(e.subject());
    item.set_tenant(e.tenant());
  }
  if (!done.kind().empty()) item.set_kind(done.kind());
  *item.mutable_completer() = done.completer();
  *item.mutable_outcome() = done.outcome();
  if (absl::Status s = store_.SaveItem(item, evaluator_.policies().ledger.item_ttl_seconds); !s.ok()) {
    if (metrics_) metrics_->Failure("store");
    return Retryable("saving the item", s);
  }
  if (!Checks(item.kind(), docket::v1::CHECKPOINT_COMPLETE)) return absl::OkStatus();

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
  return RecordVerdict(e, r, verdict, in.completer, seconds);
}

absl::Status ComplianceHandler::OnOverride(const Event& e, const kafka::Record& r) {
  AuditRecord draft;
  draft.set_chain(ChainOf(r));
  draft.set_item_id(e.subject());
  draft.set_tenant(e.tenant());
  *draft.mutable_recorded_at() = Now();
  draft.set_subject_event_id(e.id());
  if (e.has_released()) {
    const auto& rel = e.released();
    auto loaded = store_.LoadItem(e.subject());
    if (!loaded.ok()) {
      if (metrics_) metrics_->Failure("store");
      return Retryable("loading the item", loaded.status());
    }
    EvaluationInput in;
    in.item_id = e.subject();
    in.tenant = e.tenant();
    in.kind = rel.kind();
    in.releaser = rel.releaser().id();
    if (loaded->has_value()) {
      if (in.kind.empty()) in.kind = (*loaded)->kind();
      in.submitter = (*loaded)->requester().id();
      in.completer = (*loaded)->completer().id();
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
  bool appended = false;
  return Ledger(std::move(draft), "", e.traceparent(), &appended).status();
}

absl::Status ComplianceHandler::RecordVerdict(const Event& e, const kafka::Record& r,
                                              const docket::v1::Verdict& verdict,
                                              const std::string& actor, double seconds) {
  AuditRecord draft;
  draft.set_chain(ChainOf(r));
  draft.set_type(AuditRecord::TYPE_VERDICT);
  draft.set_item_id(verdict.item_id());
  draft.set_tenant(verdict.tenant());
  *draft.mutable_recorded_at() = verdict.evaluated_at();
  draft.set_subject_event_id(verdict.id());
  draft.set_actor_id(actor);
  draft.set_summary(VerdictSummary(verdict));
  bool appended = false;
  auto entry = Ledger(std::move(draft), verdict.SerializeAsString(), e.traceparent(), &appended);
  if (!entry.ok()) return entry.status();
  // Publish what the ledger holds: on a redelivery that is the verdict of the
  // first evaluation, even if the policy changed in between.
  docket::v1::Verdict recorded;
  if (!recorded.ParseFromString(entry->verdict)) {
    return absl::UnavailableError("the stored verdict does not parse");
  }
  if (metrics_ && appended) {
    // Counted once per recorded verdict, not per delivery attempt.
    metrics_->Evaluation(recorded.kind(), std::string(CheckpointName(recorded.checkpoint())),
                         std::string(OutcomeName(recorded.outcome())), seconds);
    for (const auto& v : recorded.violations()) metrics_->Violation(v.rule_id());
  }
  return PublishVerdict(recorded, e.traceparent());
}

absl::StatusOr<StoredEntry> ComplianceHandler::Ledger(AuditRecord draft, const std::string& verdict,
                                                      const std::string& traceparent, bool* appended) {
  const std::string& key = evaluator_.policies().ledger.hmac_key;
  std::optional<StoredEntry> entry;
  for (int attempt = 0; attempt < options_.max_append_attempts && !entry; ++attempt) {
    auto head = store_.Head(draft.chain());
    if (!head.ok()) {
      if (metrics_) metrics_->Failure("store");
      return Retryable("reading the chain head", head.status());
    }
    AuditRecord sealed = draft;
    Seal(*head, key, &sealed);
    auto result = store_.Append(sealed, verdict);
    if (!result.ok()) {
      if (metrics_) metrics_->Failure("store");
      return Retryable("appending to the ledger", result.status());
    }
    switch (result->status) {
      case AppendStatus::kAppended:
        *appended = true;
        if (metrics_) metrics_->Append(std::string(RecordTypeLabel(sealed.type())));
        entry = std::move(result->entry);
        break;
      case AppendStatus::kDuplicate:
        if (metrics_) metrics_->Duplicate();
        entry = std::move(result->entry);
        break;
      case AppendStatus::kConflict:
        break;  // another writer moved the head: re-read and re-seal
    }
  }
  if (!entry) {
    if (metrics_) metrics_->Failure("store");
    return absl::UnavailableError(absl::StrCat("chain ", draft.chain(), " head kept moving"));
  }
  if (absl::Status s = store_.Index(entry->record); !s.ok()) {
    if (metrics_) metrics_->Failure("store");
    return Retryable("indexing the audit record", s);
  }
  if (!entry->published) {
    Event out;
    out.set_id(AuditEventId(entry->record.subject_event_id()));
    out.set_source(options_.source);
    *out.mutable_time() = entry->record.recorded_at();
    out.set_subject(entry->record.item_id());
    out.set_tenant(entry->record.tenant());
    out.set_traceparent(traceparent);
    *out.mutable_audit_record() = entry->record;
    kafka::Record rec = kafka::EncodeEvent(topics_.audit(), out);
    // Keyed by chain, not item: one chain stays in one partition, in order.
    rec.key = entry->record.chain();
    if (absl::Status s = publisher_.Publish(std::move(rec)); !s.ok()) {
      if (metrics_) metrics_->Failure("audit_topic");
      return Retryable("publishing the audit record", s);
    }
    if (absl::Status s = store_.MarkPublished(entry->record.chain(), entry->record.subject_event_id());
        !s.ok()) {
      // Harmless to retry: the record would be published once more, and
      // verifiers skip an identical copy.
      if (metrics_) metrics_->Failure("store");
      return Retryable("marking the audit record published", s);
    }
    entry->published = true;
  }
  return *std::move(entry);
}

absl::Status ComplianceHandler::PublishVerdict(const docket::v1::Verdict& verdict,
                                               const std::string& traceparent) {
  Event out;
  out.set_id(verdict.id());
  out.set_source(options_.source);
  *out.mutable_time() = verdict.evaluated_at();
  out.set_subject(verdict.item_id());
  out.set_tenant(verdict.tenant());
  out.set_traceparent(traceparent);
  *out.mutable_verdict() = verdict;
  if (absl::Status s = publisher_.Publish(topics_.compliance(), out); !s.ok()) {
    if (metrics_) metrics_->Failure("verdict_topic");
    return Retryable("publishing the verdict", s);
  }
  return absl::OkStatus();
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
  const std::uint64_t first = std::max<std::uint64_t>(from, 1);
  for (const auto& c : chains) {
    ChainHead anchor;
    if (first > 1) {
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

}  // namespace docket::compliance
