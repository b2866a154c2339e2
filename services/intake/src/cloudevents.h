#pragma once

// Decoding of work submissions that other services produce onto the intake
// topic (docket.intake.v1) as CloudEvents 1.0 over the Kafka protocol
// binding. Pure logic, no catalog: the decoder turns bytes into a
// WorkSubmission and the Admission validates it like a gRPC submission.
// The contract, as services/intake/README.md "Publishing over Kafka" documents:
//
// Binary content mode (content-type is the data's media type):
//   headers  ce_specversion = "1.0", ce_id, ce_source (non-empty),
//            ce_type = kSubmitEventType, optional ce_subject, ce_time,
//            ce_tenant (extension), ce_traceparent (extension);
//            content-type = application/json | application/protobuf |
//                           application/x-protobuf (parameters ignored)
//   value    the data: a JSON submission object (below) or a serialized
//            docket.v1.WorkSubmission.
// Structured content mode:
//   headers  content-type = application/cloudevents+json
//   value    {"specversion":"1.0","id":..,"source":..,"type":kSubmitEventType,
//             ["subject","time","tenant","traceparent","datacontenttype",..],
//             "data": <JSON submission object>}            or
//            "data_base64": base64 (RFC 4648, padded) of the data, read
//             as datacontenttype says: a serialized docket.v1.WorkSubmission
//             when it is absent or application/(x-)protobuf, a JSON
//             submission object when it is application/json.
//   Other attributes (extensions) are ignored.
//
// JSON submission object (every field optional unless noted; null = absent):
//   {"tenant": "acme", "kind": "invoice_approval", "idempotency_key": "..",
//    "priority": "low|normal|high|urgent", "external_ref": "..",
//    "requester": {"type": "person|bot|system|publisher", "id": ".."},
//    "attributes": {"<name>": <value>, ...}}
//   Unknown fields are rejected (a typo must not silently drop a field).
//   Attribute values, typed by their JSON form (the catalog then checks
//   each against the kind's declared type):
//     "text"                              -> string (also how enum members are sent)
//     123 / 1.5                           -> number
//     true / false                        -> bool
//     {"amount": "123.45", "currency": "EUR"}  -> money; amount a decimal
//          string (exact; at most 2 decimals) or a JSON number (read back
//          in its shortest exact form; |amount| < 1e13)
//     {"date": "2026-11-23"}              -> date (YYYY-MM-DD)
//     null                                -> as if absent
//
// Tenant: the data's tenant, else the ce_tenant header / "tenant" attribute;
// both set and different is an error. Idempotency key: the data's
// idempotency_key, else "<source>/<id>" (CloudEvents makes source + id
// unique per event, so a re-delivered or re-produced event is a duplicate),
// or "ce-sha256:<hex of that>" when it is longer than kMaxIdempotencyKeyBytes.
// Traceparent: ce_traceparent / "traceparent" when it is a valid W3C
// traceparent, else none (W3C: an invalid one is ignored).
//
// Errors are INVALID_ARGUMENT and say what is wrong and where (a header
// name, a JSON path like data.attributes.amount.amount, a byte offset), never
// an attribute value or other data content, which may hold personal data.
// Any input, however malformed, yields a status: nothing throws or crashes.

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/kafka/record.h"
#include "docket/v1/work.pb.h"

namespace docket::intake {

// The only CloudEvents type the intake topic accepts.
inline constexpr std::string_view kSubmitEventType = "docket.work.submit.v1";
// Largest record value decoded; larger ones are rejected unread.
inline constexpr std::size_t kMaxCloudEventBytes = 1024 * 1024;

struct DecodedSubmission {
  docket::v1::WorkSubmission submission;
  std::string id;           // CloudEvents id
  std::string source;       // CloudEvents source
  std::string type;         // always kSubmitEventType
  std::string subject;      // optional
  std::string traceparent;  // "" when absent or invalid
  bool structured = false;  // structured (true) or binary content mode
};

absl::StatusOr<DecodedSubmission> DecodeIntakeRecord(const kafka::Record& record);

// Parses an exact decimal amount ("-12", "123.4", "123.45") into minor units
// (hundredths). INVALID_ARGUMENT for another syntax, more than 2 decimals or
// overflow; the message never contains the text.
absl::StatusOr<std::int64_t> ParseMinorUnits(std::string_view decimal);

}  // namespace docket::intake
