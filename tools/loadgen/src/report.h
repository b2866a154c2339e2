#pragma once

// The figures of a docket-loadgen run: a table for people, JSON for scripts.

#include <string>
#include <vector>

#include "tools/loadgen/src/load_driver.h"
#include "tools/loadgen/src/pipeline.h"

namespace docket::loadgen {

// One row per mode, then the unary/echo ratio when both ran, then the first
// error of each mode that had any.
std::string FormatTable(const std::vector<ModeResult>& results);

// Each pipeline stage: its figures one a line, latencies in ms, CPU, errors, notes.
std::string FormatStages(const std::vector<StageResult>& stages);

// {"modes": [...], "unary_echo_ratio": x, "stages": [...]} (the ratio only
// when both ran, stages only when any ran); latencies in milliseconds.
std::string FormatJson(const std::vector<ModeResult>& results, const std::vector<StageResult>& stages = {});

}  // namespace docket::loadgen
