#include "services/intake/src/app.h"

#include "common/log/log.h"
#include "common/runtime/service_runtime.h"
#include "docket/v1/intake_service.grpc.pb.h"

namespace docket::intake {

int App::Run(app::ShutdownSignal& signal) {
  static const log::Logger logger("intake");
  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    logger.Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  // The Intake API's methods answer UNIMPLEMENTED until issue #3 lands.
  docket::v1::Intake::Service service;
  (*runtime)->AddGrpcService(&service, "docket.v1.Intake");
  return (*runtime)->Serve(signal);
}

}  // namespace docket::intake
