#pragma once

// A plain HTTP/1.0 GET, enough to scrape a service's /metrics the way
// Prometheus does (the services serve it with prometheus-cpp's civetweb).

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace docket::loadgen {

struct HttpUrl {
  std::string host;
  int port = 80;
  std::string path = "/";
};

// "http://host:port/path" (port and path optional). INVALID_ARGUMENT names
// what is wrong (https is not supported).
absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url);

// The body of a raw HTTP/1.x response; FAILED_PRECONDITION for a status
// other than 200, INVALID_ARGUMENT for something that is not a response.
absl::StatusOr<std::string> HttpResponseBody(std::string_view raw);

// GETs the URL: UNAVAILABLE if nothing answers within `timeout`.
absl::StatusOr<std::string> HttpGet(const HttpUrl& url,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace docket::loadgen
