#include "services/metrics/src/app.h"

#include "common/log/log.h"
#include "common/runtime/service_runtime.h"
#include "docket/v1/kpi_service.grpc.pb.h"

namespace docket::metrics {

int App::Run(app::ShutdownSignal& signal) {
  static const log::Logger logger("metrics");
  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    logger.Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  // The Kpi API's methods answer UNIMPLEMENTED until issue #6 lands.
  docket::v1::Kpi::Service service;
  (*runtime)->AddGrpcService(&service, "docket.v1.Kpi");
  return (*runtime)->Serve(signal);
}

}  // namespace docket::metrics
