#include "services/intake/src/group_admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>

#include "common/kafka/fake_event_publisher.h"
#include "services/intake/tests/recording_idempotency_store.h"

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
