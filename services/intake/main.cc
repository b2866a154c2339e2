// docket-intake: load config -> App -> Run.
#include "common/app/shutdown.h"
#include "common/runtime/service_runtime.h"
#include "services/intake/src/app.h"

int main(int argc, char** argv) {
  docket::app::ShutdownSignal signal;  // first: every later thread inherits the blocked signals
  const auto config = docket::runtime::LoadConfigOrExit(docket::intake::kDefaults, argc, argv);
  docket::intake::App app(config);
  return app.Run(signal);
}
