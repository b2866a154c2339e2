#pragma once

// The compliance pipeline for work events, free of Kafka's consumer and of
// gRPC: evaluate at the checkpoints, write the audit ledger, and only then
// publish the verdict.
//
//   Submitted            remember the submission; verdict at "submit" if the catalog checks the kind there
//   CompletionRequested  verdict at "complete" (attributes + outcome + four-eyes) if the catalog checks it
//   Released / Rejected / Escalated   an audit record of the human override
//   Completed / AutoCompleted / Rejected   the item ended: its remembered submission is dropped
//
// Per event: (1) seal an AuditRecord on the chain of the event's partition
// and append it in the store with compare-and-set on the chain head; a
// subject (verdict id or override event id) already recorded is not appended
// again, and its stored verdict is used, so a redelivery re-sends exactly
// what was recorded; (2) index it by item; (3) publish it on docket.audit.v1
// unless the store says it was confirmed before; (4) publish the verdict on
// docket.compliance.v1. Any failure returns UNAVAILABLE so the consumer
// retries the event: backpressure, never a verdict without its record.
//
// A batch of events goes through these steps together, each step one round
// trip for the whole batch (items loaded, items saved, chain heads read,
// records appended, indexed, marked published) and one wait for Kafka's
// confirmations (audit records, then verdicts). The records of one chain are
// sealed one after the other from the head read once; if the head moved
// (another writer), the chain's remaining records are appended one at a
// time as for a single event. Once an event fails, the later events of its
// partition in the batch go no further and fail too (the consumer delivers
// them again anyway): a chain's effects keep their order.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/kafka/event_publisher.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/record.h"
#include "docket/v1/event.pb.h"
#include "services/compliance/src/compliance_metrics.h"
#include "services/compliance/src/evaluator.h"
#include "services/compliance/src/store.h"

namespace docket::catalog {
class Catalog;
}

namespace docket::compliance {

struct HandlerOptions {
  std::string source = "//docket/compliance";  // CloudEvents source of what we publish
  int max_append_attempts = 5;                 // compare-and-set retries on a moving head
  // How often (business time) a chain's records older than the policies'
  // ledger.audit_retention are trimmed from the store, and at most how many
  // at a time (TrimStoredChain).
  std::chrono::seconds trim_every{10};
  std::size_t trim_max = 10000;
};

class ComplianceHandler {
 public:
  // Everything must outlive the handler. `catalog` may be null (then every
  // kind is checked at both checkpoints); `metrics` may be null.
  ComplianceHandler(const catalog::Catalog* catalog, const Evaluator& evaluator,
                    ComplianceStore& store, kafka::EventPublisher& publisher,
                    const kafka::Topics& topics, const Clock& clock, ComplianceMetrics* metrics,
                    HandlerOptions options = {});

  // For the work-topic consumer. OK when done (or nothing to do);
  // INVALID_ARGUMENT for an event that can never be handled (no subject);
  // UNAVAILABLE when the store or Kafka failed (retry the same record).
  // Safe to call concurrently for records of different partitions.
  absl::Status Handle(const docket::v1::Event& event, const kafka::Record& record);
  // The same for a batch (Handle is a batch of one): records[i] is the
  // record events[i] came from; one status per event, in order, each meaning
  // what Handle's does. Events of one partition must be in offset order.
  std::vector<absl::Status> HandleBatch(const std::vector<const docket::v1::Event*>& events,
                                        const std::vector<const kafka::Record*>& records);
  // The payloads Handle acts on: the consumer skips the rest undecoded.
  static const std::vector<docket::v1::Event::PayloadCase>& HandledPayloads();

  // Dry run for Evaluate: records nothing, publishes nothing.
  // INVALID_ARGUMENT for an unknown kind or a missing tenant.
  absl::StatusOr<docket::v1::Verdict> DryRun(const docket::v1::WorkSubmission& submission,
                                             docket::v1::Checkpoint checkpoint) const;

  // The chain of a consumed record: "<topic>/<partition>".
  static std::string ChainOf(const kafka::Record& record);
  // Deterministic id of the docket.audit.v1 event for a record's subject.
  static std::string AuditEventId(const std::string& subject_event_id);
  // "verdict checkpoint=complete outcome=flag policy=<version> rules=a,b"
  static std::string VerdictSummary(const docket::v1::Verdict& verdict);

 private:
  struct Job;
  class Batch;
  bool Checks(const std::string& kind, docket::v1::Checkpoint checkpoint) const;
  // Whether items of `kind` need their submission kept until they end: only
  // a kind checked at completion is evaluated again (CompletionRequested)
  // or held and released (segregation of duties needs the submitter). An
  // unknown kind or no catalog keeps it. Other kinds' items are neither
  // written nor deleted: for an automated item that was a SET and a DEL.
  // Should a kind gain the completion check while its items are in flight,
  // their CompletionRequested finds no submission and is flagged
  // (submission-unknown), never passed unchecked.
  bool KeepsCopy(const std::string& kind) const;
  // The steps of HandleBatch, in order; each acts on the jobs still going,
  // with one store call (or one wait for Kafka) for all of them.
  void LoadAndEvaluate(Batch& batch);
  void WriteItems(Batch& batch);
  void Append(Batch& batch);
  void Index(Batch& batch);
  void PublishAuditRecords(Batch& batch);
  void PublishVerdicts(Batch& batch);
  // Trims the batch's chains of records past the retention, each at most
  // once per trim_every; a failure is logged and left for the next time.
  void TrimOldRecords(const Batch& batch);
  // What each event means, from the batch's view of its item (`known`: the
  // item as stored or as an earlier event of the batch left it).
  void OnSubmitted(Job& job);
  // `known`: the item as the store or an earlier event of the batch left it
  // (nullptr: compliance has no record of it).
  void OnCompletionRequested(Job& job, const docket::v1::WorkItem* known);
  void OnOverride(Job& job, const docket::v1::WorkItem* known);
  void DraftVerdict(Job& job, docket::v1::Verdict verdict, const std::string& actor, double seconds);
  // A conflicting append, one record at a time, re-reading the head.
  void AppendCarefully(Batch& batch, Job& job);
  void Recorded(Job& job, AppendResult result);
  google::protobuf::Timestamp Now() const;

  const catalog::Catalog* catalog_;
  const Evaluator& evaluator_;
  ComplianceStore& store_;
  kafka::EventPublisher& publisher_;
  const kafka::Topics topics_;
  const Clock& clock_;
  ComplianceMetrics* metrics_;
  HandlerOptions options_;
  std::mutex trim_mu_;
  std::map<std::string, std::chrono::system_clock::time_point> last_trim_;  // by chain; guarded by trim_mu_
};

// Verifies the chains the store holds: `chain` ("" = every chain), from
// `from` (0 or 1 = the start; records trimmed from the store are skipped:
// the chain's anchor, checked with `hmac_key` when set, stands for them) to
// `to` (0 = the head; then a missing tail is caught by comparing with the
// head). Pages through the store. Errors only when the store cannot be read.
absl::StatusOr<VerifyResult> VerifyStoredChains(ComplianceStore& store, const std::string& chain,
                                                std::uint64_t from, std::uint64_t to,
                                                const std::string& hmac_key);

// Trims `chain`'s records recorded before `cutoff` from the store, at most
// `max` of them and never the head's, leaving an anchor (ChainAnchor, with
// its mac under `hmac_key`) where the retained records start. Returns how
// many it dropped. docket.audit.v1 keeps every record.
absl::StatusOr<std::uint64_t> TrimStoredChain(ComplianceStore& store, const std::string& chain,
                                              const google::protobuf::Timestamp& cutoff, std::size_t max,
                                              const std::string& hmac_key);

}  // namespace docket::compliance
