#include "services/intake/src/idempotency.h"

#include "services/intake/tests/idempotency_contract.h"

#include <gtest/gtest.h>

namespace docket::intake {
namespace {

using namespace std::chrono_literals;
using State = Reservation::State;

struct InMemory {
  std::unique_ptr<IdempotencyStore> Make(const Clock& clock, IdempotencyOptions options) {
    return MakeInMemoryIdempotencyStore(clock, options);
  }
};
INSTANTIATE_TYPED_TEST_SUITE_P(InMemoryStore, IdempotencyContract, InMemory);

// Redis forgets keys on its own clock; the contract's FakeClock cannot move it.
class IdempotencyTest : public ::testing::Test {
 protected:
  FakeClock clock_{Clock::TimePoint(1'700'000'000'000ms)};
  std::unique_ptr<IdempotencyStore> store_ =
      MakeInMemoryIdempotencyStore(clock_, IdempotencyOptions{24h, 30s});
};

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
