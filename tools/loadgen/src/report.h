#pragma once

// The figures of a docket-loadgen run: a table for people, JSON for scripts.

#include <string>
#include <vector>

#include "tools/loadgen/src/load_driver.h"

namespace docket::loadgen {

// One row per mode, then the unary/echo ratio when both ran, then the first
// error of each mode that had any.
std::string FormatTable(const std::vector<ModeResult>& results);

// {"modes": [...], "unary_echo_ratio": x} (the ratio only when both ran);
// latencies in milliseconds.
std::string FormatJson(const std::vector<ModeResult>& results);

}  // namespace docket::loadgen
