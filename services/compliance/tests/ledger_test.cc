#include "services/compliance/src/ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "common/auth/api_keys.h"

namespace docket::compliance {
namespace {

using ::testing::HasSubstr;
using docket::v1::AuditRecord;

AuditRecord Draft(int i) {
  AuditRecord r;
  r.set_chain("docket.work.v1/0");
  r.set_type(AuditRecord::TYPE_VERDICT);
  r.set_item_id("item-" + std::to_string(i));
  r.set_tenant("acme");
  r.mutable_recorded_at()->set_seconds(1714564800 + i);
  r.mutable_recorded_at()->set_nanos(250000000);
  r.set_subject_event_id("verdict-" + std::to_string(i));
  r.set_actor_id("alice");
  r.set_summary("verdict checkpoint=submit outcome=pass policy=t1 rules=");
  return r;
}

std::vector<AuditRecord> Chain(int n, const std::string& key = "") {
  std::vector<AuditRecord> out;
  ChainHead head;
  for (int i = 1; i <= n; ++i) {
    AuditRecord r = Draft(i);
    Seal(head, key, &r);
    head = ChainHead{r.sequence(), r.hash()};
    out.push_back(r);
  }
  return out;
}

TEST(CanonicalEncodingTest, IsTheDocumentedByteStringAndHashIsItsSha256) {
  AuditRecord r = Draft(1);
  r.set_sequence(1);
  const std::string expected =
      "docket.audit.v1\n"
      "chain:16:docket.work.v1/0\n"
      "sequence:1:1\n"
      "type:1:1\n"
      "item_id:6:item-1\n"
      "tenant:4:acme\n"
      "prev_hash:0:\n"
      "recorded_at:20:1714564801.250000000\n"
      "subject_event_id:9:verdict-1\n"
      "actor_id:5:alice\n"
      "summary:55:verdict checkpoint=submit outcome=pass policy=t1 rules=\n";
  EXPECT_EQ(CanonicalEncoding(r), expected);
  EXPECT_EQ(RecordHash(r, ""), hash::Sha256Hex(expected));
  // Pinned: an independent verifier must get the same digest.
  EXPECT_EQ(RecordHash(r, "").size(), 64u);
}

TEST(CanonicalEncodingTest, HashIgnoresTheHashFieldButCoversEveryOtherField) {
  AuditRecord r = Draft(1);
  const std::string base = RecordHash(r, "");
  r.set_hash("anything");
  EXPECT_EQ(RecordHash(r, ""), base);
  auto changed = [&](auto mutate) {
    AuditRecord c = Draft(1);
    mutate(c);
    return RecordHash(c, "") != base;
  };
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_chain("x"); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_sequence(9); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_type(AuditRecord::TYPE_RELEASE); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_item_id("x"); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_tenant("x"); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_prev_hash("x"); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.mutable_recorded_at()->set_nanos(1); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_subject_event_id("x"); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_actor_id("x"); }));
  EXPECT_TRUE(changed([](AuditRecord& c) { c.set_summary("x"); }));
}

TEST(CanonicalEncodingTest, LengthPrefixesKeepShiftedBoundariesApart) {
  AuditRecord a = Draft(1), b = Draft(1);
  a.set_item_id("ab");
  a.set_tenant("c");
  b.set_item_id("a");
  b.set_tenant("bc");
  EXPECT_NE(RecordHash(a, ""), RecordHash(b, ""));
}

TEST(CanonicalEncodingTest, HmacDependsOnTheKey) {
  AuditRecord r = Draft(1);
  const std::string k1 = RecordHash(r, "key-one-0123456789"), k2 = RecordHash(r, "key-two-0123456789");
  EXPECT_NE(k1, k2);
  EXPECT_NE(k1, RecordHash(r, ""));
  EXPECT_EQ(k1.size(), 64u);
}

TEST(VerifyChainTest, AnIntactChainVerifies) {
  auto chain = Chain(5);
  EXPECT_EQ(chain[0].prev_hash(), "");
  EXPECT_EQ(chain[1].prev_hash(), chain[0].hash());
  VerifyResult r = VerifyChain("docket.work.v1/0", chain, {}, "");
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 5u);
}

TEST(VerifyChainTest, AChangedRecordIsNamed) {
  auto chain = Chain(5);
  chain[2].set_summary("verdict checkpoint=submit outcome=pass policy=t1 rules=nothing-to-see");
  VerifyResult r = VerifyChain("docket.work.v1/0", chain, {}, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 3u);
  EXPECT_EQ(r.first_bad_chain, "docket.work.v1/0");
  EXPECT_THAT(r.problem, HasSubstr("hash mismatch"));
}

TEST(VerifyChainTest, AChangedAndRehashedRecordIsCaughtByTheNextLink) {
  auto chain = Chain(5);
  chain[2].set_actor_id("mallory");
  chain[2].set_hash(RecordHash(chain[2], ""));
  VerifyResult r = VerifyChain("docket.work.v1/0", chain, {}, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 4u);
  EXPECT_THAT(r.problem, HasSubstr("prev_hash does not match the hash of sequence 3"));
}

TEST(VerifyChainTest, WithAnHmacKeyARehashedRecordIsNamedItself) {
  const std::string key = "audit-secret-0123456789";
  auto chain = Chain(5, key);
  EXPECT_TRUE(VerifyChain("docket.work.v1/0", chain, {}, key).ok);
  chain[2].set_actor_id("mallory");
  chain[2].set_hash(RecordHash(chain[2], ""));  // the forger lacks the key
  VerifyResult r = VerifyChain("docket.work.v1/0", chain, {}, key);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 3u);
  EXPECT_FALSE(VerifyChain("docket.work.v1/0", Chain(5, key), {}, "wrong-key-0123456789").ok);
}

TEST(VerifyChainTest, ADroppedRecordIsNamedByTheOneAfterTheGap) {
  auto chain = Chain(5);
  chain.erase(chain.begin() + 1);
  VerifyResult r = VerifyChain("docket.work.v1/0", chain, {}, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 3u);
  EXPECT_THAT(r.problem, HasSubstr("expected sequence 2, got 3"));
}

TEST(VerifyChainTest, ADroppedFirstRecordIsDetected) {
  auto chain = Chain(3);
  chain.erase(chain.begin());
  VerifyResult r = VerifyChain("docket.work.v1/0", chain, {}, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 2u);
}

TEST(VerifyChainTest, ReorderedRecordsAreNamedAtTheFirstOutOfPlace) {
  auto chain = Chain(5);
  std::swap(chain[1], chain[3]);
  VerifyResult r = VerifyChain("docket.work.v1/0", chain, {}, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 4u) << "the record found where sequence 2 belongs";
  EXPECT_THAT(r.problem, HasSubstr("out of order"));
}

TEST(VerifyChainTest, ARepublishedIdenticalCopyIsSkippedButADifferentSameSequenceIsNot) {
  auto chain = Chain(4);
  auto with_copy = chain;
  with_copy.insert(with_copy.begin() + 2, chain[1]);
  VerifyResult r = VerifyChain("docket.work.v1/0", with_copy, {}, "");
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 4u);
  auto forked = chain;
  AuditRecord other = Draft(99);
  Seal(ChainHead{1, chain[0].hash()}, "", &other);  // another record claiming sequence 2
  forked.insert(forked.begin() + 2, other);
  EXPECT_FALSE(VerifyChain("docket.work.v1/0", forked, {}, "").ok);
}

TEST(VerifyChainTest, ARangeVerifiesFromItsAnchor) {
  auto chain = Chain(6);
  std::vector<AuditRecord> tail(chain.begin() + 3, chain.end());
  EXPECT_TRUE(VerifyChain("docket.work.v1/0", tail, ChainHead{3, chain[2].hash()}, "").ok);
  EXPECT_FALSE(VerifyChain("docket.work.v1/0", tail, ChainHead{3, "bogus"}, "").ok);
}

TEST(VerifyChainTest, ARecordOfAnotherChainIsNamed) {
  auto chain = Chain(2);
  VerifyResult r = VerifyChain("docket.work.v1/1", chain, {}, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 1u);
  EXPECT_THAT(r.problem, HasSubstr("belongs to chain docket.work.v1/0"));
}

// ---- TopicVerifier: the chains as docket.audit.v1 holds them ----

// Chain(n) of another chain name (chain is part of every hash).
std::vector<AuditRecord> ChainNamed(const std::string& name, int n, const std::string& key = "") {
  std::vector<AuditRecord> out;
  ChainHead head;
  for (int i = 1; i <= n; ++i) {
    AuditRecord r = Draft(i);
    r.set_chain(name);
    Seal(head, key, &r);
    head = ChainHead{r.sequence(), r.hash()};
    out.push_back(r);
  }
  return out;
}

VerifyResult FromTopic(const std::vector<AuditRecord>& topic, const std::string& key = "",
                       const std::string& only = "") {
  TopicVerifier v(key, only);
  for (const auto& r : topic) v.Add(r);
  return v.Finish();
}

TEST(TopicVerifierTest, InterleavedChainsInOrderVerifyAndEveryRecordIsCounted) {
  const auto a = ChainNamed("docket.work.v1/0", 3), b = ChainNamed("docket.work.v1/1", 2);
  const std::vector<AuditRecord> topic = {a[0], b[0], a[1], b[1], a[2]};
  VerifyResult r = FromTopic(topic);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 5u);
  r = FromTopic(topic, "", "docket.work.v1/1");
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 2u) << "only the chain asked for";
}

TEST(TopicVerifierTest, ARecordRepublishedAfterLaterOnesAndItsCopiesStillVerify) {
  const auto c = ChainNamed("docket.work.v1/0", 5);
  // 2's first publish failed: 3 and 4 went out, then 2 again; 4 twice.
  VerifyResult r = FromTopic({c[0], c[2], c[3], c[1], c[3], c[4], c[1]});
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 5u);
}

TEST(TopicVerifierTest, AMissingRecordIsNamedWhenTheTopicEnds) {
  auto c = ChainNamed("docket.work.v1/0", 5);
  VerifyResult r = FromTopic({c[0], c[1], c[3], c[4]});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_chain, "docket.work.v1/0");
  EXPECT_EQ(r.first_bad_sequence, 3u);
  EXPECT_THAT(r.problem, HasSubstr("sequence 3 never came"));
  r = FromTopic({c[2], c[3], c[4]});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 1u);
  EXPECT_THAT(r.problem, HasSubstr("holds the chain only from sequence 3"));
}

TEST(TopicVerifierTest, AChangedRecordOrADifferentCopyIsNamed) {
  auto c = ChainNamed("docket.work.v1/0", 4);
  auto changed = c;
  changed[2].set_summary("verdict checkpoint=submit outcome=pass policy=t1 rules=nothing-to-see");
  VerifyResult r = FromTopic(changed);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 3u);
  EXPECT_THAT(r.problem, HasSubstr("hash mismatch"));

  // A rehashed forgery of sequence 2 next to the real one: its own hash is
  // valid (no HMAC key), but it differs from the record already linked.
  AuditRecord forged = c[1];
  forged.set_actor_id("mallory");
  forged.set_hash(RecordHash(forged, ""));
  r = FromTopic({c[0], c[1], c[2], forged, c[3]});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 2u);
  EXPECT_THAT(r.problem, HasSubstr("two different records with sequence 2"));
  // ... and when the forgery comes first, the next record's link names it.
  r = FromTopic({c[0], c[2], forged, c[1], c[3]});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_sequence, 3u);
  EXPECT_THAT(r.problem, HasSubstr("prev_hash does not match the hash of sequence 2"));
}

TEST(TopicVerifierTest, WithAnHmacKeyOnlyTheKeyHoldersRecordsVerify) {
  const std::string key = "ledger-key-0123456789abcdef";
  auto c = ChainNamed("docket.work.v1/0", 3, key);
  EXPECT_TRUE(FromTopic(c, key).ok);
  EXPECT_FALSE(FromTopic(c, "another-key-0123456789abcdef").ok);
}

TEST(TopicVerifierTest, AChainAskedForThatTheTopicDoesNotHoldFails) {
  VerifyResult r = FromTopic(ChainNamed("docket.work.v1/0", 2), "", "docket.work.v1/7");
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.problem, HasSubstr("holds no record of this chain"));
}

}  // namespace
}  // namespace docket::compliance
