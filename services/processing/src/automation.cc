#include "services/processing/src/automation.h"

#include <cmath>
#include <optional>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/civil_time.h"

namespace docket::processing {
namespace {

using catalog::AttributeType;
using catalog::Condition;
using docket::v1::AttributeValue;

// Applies c.op given compare(value) -> <0, 0, >0 (item vs condition value),
// or nullopt when the condition value does not parse. Unordered types only
// support eq, ne and in.
template <typename Compare>
bool Evaluate(const Condition& c, bool ordered, Compare compare) {
  if (c.op == Condition::Op::kIn) {
    for (const std::string& v : c.values) {
      const std::optional<int> r = compare(v);
      if (r && *r == 0) return true;
    }
    return false;
  }
  if (c.values.empty()) return false;
  const std::optional<int> r = compare(c.values.front());
  if (!r) return false;
  switch (c.op) {
    case Condition::Op::kEq: return *r == 0;
    case Condition::Op::kNe: return *r != 0;
    case Condition::Op::kLt: return ordered && *r < 0;
    case Condition::Op::kLe: return ordered && *r <= 0;
    case Condition::Op::kGt: return ordered && *r > 0;
    case Condition::Op::kGe: return ordered && *r >= 0;
    case Condition::Op::kIn: break;
  }
  return false;
}

template <typename T>
int Sign(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// An exact decimal: mantissa / 10^scale.
struct Decimal {
  __int128 mantissa = 0;
  int scale = 0;
};

std::optional<Decimal> ParseDecimal(std::string_view s) {
  Decimal d;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  int digits = 0;
  bool point = false;
  for (char ch : s) {
    if (ch == '.' && !point) {
      point = true;
      continue;
    }
    if (ch < '0' || ch > '9') return std::nullopt;
    // 30 digits keep every product below 2^127 (see CompareMoney).
    if (++digits > 30) return std::nullopt;
    d.mantissa = d.mantissa * 10 + (ch - '0');
    if (point) ++d.scale;
  }
  if (digits == 0 || d.scale > 18) return std::nullopt;
  if (negative) d.mantissa = -d.mantissa;
  return d;
}

// "500" or "500 EUR" against an amount in minor units (hundredths).
std::optional<int> CompareMoney(const v1::Money& money, std::string_view value) {
  while (!value.empty() && absl::ascii_isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
  while (!value.empty() && absl::ascii_isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
  std::string_view number = value;
  const auto space = value.find(' ');
  if (space != std::string_view::npos) {
    number = value.substr(0, space);
    std::string_view currency = value.substr(space + 1);
    while (!currency.empty() && currency.front() == ' ') currency.remove_prefix(1);
    if (currency.size() != 3) return std::nullopt;
    // A different currency is not comparable: fail closed rather than guess a rate.
    if (!absl::EqualsIgnoreCase(absl::string_view(currency.data(), currency.size()),
                                absl::string_view(money.currency()))) {
      return std::nullopt;
    }
  }
  const std::optional<Decimal> d = ParseDecimal(number);
  if (!d) return std::nullopt;
  __int128 lhs = money.minor_units();
  for (int i = 0; i < d->scale; ++i) lhs *= 10;
  const __int128 rhs = d->mantissa * 100;
  return Sign(lhs, rhs);
}

std::optional<int> CompareNumber(double number, const std::string& value) {
  double v = 0;
  if (!std::isfinite(number) || !absl::SimpleAtod(value, &v) || !std::isfinite(v)) return std::nullopt;
  return Sign(number, v);
}

std::optional<absl::CivilDay> ParseDay(const std::string& s) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(s, &day) || absl::FormatCivilTime(day) != s) return std::nullopt;
  return day;
}

std::optional<int> CompareDate(const v1::Date& date, const std::string& value) {
  const absl::CivilDay day(date.year(), date.month(), date.day());
  if (day.year() != date.year() || day.month() != date.month() || day.day() != date.day()) {
    return std::nullopt;  // 2026-02-30 is not a date
  }
  const std::optional<absl::CivilDay> v = ParseDay(value);
  if (!v) return std::nullopt;
  return Sign(day, *v);
}

std::optional<int> CompareBool(bool b, const std::string& value) {
  if (absl::EqualsIgnoreCase(value, "true")) return b ? 0 : 1;
  if (absl::EqualsIgnoreCase(value, "false")) return b ? 1 : 0;
  return std::nullopt;
}

std::optional<int> CompareString(const std::string& s, const std::string& value) {
  return s == value ? 0 : 1;  // equality only: the sign is never used for ordering
}

}  // namespace

bool ConditionHolds(const catalog::AttributeSpec& spec, const Condition& c, const AttributeValue* value) {
  if (value == nullptr) return false;
  switch (spec.type) {
    case AttributeType::kMoney:
      if (value->value_case() != AttributeValue::kMoneyValue) return false;
      return Evaluate(c, true, [&](const std::string& v) { return CompareMoney(value->money_value(), v); });
    case AttributeType::kNumber:
      if (value->value_case() != AttributeValue::kNumberValue) return false;
      return Evaluate(c, true, [&](const std::string& v) { return CompareNumber(value->number_value(), v); });
    case AttributeType::kDate:
      if (value->value_case() != AttributeValue::kDateValue) return false;
      return Evaluate(c, true, [&](const std::string& v) { return CompareDate(value->date_value(), v); });
    case AttributeType::kBool:
      if (value->value_case() != AttributeValue::kBoolValue) return false;
      return Evaluate(c, false, [&](const std::string& v) { return CompareBool(value->bool_value(), v); });
    case AttributeType::kEnum: {
      // Publishers that only know strings may send a member as a string (intake accepts both).
      const std::string* member = value->value_case() == AttributeValue::kEnumValue ? &value->enum_value()
                                  : value->value_case() == AttributeValue::kStringValue ? &value->string_value()
                                                                                        : nullptr;
      if (member == nullptr) return false;
      return Evaluate(c, false, [&](const std::string& v) { return CompareString(*member, v); });
    }
    case AttributeType::kString:
      if (value->value_case() != AttributeValue::kStringValue) return false;
      return Evaluate(c, false, [&](const std::string& v) { return CompareString(value->string_value(), v); });
  }
  return false;
}

const catalog::AutomationRule* MatchAutomation(const catalog::Kind& kind, const AttributeMap& attrs) {
  for (const catalog::AutomationRule& rule : kind.automation) {
    bool all = !rule.when.empty();  // a rule without conditions would automate everything: never
    for (const Condition& c : rule.when) {
      const catalog::AttributeSpec* spec = kind.FindAttribute(c.attribute);
      const auto it = attrs.find(c.attribute);
      if (spec == nullptr || it == attrs.end() ||
          !ConditionHolds(*spec, c, &it->second)) {
        all = false;
        break;
      }
    }
    if (all) return &rule;
  }
  return nullptr;
}

}  // namespace docket::processing
