#include "services/intake/src/cloudevents.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"
#include "common/status/macros.h"
#include "services/intake/src/validator.h"

namespace docket::intake {
namespace {

using nlohmann::json;
using docket::v1::WorkSubmission;

constexpr int kMaxJsonDepth = 16;
constexpr std::size_t kMaxShownBytes = 64;
constexpr char kExpectedContentTypes[] =
    "application/json, application/protobuf, application/x-protobuf or "
    "application/cloudevents+json";

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

// Publisher-controlled metadata (a content-type, a field name) made safe for
// a message that may end up in a DLQ header or a log line: printable ASCII,
// at most kMaxShownBytes.
std::string Shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxShownBytes)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (s.size() > kMaxShownBytes) out += "...";
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "Application/JSON; charset=utf-8" -> "application/json".
std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return Lower(t);
}

bool IsJsonMedia(const std::string& m) { return m == "application/json"; }
bool IsProtobufMedia(const std::string& m) {
  return m == "application/protobuf" || m == "application/x-protobuf";
}

// The single value of a header, nullopt when absent; an error when the
// header appears more than once (which one would be meant?).
absl::StatusOr<std::optional<std::string>> SingleHeader(const kafka::Record& r, const std::string& key,
                                                        bool ignore_case = false) {
  std::optional<std::string> value;
  for (const auto& h : r.headers) {
    if (ignore_case ? Lower(h.key) != key : h.key != key) continue;
    if (value) return Invalid(absl::StrCat("header ", key, " appears more than once"));
    value = h.value;
  }
  return value;
}

absl::StatusOr<std::string> RequiredHeader(const kafka::Record& r, const std::string& key) {
  DOCKET_ASSIGN_OR_RETURN(std::optional<std::string> v, SingleHeader(r, key));
  if (!v || v->empty()) return Invalid(absl::StrCat("missing ", key, " header"));
  return *std::move(v);
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// W3C Trace Context: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>";
// later versions may append "-..." fields; version ff and all-zero ids are invalid.
bool ValidTraceparent(std::string_view t) {
  if (t.size() < 55 || (t.size() > 55 && t[55] != '-') || t.size() > 512) return false;
  if (t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
  const std::string_view version = t.substr(0, 2), trace = t.substr(3, 32), parent = t.substr(36, 16),
                         flags = t.substr(53, 2);
  if (!IsLowerHex(version) || !IsLowerHex(trace) || !IsLowerHex(parent) || !IsLowerHex(flags)) {
    return false;
  }
  if (version == "ff" || (version == "00" && t.size() != 55)) return false;
  return trace != std::string(32, '0') && parent != std::string(16, '0');
}

// ---- JSON ----

const char* TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

// Rejects deep nesting before nlohmann builds it: the submission needs 4
// levels, and a megabyte of "[[[[..." would otherwise cost a lot of memory.
absl::Status CheckJsonDepth(std::string_view text, const std::string& what) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) {
        return Invalid(absl::StrCat(what, " is nested deeper than ", kMaxJsonDepth, " levels"));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> ParseJson(std::string_view text, const std::string& what) {
  DOCKET_RETURN_IF_ERROR(CheckJsonDepth(text, what));
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.what() quotes the text around the error, which may be personal data:
    // only the offset is reported.
    return Invalid(absl::StrCat(what, " is not valid JSON (at byte ", e.byte, ")"));
  }
}

// A string member; nullopt when absent or null.
absl::StatusOr<std::optional<std::string>> OptionalString(const json& object, const char* key,
                                                          const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    return Invalid(absl::StrCat(path, ".", key, ": expected a string, got ", TypeName(*it)));
  }
  return it->get<std::string>();
}

absl::Status CheckMembers(const json& object, const std::set<std::string>& allowed,
                          const std::string& path) {
  for (const auto& [key, value] : object.items()) {
    if (!allowed.contains(key)) {
      std::string known;
      for (const auto& a : allowed) absl::StrAppend(&known, known.empty() ? "" : ", ", a);
      return Invalid(absl::StrCat(path, ".", Shown(key), ": unknown field (expected ", known, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::int64_t> MoneyFromJsonNumber(const json& amount, const std::string& path) {
  constexpr std::int64_t kMaxUnits = std::numeric_limits<std::int64_t>::max() / 100;
  if (amount.is_number_unsigned()) {
    const auto v = amount.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(kMaxUnits)) return Invalid(path + ": is out of range");
    return static_cast<std::int64_t>(v) * 100;
  }
  if (amount.is_number_integer()) {
    const auto v = amount.get<std::int64_t>();
    if (v > kMaxUnits || v < -kMaxUnits) return Invalid(path + ": is out of range");
    return v * 100;
  }
  // A JSON number with a fraction arrives as a double. Below 1e13 every
  // decimal with at most 2 places has at most 15 significant digits, so
  // the shortest fixed-point form that reads back as the same double is that
  // decimal: "123.45" stays 123.45, "0.125" stays 3 places and is rejected.
  const double v = amount.get<double>();
  if (!std::isfinite(v) || std::fabs(v) >= 1e13) {
    return Invalid(path + ": is out of range for a JSON number (send the amount as a string)");
  }
  char buf[400];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  if (ec != std::errc()) return Invalid(path + ": is not a usable amount");
  auto units = ParseMinorUnits(std::string_view(buf, end - buf));
  if (!units.ok()) return Invalid(absl::StrCat(path, ": ", units.status().message()));
  return *units;
}

absl::Status AttributeFromJson(const json& j, const std::string& path, docket::v1::AttributeValue& out) {
  switch (j.type()) {
    case json::value_t::string:
      out.set_string_value(j.get<std::string>());
      return absl::OkStatus();
    case json::value_t::boolean:
      out.set_bool_value(j.get<bool>());
      return absl::OkStatus();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      out.set_number_value(j.get<double>());
      return absl::OkStatus();
    case json::value_t::object:
      break;
    default:
      return Invalid(absl::StrCat(path, ": expected a string, number, bool or object, got ",
                                  TypeName(j)));
  }
  if (j.contains("amount") || j.contains("currency")) {
    DOCKET_RETURN_IF_ERROR(CheckMembers(j, {"amount", "currency"}, path));
    auto* money = out.mutable_money_value();
    DOCKET_ASSIGN_OR_RETURN(std::optional<std::string> currency, OptionalString(j, "currency", path));
    if (!currency) return Invalid(path + ".currency: is required for a money value");
    money->set_currency(*currency);
    const auto amount = j.find("amount");
    if (amount == j.end() || amount->is_null()) return Invalid(path + ".amount: is required for a money value");
    const std::string amount_path = path + ".amount";
    if (amount->is_string()) {
      auto units = ParseMinorUnits(amount->get_ref<const std::string&>());
      if (!units.ok()) return Invalid(absl::StrCat(amount_path, ": ", units.status().message()));
      money->set_minor_units(*units);
    } else if (amount->is_number()) {
      DOCKET_ASSIGN_OR_RETURN(std::int64_t units, MoneyFromJsonNumber(*amount, amount_path));
      money->set_minor_units(units);
    } else {
      return Invalid(absl::StrCat(amount_path, ": expected a decimal string like \"123.45\", got ",
                                  TypeName(*amount)));
    }
    return absl::OkStatus();
  }
  if (j.contains("date")) {
    DOCKET_RETURN_IF_ERROR(CheckMembers(j, {"date"}, path));
    DOCKET_ASSIGN_OR_RETURN(std::optional<std::string> date, OptionalString(j, "date", path));
    const auto digits = [&](std::size_t from, std::size_t n) {
      int v = 0;
      for (std::size_t i = from; i < from + n; ++i) {
        if ((*date)[i] < '0' || (*date)[i] > '9') return -1;
        v = v * 10 + ((*date)[i] - '0');
      }
      return v;
    };
    if (!date || date->size() != 10 || (*date)[4] != '-' || (*date)[7] != '-' || digits(0, 4) < 0 ||
        digits(5, 2) < 0 || digits(8, 2) < 0) {
      return Invalid(path + ".date: expected a date like \"2026-11-23\" (YYYY-MM-DD)");
    }
    auto* d = out.mutable_date_value();
    d->set_year(digits(0, 4));
    d->set_month(digits(5, 2));
    d->set_day(digits(8, 2));
    return absl::OkStatus();
  }
  return Invalid(path + R"(: expected {"amount": "123.45", "currency": "EUR"} for money or )"
                        R"({"date": "2026-11-23"} for a date)");
}

absl::StatusOr<docket::v1::Priority> PriorityFromJson(const std::string& p, const std::string& path) {
  if (p == "low" || p == "PRIORITY_LOW") return docket::v1::PRIORITY_LOW;
  if (p == "normal" || p == "PRIORITY_NORMAL") return docket::v1::PRIORITY_NORMAL;
  if (p == "high" || p == "PRIORITY_HIGH") return docket::v1::PRIORITY_HIGH;
  if (p == "urgent" || p == "PRIORITY_URGENT") return docket::v1::PRIORITY_URGENT;
  return Invalid(path + ": expected low, normal, high or urgent");
}

absl::StatusOr<docket::v1::Actor::Type> ActorTypeFromJson(const std::string& t,
                                                          const std::string& path) {
  using docket::v1::Actor;
  if (t == "person" || t == "TYPE_PERSON") return Actor::TYPE_PERSON;
  if (t == "bot" || t == "TYPE_BOT") return Actor::TYPE_BOT;
  if (t == "system" || t == "TYPE_SYSTEM") return Actor::TYPE_SYSTEM;
  if (t == "publisher" || t == "TYPE_PUBLISHER") return Actor::TYPE_PUBLISHER;
  return Invalid(path + ": expected person, bot, system or publisher");
}

absl::StatusOr<WorkSubmission> SubmissionFromJson(const json& data, const std::string& path) {
  if (!data.is_object()) {
    return Invalid(absl::StrCat(path, ": expected a JSON object, got ", TypeName(data)));
  }
  DOCKET_RETURN_IF_ERROR(CheckMembers(
      data, {"tenant", "kind", "idempotency_key", "priority", "external_ref", "requester", "attributes"},
      path));
  WorkSubmission s;
  DOCKET_ASSIGN_OR_RETURN(auto tenant, OptionalString(data, "tenant", path));
  if (tenant) s.set_tenant(*tenant);
  DOCKET_ASSIGN_OR_RETURN(auto kind, OptionalString(data, "kind", path));
  if (kind) s.set_kind(*kind);
  DOCKET_ASSIGN_OR_RETURN(auto key, OptionalString(data, "idempotency_key", path));
  if (key) s.set_idempotency_key(*key);
  DOCKET_ASSIGN_OR_RETURN(auto ref, OptionalString(data, "external_ref", path));
  if (ref) s.set_external_ref(*ref);
  DOCKET_ASSIGN_OR_RETURN(auto priority, OptionalString(data, "priority", path));
  if (priority) {
    DOCKET_ASSIGN_OR_RETURN(auto p, PriorityFromJson(*priority, path + ".priority"));
    s.set_priority(p);
  }

  if (const auto it = data.find("requester"); it != data.end() && !it->is_null()) {
    const std::string rpath = path + ".requester";
    if (!it->is_object()) return Invalid(absl::StrCat(rpath, ": expected an object, got ", TypeName(*it)));
    DOCKET_RETURN_IF_ERROR(CheckMembers(*it, {"type", "id"}, rpath));
    DOCKET_ASSIGN_OR_RETURN(auto type, OptionalString(*it, "type", rpath));
    if (type) {
      DOCKET_ASSIGN_OR_RETURN(auto t, ActorTypeFromJson(*type, rpath + ".type"));
      s.mutable_requester()->set_type(t);
    }
    DOCKET_ASSIGN_OR_RETURN(auto id, OptionalString(*it, "id", rpath));
    if (id) s.mutable_requester()->set_id(*id);
  }

  if (const auto it = data.find("attributes"); it != data.end() && !it->is_null()) {
    const std::string apath = path + ".attributes";
    if (!it->is_object()) return Invalid(absl::StrCat(apath, ": expected an object, got ", TypeName(*it)));
    auto& attributes = *s.mutable_attributes();
    for (const auto& [name, value] : it->items()) {
      if (value.is_null()) continue;  // null = absent, as JSON publishers often write it
      DOCKET_RETURN_IF_ERROR(
          AttributeFromJson(value, absl::StrCat(apath, ".", Shown(name)), attributes[name]));
    }
  }
  return s;
}

absl::StatusOr<WorkSubmission> SubmissionFromProtobuf(std::string_view bytes, const std::string& what) {
  WorkSubmission s;
  if (!s.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Invalid(what + " is not a serialized docket.v1.WorkSubmission");
  }
  return s;
}

// Fills what the data left out from the event's attributes (see the header).
absl::Status Complete(DecodedSubmission& d, const std::optional<std::string>& event_tenant) {
  WorkSubmission& s = d.submission;
  if (event_tenant && !event_tenant->empty()) {
    if (s.tenant().empty()) {
      s.set_tenant(*event_tenant);
    } else if (s.tenant() != *event_tenant) {
      return Invalid(d.structured ? "the data's tenant differs from the event's tenant attribute"
                                  : "the data's tenant differs from the ce_tenant header");
    }
  }
  if (s.idempotency_key().empty()) {
    std::string key = absl::StrCat(d.source, "/", d.id);
    if (key.size() > kMaxIdempotencyKeyBytes) key = "ce-sha256:" + hash::Sha256Hex(key);
    s.set_idempotency_key(std::move(key));
  }
  if (!ValidTraceparent(d.traceparent)) d.traceparent.clear();
  return absl::OkStatus();
}

absl::Status CheckType(std::string_view type, const std::string& what) {
  if (type != kSubmitEventType) {
    return Invalid(absl::StrCat(what, " \"", Shown(type), "\" is not ", std::string(kSubmitEventType)));
  }
  return absl::OkStatus();
}

absl::Status CheckSpecversion(std::string_view v, const std::string& what) {
  if (v != "1.0") {
    return Invalid(absl::StrCat(what, " \"", Shown(v), "\" is not supported (expected 1.0)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DecodedSubmission> DecodeBinary(const kafka::Record& r,
                                               const std::optional<std::string>& content_type) {
  DecodedSubmission d;
  DOCKET_ASSIGN_OR_RETURN(std::string specversion, RequiredHeader(r, "ce_specversion"));
  DOCKET_RETURN_IF_ERROR(CheckSpecversion(specversion, "ce_specversion"));
  DOCKET_ASSIGN_OR_RETURN(d.id, RequiredHeader(r, "ce_id"));
  DOCKET_ASSIGN_OR_RETURN(d.source, RequiredHeader(r, "ce_source"));
  DOCKET_ASSIGN_OR_RETURN(d.type, RequiredHeader(r, "ce_type"));
  DOCKET_RETURN_IF_ERROR(CheckType(d.type, "ce_type"));
  DOCKET_ASSIGN_OR_RETURN(auto subject, SingleHeader(r, "ce_subject"));
  d.subject = subject.value_or("");
  DOCKET_ASSIGN_OR_RETURN(auto tenant, SingleHeader(r, "ce_tenant"));
  DOCKET_ASSIGN_OR_RETURN(auto traceparent, SingleHeader(r, "ce_traceparent"));
  if (!traceparent) {
    // OpenTelemetry's Kafka instrumentation writes a plain traceparent header.
    DOCKET_ASSIGN_OR_RETURN(traceparent, SingleHeader(r, "traceparent"));
  }
  d.traceparent = traceparent.value_or("");

  if (!content_type) {
    return Invalid(absl::StrCat("missing content-type header (expected ", kExpectedContentTypes, ")"));
  }
  const std::string media = MediaType(*content_type);
  if (IsJsonMedia(media)) {
    DOCKET_ASSIGN_OR_RETURN(json data, ParseJson(r.value, "data"));
    DOCKET_ASSIGN_OR_RETURN(d.submission, SubmissionFromJson(data, "data"));
  } else if (IsProtobufMedia(media)) {
    DOCKET_ASSIGN_OR_RETURN(d.submission, SubmissionFromProtobuf(r.value, "data"));
  } else {
    return Invalid(absl::StrCat("unsupported content-type \"", Shown(*content_type), "\" (expected ",
                                kExpectedContentTypes, ")"));
  }
  DOCKET_RETURN_IF_ERROR(Complete(d, tenant));
  return d;
}

absl::StatusOr<DecodedSubmission> DecodeStructured(const kafka::Record& r) {
  DecodedSubmission d;
  d.structured = true;
  DOCKET_ASSIGN_OR_RETURN(json event, ParseJson(r.value, "event"));
  if (!event.is_object()) {
    return Invalid(absl::StrCat("event: expected a JSON object, got ", TypeName(event)));
  }
  const auto required = [&](const char* key) -> absl::StatusOr<std::string> {
    DOCKET_ASSIGN_OR_RETURN(auto v, OptionalString(event, key, "event"));
    if (!v || v->empty()) return Invalid(absl::StrCat("event.", key, ": is required"));
    return *std::move(v);
  };
  DOCKET_ASSIGN_OR_RETURN(std::string specversion, required("specversion"));
  DOCKET_RETURN_IF_ERROR(CheckSpecversion(specversion, "event.specversion"));
  DOCKET_ASSIGN_OR_RETURN(d.id, required("id"));
  DOCKET_ASSIGN_OR_RETURN(d.source, required("source"));
  DOCKET_ASSIGN_OR_RETURN(d.type, required("type"));
  DOCKET_RETURN_IF_ERROR(CheckType(d.type, "event.type"));
  DOCKET_ASSIGN_OR_RETURN(auto subject, OptionalString(event, "subject", "event"));
  d.subject = subject.value_or("");
  DOCKET_ASSIGN_OR_RETURN(auto tenant, OptionalString(event, "tenant", "event"));
  DOCKET_ASSIGN_OR_RETURN(auto traceparent, OptionalString(event, "traceparent", "event"));
  d.traceparent = traceparent.value_or("");
  DOCKET_ASSIGN_OR_RETURN(auto datacontenttype, OptionalString(event, "datacontenttype", "event"));
  const std::string media = datacontenttype ? MediaType(*datacontenttype) : "";

  const auto data = event.find("data");
  const auto data_base64 = event.find("data_base64");
  const bool has_data = data != event.end() && !data->is_null();
  const bool has_base64 = data_base64 != event.end() && !data_base64->is_null();
  if (has_data && has_base64) return Invalid("event has both data and data_base64");
  if (!has_data && !has_base64) return Invalid("event has no data (data or data_base64)");
  if (has_data) {
    if (datacontenttype && !IsJsonMedia(media)) {
      return Invalid(absl::StrCat("event.datacontenttype \"", Shown(*datacontenttype),
                                  "\" needs data_base64 (data holds JSON only)"));
    }
    DOCKET_ASSIGN_OR_RETURN(d.submission, SubmissionFromJson(*data, "data"));
  } else {
    if (!data_base64->is_string()) {
      return Invalid(absl::StrCat("event.data_base64: expected a string, got ", TypeName(*data_base64)));
    }
    std::string bytes;
    if (!absl::Base64Unescape(data_base64->get_ref<const std::string&>(), &bytes)) {
      return Invalid("event.data_base64: is not valid base64");
    }
    if (!datacontenttype || IsProtobufMedia(media)) {
      DOCKET_ASSIGN_OR_RETURN(d.submission, SubmissionFromProtobuf(bytes, "data_base64"));
    } else if (IsJsonMedia(media)) {
      DOCKET_ASSIGN_OR_RETURN(json parsed, ParseJson(bytes, "data_base64"));
      DOCKET_ASSIGN_OR_RETURN(d.submission, SubmissionFromJson(parsed, "data"));
    } else {
      return Invalid(absl::StrCat("event.datacontenttype \"", Shown(*datacontenttype),
                                  "\" is not supported (expected application/json or "
                                  "application/protobuf)"));
    }
  }
  DOCKET_RETURN_IF_ERROR(Complete(d, tenant));
  return d;
}

}  // namespace

absl::StatusOr<std::int64_t> ParseMinorUnits(std::string_view s) {
  const auto syntax = [] { return Invalid(R"(expected a decimal amount like "123.45")"); };
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  const std::size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  const auto all_digits = [](std::string_view t) {
    return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction) ||
      (dot != std::string_view::npos && fraction.empty())) {
    return syntax();
  }
  if (fraction.size() > 2) return Invalid("has more than 2 decimal places");
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t units = 0;
  const auto push = [&](char c) {
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (units > (kMax - digit) / 10) return false;
    units = units * 10 + digit;
    return true;
  };
  bool ok = true;
  for (char c : whole) ok = ok && push(c);
  for (std::size_t i = 0; i < 2; ++i) ok = ok && push(i < fraction.size() ? fraction[i] : '0');
  if (!ok) return Invalid("is out of range");
  const auto value = static_cast<std::int64_t>(units);
  return negative ? -value : value;
}

absl::StatusOr<DecodedSubmission> DecodeIntakeRecord(const kafka::Record& record) {
  if (record.value.size() > kMaxCloudEventBytes) {
    return Invalid(absl::StrCat("record value is ", record.value.size(), " bytes; at most ",
                                kMaxCloudEventBytes, " are accepted"));
  }
  if (record.value.empty()) return Invalid("record value is empty");
  try {
    // The Kafka binding names the header content-type; Kafka header names
    // are case-sensitive, but publishers write Content-Type too.
    DOCKET_ASSIGN_OR_RETURN(auto content_type, SingleHeader(record, "content-type", /*ignore_case=*/true));
    if (content_type) {
      const std::string media = MediaType(*content_type);
      if (media == "application/cloudevents+json") return DecodeStructured(record);
      if (media.starts_with("application/cloudevents")) {
        return Invalid(absl::StrCat("unsupported content-type \"", Shown(*content_type),
                                    "\" (batches and non-JSON event formats are not accepted; "
                                    "expected ", kExpectedContentTypes, ")"));
      }
    }
    return DecodeBinary(record, content_type);
  } catch (const std::exception&) {
    // Backstop: the decoder checks types before reading them, so this is not
    // expected; the exception's text is not used because it may quote data.
    return Invalid("the record could not be decoded as a CloudEvent");
  }
}

}  // namespace docket::intake
