#pragma once

// Reads figures off a Prometheus text exposition (a service's /metrics):
// the pipeline modes watch the services' own counters to know when a stage
// has finished.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace docket::loadgen {

using LabelMatch = std::vector<std::pair<std::string, std::string>>;

// The sum of every sample of `metric` (the exact name: "x_total" does not
// match "x_total_created") whose labels include each (name, value) of
// `match`; a value "!x" matches any value but x (PromQL's label!="x": a
// missing label counts as ""). 0 when there is none; comment lines and
// malformed lines are skipped.
double SumSamples(std::string_view exposition, std::string_view metric, const LabelMatch& match = {});

}  // namespace docket::loadgen
