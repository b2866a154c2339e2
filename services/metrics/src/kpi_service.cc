#include "services/metrics/src/kpi_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"
#include "google/protobuf/util/time_util.h"

namespace docket::kpi {

absl::StatusOr<Query> KpiService::Authorize(const grpc::ServerContext& ctx, const std::string& tenant,
                                            const google::protobuf::Duration& window) const {
  auto principal = authenticator_.Authenticate(ctx);
  if (!principal.ok()) return principal.status();
  if (tenant.empty() ? !principal->MayActFor("*") || principal->tenants != std::vector<std::string>{"*"}
                     : !principal->MayActFor(tenant)) {
    return absl::PermissionDeniedError(
        tenant.empty() ? absl::StrCat("key ", principal->id, " must name one of its tenants")
                       : absl::StrCat("key ", principal->id, " may not read tenant \"", tenant.substr(0, 64), "\""));
  }
  Query q;
  q.tenant = tenant;
  q.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch()).count();
  const std::int64_t window_ms = google::protobuf::util::TimeUtil::DurationToMilliseconds(window);
  if (window_ms < 0) return absl::InvalidArgumentError("window: must not be negative");
  if (window_ms > 0) q.from_ms = q.now_ms - window_ms;
  return q;
}

grpc::Status KpiService::GetSnapshot(grpc::ServerContext* ctx, const docket::v1::GetSnapshotRequest* req,
                                     docket::v1::KpiSnapshot* resp) {
  auto q = Authorize(*ctx, req->filter().tenant(), req->window());
  if (!q.ok()) return grpcutil::ToGrpcStatus(q.status());
  q->kind = req->filter().kind();
  q->queue = req->filter().queue();
  auto snap = store_.Snapshot(*q);
  if (!snap.ok()) return grpcutil::ToGrpcStatus(snap.status());
  *resp = *std::move(snap);
  return grpc::Status::OK;
}

grpc::Status KpiService::GetProcessMap(grpc::ServerContext* ctx, const docket::v1::GetProcessMapRequest* req,
                                       docket::v1::ProcessMap* resp) {
  auto q = Authorize(*ctx, req->tenant(), req->window());
  if (!q.ok()) return grpcutil::ToGrpcStatus(q.status());
  q->kind = req->kind();
  auto map = store_.ProcessMap(*q);
  if (!map.ok()) return grpcutil::ToGrpcStatus(map.status());
  *resp = *std::move(map);
  return grpc::Status::OK;
}

}  // namespace docket::kpi
