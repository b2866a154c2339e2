#pragma once

// PII detectors: find personal or payment data in free text with a
// linear-time regex engine (RE2) for the candidates and a real validation of
// each candidate (Luhn for card numbers, ISO 7064 mod-97 for IBANs, ...), so
// an invoice number that merely looks long does not raise a flag. Nothing
// here returns or logs a matched value unmasked.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace docket::compliance {

enum class PiiKind { kCard, kIban, kEmail, kPhone, kNationalId, kCustom };

// "card", "iban", "email", "phone", "national_id", "custom".
std::string_view PiiKindName(PiiKind kind);
// A human name for messages, e.g. "a payment card number".
std::string_view PiiKindDescription(PiiKind kind);

// Luhn (mod 10) over the digits of `digits` (digits only; false otherwise or
// when empty).
bool LuhnValid(std::string_view digits);
// True for 13..19 digits that pass Luhn and start with a known issuer prefix
// of a matching length (Visa, Mastercard, Amex, Discover, JCB, Diners,
// Maestro, UnionPay). Spaces and dashes are not allowed here: pass digits.
bool ValidCardNumber(std::string_view digits);
// ISO 13616 IBAN without spaces: two letters, two check digits, a BBAN of
// the country's length where the country is known (else 11..30), and
// mod-97 of the rearranged number == 1. Upper case only.
bool ValidIban(std::string_view iban);
// US SSN "123-45-6789" with the SSA's never-issued ranges excluded.
bool ValidUsSsn(std::string_view text);
// UK National Insurance number "AB123456C" (spaces allowed) with the
// prefixes HMRC never issues excluded.
bool ValidUkNino(std::string_view text);

// `value` with everything but its last `keep` letters/digits replaced by '*'
// (separators kept), e.g. Mask("4111 1111 1111 1111", 4) = "**** **** **** 1111".
// Values of up to 8 significant characters are masked completely.
std::string Mask(std::string_view value, int keep = 4);
// The masked form a message may show for a finding of `kind`: card numbers
// and IBANs keep their last 4 characters, e-mails keep the first letter and
// the top-level domain ("j***@***.com"), everything else is masked fully.
std::string MaskFinding(PiiKind kind, std::string_view value);

struct PiiFinding {
  PiiKind kind = PiiKind::kCard;
  std::string masked;  // never the value itself
};

// One compiled detector. Thread-safe after construction (RE2 is).
class PiiDetector {
 public:
  // A built-in detector (not kCustom).
  static std::unique_ptr<PiiDetector> BuiltIn(PiiKind kind);
  // A custom pattern; nullptr and `*error` set if it does not compile.
  static std::unique_ptr<PiiDetector> Custom(const std::string& pattern, std::string* error);
  ~PiiDetector();

  PiiKind kind() const { return kind_; }
  // The first validated finding in `text`, if any.
  bool Find(std::string_view text, PiiFinding* finding) const;
  // Replaces every validated finding in `text` with its masked form
  // (MaskFinding) and appends one PiiFinding per replacement.
  // Returns how many it replaced.
  int Redact(std::string* text, std::vector<PiiFinding>* findings) const;

 private:
  PiiDetector(PiiKind kind, std::unique_ptr<re2::RE2> re);
  bool Validate(std::string_view candidate, std::string* normalized) const;
  // The next validated finding at or after `from`: [*begin, *end).
  bool Next(std::string_view text, std::size_t from, std::size_t* begin, std::size_t* end) const;

  PiiKind kind_;
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace docket::compliance
