#pragma once

// Status propagation at boundaries, in the style of absl's internal macros:
//   DOCKET_RETURN_IF_ERROR(DoThing());
//   DOCKET_ASSIGN_OR_RETURN(auto value, ComputeValue());

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DOCKET_STATUS_CONCAT_INNER(a, b) a##b
#define DOCKET_STATUS_CONCAT(a, b) DOCKET_STATUS_CONCAT_INNER(a, b)

#define DOCKET_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    if (::absl::Status docket_status_ = (expr); !docket_status_.ok()) { \
      return docket_status_;                           \
    }                                                  \
  } while (0)

#define DOCKET_ASSIGN_OR_RETURN(lhs, expr) \
  DOCKET_ASSIGN_OR_RETURN_IMPL(DOCKET_STATUS_CONCAT(docket_statusor_, __LINE__), lhs, expr)

#define DOCKET_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return statusor.status();           \
  lhs = *std::move(statusor)
