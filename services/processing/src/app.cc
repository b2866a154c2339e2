#include "services/processing/src/app.h"

#include "common/log/log.h"
#include "common/runtime/service_runtime.h"
#include "docket/v1/work_service.grpc.pb.h"

namespace docket::processing {

int App::Run(app::ShutdownSignal& signal) {
  static const log::Logger logger("processing");
  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    logger.Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  // The Work API's methods answer UNIMPLEMENTED until issue #4 lands.
  docket::v1::Work::Service service;
  (*runtime)->AddGrpcService(&service, "docket.v1.Work");
  return (*runtime)->Serve(signal);
}

}  // namespace docket::processing
