// The compliance handler's batch path against a real redis-server (the
// publisher is the in-memory fake): a batch's chain appends go in one call
// and verify, a redelivered batch appends nothing twice, and another writer
// on the same chain between the head read and the appends is detected, the
// chain staying whole.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <utility>

#include "common/redis/redis_client.h"
#include "common/testing/fixtures.h"
#include "services/compliance/src/audit_schedule.h"
#include "services/compliance/src/handler.h"
#include "services/compliance/tests/handler_test_util.h"
#include "services/compliance/tests/test_util.h"

namespace docket::compliance {
namespace {

using docket::v1::AuditRecord;
using docket::v1::Event;
using testutil::At;
using testutil::CompletionRequested;
using testutil::Consumed;
using testutil::ExpectEveryVerdictAfterItsAuditRecord;
using testutil::HandleAll;
using testutil::Submitted;

// Forwards to the Redis store; counts Append calls and runs `before_batch`
// once, just before the first Append of more than one record (after the
// batch read its chain heads).
class InterposingStore final : public ComplianceStore {
 public:
  explicit InterposingStore(ComplianceStore& inner) : inner_(inner) {}
  std::function<void()> before_batch;
  std::vector<std::size_t> append_sizes;

  std::vector<absl::StatusOr<ChainHead>> Heads(const std::vector<std::string>& chains) override {
    return inner_.Heads(chains);
  }
  std::vector<absl::StatusOr<AppendResult>> Append(const std::vector<AppendRequest>& records) override {
    append_sizes.push_back(records.size());
    if (records.size() > 1 && before_batch) std::exchange(before_batch, nullptr)();
    return inner_.Append(records);
  }
  std::vector<absl::Status> Index(const std::vector<const AuditRecord*>& records) override {
    return inner_.Index(records);
  }
  std::vector<absl::Status> MarkPublished(const std::vector<const AuditRecord*>& records) override {
    return inner_.MarkPublished(records);
  }
  std::vector<absl::StatusOr<bool>> Published(const std::vector<const AuditRecord*>& records) override {
    return inner_.Published(records);
  }
  absl::StatusOr<std::vector<AuditRecord>> Trail(const std::string& item_id) override {
    return inner_.Trail(item_id);
  }
  absl::StatusOr<std::vector<AuditRecord>> Range(const std::string& chain, std::uint64_t from,
                                                 std::uint64_t to, std::size_t limit) override {
    return inner_.Range(chain, from, to, limit);
  }
  absl::StatusOr<std::vector<std::string>> Chains() override { return inner_.Chains(); }
  absl::StatusOr<ChainAnchor> Anchor(const std::string& chain) override { return inner_.Anchor(chain); }
  absl::StatusOr<std::uint64_t> TrimTo(const std::string& chain, const ChainAnchor& anchor) override {
    return inner_.TrimTo(chain, anchor);
  }
  std::vector<absl::Status> WriteItems(const std::vector<ItemWrite>& writes,
                                       std::int64_t ttl_seconds) override {
    return inner_.WriteItems(writes, ttl_seconds);
  }
  std::vector<absl::StatusOr<std::optional<docket::v1::WorkItem>>> LoadItems(
      const std::vector<std::string>& ids) override {
    return inner_.LoadItems(ids);
  }

 private:
  ComplianceStore& inner_;
};

class ComplianceRedisStoreItest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() { delete server_; }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    auto options = redis::ParseRedisUrl(server_->url());
    ASSERT_TRUE(options.ok()) << options.status();
    auto client = redis::MakeRedisClient(*options, nullptr);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = *std::move(client);
    ASSERT_TRUE(redis_->Command({"FLUSHDB"}).ok());
    redis_store_ = MakeRedisComplianceStore(*redis_, std::chrono::seconds(policies_.ledger.audit_retention_seconds));
    store_ = std::make_unique<InterposingStore>(*redis_store_);
    handler_ = std::make_unique<ComplianceHandler>(&testutil::ShippedCatalog(), evaluator_, *store_, fake_,
                                                   topics_, clock_, nullptr);
  }

  std::vector<AuditRecord> Chain(const std::string& chain) {
    auto records = redis_store_->Range(chain, 1, 0, 1000);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *records : std::vector<AuditRecord>{};
  }

  void ExpectStoredChainsVerify(std::uint64_t records) {
    auto verified = VerifyStoredChains(*redis_store_, "", 0, 0, "");
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->first_bad_chain << " #" << verified->first_bad_sequence << ": "
                              << verified->problem;
    EXPECT_EQ(verified->records_checked, records);
  }

  static testing::RedisServer* server_;
  PolicySet policies_ = *LoadPolicies(testutil::SourceDir() + "/deploy/config/policies.yaml",
                                      &testutil::ShippedCatalog());
  Evaluator evaluator_{policies_};
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1714564800))};
  kafka::Topics topics_;
  kafka::FakeEventPublisher fake_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<ComplianceStore> redis_store_;
  std::unique_ptr<InterposingStore> store_;
  std::unique_ptr<ComplianceHandler> handler_;
};

testing::RedisServer* ComplianceRedisStoreItest::server_ = nullptr;

TEST_F(ComplianceRedisStoreItest, ABatchAppendsItsChainsInOneCallThatVerifiesAndARedeliveryAppendsNothingTwice) {
  const std::vector<Consumed> batch = {
      {Submitted("a"), At(0, 0)}, {Submitted("b"), At(1, 0)},
      {Submitted("c", testutil::Invoice("alice")), At(0, 1)}, {CompletionRequested("c", "alice"), At(0, 2)},
      {CompletionRequested("a", "bob"), At(0, 3)}, {Submitted("d"), At(1, 1)},
  };
  for (const auto& s : HandleAll(*handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(store_->append_sizes, std::vector<std::size_t>{6}) << "every append of the batch in one call";
  ExpectStoredChainsVerify(6);
  const auto chain0 = Chain("docket.work.v1/0");
  ASSERT_EQ(chain0.size(), 4u);
  EXPECT_EQ(chain0[3].item_id(), "a");
  EXPECT_THAT(chain0[2].summary(), ::testing::HasSubstr("four-eyes-submitter-completer"))
      << "c's completion saw its submission from the same batch";
  const std::size_t published = fake_.records().size();
  ASSERT_EQ(published, 12u);

  clock_.Advance(std::chrono::seconds(5));
  for (const auto& s : HandleAll(*handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  ExpectStoredChainsVerify(6);
  EXPECT_EQ(fake_.RecordsOf(topics_.audit()).size(), 6u) << "confirmed records are not published again";
  const auto verdicts = fake_.RecordsOf(topics_.compliance());
  ASSERT_EQ(verdicts.size(), 12u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(verdicts[i].value, verdicts[i + 6].value) << i;
  ExpectEveryVerdictAfterItsAuditRecord(fake_, topics_);
}

// Each audited item leaves its subject (~0.5 KB) and its trail (~0.1 KB) in
// Redis; they expire after ledger.audit_retention, so Redis does not grow
// with history, while the chain keeps the records and still verifies.
TEST_F(ComplianceRedisStoreItest, SubjectsAndItemTrailsExpireAfterTheAuditRetentionAndTheChainStays) {
  const std::vector<Consumed> batch = {{Submitted("a"), At(0, 0)},
                                       {CompletionRequested("a", "bob"), At(0, 1)}};
  for (const auto& s : HandleAll(*handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  const std::int64_t retention_ms = policies_.ledger.audit_retention_seconds * 1000;
  auto ttl_of = [&](const std::string& pattern) {
    auto keys = redis_->Command({"KEYS", pattern});
    EXPECT_TRUE(keys.ok()) << keys.status();
    std::vector<std::int64_t> ttls;
    for (const auto& k : keys->elements) ttls.push_back(redis_->Command({"PTTL", k.str})->integer);
    return ttls;
  };
  const auto subjects = ttl_of("docket:audit:{*}:subject:*");
  ASSERT_EQ(subjects.size(), 2u) << "one subject per verdict";
  const auto trails = ttl_of("docket:audit:item:{a}");
  ASSERT_EQ(trails.size(), 1u);
  for (std::int64_t ttl : subjects) {
    EXPECT_GT(ttl, retention_ms - 60'000) << "a subject without its retention";
    EXPECT_LE(ttl, retention_ms);
  }
  EXPECT_GT(trails[0], retention_ms - 60'000) << "an item trail without its retention";
  EXPECT_EQ(redis_->Command({"PTTL", "docket:audit:{docket.work.v1/0}:records"})->integer, -1)
      << "the chain itself must not expire";
  EXPECT_EQ(redis_->Command({"PTTL", "docket:audit:{docket.work.v1/0}:head"})->integer, -1);
  ExpectStoredChainsVerify(2);
}

// The submission copy lives as long as the item: kept with ledger.item_ttl
// while it is in progress, deleted when it ends, so finished items leave only
// their audit trail in compliance's part of Redis.
TEST_F(ComplianceRedisStoreItest, AnItemsSubmissionCopyIsKeptWithItsTtlWhileInProgressAndDeletedWhenItEnds) {
  const std::vector<Consumed> batch = {{Submitted("a"), At(0, 0)}, {Submitted("b"), At(0, 1)}};
  for (const auto& s : HandleAll(*handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  const std::int64_t ttl_ms = policies_.ledger.item_ttl_seconds * 1000;
  for (const char* key : {"docket:compliance:item:{a}", "docket:compliance:item:{b}"}) {
    const std::int64_t ttl = redis_->Command({"PTTL", key})->integer;
    EXPECT_GT(ttl, ttl_ms - 60'000) << key;
    EXPECT_LE(ttl, ttl_ms) << key;
  }
  const std::vector<Consumed> end = {{CompletionRequested("a", "bob"), At(0, 2)}, {testutil::Ended("a"), At(0, 3)}};
  for (const auto& s : HandleAll(*handler_, end)) ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(redis_->Command({"EXISTS", "docket:compliance:item:{a}"})->integer, 0);
  EXPECT_EQ(redis_->Command({"EXISTS", "docket:compliance:item:{b}"})->integer, 1);
  auto loaded = redis_store_->LoadItems({"a", "b"});
  ASSERT_TRUE(loaded[0].ok() && loaded[1].ok());
  EXPECT_FALSE(loaded[0]->has_value());
  EXPECT_TRUE(loaded[1]->has_value());
}

// The chain's own records go too once past the retention: the handler trims
// them behind an anchor, and what Redis keeps still verifies.
TEST_F(ComplianceRedisStoreItest, TheHandlerTrimsRecordsPastTheRetentionAndTheChainVerifiesFromItsAnchor) {
  for (const auto& s : HandleAll(*handler_, {{Submitted("a"), At(0, 0)}, {Submitted("b"), At(0, 1)}})) {
    ASSERT_TRUE(s.ok()) << s;
  }
  ASSERT_EQ(Chain("docket.work.v1/0").size(), 2u) << "nothing is past the retention yet";
  clock_.Advance(std::chrono::seconds(policies_.ledger.audit_retention_seconds) + std::chrono::hours(24));
  for (const auto& s : HandleAll(*handler_, {{Submitted("c"), At(0, 2)}, {Submitted("d"), At(0, 3)}})) {
    ASSERT_TRUE(s.ok()) << s;
  }
  const auto kept = Chain("docket.work.v1/0");
  ASSERT_EQ(kept.size(), 2u) << "a's and b's records are past the retention";
  EXPECT_EQ(kept.front().sequence(), 3u);
  EXPECT_EQ(redis_->Command({"HGET", "docket:audit:{docket.work.v1/0}:head", "anchor_seq"})->str, "2");
  EXPECT_EQ(redis_store_->Head("docket.work.v1/0")->sequence, 4u);
  ExpectStoredChainsVerify(2);
}

TEST_F(ComplianceRedisStoreItest, AnotherWriterAppendingBetweenTheHeadReadAndTheBatchIsDetectedAndTheChainStaysWhole) {
  // The other writer (a second replica briefly owning the partition) appends
  // one record: the batch's second record, sealed at sequence 2, now matches
  // the head's sequence but not its hash, and must not be linked there.
  kafka::FakeEventPublisher other_fake;
  ComplianceHandler other(&testutil::ShippedCatalog(), evaluator_, *redis_store_, other_fake, topics_, clock_,
                          nullptr);
  store_->before_batch = [&] { ASSERT_TRUE(other.Handle(Submitted("x"), At(0, 7)).ok()); };
  const std::vector<Consumed> batch = {
      {Submitted("a"), At(0, 0)}, {Submitted("b"), At(0, 1)}, {Submitted("c"), At(0, 2)},
      {Submitted("d"), At(1, 0)},
  };
  for (const auto& s : HandleAll(*handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(store_->before_batch) << "the other writer ran";
  EXPECT_EQ(store_->append_sizes, (std::vector<std::size_t>{4, 1, 1, 1}))
      << "the batch's appends in one call, then chain 0's three one at a time after the conflict";
  ExpectStoredChainsVerify(5);
  const auto chain0 = Chain("docket.work.v1/0");
  ASSERT_EQ(chain0.size(), 4u);
  EXPECT_EQ(chain0[0].item_id(), "x");
  EXPECT_EQ(chain0[1].item_id(), "a");
  EXPECT_EQ(chain0[2].item_id(), "b");
  EXPECT_EQ(chain0[3].item_id(), "c");
  EXPECT_EQ(Chain("docket.work.v1/1").size(), 1u) << "the other chain went through in the batch call";
  EXPECT_EQ(fake_.RecordsOf(topics_.compliance()).size(), 4u);
  ExpectEveryVerdictAfterItsAuditRecord(fake_, topics_);
}

TEST_F(ComplianceRedisStoreItest, AnAppendSealedAfterAnotherRecordThanTheHeadConflictsEvenAtTheNextSequence) {
  AuditRecord first;
  first.set_chain("docket.work.v1/0");
  first.set_subject_event_id("s1");
  Seal(ChainHead{}, "", &first);
  AuditRecord forked = first;
  forked.set_subject_event_id("s1-elsewhere");
  Seal(ChainHead{}, "", &forked);
  AuditRecord next;
  next.set_chain("docket.work.v1/0");
  next.set_subject_event_id("s2");
  Seal(ChainHead{forked.sequence(), forked.hash()}, "", &next);  // sequence 2, after the other record 1

  const std::string none;
  auto results = redis_store_->Append({AppendRequest{first, none}, AppendRequest{next, none}});
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->status, AppendStatus::kAppended);
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[1]->status, AppendStatus::kConflict);
  EXPECT_EQ(redis_store_->Head("docket.work.v1/0")->hash, first.hash());
}

// A record is kept once, in its chain: the subject keeps its sequence and
// the item's trail a reference, and both still answer with the whole record.
TEST_F(ComplianceRedisStoreItest, AnAuditRecordIsStoredOnceInItsChainAndTheSubjectAndTrailReferToIt) {
  const std::vector<Consumed> batch = {{Submitted("a"), At(0, 0)},
                                       {CompletionRequested("a", "bob"), At(0, 1)}};
  for (const auto& s : HandleAll(*handler_, batch)) ASSERT_TRUE(s.ok()) << s;
  const auto chain = Chain("docket.work.v1/0");
  ASSERT_EQ(chain.size(), 2u);

  auto members = redis_->Command({"ZRANGE", "docket:audit:item:{a}", "0", "-1"});
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->elements.size(), 2u);
  EXPECT_EQ(members->elements[0].str, "docket.work.v1/0@1");
  EXPECT_EQ(members->elements[1].str, "docket.work.v1/0@2");
  auto subjects = redis_->Command({"KEYS", "docket:audit:{*}:subject:*"});
  ASSERT_TRUE(subjects.ok());
  ASSERT_EQ(subjects->elements.size(), 2u);
  for (const auto& key : subjects->elements) {
    EXPECT_EQ(redis_->Command({"HEXISTS", key.str, "record"})->integer, 0) << key.str << " keeps a copy";
    EXPECT_EQ(redis_->Command({"HEXISTS", key.str, "seq"})->integer, 1) << key.str;
  }

  auto trail = redis_store_->Trail("a");
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*trail)[i].SerializeAsString(), chain[i].SerializeAsString()) << i;
  }
  AuditRecord unknown = chain[0];
  unknown.set_subject_event_id("never-recorded");
  const auto published = redis_store_->Published({&chain[0], &chain[1], &unknown});
  ASSERT_EQ(published.size(), 3u);
  EXPECT_TRUE(published[0].ok() && *published[0]) << "the topic confirmed it";
  EXPECT_TRUE(published[1].ok() && *published[1]);
  EXPECT_TRUE(published[2].ok() && !*published[2]) << "no subject: not confirmed";
  // A redelivered record finds its stored original through the reference.
  auto again = redis_store_->Append({AppendRequest{chain[1], ""}});
  ASSERT_TRUE(again[0].ok()) << again[0].status();
  EXPECT_EQ(again[0]->status, AppendStatus::kDuplicate);
  EXPECT_EQ(again[0]->entry.record.SerializeAsString(), chain[1].SerializeAsString());
  EXPECT_FALSE(again[0]->entry.verdict.empty()) << "the verdict stays with the subject";
  EXPECT_TRUE(again[0]->entry.published);
}

// Subjects and trails written before records were stored once hold the
// record itself; they are read as they are during and after an upgrade.
TEST_F(ComplianceRedisStoreItest, SubjectsAndTrailsHoldingWholeRecordsFromBeforeStillAnswer) {
  AuditRecord old;
  old.set_chain("docket.work.v1/0");
  old.set_subject_event_id("s-old");
  old.set_item_id("legacy");
  old.mutable_recorded_at()->set_seconds(100);
  Seal(ChainHead{}, "", &old);
  const std::string bytes = old.SerializeAsString();
  ASSERT_TRUE(redis_->Command({"HSET", "docket:audit:{docket.work.v1/0}:head", "seq", "1", "hash", old.hash()}).ok());
  ASSERT_TRUE(redis_->Command({"ZADD", "docket:audit:{docket.work.v1/0}:records", "1", bytes}).ok());
  ASSERT_TRUE(redis_->Command({"HSET", "docket:audit:{docket.work.v1/0}:subject:s-old", "seq", "1", "record",
                               bytes, "verdict", "v-bytes", "published", "1"}).ok());
  ASSERT_TRUE(redis_->Command({"ZADD", "docket:audit:item:{legacy}", "1", bytes}).ok());

  // A new record of the same item, in another chain, goes in as a reference.
  AuditRecord next;
  next.set_chain("docket.work.v1/1");
  next.set_subject_event_id("s-new");
  next.set_item_id("legacy");
  next.mutable_recorded_at()->set_seconds(200);
  Seal(ChainHead{}, "", &next);
  ASSERT_EQ(redis_store_->Append({AppendRequest{next, ""}})[0]->status, AppendStatus::kAppended);
  ASSERT_TRUE(redis_store_->Index({&next})[0].ok());

  auto trail = redis_store_->Trail("legacy");
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->size(), 2u);
  EXPECT_EQ((*trail)[0].SerializeAsString(), bytes) << "oldest first, across chains";
  EXPECT_EQ((*trail)[1].SerializeAsString(), next.SerializeAsString());

  auto again = redis_store_->Append({AppendRequest{old, ""}});
  ASSERT_TRUE(again[0].ok()) << again[0].status();
  EXPECT_EQ(again[0]->status, AppendStatus::kDuplicate);
  EXPECT_EQ(again[0]->entry.record.SerializeAsString(), bytes);
  EXPECT_EQ(again[0]->entry.verdict, "v-bytes");
}

// Past the retention a chain drops its oldest records: an item trail skips
// what is gone, and a redelivery of a trimmed record's subject is an error
// that says so, never an empty record published as if it were the original.
TEST_F(ComplianceRedisStoreItest, ATrimmedRecordLeavesTheTrailAndItsRedeliveryIsAClearError) {
  for (const auto& s : HandleAll(*handler_, {{Submitted("a"), At(0, 0)}, {Submitted("a2"), At(0, 1)},
                                            {Submitted("b"), At(0, 2)}})) {
    ASSERT_TRUE(s.ok()) << s;
  }
  const auto chain = Chain("docket.work.v1/0");
  ASSERT_EQ(chain.size(), 3u);
  ASSERT_EQ(chain[0].item_id(), "a");
  auto trimmed = redis_store_->TrimTo("docket.work.v1/0", ChainAnchor{1, chain[0].hash(), ""});
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  ASSERT_EQ(*trimmed, 1u);

  auto trail = redis_store_->Trail("a");
  ASSERT_TRUE(trail.ok()) << trail.status();
  EXPECT_TRUE(trail->empty());
  auto again = redis_store_->Append({AppendRequest{chain[0], ""}});
  ASSERT_FALSE(again[0].ok());
  EXPECT_EQ(again[0].status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(again[0].status().message(), ::testing::HasSubstr("no longer holds the record of subject"));
  EXPECT_THAT(again[0].status().message(), ::testing::HasSubstr(chain[0].subject_event_id()));
}

// The scheduled verifications' claim in a real Redis: one replica per period,
// the period as the claim's TTL, and the holder named for whoever reads Redis.
TEST_F(ComplianceRedisStoreItest, AVerificationClaimGoesToOneReplicaPerPeriodAndExpiresWithIt) {
  AuditSchedule::Claim pod_a = ClaimInRedis(*redis_, "pod-a:1");
  AuditSchedule::Claim pod_b = ClaimInRedis(*redis_, "pod-b:1");
  auto a = pod_a("ledger", std::chrono::hours(6));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(*a);
  auto b = pod_b("ledger", std::chrono::hours(6));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(*b) << "this period is pod-a's";
  auto topic = pod_b("audit_topic", std::chrono::hours(24));
  ASSERT_TRUE(topic.ok() && *topic) << "each source has its own claim";

  auto holder = redis_->Command({"GET", "docket:audit:verify:ledger"});
  ASSERT_TRUE(holder.ok());
  EXPECT_EQ(holder->str, "pod-a:1");
  auto ttl = redis_->Command({"PTTL", "docket:audit:verify:ledger"});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 6 * 3600 * 1000 - 60 * 1000);
  EXPECT_LE(ttl->integer, 6 * 3600 * 1000);

  // What expiry does at the end of the period: the next claim wins again.
  ASSERT_TRUE(redis_->Command({"DEL", "docket:audit:verify:ledger"}).ok());
  auto next = pod_b("ledger", std::chrono::hours(6));
  ASSERT_TRUE(next.ok() && *next);
}

}  // namespace
}  // namespace docket::compliance
