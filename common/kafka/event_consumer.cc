#include "common/kafka/event_consumer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace docket::kafka {

RecordHandler DecodingHandler(EventHandler handler,
                              const std::vector<docket::v1::Event::PayloadCase>& handled) {
  std::vector<std::string> types;
  for (auto payload : handled) types.push_back(EventType(payload));
  return [handler = std::move(handler), handled, types = std::move(types)](const Record& record) -> absl::Status {
    if (!handled.empty()) {
      const std::string* type = record.FindHeader("ce_type");
      if (type && std::find(types.begin(), types.end(), *type) == types.end()) return absl::OkStatus();
    }
    thread_local docket::v1::Event event;
    if (absl::Status s = DecodeEventInto(record, event); !s.ok()) {
      // Poison: the consumer sends it to the DLQ with this message as the reason.
      return absl::InvalidArgumentError(absl::StrCat("undecodable record: ", s.message()));
    }
    if (!handled.empty() && std::find(handled.begin(), handled.end(), event.payload_case()) == handled.end()) {
      return absl::OkStatus();
    }
    return handler(event, record);
  };
}

}  // namespace docket::kafka
