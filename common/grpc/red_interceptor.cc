#include "common/grpc/red_interceptor.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/status.h>

#include <chrono>

namespace docket::grpcutil {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RedInterceptor : public grpc::experimental::Interceptor {
 public:
  RedInterceptor(const RedInterceptorFactory::Metrics& metrics, std::string service,
                 std::string method)
      : metrics_(metrics),
        service_(std::move(service)),
        method_(std::move(method)),
        start_(std::chrono::steady_clock::now()) {
    metrics_.started.Add({{"service", service_}, {"method", method_}}).Increment();
  }

  // A call that ends without sending a status (the server gave up on it) is
  // still counted, so started - handled stays the number in flight.
  ~RedInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !recorded_) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    metrics_.handled
        .Add({{"service", service_}, {"method", method_}, {"code", StatusCodeName(code)}})
        .Increment();
    metrics_.handling_seconds.Add({{"service", service_}, {"method", method_}},
                                  metrics::LatencyBuckets())
        .Observe(seconds);
  }

  const RedInterceptorFactory::Metrics& metrics_;
  const std::string service_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

}  // namespace

const char* StatusCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",           "CANCELLED",          "UNKNOWN",        "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",     "ALREADY_EXISTS", "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",    "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "UNKNOWN";
  return kNames[code];
}

std::set<std::string> KnownMethods(const std::vector<std::string>& service_names) {
  // Debian's gRPC serves health from upb code, so no C++ descriptor exists.
  std::set<std::string> known = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"};
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& name : service_names) {
    const auto* service = pool->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      known.insert("/" + service->full_name() + "/" + service->method(i)->name());
    }
  }
  return known;
}

RedInterceptorFactory::RedInterceptorFactory(metrics::MetricsRegistry& registry,
                                             std::set<std::string> known_methods)
    : metrics_{prometheus::BuildCounter()
                   .Name("docket_grpc_server_started_total")
                   .Help("gRPC calls started by the server.")
                   .Register(registry.registry()),
               prometheus::BuildCounter()
                   .Name("docket_grpc_server_handled_total")
                   .Help("gRPC calls completed by the server, by status code.")
                   .Register(registry.registry()),
               prometheus::BuildHistogram()
                   .Name("docket_grpc_server_handling_seconds")
                   .Help("Time from the start of a gRPC call to its status, in seconds.")
                   .Register(registry.registry())},
      known_methods_(std::move(known_methods)) {}

grpc::experimental::Interceptor* RedInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const std::string path = info->method() != nullptr ? info->method() : "";
  std::string service = "unknown", method = "unknown";
  if (known_methods_.count(path) != 0) {
    const auto slash = path.rfind('/');
    service = path.substr(1, slash - 1);
    method = path.substr(slash + 1);
  }
  return new RedInterceptor(metrics_, std::move(service), std::move(method));
}

}  // namespace docket::grpcutil
