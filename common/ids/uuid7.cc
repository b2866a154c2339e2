#include "common/ids/uuid7.h"

#include <chrono>

namespace docket {

UuidV7Generator::UuidV7Generator(const Clock& clock) : clock_(clock), rng_(std::random_device{}()) {}

std::string UuidV7Generator::Next() {
  std::uint64_t ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch()).count());
  std::uint64_t random;
  std::uint16_t counter;
  {
    std::lock_guard lock(mu_);
    if (ms <= last_ms_) {
      // Same millisecond (or the clock stepped back): keep order by counting.
      ms = last_ms_;
      if (++counter_ > 0xFFF) {  // counter exhausted: borrow the next millisecond
        ++ms;
        counter_ = static_cast<std::uint16_t>(rng_() & 0x3FF);
      }
    } else {
      counter_ = static_cast<std::uint16_t>(rng_() & 0x3FF);  // leave room to count up
    }
    last_ms_ = ms;
    counter = counter_;
    random = rng_();
  }
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | ((counter >> 8) & 0x0F));
  b[7] = static_cast<unsigned char>(counter & 0xFF);
  b[8] = static_cast<unsigned char>(0x80 | ((random >> 56) & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<unsigned char>(random >> (8 * (15 - i)));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xF]);
  }
  return out;
}

bool IsUuidV7(std::string_view t) {
  if (t.size() != 36) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (t[i] == '-')) return false;
    if (!dash && !((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f'))) return false;
  }
  return t[14] == '7' && (t[19] == '8' || t[19] == '9' || t[19] == 'a' || t[19] == 'b');
}

}  // namespace docket
