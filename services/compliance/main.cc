// docket-compliance: load config -> App -> Run.
#include "common/app/shutdown.h"
#include "common/runtime/service_runtime.h"
#include "services/compliance/src/app.h"

int main(int argc, char** argv) {
  docket::app::ShutdownSignal signal;  // first: every later thread inherits the blocked signals
  const auto config = docket::runtime::LoadConfigOrExit(docket::compliance::kDefaults, argc, argv);
  docket::compliance::App app(config);
  return app.Run(signal);
}
