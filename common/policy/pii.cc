#include "common/policy/pii.h"

#include <re2/re2.h>

#include <array>
#include <cctype>
#include <map>

namespace docket::compliance {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

int PrefixNumber(std::string_view digits, std::size_t n) {
  if (digits.size() < n) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) v = v * 10 + (digits[i] - '0');
  return v;
}

bool InRange(int v, int lo, int hi) { return v >= lo && v <= hi; }

// Issuer prefix (IIN) and length of the major networks.
bool KnownIssuer(std::string_view d) {
  const std::size_t len = d.size();
  const int p1 = PrefixNumber(d, 1), p2 = PrefixNumber(d, 2), p3 = PrefixNumber(d, 3),
            p4 = PrefixNumber(d, 4);
  if (p1 == 4) return len == 13 || len == 16 || len == 19;                       // Visa
  if (InRange(p2, 51, 55) || InRange(p4, 2221, 2720)) return len == 16;          // Mastercard
  if (p2 == 34 || p2 == 37) return len == 15;                                    // Amex
  if (p4 == 6011 || InRange(p3, 644, 649) || p2 == 65) return len >= 16;         // Discover
  if (InRange(p4, 3528, 3589)) return len >= 16;                                 // JCB
  if (p2 == 36 || p2 == 38 || p2 == 39 || InRange(p3, 300, 305)) return len >= 14;  // Diners
  if (p2 == 62) return len >= 16;                                                // UnionPay
  static constexpr std::array<int, 8> kMaestro = {5018, 5020, 5038, 5893, 6304, 6759, 6761, 6763};
  for (int m : kMaestro) {
    if (p4 == m || (m == 6761 && InRange(p4, 6761, 6763))) return len >= 12;
  }
  return false;
}

// IBAN lengths of the SEPA countries and other common ones (ISO 13616 registry).
const std::map<std::string, std::size_t, std::less<>>& IbanLengths() {
  static const auto* kLengths = new std::map<std::string, std::size_t, std::less<>>{
      {"AD", 24}, {"AE", 23}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22}, {"CH", 21},
      {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18},
      {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"HR", 21},
      {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IS", 26}, {"IT", 27}, {"LI", 21}, {"LT", 20},
      {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MT", 31}, {"NL", 18}, {"NO", 15}, {"PL", 28},
      {"PT", 25}, {"RO", 24}, {"SA", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
      {"TR", 26}, {"VA", 22}};
  return *kLengths;
}

std::string DigitsOnly(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (IsDigit(c)) out.push_back(c);
  }
  return out;
}

// Splits "4111 1111-1111 1111" into its digit groups.
std::vector<std::string_view> DigitGroups(std::string_view s) {
  std::vector<std::string_view> groups;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !IsDigit(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && IsDigit(s[j])) ++j;
    if (j > i) groups.push_back(s.substr(i, j - i));
    i = j;
  }
  return groups;
}

const char* PatternFor(PiiKind kind) {
  switch (kind) {
    case PiiKind::kCard:
      return R"(\b(?:[0-9][ -]?){11,18}[0-9]\b)";
    case PiiKind::kIban:
      return R"(\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b)";
    case PiiKind::kEmail:
      return R"([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})";
    case PiiKind::kPhone:
      return R"(\+[1-9](?:[ ()./-]{0,2}[0-9]){6,16})";
    case PiiKind::kNationalId:
      return R"(\b(?:[0-9]{3}-[0-9]{2}-[0-9]{4}|[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D])\b)";
    case PiiKind::kCustom:
      break;
  }
  return "";
}

}  // namespace

std::string_view PiiKindName(PiiKind kind) {
  switch (kind) {
    case PiiKind::kCard: return "card";
    case PiiKind::kIban: return "iban";
    case PiiKind::kEmail: return "email";
    case PiiKind::kPhone: return "phone";
    case PiiKind::kNationalId: return "national_id";
    case PiiKind::kCustom: return "custom";
  }
  return "custom";
}

std::string_view PiiKindDescription(PiiKind kind) {
  switch (kind) {
    case PiiKind::kCard: return "a payment card number";
    case PiiKind::kIban: return "an IBAN";
    case PiiKind::kEmail: return "an e-mail address";
    case PiiKind::kPhone: return "a phone number";
    case PiiKind::kNationalId: return "a national id number";
    case PiiKind::kCustom: return "text matching a restricted pattern";
  }
  return "personal data";
}

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!IsDigit(*it)) return false;
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool ValidCardNumber(std::string_view digits) {
  if (digits.size() < 12 || digits.size() > 19) return false;
  for (char c : digits) {
    if (!IsDigit(c)) return false;
  }
  return KnownIssuer(digits) && LuhnValid(digits);
}

bool ValidIban(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34) return false;
  if (!IsUpper(iban[0]) || !IsUpper(iban[1]) || !IsDigit(iban[2]) || !IsDigit(iban[3])) return false;
  for (char c : iban) {
    if (!IsUpper(c) && !IsDigit(c)) return false;
  }
  const auto& lengths = IbanLengths();
  if (auto it = lengths.find(iban.substr(0, 2)); it != lengths.end() && it->second != iban.size()) {
    return false;
  }
  // Move the first four characters to the end, letters to 10..35, mod 97
  // digit by digit (the number is too long for any integer type).
  int rem = 0;
  auto feed = [&rem](char c) {
    if (IsDigit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    }
  };
  for (std::size_t i = 4; i < iban.size(); ++i) feed(iban[i]);
  for (std::size_t i = 0; i < 4; ++i) feed(iban[i]);
  return rem == 1;
}

bool ValidUsSsn(std::string_view t) {
  if (t.size() != 11 || t[3] != '-' || t[6] != '-') return false;
  const std::string d = DigitsOnly(t);
  if (d.size() != 9) return false;
  const int area = PrefixNumber(d, 3);
  const int group = (d[3] - '0') * 10 + (d[4] - '0');
  const bool serial_zero = d.substr(5) == "0000";
  return area != 0 && area != 666 && area < 900 && group != 0 && !serial_zero;
}

bool ValidUkNino(std::string_view t) {
  std::string s;
  for (char c : t) {
    if (c != ' ') s.push_back(c);
  }
  if (s.size() != 9 || !IsUpper(s[0]) || !IsUpper(s[1])) return false;
  for (int i = 2; i < 8; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  if (s[8] < 'A' || s[8] > 'D') return false;
  static constexpr std::string_view kBadFirst = "DFIQUV";
  static constexpr std::string_view kBadSecond = "DFIOQUV";
  if (kBadFirst.find(s[0]) != std::string_view::npos) return false;
  if (kBadSecond.find(s[1]) != std::string_view::npos) return false;
  const std::string prefix = s.substr(0, 2);
  for (const char* bad : {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}) {
    if (prefix == bad) return false;
  }
  return true;
}

std::string Mask(std::string_view value, int keep) {
  int significant = 0;
  for (char c : value) significant += IsAlnum(c) ? 1 : 0;
  const int show = significant <= 8 ? 0 : keep;
  std::string out(value);
  int seen = 0;
  for (char& c : out) {
    if (!IsAlnum(c)) continue;
    ++seen;
    if (seen <= significant - show) c = '*';
  }
  return out;
}

std::string MaskFinding(PiiKind kind, std::string_view value) {
  switch (kind) {
    case PiiKind::kCard:
    case PiiKind::kIban:
      return Mask(value, 4);
    case PiiKind::kEmail: {
      const auto at = value.find('@');
      const auto dot = value.rfind('.');
      if (at == std::string_view::npos || at == 0 || dot == std::string_view::npos || dot < at) {
        return "***";
      }
      return std::string(1, value[0]) + "***@***" + std::string(value.substr(dot));
    }
    case PiiKind::kPhone:
    case PiiKind::kNationalId:
    case PiiKind::kCustom:
      return Mask(value, 0);
  }
  return "***";
}

PiiDetector::PiiDetector(PiiKind kind, std::unique_ptr<re2::RE2> re)
    : kind_(kind), re_(std::move(re)) {}
PiiDetector::~PiiDetector() = default;

std::unique_ptr<PiiDetector> PiiDetector::BuiltIn(PiiKind kind) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>(PatternFor(kind), options);
  if (!re->ok()) return nullptr;  // the built-in patterns are tested
  return std::unique_ptr<PiiDetector>(new PiiDetector(kind, std::move(re)));
}

std::unique_ptr<PiiDetector> PiiDetector::Custom(const std::string& pattern, std::string* error) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);  // bounded memory for any pattern
  auto re = std::make_unique<re2::RE2>(pattern, options);
  if (!re->ok()) {
    if (error) *error = re->error();
    return nullptr;
  }
  if (re->pattern().empty() || re2::RE2::FullMatch("", *re)) {
    if (error) *error = "pattern matches the empty string";
    return nullptr;
  }
  return std::unique_ptr<PiiDetector>(new PiiDetector(PiiKind::kCustom, std::move(re)));
}

bool PiiDetector::Validate(std::string_view candidate, std::string* normalized) const {
  switch (kind_) {
    case PiiKind::kCard: {
      // The candidate may run into a neighbouring number ("4111 ... 1111 12"):
      // try every run of consecutive digit groups of a card's length.
      const auto groups = DigitGroups(candidate);
      for (std::size_t i = 0; i < groups.size(); ++i) {
        std::string digits;
        for (std::size_t j = i; j < groups.size(); ++j) {
          digits.append(groups[j]);
          if (digits.size() > 19) break;
          if (digits.size() >= 12 && ValidCardNumber(digits)) {
            *normalized = digits;
            return true;
          }
        }
      }
      return false;
    }
    case PiiKind::kIban: {
      std::string compact;
      for (char c : candidate) {
        if (c != ' ') compact.push_back(c);
      }
      const auto& lengths = IbanLengths();
      if (auto it = lengths.find(std::string_view(compact).substr(0, 2)); it != lengths.end()) {
        // A known country fixes the length: trailing words are not part of it.
        if (compact.size() < it->second) return false;
        compact.resize(it->second);
        if (!ValidIban(compact)) return false;
        *normalized = compact;
        return true;
      }
      if (!ValidIban(compact)) return false;
      *normalized = compact;
      return true;
    }
    case PiiKind::kEmail: {
      const auto at = candidate.find('@');
      const std::string_view local = candidate.substr(0, at);
      const std::string_view domain = candidate.substr(at + 1);
      if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
        return false;
      }
      std::size_t start = 0;
      while (start <= domain.size()) {
        std::size_t end = domain.find('.', start);
        if (end == std::string_view::npos) end = domain.size();
        const std::string_view label = domain.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
          return false;
        }
        start = end + 1;
      }
      *normalized = std::string(candidate);
      return true;
    }
    case PiiKind::kPhone: {
      const std::string d = DigitsOnly(candidate);
      if (d.size() < 8 || d.size() > 15) return false;
      *normalized = "+" + d;
      return true;
    }
    case PiiKind::kNationalId:
      if (!ValidUsSsn(candidate) && !ValidUkNino(candidate)) return false;
      *normalized = std::string(candidate);
      return true;
    case PiiKind::kCustom:
      *normalized = std::string(candidate);
      return true;
  }
  return false;
}

bool PiiDetector::Find(std::string_view text, PiiFinding* finding) const {
  std::size_t begin = 0, end = 0;
  if (!Next(text, 0, &begin, &end)) return false;
  if (finding) {
    finding->kind = kind_;
    finding->masked = MaskFinding(kind_, text.substr(begin, end - begin));
  }
  return true;
}

int PiiDetector::Redact(std::string* text, std::vector<PiiFinding>* findings) const {
  std::string out;
  std::size_t copied = 0, begin = 0, end = 0;
  int n = 0;
  while (Next(*text, copied, &begin, &end)) {
    const std::string masked = MaskFinding(kind_, std::string_view(*text).substr(begin, end - begin));
    out.append(*text, copied, begin - copied);
    out += masked;
    if (findings) findings->push_back(PiiFinding{kind_, masked});
    copied = end;
    ++n;
  }
  if (n > 0) {
    out.append(*text, copied, std::string::npos);
    *text = std::move(out);
  }
  return n;
}

bool PiiDetector::Next(std::string_view text, std::size_t from, std::size_t* begin,
                       std::size_t* end) const {
  re2::StringPiece input(text.data(), text.size());
  re2::StringPiece match;
  std::size_t pos = from;
  while (pos <= text.size() &&
         re_->Match(input, pos, text.size(), re2::RE2::UNANCHORED, &match, 1)) {
    std::string normalized;
    const std::string_view candidate(match.data(), match.size());
    const std::size_t start = static_cast<std::size_t>(match.data() - text.data());
    if (!candidate.empty() && Validate(candidate, &normalized)) {
      *begin = start;
      *end = start + candidate.size();
      return true;
    }
    // Go on after the start of this candidate (not after its end: a shorter
    // valid match may start inside it).
    std::size_t next = start + 1;
    // Skip to the next word start so the scan stays linear in practice.
    while (next < text.size() && IsAlnum(text[next]) && IsAlnum(text[next - 1])) ++next;
    if (match.empty() && next <= pos) next = pos + 1;
    pos = next;
  }
  return false;
}

}  // namespace docket::compliance
