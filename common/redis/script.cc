#include <openssl/evp.h>

#include <string>

#include "common/redis/redis_client.h"

namespace docket::redis {
namespace {

// Lowercase hex SHA-1, the name Redis gives a script (SCRIPT LOAD, EVALSHA).
std::string Sha1Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; an empty name then makes
  // every EVALSHA answer NOSCRIPT and Eval falls back to EVAL.
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha1(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

}  // namespace docket::redis
