#include "services/processing/src/event_ids.h"

#include "common/hash/sha256.h"

namespace docket::processing {

std::string DerivedEventId(const std::string& input_event_id, std::string_view transition) {
  std::string message;
  message.reserve(input_event_id.size() + 1 + transition.size());
  message.append(input_event_id).push_back('\x1f');
  message.append(transition);
  return hash::Sha256Hex(message).substr(0, 32);
}

}  // namespace docket::processing
