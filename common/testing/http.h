#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace docket::testing {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// A plain HTTP/1.0 GET over a real socket to 127.0.0.1:port (for scraping
// /metrics the way Prometheus does). UNAVAILABLE if nothing answers.
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& path);

// The series of an exposition text, one per line: metric names with their
// labels, without the sample values and the # lines. What a metric may not
// reveal (PII in a label) is searched here: a value such as 0.004111047 is
// not a leak.
std::string MetricSeries(const std::string& exposition);

// The sample value of one series of an exposition text, e.g.
// `docket_kafka_consumer_offset_resets_total{client="c",topic="t"}` (labels
// as the text has them, in order); nullopt if the text has no such series.
std::optional<double> SeriesValue(const std::string& exposition, const std::string& series);

// Runs `promtool check metrics` on an exposition text; OK if promtool finds
// no problem, otherwise FAILED_PRECONDITION with promtool's findings.
absl::Status PromtoolCheckMetrics(const std::string& exposition);

}  // namespace docket::testing
