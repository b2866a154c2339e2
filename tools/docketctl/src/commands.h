#pragma once

// docketctl's commands. Each writes its result to `out` and, when it fails,
// exactly one line to `err`:
//
//   docketctl: <command>: <what is wrong>
//
// naming the gRPC code (PERMISSION_DENIED, NOT_FOUND, ...) and the server's
// message for a refused call. Exit codes: 0 done, 1 a call failed (or some
// items of a file were rejected), 2 a usage or configuration error.

#include <ostream>
#include <string>
#include <vector>

#include "tools/docketctl/src/connector.h"
#include "tools/docketctl/src/settings.h"

namespace docket::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct Io {
  std::ostream& out;
  std::ostream& err;
  // Show a live progress line on `err` (submit --file); main sets it when
  // stderr is a terminal.
  bool progress = false;
};

// Runs `docketctl <argv...>` (argv without the program name).
int Run(const std::vector<std::string>& argv, const EnvLookup& env, Connector& connector, Io& io);

}  // namespace docket::ctl
