#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "docket/v1/event.pb.h"

namespace docket::kafka {

struct Header {
  std::string key;
  std::string value;
  bool operator==(const Header&) const = default;
};

// A Kafka record as produced or consumed, free of librdkafka types.
struct Record {
  std::string topic;
  // On publish: -1 lets the partitioner pick by key (murmur2, the Java
  // client's hashing, so other producers agree); >= 0 writes to that partition.
  std::int32_t partition = -1;
  // Set on consumed records; ignored on publish.
  std::int64_t offset = -1;
  // On publish an empty key is sent as a null key.
  std::string key;
  std::string value;
  // Qualified: the member function Header() below would otherwise change
  // the meaning of the unqualified name inside this class (ill-formed).
  std::vector<kafka::Header> headers;
  // Milliseconds since the epoch; 0 on publish = now.
  std::int64_t timestamp_ms = 0;

  // First header with this key, if any.
  std::optional<std::string> Header(std::string_view key) const;
  // The same without a copy: nullptr when there is none.
  const std::string* FindHeader(std::string_view key) const;
};

// CloudEvents Kafka protocol binding, binary content mode: the record value is
// the serialized docket.v1.Event, the key is event.subject(), and the headers
// carry ce_specversion ("1.0"), ce_id, ce_source, ce_type, ce_time,
// ce_subject, ce_tenant, ce_traceparent and content-type
// "application/protobuf". ce_time is RFC 3339 in UTC with at least
// millisecond digits ("2024-05-01T12:00:00.250Z"; 6 or 9 digits when the
// timestamp has them). Optional attributes (time, subject, tenant,
// traceparent) get no header when unset/empty, as CloudEvents asks. An
// envelope whose `type` is empty is written with type = EventType(event), in
// the value and in ce_type alike.
Record EncodeEvent(std::string_view topic, const docket::v1::Event& event);

// Parses a record written by EncodeEvent. INVALID_ARGUMENT, with a message
// that names the problem, when: the value is empty or not a docket.v1.Event;
// the envelope has no payload (or one this binary does not know); the
// envelope's type does not match its payload; a content-type header other
// than application/protobuf; ce_specversion other than "1.0"; or a ce_id /
// ce_type / ce_subject header that disagrees with the envelope. Missing ce_*
// headers are tolerated (the value is the source of truth).
absl::StatusOr<docket::v1::Event> DecodeEvent(const Record& record);
// The same into `event` (cleared first), so a consumer can reuse one
// envelope, and the memory it holds, for every record.
absl::Status DecodeEventInto(const Record& record, docket::v1::Event& event);

// The CloudEvents type for the envelope's payload:
//   "docket.<family>.v1.<Payload message name>"
// where family is the topic family the payload belongs to, not the topic the
// record was written to (topic names carry a configurable prefix):
//   work lifecycle payloads (Submitted ... Feedback) -> "docket.work.v1.Submitted", ...
//   Verdict     -> "docket.compliance.v1.Verdict"
//   AuditRecord -> "docket.audit.v1.AuditRecord"
// Empty string when the envelope has no payload.
std::string EventType(const docket::v1::Event& event);
// The same for a payload kind: EventType(Event::kSubmitted) ==
// "docket.work.v1.Submitted".
std::string EventType(docket::v1::Event::PayloadCase payload);

// Formats a timestamp as EncodeEvent writes ce_time. Exposed for tests and
// for services that mirror the attribute elsewhere.
std::string FormatCeTime(const google::protobuf::Timestamp& time);

}  // namespace docket::kafka
