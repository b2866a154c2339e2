#pragma once

// Docket needs Redis 7.0 or newer: intake's idempotency reserve is
// `SET key value NX GET` (NX with GET came in 7.0). An older server would
// fail every submission with a syntax error; the services check at start
// instead and refuse to run, naming the version.

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace docket::redis {

inline constexpr int kMinMajorVersion = 7;

// From the text of `INFO server`: OK for redis_version 7.0 or newer;
// FAILED_PRECONDITION naming the version when older; NOT_FOUND when the text
// has no redis_version (a server that hides it: the caller decides).
absl::Status CheckServerVersion(absl::string_view info_server);

}  // namespace docket::redis
