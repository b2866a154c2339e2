#pragma once

// The gRPC adapter of docket.v1.Work: authenticates the caller's API key,
// turns it into a Worker (actor id, tenants, skills, supervisor role, WIP
// limit) and calls the Workflow. No workflow logic lives here.

#include "common/auth/api_keys.h"
#include "docket/v1/work_service.grpc.pb.h"
#include "services/processing/src/workflow.h"

namespace docket::processing {

// The Worker an API key acts as. PERMISSION_DENIED for a key without the
// worker, supervisor or operator role (operators may only read).
absl::StatusOr<Worker> WorkerFor(const auth::ApiKey& key);

class WorkService final : public docket::v1::Work::Service {
 public:
  WorkService(Workflow& workflow, const auth::ApiKeyAuthenticator& authenticator)
      : workflow_(workflow), authenticator_(authenticator) {}

  grpc::Status ClaimNext(grpc::ServerContext* ctx, const docket::v1::ClaimNextRequest* req,
                         docket::v1::ClaimNextResponse* resp) override;
  grpc::Status Complete(grpc::ServerContext* ctx, const docket::v1::CompleteRequest* req,
                        docket::v1::WorkItemResponse* resp) override;
  grpc::Status Return(grpc::ServerContext* ctx, const docket::v1::ReturnRequest* req,
                      docket::v1::WorkItemResponse* resp) override;
  grpc::Status Escalate(grpc::ServerContext* ctx, const docket::v1::EscalateRequest* req,
                        docket::v1::WorkItemResponse* resp) override;
  grpc::Status Release(grpc::ServerContext* ctx, const docket::v1::ReleaseRequest* req,
                       docket::v1::WorkItemResponse* resp) override;
  grpc::Status Reject(grpc::ServerContext* ctx, const docket::v1::RejectRequest* req,
                      docket::v1::WorkItemResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const docket::v1::GetRequest* req,
                   docket::v1::WorkItemResponse* resp) override;
  grpc::Status ListQueue(grpc::ServerContext* ctx, const docket::v1::ListQueueRequest* req,
                         docket::v1::ListQueueResponse* resp) override;
  grpc::Status Comment(grpc::ServerContext* ctx, const docket::v1::CommentRequest* req,
                       docket::v1::WorkItemResponse* resp) override;
  grpc::Status SubmitFeedback(grpc::ServerContext* ctx, const docket::v1::SubmitFeedbackRequest* req,
                              docket::v1::SubmitFeedbackResponse* resp) override;

 private:
  // What a call needs of the key: read (any Work role), write (worker or
  // supervisor), or note (Comment/SubmitFeedback: also a publisher, the
  // requester's side).
  enum class Access { kRead, kWrite, kNote };
  // The caller as a Worker.
  absl::StatusOr<Worker> Authenticate(const grpc::ServerContext& ctx, Access access) const;

  Workflow& workflow_;
  const auth::ApiKeyAuthenticator& authenticator_;
};

}  // namespace docket::processing
