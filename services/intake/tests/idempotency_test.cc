#include "services/intake/src/idempotency.h"

#include <gtest/gtest.h>

namespace docket::intake {
namespace {

using namespace std::chrono_literals;
using State = Reservation::State;

class IdempotencyTest : public ::testing::Test {
 protected:
  FakeClock clock_{Clock::TimePoint(1'700'000'000'000ms)};
  std::unique_ptr<IdempotencyStore> store_ =
      MakeInMemoryIdempotencyStore(clock_, IdempotencyOptions{24h, 30s});
};

TEST_F(IdempotencyTest, FirstReservesThenDuplicatesGetTheCommittedId) {
  auto r = store_->Reserve("acme", "k1", "id-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::kReserved);
  EXPECT_EQ(r->item_id, "id-1");
  ASSERT_TRUE(store_->Commit("acme", "k1", *r).ok());
  auto dup = store_->Reserve("acme", "k1", "id-2");
  EXPECT_EQ(dup->state, State::kCommitted);
  EXPECT_EQ(dup->item_id, "id-1");
}

TEST_F(IdempotencyTest, ConcurrentDuplicateSeesPendingWhileTheFirstPublishes) {
  auto first = store_->Reserve("acme", "k1", "id-1");
  auto second = store_->Reserve("acme", "k1", "id-2");
  EXPECT_EQ(second->state, State::kPending);
  EXPECT_EQ(second->item_id, "id-1");
}

TEST_F(IdempotencyTest, ReleasedKeyIsTakenOverByTheRetryWithTheSameItemId) {
  auto first = store_->Reserve("acme", "k1", "id-1");
  ASSERT_TRUE(store_->Release("acme", "k1", *first).ok());
  auto retry = store_->Reserve("acme", "k1", "id-2");
  EXPECT_EQ(retry->state, State::kReserved);
  EXPECT_EQ(retry->item_id, "id-1") << "a retry must keep the id of a possibly-landed publish";
  EXPECT_NE(retry->owner, first->owner);
  EXPECT_TRUE(store_->Commit("acme", "k1", *retry).ok());
}

TEST_F(IdempotencyTest, ExpiredLeaseIsTakenOverAndTheStaleOwnerCannotCommit) {
  auto first = store_->Reserve("acme", "k1", "id-1");
  clock_.Advance(31s);
  auto second = store_->Reserve("acme", "k1", "id-2");
  EXPECT_EQ(second->state, State::kReserved);
  EXPECT_EQ(second->item_id, "id-1");
  EXPECT_EQ(store_->Commit("acme", "k1", *first).code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(store_->Commit("acme", "k1", *second).ok());
}

TEST_F(IdempotencyTest, KeysAreScopedByTenantAndForgottenAfterTtl) {
  auto a = store_->Reserve("acme", "k1", "id-a");
  auto b = store_->Reserve("globex", "k1", "id-b");
  EXPECT_EQ(b->state, State::kReserved);
  EXPECT_EQ(b->item_id, "id-b");
  ASSERT_TRUE(store_->Commit("acme", "k1", *a).ok());
  clock_.Advance(24h + 1s);
  auto later = store_->Reserve("acme", "k1", "id-c");
  EXPECT_EQ(later->state, State::kReserved);
  EXPECT_EQ(later->item_id, "id-c");
}

TEST(IdempotencyKeyTest, RedisKeyHashesTheClientKeyAndTagsTheTenant) {
  const std::string k = IdempotencyRedisKey("acme", "invoice 42 from ERP");
  EXPECT_EQ(k.rfind("docket:idem:{acme}:", 0), 0u);
  EXPECT_EQ(k.size(), std::string("docket:idem:{acme}:").size() + 64);
  EXPECT_EQ(k.find("invoice"), std::string::npos);
  EXPECT_NE(k, IdempotencyRedisKey("globex", "invoice 42 from ERP"));
}

}  // namespace
}  // namespace docket::intake
