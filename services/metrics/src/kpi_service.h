#pragma once

// The gRPC adapter of docket.v1.Kpi. Callers present an API key; a tenant
// filter must be one of the key's tenants, and only a key for every tenant
// ("*", e.g. an operator) may ask across tenants.

#include "common/auth/api_keys.h"
#include "docket/v1/kpi_service.grpc.pb.h"
#include "services/metrics/src/kpi_store.h"

namespace docket::kpi {

class KpiService final : public docket::v1::Kpi::Service {
 public:
  KpiService(KpiStore& store, const auth::ApiKeyAuthenticator& authenticator, const Clock& clock)
      : store_(store), authenticator_(authenticator), clock_(clock) {}

  grpc::Status GetSnapshot(grpc::ServerContext* ctx, const docket::v1::GetSnapshotRequest* req,
                           docket::v1::KpiSnapshot* resp) override;
  grpc::Status GetProcessMap(grpc::ServerContext* ctx, const docket::v1::GetProcessMapRequest* req,
                             docket::v1::ProcessMap* resp) override;

 private:
  absl::StatusOr<Query> Authorize(const grpc::ServerContext& ctx, const std::string& tenant,
                                  const google::protobuf::Duration& window) const;

  KpiStore& store_;
  const auth::ApiKeyAuthenticator& authenticator_;
  const Clock& clock_;
};

}  // namespace docket::kpi
