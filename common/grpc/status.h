#pragma once

// absl::Status -> grpc::Status for the services' gRPC adapters (the
// canonical codes are the same numbers; the message is kept).

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace docket::grpcutil {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace docket::grpcutil
