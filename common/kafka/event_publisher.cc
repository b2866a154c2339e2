#include "common/kafka/event_publisher.h"

#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>

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

std::vector<absl::Status> EventPublisher::PublishAll(std::vector<Record> records,
                                                     std::chrono::steady_clock::time_point deadline) {
  // Shared with the delivery callbacks, which may outlive a wait cut short.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<absl::Status> status;
    std::vector<bool> done;
    std::size_t left = 0;
  };
  auto pending = std::make_shared<Pending>();
  pending->status.resize(records.size());
  pending->done.resize(records.size(), false);
  pending->left = records.size();
  for (std::size_t i = 0; i < records.size(); ++i) {
    PublishAsync(std::move(records[i]), [pending, i](absl::Status s) {
      std::lock_guard lock(pending->mu);
      pending->status[i] = std::move(s);
      pending->done[i] = true;
      if (--pending->left == 0) pending->cv.notify_all();
    });
  }
  std::unique_lock lock(pending->mu);
  const auto all_done = [&] { return pending->left == 0; };
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    pending->cv.wait(lock, all_done);  // bounded by the producer's delivery timeout
  } else {
    pending->cv.wait_until(lock, deadline, all_done);
  }
  std::vector<absl::Status> out = pending->status;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!pending->done[i]) out[i] = absl::DeadlineExceededError("no confirmation from Kafka in time");
  }
  return out;
}

}  // namespace docket::kafka
