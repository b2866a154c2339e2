// The IdempotencyStore contract against a real redis-server, and what the
// Redis store promises beyond it: new keys cost no script.

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/redis/redis_client.h"
#include "common/testing/fixtures.h"
#include "services/intake/src/idempotency.h"
#include "services/intake/tests/idempotency_contract.h"

namespace docket::intake {
namespace {

// One redis-server for the binary, stopped when the tests end; every store
// starts on an empty database.
class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto options = redis::ParseRedisUrl(server_->url());
    ASSERT_TRUE(options.ok()) << options.status();
    auto client = redis::MakeRedisClient(*options, nullptr);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }
  static redis::RedisClient& Client() { return *client_; }

 private:
  static inline std::unique_ptr<testing::RedisServer> server_;
  static inline std::unique_ptr<redis::RedisClient> client_;
};
[[maybe_unused]] const auto* const kRedisEnvironment =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment);

redis::RedisClient& SharedRedis() { return RedisEnvironment::Client(); }

struct Redis {
  std::unique_ptr<IdempotencyStore> Make(const Clock& clock, IdempotencyOptions options) {
    EXPECT_TRUE(SharedRedis().Command({"FLUSHDB"}).ok());
    return MakeRedisIdempotencyStore(SharedRedis(), clock, options);
  }
};
INSTANTIATE_TYPED_TEST_SUITE_P(RedisStore, IdempotencyContract, Redis);

// Calls of `command` since the server started, from INFO commandstats.
std::int64_t Calls(const std::string& command) {
  auto info = SharedRedis().Command({"INFO", "commandstats"});
  EXPECT_TRUE(info.ok()) << info.status();
  if (!info.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(info->str, "\r\n")) {
    const std::string prefix = "cmdstat_" + command + ":calls=";
    if (!absl::StartsWith(line, prefix)) continue;
    std::int64_t n = 0;
    if (absl::SimpleAtoi(line.substr(prefix.size(), line.find(',') - prefix.size()), &n)) return n;
  }
  return 0;
}

TEST(IdempotencyRedisItest, NewKeysAreReservedAndCommittedWithOneSetEachAndNoScript) {
  FakeClock clock{Clock::TimePoint(std::chrono::milliseconds(1'700'000'000'000))};
  auto store = Redis{}.Make(clock, IdempotencyOptions{});
  const std::string tenant = "acme";
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) names.push_back("key-" + std::to_string(i));
  std::vector<IdempotencyStore::KeyRequest> keys;
  for (int i = 0; i < 50; ++i) keys.push_back({&tenant, &names[i], "id-" + std::to_string(i)});
  const std::int64_t evalsha = Calls("evalsha"), eval = Calls("eval"), set = Calls("set");

  const auto reserved = store->ReserveAll(keys);
  std::vector<Reservation> rs;
  for (const auto& r : reserved) {
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->state, Reservation::State::kReserved);
    rs.push_back(*r);
  }
  for (int i = 0; i < 50; ++i) keys[i].reservation = &rs[i];
  for (const auto& s : store->CommitAll(keys)) ASSERT_TRUE(s.ok()) << s;

  EXPECT_EQ(Calls("evalsha") - evalsha, 0);
  EXPECT_EQ(Calls("eval") - eval, 0);
  EXPECT_EQ(Calls("set") - set, 100) << "one SET NX GET and one SET per key";
  auto ttl = SharedRedis().Command({"PTTL", IdempotencyRedisKey("acme", "key-7")});
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(ttl->integer, 23 * 3600 * 1000) << "a committed key is remembered for the TTL";
  auto dup = store->Reserve("acme", "key-7", "id-other");
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_EQ(dup->state, Reservation::State::kCommitted);
  EXPECT_EQ(dup->item_id, "id-7");
}

}  // namespace
}  // namespace docket::intake
