#pragma once

// SHA-256 and lowercase hex: the one implementation behind API key digests,
// derived event ids, idempotency keys and audit record hashes.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace docket::hash {

using Sha256Digest = std::array<unsigned char, 32>;

// SHA-256 of `data` (OpenSSL). Hashing memory fails only if libcrypto is
// broken or out of memory; the process aborts then rather than carry on with
// a digest that would silently match nothing or break replay safety.
Sha256Digest Sha256(std::string_view data);

// Lowercase hex of `n` bytes.
std::string Hex(const unsigned char* data, std::size_t n);
inline std::string Hex(const Sha256Digest& digest) { return Hex(digest.data(), digest.size()); }

// Lowercase hex of SHA-256(data): 64 characters.
inline std::string Sha256Hex(std::string_view data) { return Hex(Sha256(data)); }

}  // namespace docket::hash
