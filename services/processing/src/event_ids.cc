#include "services/processing/src/event_ids.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace docket::processing {

std::string DerivedEventId(const std::string& input_event_id, std::string_view transition) {
  std::string message;
  message.reserve(input_event_id.size() + 1 + transition.size());
  message.append(input_event_id).push_back('\x1f');
  message.append(transition);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &length, EVP_sha256(), nullptr) != 1 ||
      length < 16) {
    // SHA-256 over memory cannot fail short of a broken libcrypto; an id that
    // is not derived would break replay safety, so do not carry on.
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 16; ++i) {
    id[2 * i] = kHex[digest[i] >> 4];
    id[2 * i + 1] = kHex[digest[i] & 0x0f];
  }
  return id;
}

}  // namespace docket::processing
