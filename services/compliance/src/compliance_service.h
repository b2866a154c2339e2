#pragma once

// docket.v1.Compliance: the logic (ComplianceApi, which takes an
// authenticated Principal and knows nothing of gRPC) and the gRPC adapter
// (ComplianceService: authenticate, call, map the status).
//
// Who may call what (roles of common/auth/api_keys.h):
//   Evaluate       any key that may act for the submission's tenant; a
//                  publisher key limited to some kinds only for those kinds
//   GetAuditTrail  supervisor or operator, for an item of one of its tenants
//                  (another tenant's item answers NOT_FOUND, as a missing one)
//   VerifyAudit    supervisor or operator (the answer holds no record content)

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/api_keys.h"
#include "common/grpc/server_runner.h"
#include "common/kafka/record.h"
#include "docket/v1/compliance_service.grpc.pb.h"
#include "services/compliance/src/compliance_metrics.h"
#include "services/compliance/src/handler.h"
#include "services/compliance/src/store.h"

namespace docket::compliance {

// The metric and log name of a verification source: "ledger" or "audit_topic".
const char* SourceLabel(docket::v1::VerifyAuditRequest::Source source);

class ComplianceApi {
 public:
  // Everything must outlive the API. `key_of` maps a principal to its API
  // key (for publisher kinds); may return nullptr.
  // Reads docket.audit.v1 from its beginning to its end, record by record
  // (kafka::ReadTopic in the service).
  using AuditTopicReader = std::function<absl::Status(const std::function<absl::Status(const kafka::Record&)>&)>;

  // `metrics` (may be null) counts every verification's outcome.
  ComplianceApi(const ComplianceHandler& handler, ComplianceStore& store, std::string hmac_key,
                std::function<const auth::ApiKey*(const grpcutil::Principal&)> key_of,
                AuditTopicReader read_audit_topic, ComplianceMetrics* metrics = nullptr);

  absl::StatusOr<docket::v1::EvaluateResponse> Evaluate(const grpcutil::Principal& caller,
                                                        const docket::v1::EvaluateRequest& request) const;
  absl::StatusOr<docket::v1::GetAuditTrailResponse> GetAuditTrail(
      const grpcutil::Principal& caller, const docket::v1::GetAuditTrailRequest& request) const;
  absl::StatusOr<docket::v1::VerifyAuditResponse> VerifyAudit(
      const grpcutil::Principal& caller, const docket::v1::VerifyAuditRequest& request) const;

  // What VerifyAudit does once the caller may (and what AuditSchedule runs):
  // verifies the request's source and records the outcome in the metrics.
  // UNAVAILABLE when the ledger or the topic cannot be read,
  // RESOURCE_EXHAUSTED while another topic verification runs here,
  // CANCELLED after CancelVerifications.
  absl::StatusOr<VerifyResult> Verify(const docket::v1::VerifyAuditRequest& request) const;
  // Makes a running (and every later) topic verification stop early, so
  // shutdown does not wait for a whole-topic read.
  void CancelVerifications() { cancelled_.store(true); }

 private:
  const ComplianceHandler& handler_;
  ComplianceStore& store_;
  std::string hmac_key_;
  std::function<const auth::ApiKey*(const grpcutil::Principal&)> key_of_;
  AuditTopicReader read_audit_topic_;
  ComplianceMetrics* metrics_;
  mutable std::atomic<bool> topic_verifying_{false};
  std::atomic<bool> cancelled_{false};

  // TopicVerifier over everything read_audit_topic_ reads; then each chain
  // must reach at least its NewestConfirmed sequence.
  absl::StatusOr<VerifyResult> VerifyAuditTopic(const std::string& chain) const;
  // For each chain of the ledger (or `only`): the newest sequence among its
  // newest kConfirmedWindow records whose subject is marked published, i.e.
  // which the topic confirmed (chains without one are left out). A topic
  // that lost its newest records (an unclean leader election, a topic
  // recreated) lacks it; the scan of the chain alone cannot tell.
  static constexpr std::uint64_t kConfirmedWindow = 256;
  absl::StatusOr<std::map<std::string, std::uint64_t>> NewestConfirmed(const std::string& only) const;
  // The audit topic does not exist (`read` says so): verified when the ledger
  // never recorded anything (in `chain`), else broken.
  absl::StatusOr<VerifyResult> MissingAuditTopic(const std::string& chain, const absl::Status& read) const;
};

class ComplianceService final : public docket::v1::Compliance::Service {
 public:
  ComplianceService(const ComplianceApi& api, const grpcutil::Authenticator& authenticator)
      : api_(api), authenticator_(authenticator) {}

  grpc::Status Evaluate(grpc::ServerContext* context, const docket::v1::EvaluateRequest* request,
                        docket::v1::EvaluateResponse* response) override;
  grpc::Status GetAuditTrail(grpc::ServerContext* context,
                             const docket::v1::GetAuditTrailRequest* request,
                             docket::v1::GetAuditTrailResponse* response) override;
  grpc::Status VerifyAudit(grpc::ServerContext* context, const docket::v1::VerifyAuditRequest* request,
                           docket::v1::VerifyAuditResponse* response) override;

 private:
  const ComplianceApi& api_;
  const grpcutil::Authenticator& authenticator_;
};

}  // namespace docket::compliance
