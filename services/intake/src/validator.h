#pragma once

// Validation of a submission against catalog.yaml. Pure logic: no I/O.

#include <string>
#include <vector>

#include "common/catalog/catalog.h"
#include "docket/v1/work.pb.h"

namespace docket::intake {

struct Violation {
  std::string field;        // e.g. "attributes.amount", "tenant"
  std::string description;  // what is wrong, never the offending value when it may be PII
  bool operator==(const Violation&) const = default;
};

// Returns every violation, not only the first: tenant and kind known;
// idempotency key present and short; payload size and attribute count within
// the catalog's limits; every required attribute present; every attribute
// declared by the kind and of its declared type (string length, number and
// money ranges, ISO 4217 currency, valid calendar date, enum member).
std::vector<Violation> Validate(const catalog::Catalog& catalog,
                                const docket::v1::WorkSubmission& submission);

// Longest accepted idempotency key, in bytes.
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 128;

}  // namespace docket::intake
