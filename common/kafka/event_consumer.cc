#include "common/kafka/event_consumer.h"

#include "absl/strings/str_cat.h"

namespace docket::kafka {

RecordHandler DecodingHandler(EventHandler handler) {
  return [handler = std::move(handler)](const Record& record) -> absl::Status {
    absl::StatusOr<docket::v1::Event> event = DecodeEvent(record);
    if (!event.ok()) {
      // Poison: the consumer sends it to the DLQ with this message as the reason.
      return absl::InvalidArgumentError(
          absl::StrCat("undecodable record: ", event.status().message()));
    }
    return handler(*event, record);
  };
}

}  // namespace docket::kafka
