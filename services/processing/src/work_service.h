#pragma once

// The gRPC adapter of docket.v1.Work: authenticates the caller's API key,
// turns it into a Worker (actor id, tenants, skills, supervisor role, WIP
// limit) and calls the Workflow. No workflow logic lives here.
//
// A callback service: each call's body (authentication and the blocking
// Workflow call) runs on a HandlerPool thread, which finishes the call. The
// sync API created about one OS thread per call under load.

#include "common/auth/api_keys.h"
#include "common/grpc/handler_pool.h"
#include "docket/v1/work_service.grpc.pb.h"
#include "services/processing/src/workflow.h"

namespace docket::processing {

// The Worker an API key acts as. PERMISSION_DENIED for a key without the
// worker, supervisor or operator role (operators may only read).
absl::StatusOr<Worker> WorkerFor(const auth::ApiKey& key);

class WorkService final : public docket::v1::Work::CallbackService {
 public:
  // `pool` runs the calls; all three must outlive the server's shutdown.
  WorkService(Workflow& workflow, const auth::ApiKeyAuthenticator& authenticator,
              grpcutil::HandlerPool& pool)
      : workflow_(workflow), authenticator_(authenticator), pool_(pool) {}

  grpc::ServerUnaryReactor* ClaimNext(grpc::CallbackServerContext* ctx,
      const docket::v1::ClaimNextRequest* req, docket::v1::ClaimNextResponse* resp) override;
  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* ctx,
      const docket::v1::CompleteRequest* req, docket::v1::WorkItemResponse* resp) override;
  grpc::ServerUnaryReactor* CompleteBatch(grpc::CallbackServerContext* ctx,
      const docket::v1::CompleteBatchRequest* req, docket::v1::CompleteBatchResponse* resp) override;
  grpc::ServerUnaryReactor* Return(grpc::CallbackServerContext* ctx,
      const docket::v1::ReturnRequest* req, docket::v1::WorkItemResponse* resp) override;
  grpc::ServerUnaryReactor* Escalate(grpc::CallbackServerContext* ctx,
      const docket::v1::EscalateRequest* req, docket::v1::WorkItemResponse* resp) override;
  grpc::ServerUnaryReactor* Release(grpc::CallbackServerContext* ctx,
      const docket::v1::ReleaseRequest* req, docket::v1::WorkItemResponse* resp) override;
  grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* ctx,
      const docket::v1::RejectRequest* req, docket::v1::WorkItemResponse* resp) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
      const docket::v1::GetRequest* req, docket::v1::WorkItemResponse* resp) override;
  grpc::ServerUnaryReactor* ListQueue(grpc::CallbackServerContext* ctx,
      const docket::v1::ListQueueRequest* req, docket::v1::ListQueueResponse* resp) override;
  grpc::ServerUnaryReactor* Comment(grpc::CallbackServerContext* ctx,
      const docket::v1::CommentRequest* req, docket::v1::WorkItemResponse* resp) override;
  grpc::ServerUnaryReactor* SubmitFeedback(grpc::CallbackServerContext* ctx,
      const docket::v1::SubmitFeedbackRequest* req, docket::v1::SubmitFeedbackResponse* resp) override;

 private:
  // What a call needs of the key: read (any Work role), write (worker or
  // supervisor), or note (Comment/SubmitFeedback: also a publisher, the
  // requester's side).
  enum class Access { kRead, kWrite, kNote };
  // The caller as a Worker.
  absl::StatusOr<Worker> Authenticate(const grpc::ServerContextBase& ctx, Access access) const;

  Workflow& workflow_;
  const auth::ApiKeyAuthenticator& authenticator_;
  grpcutil::HandlerPool& pool_;
};

}  // namespace docket::processing
