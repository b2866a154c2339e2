#include "services/compliance/src/app.h"

#include "common/log/log.h"
#include "common/runtime/service_runtime.h"
#include "docket/v1/compliance_service.grpc.pb.h"

namespace docket::compliance {

int App::Run(app::ShutdownSignal& signal) {
  static const log::Logger logger("compliance");
  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    logger.Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  // The Compliance API's methods answer UNIMPLEMENTED until issue #5 lands.
  docket::v1::Compliance::Service service;
  (*runtime)->AddGrpcService(&service, "docket.v1.Compliance");
  return (*runtime)->Serve(signal);
}

}  // namespace docket::compliance
