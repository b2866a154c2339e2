#pragma once

// Command-line parsing for docketctl: positionals and --flags checked
// against the flags a command declares. No I/O.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace docket::ctl {

struct FlagSpec {
  std::string name;  // without the leading "--"
  bool takes_value = true;
  bool repeated = false;  // may be given more than once (--attr, --outcome)
};

struct Args {
  std::vector<std::string> positional;
  // In command-line order; a flag without a value holds "".
  std::vector<std::pair<std::string, std::string>> flags;
  bool help = false;

  bool Has(std::string_view name) const;
  // The flag's value (the last one given), if present.
  std::optional<std::string> Get(std::string_view name) const;
  std::string GetOr(std::string_view name, std::string fallback) const;
  std::vector<std::string> GetAll(std::string_view name) const;
};

// Parses `argv` (the words after the command) against `spec`. Accepts
// --name=value and --name value; "--" ends the flags. The legacy spelling
// --DOCKET_INTAKE_ADDR=... of the address flags is read as --intake-addr.
// INVALID_ARGUMENT naming the word for an unknown flag, a missing value, a
// value given to a switch, or a non-repeatable flag given twice.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv, const std::vector<FlagSpec>& spec);

// "name=value" split at the first '='; INVALID_ARGUMENT when there is no '='
// or the name is empty. `what` names the flag in the message ("--attr").
absl::StatusOr<std::pair<std::string, std::string>> SplitNameValue(std::string_view text,
                                                                   std::string_view what);

}  // namespace docket::ctl
