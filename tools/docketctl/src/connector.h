#pragma once

// Hands out the gRPC stubs docketctl calls, one per address, owned by the
// connector (so a paging command reuses its channel). The real one opens
// plaintext or TLS channels (Settings::tls); unit tests hand out gmock stubs
// instead.

#include <memory>
#include <string>

#include "docket/v1/compliance_service.grpc.pb.h"
#include "docket/v1/intake_service.grpc.pb.h"
#include "docket/v1/kpi_service.grpc.pb.h"
#include "docket/v1/work_service.grpc.pb.h"
#include "absl/status/status.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/docketctl/src/settings.h"

namespace docket::ctl {

class Connector {
 public:
  virtual ~Connector() = default;
  // Called once, before any stub is asked for. The gRPC connector reads the
  // TLS files here: INVALID_ARGUMENT naming a file it cannot read.
  virtual absl::Status UseTls(const TlsSettings&) { return absl::OkStatus(); }
  virtual docket::v1::Intake::StubInterface& Intake(const std::string& address) = 0;
  virtual docket::v1::Work::StubInterface& Work(const std::string& address) = 0;
  virtual docket::v1::Compliance::StubInterface& Compliance(const std::string& address) = 0;
  virtual docket::v1::Kpi::StubInterface& Kpi(const std::string& address) = 0;
  virtual grpc::health::v1::Health::StubInterface& Health(const std::string& address) = 0;
};

// gRPC channels: plaintext unless UseTls turned TLS on.
std::unique_ptr<Connector> NewGrpcConnector();

}  // namespace docket::ctl
