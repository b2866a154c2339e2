#include "common/redis/server_version.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace docket::redis {

absl::Status CheckServerVersion(absl::string_view info_server) {
  for (absl::string_view line : absl::StrSplit(info_server, '\n')) {
    line = absl::StripSuffix(line, "\r");
    if (!absl::ConsumePrefix(&line, "redis_version:")) continue;
    const absl::string_view major = line.substr(0, line.find('.'));
    int number = 0;
    if (!absl::SimpleAtoi(major, &number)) {
      return absl::FailedPreconditionError(
          absl::StrCat("Redis reports version \"", line.substr(0, 32), "\", which is not a version number"));
    }
    if (number < kMinMajorVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("Redis ", line.substr(0, 32), " is too old: Docket needs Redis ", kMinMajorVersion,
                       ".0 or newer (intake's idempotency uses SET ... NX GET)"));
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError("INFO server has no redis_version");
}

}  // namespace docket::redis
