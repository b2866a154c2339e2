#pragma once

// UUIDv7 ids (work items, original events) (RFC 9562): 48 bits of Unix milliseconds, then a
// counter that keeps ids from one generator strictly increasing within a
// millisecond, then random bits. Sortable by admission time, unguessable
// enough to be ids, never a secret.

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "common/clock/clock.h"

namespace docket {

class UuidV7Generator {
 public:
  explicit UuidV7Generator(const Clock& clock);
  // Thread-safe. Canonical lower-case 8-4-4-4-12 text.
  std::string Next();

 private:
  const Clock& clock_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  std::uint64_t last_ms_ = 0;
  std::uint16_t counter_ = 0;  // 12 bits (rand_a)
};

// True for a canonical UUIDv7 text (version 7, RFC 4122 variant).
bool IsUuidV7(std::string_view text);

}  // namespace docket
