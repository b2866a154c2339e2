#include "services/intake/src/group_admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <atomic>
#include <future>
#include <mutex>
#include <set>

#include "common/kafka/fake_event_publisher.h"

namespace docket::intake {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

constexpr char kCatalog[] = R"(version: 1
tenants: [{id: acme}]
queues:
  - {name: ap, skills: [ap-clerk]}
kinds:
  - {name: invoice, queue: ap, sla: 4h}
)";

docket::v1::WorkSubmission Invoice(const std::string& key) {
  docket::v1::WorkSubmission s;
  s.set_tenant("acme");
  s.set_kind("invoice");
  s.set_idempotency_key(key);
  return s;
}

// The in-memory store, recording how many keys each ReserveAll (one Admit
// step) carried; while `hold` is set, ReserveAll waits, so the test can make
// calls arrive while an admitter is busy.
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

class GroupAdmissionTest : public ::testing::Test {
 protected:
  GroupAdmissionTest()
      : catalog_(*catalog::Catalog::Parse(kCatalog, "catalog.yaml")),
        clock_(Clock::TimePoint(1'700'000'000'000ms)),
        store_(clock_),
        limiter_(clock_, {}),
        admission_(catalog_, store_, publisher_, limiter_, clock_, kafka::Topics(), nullptr) {}

  const Publisher erp_{"erp", {"acme"}, {}};
  catalog::Catalog catalog_;
  FakeClock clock_;
  RecordingStore store_;
  RateLimiter limiter_;
  kafka::FakeEventPublisher publisher_;
  Admission admission_;
};

TEST_F(GroupAdmissionTest, CallsArrivingWhileTheAdmitterIsBusyAreAdmittedTogetherAsOneGroup) {
  GroupAdmission group(admission_, {.threads = 1, .max_group = 500, .max_queued = 100});
  store_.Hold(true);
  std::vector<std::promise<Outcome>> outcomes(11);
  group.Submit(erp_, Invoice("first"), "00-first-01",
               [&](Outcome o) { outcomes[0].set_value(std::move(o)); });
  store_.WaitForGroups(1);  // the lone first call went at once, alone
  for (int i = 1; i <= 10; ++i) {
    group.Submit(erp_, Invoice("k" + std::to_string(i)), "00-k" + std::to_string(i) + "-01",
                 [&, i](Outcome o) { outcomes[i].set_value(std::move(o)); });
  }
  store_.Hold(false);
  std::set<std::string> ids;
  for (auto& p : outcomes) {
    Outcome o = p.get_future().get();
    ASSERT_TRUE(o.status.ok()) << o.status;
    ids.insert(o.item_id);
  }
  EXPECT_EQ(ids.size(), 11u);
  EXPECT_THAT(store_.groups(), ElementsAre(1u, 10u));
  // Each submission kept its own trace context inside the group.
  for (const auto& e : publisher_.Events(kafka::Topics().work())) {
    EXPECT_EQ(e.traceparent(),
              "00-" + e.submitted().submission().idempotency_key() + "-01");
  }
}

TEST_F(GroupAdmissionTest, AGroupHoldsOnePublishersCallsAndOthersKeepTheirTurn) {
  const Publisher other{"other", {"acme"}, {"invoice"}};
  GroupAdmission group(admission_, {.threads = 1, .max_group = 500, .max_queued = 100});
  store_.Hold(true);
  std::vector<std::promise<Outcome>> outcomes(4);
  group.Submit(erp_, Invoice("first"), "", [&](Outcome o) { outcomes[0].set_value(std::move(o)); });
  store_.WaitForGroups(1);
  group.Submit(other, Invoice("o1"), "", [&](Outcome o) { outcomes[1].set_value(std::move(o)); });
  group.Submit(erp_, Invoice("e1"), "", [&](Outcome o) { outcomes[2].set_value(std::move(o)); });
  group.Submit(other, Invoice("o2"), "", [&](Outcome o) { outcomes[3].set_value(std::move(o)); });
  store_.Hold(false);
  for (auto& p : outcomes) ASSERT_TRUE(p.get_future().get().status.ok());
  // first, then the front call's publisher ("other": o1 and o2), then erp's e1.
  EXPECT_THAT(store_.groups(), ElementsAre(1u, 2u, 1u));
  std::vector<std::string> order;
  for (const auto& e : publisher_.Events(kafka::Topics().work())) {
    order.push_back(e.submitted().submission().idempotency_key());
  }
  EXPECT_THAT(order, ElementsAre("first", "o1", "o2", "e1"));
}

TEST_F(GroupAdmissionTest, BeyondMaxQueuedACallIsRefusedAtOnceWithARetryHintAndQueuedOnesStillAdmit) {
  GroupAdmission group(admission_, {.threads = 1, .max_group = 500, .max_queued = 2});
  store_.Hold(true);
  std::vector<std::promise<Outcome>> outcomes(4);
  group.Submit(erp_, Invoice("busy"), "", [&](Outcome o) { outcomes[0].set_value(std::move(o)); });
  store_.WaitForGroups(1);
  for (int i = 1; i <= 3; ++i) {
    group.Submit(erp_, Invoice("q" + std::to_string(i)), "",
                 [&, i](Outcome o) { outcomes[i].set_value(std::move(o)); });
  }
  // The third queued call found two waiting: refused on the caller's thread.
  auto refused = outcomes[3].get_future();
  ASSERT_EQ(refused.wait_for(0s), std::future_status::ready);
  const Outcome r = refused.get();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GT(r.retry_after.count(), 0);
  store_.Hold(false);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(outcomes[i].get_future().get().status.ok());
  EXPECT_EQ(publisher_.records().size(), 3u);
}

TEST_F(GroupAdmissionTest, DestroyingItAdmitsEverythingStillQueued) {
  std::atomic<int> admitted = 0;
  {
    GroupAdmission group(admission_, {.threads = 2, .max_group = 3, .max_queued = 100});
    for (int i = 0; i < 20; ++i) {
      group.Submit(erp_, Invoice("d" + std::to_string(i)), "", [&](Outcome o) {
        if (o.status.ok()) ++admitted;
      });
    }
  }
  EXPECT_EQ(admitted.load(), 20);
  EXPECT_EQ(publisher_.records().size(), 20u);
  for (std::size_t n : store_.groups()) EXPECT_LE(n, 3u);
}

}  // namespace
}  // namespace docket::intake
