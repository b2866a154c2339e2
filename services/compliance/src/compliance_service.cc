#include "services/compliance/src/compliance_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"
#include "common/status/macros.h"

namespace docket::compliance {
namespace {

absl::Status NeedAuditor(const grpcutil::Principal& caller, std::string_view what) {
  if (caller.HasRole(auth::kRoleSupervisor) || caller.HasRole(auth::kRoleOperator)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat("API key ", caller.id, " may not ", std::string(what),
                                                  " (role supervisor or operator required)"));
}

// Calls `api` as the authenticated caller and copies the answer.
template <typename Response, typename Call>
grpc::Status Serve(const grpcutil::Authenticator& authenticator, grpc::ServerContext* context,
                   Response* response, Call call) {
  auto caller = authenticator.Authenticate(*context);
  if (!caller.ok()) return grpcutil::ToGrpcStatus(caller.status());
  auto result = call(*caller);
  if (!result.ok()) return grpcutil::ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

ComplianceApi::ComplianceApi(const ComplianceHandler& handler, ComplianceStore& store,
                             std::string hmac_key,
                             std::function<const auth::ApiKey*(const grpcutil::Principal&)> key_of,
                             AuditTopicReader read_audit_topic, ComplianceMetrics* metrics)
    : handler_(handler),
      store_(store),
      hmac_key_(std::move(hmac_key)),
      key_of_(std::move(key_of)),
      read_audit_topic_(std::move(read_audit_topic)),
      metrics_(metrics) {}

absl::StatusOr<docket::v1::EvaluateResponse> ComplianceApi::Evaluate(
    const grpcutil::Principal& caller, const docket::v1::EvaluateRequest& request) const {
  const auto& sub = request.submission();
  if (sub.tenant().empty()) return absl::InvalidArgumentError("submission.tenant is required");
  if (!caller.MayActFor(sub.tenant())) {
    return absl::PermissionDeniedError(
        absl::StrCat("API key ", caller.id, " may not act for tenant ", sub.tenant()));
  }
  if (const auth::ApiKey* key = key_of_ ? key_of_(caller) : nullptr;
      key && key->HasRole(auth::kRolePublisher) && key->roles.size() == 1 && !key->kinds.empty() &&
      std::find(key->kinds.begin(), key->kinds.end(), "*") == key->kinds.end() &&
      std::find(key->kinds.begin(), key->kinds.end(), sub.kind()) == key->kinds.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("API key ", caller.id, " may not submit kind ", sub.kind()));
  }
  auto verdict = handler_.DryRun(sub, request.checkpoint());
  if (!verdict.ok()) return verdict.status();
  docket::v1::EvaluateResponse response;
  *response.mutable_verdict() = *std::move(verdict);
  return response;
}

absl::StatusOr<docket::v1::GetAuditTrailResponse> ComplianceApi::GetAuditTrail(
    const grpcutil::Principal& caller, const docket::v1::GetAuditTrailRequest& request) const {
  if (absl::Status s = NeedAuditor(caller, "read audit trails"); !s.ok()) return s;
  if (request.item_id().empty()) return absl::InvalidArgumentError("item_id is required");
  auto trail = store_.Trail(request.item_id());
  if (!trail.ok()) return absl::UnavailableError(absl::StrCat("audit index: ", trail.status().message()));
  // An item of another tenant looks exactly like one that does not exist.
  const bool visible = !trail->empty() && std::all_of(trail->begin(), trail->end(), [&](const auto& r) {
    return caller.MayActFor(r.tenant());
  });
  if (!visible) return absl::NotFoundError(absl::StrCat("no audit trail for item ", request.item_id()));
  docket::v1::GetAuditTrailResponse response;
  for (auto& r : *trail) *response.add_records() = std::move(r);
  return response;
}

absl::StatusOr<docket::v1::VerifyAuditResponse> ComplianceApi::VerifyAudit(
    const grpcutil::Principal& caller, const docket::v1::VerifyAuditRequest& request) const {
  if (absl::Status s = NeedAuditor(caller, "verify the audit ledger"); !s.ok()) return s;
  if (request.to_sequence() != 0 && request.to_sequence() < request.from_sequence()) {
    return absl::InvalidArgumentError("to_sequence must not be below from_sequence");
  }
  const bool topic = request.source() == docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC;
  if (topic && (request.from_sequence() != 0 || request.to_sequence() != 0)) {
    return absl::InvalidArgumentError(
        "from_sequence and to_sequence apply to the ledger in Redis; the audit topic is verified whole");
  }
  absl::StatusOr<VerifyResult> result = Verify(request);
  if (!result.ok()) return result.status();
  docket::v1::VerifyAuditResponse response;
  response.set_ok(result->ok);
  response.set_records_checked(result->records_checked);
  response.set_first_bad_chain(result->first_bad_chain);
  response.set_first_bad_sequence(result->first_bad_sequence);
  response.set_problem(result->problem);
  return response;
}

const char* SourceLabel(docket::v1::VerifyAuditRequest::Source source) {
  return source == docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC ? "audit_topic" : "ledger";
}

absl::StatusOr<VerifyResult> ComplianceApi::Verify(const docket::v1::VerifyAuditRequest& request) const {
  const bool topic = request.source() == docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC;
  absl::StatusOr<VerifyResult> result;
  if (topic) {
    result = VerifyAuditTopic(request.chain());
  } else {
    result = VerifyStoredChains(store_, request.chain(), request.from_sequence(), request.to_sequence(), hmac_key_);
    if (!result.ok()) result = absl::UnavailableError(absl::StrCat("audit ledger: ", result.status().message()));
  }
  // Not an outcome: another verification runs, or the service stops.
  const bool outcome = result.ok() || (result.status().code() != absl::StatusCode::kResourceExhausted &&
                                       result.status().code() != absl::StatusCode::kCancelled);
  if (metrics_ && outcome) {
    const bool whole = request.chain().empty() && request.from_sequence() == 0 && request.to_sequence() == 0;
    metrics_->Verification(SourceLabel(request.source()),
                           !result.ok() ? "error" : result->ok ? "verified" : "broken", whole);
  }
  return result;
}

absl::StatusOr<VerifyResult> ComplianceApi::VerifyAuditTopic(const std::string& chain) const {
  if (!read_audit_topic_) return absl::UnimplementedError("this service cannot read the audit topic");
  // A whole-topic read is heavy: one at a time per replica.
  if (topic_verifying_.exchange(true)) {
    return absl::ResourceExhaustedError(
        "a verification of the audit topic is already running on this replica; retry when it is done");
  }
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag.store(false); }
  } done{topic_verifying_};
  // Taken before the read: whatever was confirmed by then is on the topic.
  auto confirmed = NewestConfirmed(chain);
  if (!confirmed.ok()) return absl::UnavailableError(absl::StrCat("audit ledger: ", confirmed.status().message()));
  TopicVerifier verifier(hmac_key_, chain);
  docket::v1::Event event;
  absl::Status read = read_audit_topic_([&](const kafka::Record& record) {
    if (cancelled_.load()) return absl::CancelledError("the service is stopping");
    // Anything but an audit record on the topic is a finding, not a skip.
    const auto where = [&] { return absl::StrCat(record.topic, "[", record.partition, "] offset ", record.offset); };
    if (absl::Status s = kafka::DecodeEventInto(record, event); !s.ok()) {
      return absl::DataLossError(absl::StrCat(where(), " is not a Docket event: ", s.message()));
    }
    if (!event.has_audit_record()) {
      return absl::DataLossError(absl::StrCat(where(), " is a ", event.type(), " event, not an audit record"));
    }
    verifier.Add(event.audit_record());
    return absl::OkStatus();
  });
  if (read.code() == absl::StatusCode::kDataLoss) {
    VerifyResult bad;
    bad.ok = false;
    bad.problem = std::string(read.message());
    return bad;
  }
  if (read.code() == absl::StatusCode::kNotFound) return MissingAuditTopic(chain, read);
  if (!read.ok()) return absl::Status(read.code(), absl::StrCat("audit topic: ", read.message()));
  VerifyResult result = verifier.Finish();
  for (const auto& [c, sequence] : *confirmed) {
    if (!result.ok) break;
    const std::uint64_t linked = verifier.Linked(c);
    if (sequence <= linked) continue;
    result.ok = false;
    result.first_bad_chain = c;
    result.first_bad_sequence = linked + 1;
    result.problem = absl::StrCat("sequence ", sequence, " was confirmed on the audit topic, but the topic holds ",
                                  linked == 0 ? std::string("no record of the chain")
                                              : absl::StrCat("the chain only up to sequence ", linked),
                                  ": its newest records were lost");
  }
  return result;
}

absl::StatusOr<std::map<std::string, std::uint64_t>> ComplianceApi::NewestConfirmed(const std::string& only) const {
  std::vector<std::string> chains = {only};
  if (only.empty()) {
    DOCKET_ASSIGN_OR_RETURN(chains, store_.Chains());
  }
  const auto heads = store_.Heads(chains);
  std::map<std::string, std::uint64_t> out;
  for (std::size_t i = 0; i < chains.size(); ++i) {
    if (!heads[i].ok()) return heads[i].status();
    const std::uint64_t head = heads[i]->sequence;
    if (head == 0) continue;
    const std::uint64_t from = head > kConfirmedWindow ? head - kConfirmedWindow + 1 : 1;
    DOCKET_ASSIGN_OR_RETURN(auto records, store_.Range(chains[i], from, head, kConfirmedWindow));
    std::vector<const docket::v1::AuditRecord*> newest_first;
    for (auto it = records.rbegin(); it != records.rend(); ++it) newest_first.push_back(&*it);
    const auto published = store_.Published(newest_first);
    for (std::size_t j = 0; j < newest_first.size(); ++j) {
      if (!published[j].ok()) return published[j].status();
      if (*published[j]) {
        out[chains[i]] = newest_first[j]->sequence();
        break;
      }
    }
  }
  return out;
}

absl::StatusOr<VerifyResult> ComplianceApi::MissingAuditTopic(const std::string& chain,
                                                              const absl::Status& read) const {
  auto chains = store_.Chains();
  if (!chains.ok()) return absl::UnavailableError(absl::StrCat("audit ledger: ", chains.status().message()));
  const auto recorded = [&](const std::string& c) {
    return std::find(chains->begin(), chains->end(), c) != chains->end();
  };
  if (chain.empty() ? chains->empty() : !recorded(chain)) {
    // Nothing was ever audited (here, or in this chain): nothing is missing.
    return TopicVerifier(hmac_key_, chain).Finish();
  }
  // Every recorded chain was published there: a deleted topic loses them.
  VerifyResult broken;
  broken.ok = false;
  broken.first_bad_chain = chain.empty() ? chains->front() : chain;
  broken.problem = absl::StrCat("the audit topic is gone (", read.message(), ") but the ledger holds ",
                                chain.empty() ? absl::StrCat(chains->size(), " chain(s)") : "this chain",
                                ": it was deleted, or this service reads another topic than it published to");
  return broken;
}

grpc::Status ComplianceService::Evaluate(grpc::ServerContext* context,
                                         const docket::v1::EvaluateRequest* request,
                                         docket::v1::EvaluateResponse* response) {
  return Serve(authenticator_, context, response,
               [&](const grpcutil::Principal& p) { return api_.Evaluate(p, *request); });
}

grpc::Status ComplianceService::GetAuditTrail(grpc::ServerContext* context,
                                              const docket::v1::GetAuditTrailRequest* request,
                                              docket::v1::GetAuditTrailResponse* response) {
  return Serve(authenticator_, context, response,
               [&](const grpcutil::Principal& p) { return api_.GetAuditTrail(p, *request); });
}

grpc::Status ComplianceService::VerifyAudit(grpc::ServerContext* context,
                                            const docket::v1::VerifyAuditRequest* request,
                                            docket::v1::VerifyAuditResponse* response) {
  return Serve(authenticator_, context, response,
               [&](const grpcutil::Principal& p) { return api_.VerifyAudit(p, *request); });
}

}  // namespace docket::compliance
