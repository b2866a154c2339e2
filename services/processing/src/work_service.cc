#include "services/processing/src/work_service.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"

namespace docket::processing {
namespace {

// Runs `call` for an authenticated caller and stores its item in `resp`.
template <typename Call>
grpc::Status ItemCall(absl::StatusOr<Worker> worker, docket::v1::WorkItemResponse* resp, Call call) {
  if (!worker.ok()) return grpcutil::ToGrpcStatus(worker.status());
  absl::StatusOr<docket::v1::WorkItem> item = call(*worker);
  if (!item.ok()) return grpcutil::ToGrpcStatus(item.status());
  *resp->mutable_item() = *std::move(item);
  return grpc::Status::OK;
}

// Why the claim after a completion failed, in a response's next_code and
// next_message (never in the call's status: the completion stands).
template <typename Response>
void SetNextRefused(const absl::Status& status, Response* resp) {
  const grpc::Status refused = grpcutil::ToGrpcStatus(status);
  resp->set_next_code(refused.error_code());
  resp->set_next_message(refused.error_message());
}

// A CompleteBatch request's shape (each completion is then decided on its own).
absl::Status CheckCompleteBatch(const docket::v1::CompleteBatchRequest& req) {
  if (req.completions().empty()) return absl::InvalidArgumentError("completions: at least one is required");
  if (req.completions_size() > kMaxClaimBatch) {
    return absl::InvalidArgumentError(absl::StrCat("completions: ", req.completions_size(),
                                                   " given, at most ", kMaxClaimBatch, " allowed"));
  }
  absl::flat_hash_set<std::string_view> seen;
  for (int i = 0; i < req.completions_size(); ++i) {
    const docket::v1::CompleteRequest& c = req.completions(i);
    if (c.item_id().empty()) return absl::InvalidArgumentError(absl::StrCat("completions[", i, "].item_id: is required"));
    if (c.has_claim_next()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "completions[", i, "].claim_next: not allowed in a batch (use the batch's own claim_next)"));
    }
    if (!seen.insert(c.item_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("completions[", i, "].item_id: ", c.item_id().substr(0, 64), " appears twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Worker> WorkerFor(const auth::ApiKey& key) {
  const bool worker = key.HasRole(auth::kRoleWorker);
  const bool supervisor = key.HasRole(auth::kRoleSupervisor);
  const bool operator_ = key.HasRole(auth::kRoleOperator);
  if (!worker && !supervisor && !operator_) {
    return absl::PermissionDeniedError(
        absl::StrCat("API key ", key.id, " may not use the Work API (role worker, supervisor or operator required)"));
  }
  Worker w;
  w.id = key.worker.empty() ? key.id : key.worker;
  w.tenants = key.tenants;
  w.skills = key.skills;
  w.supervisor = supervisor;
  w.bot = key.bot;
  w.wip_limit = key.wip_limit;
  return w;
}

absl::StatusOr<Worker> WorkService::Authenticate(const grpc::ServerContextBase& ctx,
                                                  Access access) const {
  auto principal = authenticator_.Authenticate(ctx);
  if (!principal.ok()) return principal.status();
  const auth::ApiKey* key = authenticator_.KeyFor(*principal);
  if (!key) return absl::UnauthenticatedError("unknown API key");
  const bool staff = key->HasRole(auth::kRoleWorker) || key->HasRole(auth::kRoleSupervisor);
  if (access == Access::kNote && !staff && key->HasRole(auth::kRolePublisher)) {
    Worker w;
    w.id = key->id;
    w.tenants = key->tenants;
    w.publisher = true;
    w.kinds = key->kinds;
    return w;
  }
  if (access != Access::kRead && !staff) {
    return absl::PermissionDeniedError(absl::StrCat(
        "API key ", key->id, access == Access::kNote
                                 ? " may not comment or give feedback (role worker, supervisor or publisher required)"
                                 : " may only read (role worker or supervisor required)"));
  }
  return WorkerFor(*key);
}

grpc::ServerUnaryReactor* WorkService::ClaimNext(grpc::CallbackServerContext* ctx,
                                                 const docket::v1::ClaimNextRequest* req,
                                                 docket::v1::ClaimNextResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    auto worker = Authenticate(*ctx, Access::kWrite);
    if (!worker.ok()) return grpcutil::ToGrpcStatus(worker.status());
    auto items = workflow_.ClaimItems(*worker, *req);
    if (!items.ok()) return grpcutil::ToGrpcStatus(items.status());
    if (!items->empty()) *resp->mutable_item() = items->front();
    if (req->max_items() > 1) {
      for (auto& item : *items) *resp->add_items() = std::move(item);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkService::Complete(grpc::CallbackServerContext* ctx,
                                                const docket::v1::CompleteRequest* req,
                                                docket::v1::WorkItemResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    auto worker = Authenticate(*ctx, Access::kWrite);
    if (!req->has_claim_next()) {
      return ItemCall(worker, resp, [&](const Worker& w) { return workflow_.Complete(w, *req); });
    }
    if (!worker.ok()) return grpcutil::ToGrpcStatus(worker.status());
    // Complete and next: the claim's outcome goes into the response, never
    // into the call's status (the completion stands either way).
    Workflow::Completed out = workflow_.CompleteBatch(*worker, {req}, &req->claim_next());
    if (!out.completed[0].ok()) return grpcutil::ToGrpcStatus(out.completed[0].status());
    *resp->mutable_item() = *std::move(out.completed[0]);
    if (out.next && !out.next->ok()) {
      SetNextRefused(out.next->status(), resp);
    } else if (out.next && !(*out.next)->empty()) {
      *resp->mutable_next() = std::move((*out.next)->front());
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkService::CompleteBatch(grpc::CallbackServerContext* ctx,
                                                     const docket::v1::CompleteBatchRequest* req,
                                                     docket::v1::CompleteBatchResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    auto worker = Authenticate(*ctx, Access::kWrite);
    if (!worker.ok()) return grpcutil::ToGrpcStatus(worker.status());
    if (absl::Status bad = CheckCompleteBatch(*req); !bad.ok()) return grpcutil::ToGrpcStatus(bad);
    std::vector<const docket::v1::CompleteRequest*> completions;
    completions.reserve(req->completions_size());
    for (const auto& c : req->completions()) completions.push_back(&c);
    Workflow::Completed out =
        workflow_.CompleteBatch(*worker, completions, req->has_claim_next() ? &req->claim_next() : nullptr);
    for (auto& done : out.completed) {
      docket::v1::CompleteResult* r = resp->add_results();
      if (done.ok()) {
        *r->mutable_item() = *std::move(done);
      } else {
        const grpc::Status failed = grpcutil::ToGrpcStatus(done.status());
        r->set_code(failed.error_code());
        r->set_message(failed.error_message());
      }
    }
    if (out.next && !out.next->ok()) {
      SetNextRefused(out.next->status(), resp);
    } else if (out.next) {
      for (auto& item : **out.next) *resp->add_next() = std::move(item);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkService::Return(grpc::CallbackServerContext* ctx,
                                              const docket::v1::ReturnRequest* req,
                                              docket::v1::WorkItemResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    return ItemCall(Authenticate(*ctx, Access::kWrite), resp, [&](const Worker& w) {
      return workflow_.Return(w, req->item_id(), req->reason());
    });
  });
}

grpc::ServerUnaryReactor* WorkService::Escalate(grpc::CallbackServerContext* ctx,
                                                const docket::v1::EscalateRequest* req,
                                                docket::v1::WorkItemResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    return ItemCall(Authenticate(*ctx, Access::kWrite), resp, [&](const Worker& w) {
      return workflow_.Escalate(w, req->item_id(), req->reason());
    });
  });
}

grpc::ServerUnaryReactor* WorkService::Release(grpc::CallbackServerContext* ctx,
                                               const docket::v1::ReleaseRequest* req,
                                               docket::v1::WorkItemResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    return ItemCall(Authenticate(*ctx, Access::kWrite), resp, [&](const Worker& w) {
      return workflow_.Release(w, req->item_id(), req->comment());
    });
  });
}

grpc::ServerUnaryReactor* WorkService::Reject(grpc::CallbackServerContext* ctx,
                                              const docket::v1::RejectRequest* req,
                                              docket::v1::WorkItemResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    return ItemCall(Authenticate(*ctx, Access::kWrite), resp, [&](const Worker& w) {
      return workflow_.Reject(w, req->item_id(), req->reason());
    });
  });
}

grpc::ServerUnaryReactor* WorkService::Get(grpc::CallbackServerContext* ctx,
                                           const docket::v1::GetRequest* req,
                                           docket::v1::WorkItemResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    return ItemCall(Authenticate(*ctx, Access::kRead), resp,
                    [&](const Worker& w) { return workflow_.Get(w, req->item_id()); });
  });
}

grpc::ServerUnaryReactor* WorkService::ListQueue(grpc::CallbackServerContext* ctx,
                                                 const docket::v1::ListQueueRequest* req,
                                                 docket::v1::ListQueueResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    auto worker = Authenticate(*ctx, Access::kRead);
    if (!worker.ok()) return grpcutil::ToGrpcStatus(worker.status());
    auto page = workflow_.ListQueue(*worker, *req);
    if (!page.ok()) return grpcutil::ToGrpcStatus(page.status());
    *resp = *std::move(page);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkService::Comment(grpc::CallbackServerContext* ctx,
                                               const docket::v1::CommentRequest* req,
                                               docket::v1::WorkItemResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    return ItemCall(Authenticate(*ctx, Access::kNote), resp, [&](const Worker& w) {
      return workflow_.Comment(w, req->item_id(), req->text());
    });
  });
}

grpc::ServerUnaryReactor* WorkService::SubmitFeedback(grpc::CallbackServerContext* ctx,
                                                      const docket::v1::SubmitFeedbackRequest* req,
                                                      docket::v1::SubmitFeedbackResponse* resp) {
  return pool_.Run(ctx, [=, this] {
    auto worker = Authenticate(*ctx, Access::kNote);
    if (!worker.ok()) return grpcutil::ToGrpcStatus(worker.status());
    auto id = workflow_.SubmitFeedback(*worker, *req);
    if (!id.ok()) return grpcutil::ToGrpcStatus(id.status());
    resp->set_event_id(*std::move(id));
    return grpc::Status::OK;
  });
}

}  // namespace docket::processing
