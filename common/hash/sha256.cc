#include "common/hash/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace docket::hash {

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest d{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != d.size()) {
    std::abort();
  }
  return d;
}

std::string Hex(const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0x0f]);
  }
  return out;
}

}  // namespace docket::hash
