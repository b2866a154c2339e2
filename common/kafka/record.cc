#include "common/kafka/record.h"

#include <array>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/status/macros.h"

namespace docket::kafka {
namespace {

constexpr std::string_view kContentType = "application/protobuf";
constexpr std::string_view kSpecVersion = "1.0";

const google::protobuf::OneofDescriptor* PayloadOneof() {
  static const auto* oneof = docket::v1::Event::descriptor()->FindOneofByName("payload");
  return oneof;
}

// The type the envelope is (or would be) written with.
std::string EffectiveType(const docket::v1::Event& event) {
  return event.type().empty() ? EventType(event) : event.type();
}

}  // namespace

const std::string* Record::FindHeader(std::string_view key) const {
  for (const auto& h : headers) {
    if (h.key == key) return &h.value;
  }
  return nullptr;
}

std::optional<std::string> Record::Header(std::string_view key) const {
  const std::string* value = FindHeader(key);
  return value ? std::optional<std::string>(*value) : std::nullopt;
}

// The CloudEvents type of each payload, by payload field number; built once
// from the descriptor (every consumed record asks).
const std::string& CachedEventType(docket::v1::Event::PayloadCase payload) {
  static const auto* types = [] {
    auto* m = new absl::flat_hash_map<int, std::string>();
    const auto* oneof = PayloadOneof();
    for (int i = 0; i < oneof->field_count(); ++i) {
      const auto* field = oneof->field(i);
      if (field->message_type() == nullptr) continue;
      std::string_view family = "work";
      if (field->number() == docket::v1::Event::kVerdict) family = "compliance";
      if (field->number() == docket::v1::Event::kAuditRecord) family = "audit";
      (*m)[field->number()] =
          absl::StrCat("docket.", std::string(family), ".v1.", field->message_type()->name());
    }
    return m;
  }();
  static const std::string none;
  auto it = types->find(static_cast<int>(payload));
  return it == types->end() ? none : it->second;
}

std::string EventType(const docket::v1::Event& event) { return CachedEventType(event.payload_case()); }
std::string EventType(docket::v1::Event::PayloadCase payload) { return CachedEventType(payload); }

std::string FormatCeTime(const google::protobuf::Timestamp& time) {
  // Digits written in place: gmtime_r takes glibc's time zone lock and two
  // StrFormats allocated, ~240 ns per event against ~45 (every event a
  // service publishes carries ce_time).
  const absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixSeconds(time.seconds()), absl::UTCTimeZone());
  const int nanos = time.nanos();
  if (c.year() < 0 || c.year() > 9999 || nanos < 0 || nanos > 999999999) {
    // Outside what a protobuf Timestamp may hold: still readable, never garbage.
    return absl::StrCat(absl::FormatCivilTime(c), ".", nanos, "Z");
  }
  char buf[32];
  char* p = buf;
  auto put = [&p](std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p += width;
  };
  put(c.year(), 4);
  *p++ = '-';
  put(c.month(), 2);
  *p++ = '-';
  put(c.day(), 2);
  *p++ = 'T';
  put(c.hour(), 2);
  *p++ = ':';
  put(c.minute(), 2);
  *p++ = ':';
  put(c.second(), 2);
  *p++ = '.';
  if (nanos % 1000000 == 0) {
    put(nanos / 1000000, 3);
  } else if (nanos % 1000 == 0) {
    put(nanos / 1000, 6);
  } else {
    put(nanos, 9);
  }
  *p++ = 'Z';
  return std::string(buf, p);
}

Record EncodeEvent(std::string_view topic, const docket::v1::Event& event) {
  Record record;
  record.topic = std::string(topic);
  record.key = event.subject();
  if (event.type().empty() && event.payload_case() != docket::v1::Event::PAYLOAD_NOT_SET) {
    docket::v1::Event typed = event;
    typed.set_type(EventType(event));
    record.value = typed.SerializeAsString();
  } else {
    record.value = event.SerializeAsString();
  }
  record.headers.reserve(9);  // every header below: no regrowth
  auto add = [&record](std::string_view key, std::string value) {
    record.headers.push_back(kafka::Header{std::string(key), std::move(value)});
  };
  add("ce_specversion", std::string(kSpecVersion));
  add("ce_id", event.id());
  add("ce_source", event.source());
  add("ce_type", EffectiveType(event));
  if (event.has_time()) add("ce_time", FormatCeTime(event.time()));
  if (!event.subject().empty()) add("ce_subject", event.subject());
  if (!event.tenant().empty()) add("ce_tenant", event.tenant());
  if (!event.traceparent().empty()) add("ce_traceparent", event.traceparent());
  add("content-type", std::string(kContentType));
  return record;
}

absl::StatusOr<docket::v1::Event> DecodeEvent(const Record& record) {
  docket::v1::Event event;
  DOCKET_RETURN_IF_ERROR(DecodeEventInto(record, event));
  return event;
}

absl::Status DecodeEventInto(const Record& record, docket::v1::Event& event) {
  if (record.value.empty()) {
    return absl::InvalidArgumentError(
        "record value is empty (a tombstone?); expected a serialized docket.v1.Event");
  }
  // The first of each header this checks, found in one pass (every consumed
  // record comes through here).
  enum { kCt, kSv, kId, kType, kSource, kSubject, kTenant, kTrace, kCount };
  static constexpr std::array<std::string_view, kCount> kNames = {
      "content-type", "ce_specversion", "ce_id",     "ce_type",
      "ce_source",    "ce_subject",     "ce_tenant", "ce_traceparent"};
  std::array<const std::string*, kCount> found{};
  for (const auto& h : record.headers) {
    for (int i = 0; i < kCount; ++i) {
      if (found[i] == nullptr && h.key == kNames[i]) {
        found[i] = &h.value;
        break;
      }
    }
  }
  if (found[kCt] && *found[kCt] != kContentType) {
    return absl::InvalidArgumentError(
        absl::StrCat("content-type \"", *found[kCt], "\" is not ", std::string(kContentType)));
  }
  if (found[kSv] && *found[kSv] != kSpecVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("ce_specversion \"", *found[kSv], "\" is not ", std::string(kSpecVersion)));
  }
  if (!event.ParseFromString(record.value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record value (", record.value.size(), " bytes) is not a serialized docket.v1.Event"));
  }
  if (event.payload_case() == docket::v1::Event::PAYLOAD_NOT_SET) {
    const bool unknown = !event.GetReflection()->GetUnknownFields(event).empty();
    return absl::InvalidArgumentError(absl::StrCat(
        "event \"", event.id(), "\" has no payload",
        unknown ? " this binary knows (unknown fields present: a newer schema?)" : ""));
  }
  const std::string& expected_type = CachedEventType(event.payload_case());
  if (!event.type().empty() && event.type() != expected_type) {
    return absl::InvalidArgumentError(absl::StrCat("event \"", event.id(), "\" has type \"",
                                                   event.type(), "\" but its payload is ",
                                                   expected_type));
  }
  if (event.type().empty()) event.set_type(expected_type);
  // A header that mirrors an envelope attribute must agree with it when present.
  for (const auto& [i, want] : {std::pair<int, const std::string&>{kId, event.id()},
                                {kType, event.type()},
                                {kSource, event.source()},
                                {kSubject, event.subject()},
                                {kTenant, event.tenant()},
                                {kTrace, event.traceparent()}}) {
    if (found[i] && *found[i] != want) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(kNames[i]), " header \"", *found[i],
                                                     "\" disagrees with the envelope's \"", want, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace docket::kafka
