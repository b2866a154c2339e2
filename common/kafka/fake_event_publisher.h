#pragma once

// An in-memory EventPublisher for unit tests of services: it keeps what was
// published and can be told to fail the next publishes. Integration tests use
// the real publisher against a broker instead.
//
//   FakeEventPublisher publisher;
//   publisher.FailNext(1, absl::UnavailableError("broker down"));
//   EXPECT_EQ(handler.Submit(...).code(), absl::StatusCode::kUnavailable);
//   handler.Submit(...);
//   ASSERT_EQ(publisher.Events(topics.work()).size(), 1);

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka/event_publisher.h"

namespace docket::kafka {

// Thread-safe. Unlike the real publisher, `done` runs on the calling thread
// before PublishAsync returns. Accepted records get partition 0 and the next
// offset of their topic, as a one-partition topic would give them.
class FakeEventPublisher final : public EventPublisher {
 public:
  void PublishAsync(Record record, Done done) override {
    absl::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++attempts_;
      if (fail_count_ > 0) {
        --fail_count_;
        status = fail_status_;
      } else {
        record.partition = 0;
        record.offset = next_offset_[record.topic]++;
        records_.push_back(std::move(record));
      }
    }
    if (done) done(std::move(status));
  }

  absl::Status Flush(std::chrono::milliseconds) override { return absl::OkStatus(); }

  // OK unless told otherwise with SetConnectionStatus().
  absl::Status CheckConnection(std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    return connection_status_;
  }
  void SetConnectionStatus(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    connection_status_ = std::move(status);
  }

  // The next `count` publishes fail with `status` (not OK) and keep nothing.
  void FailNext(int count, absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_count_ = count;
    fail_status_ = std::move(status);
  }

  // Every accepted record, in publish order.
  std::vector<Record> records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }

  // Accepted records of one topic.
  std::vector<Record> RecordsOf(const std::string& topic) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Record> out;
    for (const auto& r : records_) {
      if (r.topic == topic) out.push_back(r);
    }
    return out;
  }

  // Accepted records of one topic, decoded (records that do not decode are skipped).
  std::vector<docket::v1::Event> Events(const std::string& topic) const {
    std::vector<docket::v1::Event> out;
    for (const auto& r : RecordsOf(topic)) {
      if (auto e = DecodeEvent(r); e.ok()) out.push_back(*std::move(e));
    }
    return out;
  }

  // Publish calls, failed ones included.
  int attempts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }

  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    records_.clear();
    next_offset_.clear();
    attempts_ = 0;
    fail_count_ = 0;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Record> records_;
  std::map<std::string, std::int64_t> next_offset_;
  int attempts_ = 0;
  int fail_count_ = 0;
  absl::Status fail_status_;
  absl::Status connection_status_;
};

}  // namespace docket::kafka
