#include "services/intake/src/validator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace docket::intake {
namespace {

using catalog::AttributeSpec;
using catalog::AttributeType;
using docket::v1::AttributeValue;

bool ValidUtf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

std::string TypeOf(const AttributeValue& v) {
  switch (v.value_case()) {
    case AttributeValue::kStringValue: return "string";
    case AttributeValue::kNumberValue: return "number";
    case AttributeValue::kMoneyValue: return "money";
    case AttributeValue::kDateValue: return "date";
    case AttributeValue::kBoolValue: return "bool";
    case AttributeValue::kEnumValue: return "enum";
    case AttributeValue::VALUE_NOT_SET: return "no value";
  }
  return "no value";
}

std::string Num(double v) {
  std::string s = absl::StrCat(v);
  return s;
}

void CheckRange(const AttributeSpec& spec, double value, const std::string& field,
                std::vector<Violation>& out) {
  if (spec.min && value < *spec.min) {
    out.push_back({field, absl::StrCat("must be at least ", Num(*spec.min))});
  }
  if (spec.max && value > *spec.max) {
    out.push_back({field, absl::StrCat("must be at most ", Num(*spec.max))});
  }
}

void CheckAttribute(const AttributeSpec& spec, const AttributeValue& v, const std::string& field,
                    std::vector<Violation>& out) {
  const std::string expected(catalog::AttributeTypeName(spec.type));
  auto wrong_type = [&] {
    out.push_back({field, absl::StrCat("expected ", expected, ", got ", TypeOf(v))});
  };
  switch (spec.type) {
    case AttributeType::kString: {
      if (v.value_case() != AttributeValue::kStringValue) return wrong_type();
      const std::string& s = v.string_value();
      if (!ValidUtf8(s)) out.push_back({field, "is not valid UTF-8"});
      if (s.size() > spec.max_length) {
        out.push_back({field, absl::StrCat("is ", s.size(), " bytes; at most ", spec.max_length, " allowed")});
      }
      if (spec.required && s.empty()) out.push_back({field, "is required and must not be empty"});
      return;
    }
    case AttributeType::kNumber: {
      if (v.value_case() != AttributeValue::kNumberValue) return wrong_type();
      if (!std::isfinite(v.number_value())) return out.push_back({field, "must be a finite number"});
      return CheckRange(spec, v.number_value(), field, out);
    }
    case AttributeType::kMoney: {
      if (v.value_case() != AttributeValue::kMoneyValue) return wrong_type();
      const std::string& cur = v.money_value().currency();
      const bool iso = cur.size() == 3 &&
                       std::all_of(cur.begin(), cur.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      if (!iso) {
        out.push_back({field + ".currency", "must be an ISO 4217 code like EUR"});
      } else if (!spec.currencies.empty() &&
                 std::find(spec.currencies.begin(), spec.currencies.end(), cur) == spec.currencies.end()) {
        std::string allowed;
        for (const auto& c : spec.currencies) absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", c);
        out.push_back({field + ".currency", absl::StrCat("must be one of ", allowed)});
      }
      // Minor units are hundredths for the currencies Docket's catalogs use.
      return CheckRange(spec, static_cast<double>(v.money_value().minor_units()) / 100.0, field, out);
    }
    case AttributeType::kDate: {
      if (v.value_case() != AttributeValue::kDateValue) return wrong_type();
      const auto& d = v.date_value();
      const absl::CivilDay day(d.year(), d.month(), d.day());
      if (d.year() < 1900 || d.year() > 9999 || day.year() != d.year() || day.month() != d.month() ||
          day.day() != d.day()) {
        out.push_back({field, "is not a valid calendar date"});
      }
      return;
    }
    case AttributeType::kEnum: {
      // Publishers that only know strings may send an enum member as a string.
      const std::string* member = v.value_case() == AttributeValue::kEnumValue ? &v.enum_value()
                                  : v.value_case() == AttributeValue::kStringValue ? &v.string_value()
                                                                                   : nullptr;
      if (!member) return wrong_type();
      if (std::find(spec.values.begin(), spec.values.end(), *member) == spec.values.end()) {
        std::string allowed;
        for (const auto& m : spec.values) absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", m);
        out.push_back({field, absl::StrCat("must be one of ", allowed)});
      }
      return;
    }
    case AttributeType::kBool:
      if (v.value_case() != AttributeValue::kBoolValue) return wrong_type();
      return;
  }
}

}  // namespace

std::vector<Violation> Validate(const catalog::Catalog& catalog,
                                const docket::v1::WorkSubmission& s) {
  std::vector<Violation> out;
  if (s.tenant().empty()) {
    out.push_back({"tenant", "is required"});
  } else if (!catalog.HasTenant(s.tenant())) {
    out.push_back({"tenant", "is not a tenant of this Docket"});
  }
  if (s.idempotency_key().empty()) {
    out.push_back({"idempotency_key", "is required (any string unique per tenant and item)"});
  } else if (s.idempotency_key().size() > kMaxIdempotencyKeyBytes) {
    out.push_back({"idempotency_key", absl::StrCat("is longer than ", kMaxIdempotencyKeyBytes, " bytes")});
  }
  if (!docket::v1::Priority_IsValid(s.priority())) {
    out.push_back({"priority", "is not a known priority"});
  }
  if (s.external_ref().size() > 256) out.push_back({"external_ref", "is longer than 256 bytes"});
  const std::size_t size = s.ByteSizeLong();
  if (size > catalog.limits().max_payload_bytes) {
    out.push_back({"submission", absl::StrCat("is ", size, " bytes; at most ",
                                              catalog.limits().max_payload_bytes, " allowed")});
  }
  if (static_cast<std::size_t>(s.attributes_size()) > catalog.limits().max_attributes) {
    out.push_back({"attributes", absl::StrCat("has ", s.attributes_size(), " entries; at most ",
                                              catalog.limits().max_attributes, " allowed")});
  }
  const catalog::Kind* kind = catalog.FindKind(s.kind());
  if (s.kind().empty()) {
    out.push_back({"kind", "is required"});
  } else if (!kind) {
    out.push_back({"kind", absl::StrCat("\"", s.kind().substr(0, 64), "\" is not in the catalog")});
  }
  if (!kind) return out;

  for (const AttributeSpec& spec : kind->attributes) {
    if (spec.required && !s.attributes().contains(spec.name)) {
      out.push_back({"attributes." + spec.name, "is required"});
    }
  }
  // Sorted, so the violations come in a stable order.
  std::vector<std::string> names;
  for (const auto& [name, value] : s.attributes()) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string field = "attributes." + name.substr(0, 64);
    const AttributeSpec* spec = kind->FindAttribute(name);
    if (!spec) {
      out.push_back({field, absl::StrCat("is not an attribute of kind ", kind->name)});
      continue;
    }
    CheckAttribute(*spec, s.attributes().at(name), field, out);
  }
  return out;
}

}  // namespace docket::intake
