#pragma once

// Building work submissions from the command line and from item files.
//
// Everything becomes the JSON submission object that intake accepts on
// Kafka (services/intake/README.md, "The JSON submission object") and is
// decoded by intake's own decoder, so docketctl types attributes exactly
// as a Kafka publisher would:
//
//   --attr name=VALUE, where VALUE is JSON when it reads as JSON and text
//   otherwise:  pages=3 (number), vendor_verified=true (bool),
//   document_id=D-1 or document_id='"0042"' (string; quote digits),
//   amount='{"amount":"12.50","currency":"EUR"}' (money),
//   invoice_date='{"date":"2026-11-23"}' (date).
//   A VALUE that starts like JSON ({ [ ") but does not parse is an error,
//   and so is null.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "docket/v1/work.pb.h"

namespace docket::ctl {

// The JSON form of one --attr / CSV cell value (see above).
absl::StatusOr<nlohmann::json> ValueToJson(std::string_view text);

// "name=value" of --attr / --outcome into (name, JSON value).
absl::StatusOr<std::pair<std::string, nlohmann::json>> ParseAttributeFlag(std::string_view text,
                                                                         std::string_view flag);

// A JSON submission object into a WorkSubmission, by intake's decoder.
// INVALID_ARGUMENT with the decoder's message, its "data." prefix removed
// (e.g. "attributes.amount.amount: has more than 2 decimal places").
absl::StatusOr<docket::v1::WorkSubmission> SubmissionFromJson(const nlohmann::json& object);

// Attribute map (outcome of Complete) from name -> JSON value pairs.
absl::StatusOr<google::protobuf::Map<std::string, docket::v1::AttributeValue>> AttributesFromJson(
    const nlohmann::json& attributes);

// An idempotency key derived from the submission's content (tenant, kind and
// attributes): re-running the same file does not submit an item twice.
std::string ContentKey(const nlohmann::json& object);

// A fresh random idempotency key ("docketctl-<32 hex>") for a one-off submit.
std::string RandomKey();

}  // namespace docket::ctl
