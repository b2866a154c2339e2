#pragma once

#include <cstdint>
#include <optional>
#include <string>
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
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string key;
  std::string value;
  std::vector<Header> headers;
  std::int64_t timestamp_ms = 0;

  // First header with this key, if any.
  std::optional<std::string> Header(std::string_view key) const;
};

// CloudEvents Kafka protocol binding, binary content mode: the record value is
// the serialized docket.v1.Event, the key is event.subject(), and the headers
// carry ce_specversion, ce_id, ce_source, ce_type, ce_time (RFC 3339),
// ce_subject, ce_tenant, ce_traceparent (when set) and content-type
// "application/protobuf".
Record EncodeEvent(std::string_view topic, const docket::v1::Event& event);

// Parses a record written by EncodeEvent. INVALID_ARGUMENT (naming what is
// wrong) when the value is not a docket.v1.Event, has no payload, or its
// ce_id / ce_type headers disagree with the envelope.
absl::StatusOr<docket::v1::Event> DecodeEvent(const Record& record);

// The CloudEvents type for the envelope's payload, e.g. "docket.work.v1.Submitted".
std::string EventType(const docket::v1::Event& event);

}  // namespace docket::kafka
