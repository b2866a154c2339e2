#pragma once

// The IdempotencyStore contract, run against each implementation: the
// in-memory one (idempotency_test.cc) and Redis (idempotency_redis_itest.cc).
// A Factory has `std::unique_ptr<IdempotencyStore> Make(const Clock&,
// IdempotencyOptions)` giving a store with no keys.

#include <gtest/gtest.h>

#include "services/intake/src/idempotency.h"

namespace docket::intake {

template <typename Factory>
class IdempotencyContract : public ::testing::Test {
 protected:
  using State = Reservation::State;
  void SetUp() override { store_ = factory_.Make(clock_, IdempotencyOptions{std::chrono::hours(24), std::chrono::seconds(30)}); }
  IdempotencyStore& store() { return *store_; }

  FakeClock clock_{Clock::TimePoint(std::chrono::milliseconds(1'700'000'000'000))};
  Factory factory_;
  std::unique_ptr<IdempotencyStore> store_;
};

TYPED_TEST_SUITE_P(IdempotencyContract);

TYPED_TEST_P(IdempotencyContract, FirstReservesThenDuplicatesGetTheCommittedId) {
  using State = Reservation::State;
  auto r = this->store().Reserve("acme", "k1", "id-1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, State::kReserved);
  EXPECT_EQ(r->item_id, "id-1");
  ASSERT_TRUE(this->store().Commit("acme", "k1", *r).ok());
  auto dup = this->store().Reserve("acme", "k1", "id-2");
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_EQ(dup->state, State::kCommitted);
  EXPECT_EQ(dup->item_id, "id-1");
}

TYPED_TEST_P(IdempotencyContract, ConcurrentDuplicateSeesPendingWhileTheFirstPublishes) {
  using State = Reservation::State;
  auto first = this->store().Reserve("acme", "k1", "id-1");
  auto second = this->store().Reserve("acme", "k1", "id-2");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->state, State::kPending);
  EXPECT_EQ(second->item_id, "id-1");
}

TYPED_TEST_P(IdempotencyContract, ReleasedKeyIsTakenOverByTheRetryWithTheSameItemId) {
  using State = Reservation::State;
  auto first = this->store().Reserve("acme", "k1", "id-1");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(this->store().Release("acme", "k1", *first).ok());
  auto retry = this->store().Reserve("acme", "k1", "id-2");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->state, State::kReserved);
  EXPECT_EQ(retry->item_id, "id-1") << "a retry must keep the id of a possibly-landed publish";
  EXPECT_NE(retry->owner, first->owner);
  EXPECT_TRUE(this->store().Commit("acme", "k1", *retry).ok());
}

// A commit follows a confirmed publish: the item is durable even when the
// lease ran out meanwhile, and the takeover kept its id, so the key says
// committed, and the new owner's release (its own publish failed) leaves it so.
TYPED_TEST_P(IdempotencyContract, ExpiredLeaseIsTakenOverWithTheSameIdAndALateCommitStillCommitsIt) {
  using State = Reservation::State;
  auto first = this->store().Reserve("acme", "k1", "id-1");
  ASSERT_TRUE(first.ok()) << first.status();
  this->clock_.Advance(std::chrono::seconds(31));
  auto second = this->store().Reserve("acme", "k1", "id-2");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->state, State::kReserved);
  EXPECT_EQ(second->item_id, "id-1");
  EXPECT_NE(second->owner, first->owner);
  ASSERT_TRUE(this->store().Commit("acme", "k1", *first).ok());
  ASSERT_TRUE(this->store().Release("acme", "k1", *second).ok());
  auto dup = this->store().Reserve("acme", "k1", "id-3");
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_EQ(dup->state, State::kCommitted);
  EXPECT_EQ(dup->item_id, "id-1");
}

TYPED_TEST_P(IdempotencyContract, ReserveAllDecidesEachKeyAsReserveWouldInOrder) {
  using State = Reservation::State;
  using Key = IdempotencyStore::KeyRequest;
  auto& store = this->store();
  auto committed = store.Reserve("acme", "committed", "id-c");
  ASSERT_TRUE(committed.ok()) << committed.status();
  ASSERT_TRUE(store.Commit("acme", "committed", *committed).ok());
  auto pending = store.Reserve("acme", "pending", "id-p");
  auto released = store.Reserve("acme", "released", "id-r");
  ASSERT_TRUE(released.ok()) << released.status();
  ASSERT_TRUE(store.Release("acme", "released", *released).ok());

  const std::string tenant = "acme", fresh = "fresh", c = "committed", p = "pending", r = "released",
                    other_tenant = "globex";
  const auto all = store.ReserveAll({Key{&tenant, &fresh, "id-new"}, Key{&tenant, &c, "id-x"},
                                     Key{&tenant, &p, "id-y"}, Key{&tenant, &r, "id-z"},
                                     Key{&other_tenant, &c, "id-g"}});
  ASSERT_EQ(all.size(), 5u);
  for (const auto& a : all) ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(all[0]->state, State::kReserved);
  EXPECT_EQ(all[0]->item_id, "id-new");
  EXPECT_FALSE(all[0]->owner.empty());
  EXPECT_EQ(all[1]->state, State::kCommitted);
  EXPECT_EQ(all[1]->item_id, "id-c");
  EXPECT_EQ(all[2]->state, State::kPending);
  EXPECT_EQ(all[2]->item_id, "id-p");
  EXPECT_EQ(all[3]->state, State::kReserved) << "a released lease is taken over";
  EXPECT_EQ(all[3]->item_id, "id-r");
  EXPECT_EQ(all[4]->state, State::kReserved) << "keys are scoped by tenant";
  EXPECT_EQ(all[4]->item_id, "id-g");

  const Reservation fresh_r = *all[0], released_r = *all[3];
  const auto commits = store.CommitAll({Key{&tenant, &fresh, "", &fresh_r}, Key{&tenant, &r, "", &released_r}});
  ASSERT_EQ(commits.size(), 2u);
  for (const auto& s : commits) EXPECT_TRUE(s.ok()) << s;
  auto again = store.Reserve("acme", "released", "id-q");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state, State::kCommitted);
  EXPECT_EQ(again->item_id, "id-r");
}

REGISTER_TYPED_TEST_SUITE_P(IdempotencyContract, FirstReservesThenDuplicatesGetTheCommittedId,
                            ConcurrentDuplicateSeesPendingWhileTheFirstPublishes,
                            ReleasedKeyIsTakenOverByTheRetryWithTheSameItemId,
                            ExpiredLeaseIsTakenOverWithTheSameIdAndALateCommitStillCommitsIt,
                            ReserveAllDecidesEachKeyAsReserveWouldInOrder);

}  // namespace docket::intake
