#include "common/kafka/event_publisher.h"

#include <future>

namespace docket::kafka {

absl::Status EventPublisher::Publish(Record record) {
  // `done` runs exactly once, so the future is always satisfied; delivery is
  // bounded by the publisher's delivery timeout.
  std::promise<absl::Status> result;
  std::future<absl::Status> confirmed = result.get_future();
  PublishAsync(std::move(record), [&result](absl::Status status) {
    result.set_value(std::move(status));
  });
  return confirmed.get();
}

}  // namespace docket::kafka
