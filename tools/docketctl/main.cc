// docketctl: one CLI over Docket's gRPC APIs (see `docketctl --help` and
// src/commands.h). The commands live in docketctl_lib so they are tested
// without a process; this file only wires the real environment, gRPC
// channels and standard streams.

#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/docketctl/src/commands.h"
#include "tools/docketctl/src/connector.h"
#include "tools/docketctl/src/settings.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto connector = docket::ctl::NewGrpcConnector();
  docket::ctl::Io io{std::cout, std::cerr, /*progress=*/isatty(STDERR_FILENO) == 1};
  const int rc = docket::ctl::Run(args, docket::ctl::ProcessEnv(), *connector, io);
  std::cout.flush();
  return rc;
}
