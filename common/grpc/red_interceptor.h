#pragma once

// RED metrics for every RPC of a server, as a gRPC server interceptor.
// Internal to docket_grpc: ServerRunner installs it when given a registry.

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/metrics/metrics.h"

namespace docket::grpcutil {

class RedInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `known_methods` are full paths ("/docket.v1.Intake/Submit"); any other
  // path is counted as service="unknown",method="unknown".
  RedInterceptorFactory(metrics::MetricsRegistry& registry, std::set<std::string> known_methods);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  struct Metrics {
    prometheus::Family<prometheus::Counter>& started;
    prometheus::Family<prometheus::Counter>& handled;
    prometheus::Family<prometheus::Histogram>& handling_seconds;
  };

 private:
  Metrics metrics_;
  std::set<std::string> known_methods_;
};

// The full paths of every method of these services that the process knows a
// descriptor for, plus grpc.health.v1.Health's (served without one).
std::set<std::string> KnownMethods(const std::vector<std::string>& service_names);

// "OK", "CANCELLED", ... for a grpc::StatusCode value.
const char* StatusCodeName(int code);

}  // namespace docket::grpcutil
