#pragma once

// A test IdempotencyStore: the in-memory one, recording how many keys each
// ReserveAll (one step of one Admission::Admit) carried, and able to hold
// ReserveAll so a test can make work arrive while an admission is busy.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "services/intake/src/idempotency.h"

namespace docket::intake {

class RecordingStore final : public IdempotencyStore {
 public:
  explicit RecordingStore(const Clock& clock) : store_(MakeInMemoryIdempotencyStore(clock, {})) {}
  absl::StatusOr<Reservation> Reserve(const std::string& t, const std::string& k,
                                      const std::string& id) override {
    return store_->Reserve(t, k, id);
  }
  absl::Status Commit(const std::string& t, const std::string& k, const Reservation& r) override {
    return store_->Commit(t, k, r);
  }
  absl::Status Release(const std::string& t, const std::string& k, const Reservation& r) override {
    return store_->Release(t, k, r);
  }
  std::vector<absl::StatusOr<Reservation>> ReserveAll(const std::vector<KeyRequest>& keys) override {
    std::unique_lock lock(mu_);
    groups_.push_back(keys.size());
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold_; });
    return store_->ReserveAll(keys);
  }
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }
  void WaitForGroups(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return groups_.size() >= n; });
  }
  std::vector<std::size_t> groups() {
    std::lock_guard lock(mu_);
    return groups_;
  }

 private:
  std::unique_ptr<IdempotencyStore> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<std::size_t> groups_;
};

}  // namespace docket::intake
