#include "services/compliance/src/ledger.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"

namespace docket::compliance {
namespace {

void Put(std::string* out, std::string_view name, std::string_view value) {
  absl::StrAppend(out, std::string(name), ":", value.size(), ":", std::string(value), "\n");
}

std::string TimestampText(const google::protobuf::Timestamp& t) {
  char nanos[16];
  std::snprintf(nanos, sizeof nanos, "%09d", t.nanos());
  return absl::StrCat(t.seconds(), ".", nanos);
}

}  // namespace

std::string CanonicalEncoding(const docket::v1::AuditRecord& r) {
  std::string out = "docket.audit.v1\n";
  out.reserve(256 + r.summary().size());
  Put(&out, "chain", r.chain());
  Put(&out, "sequence", absl::StrCat(r.sequence()));
  Put(&out, "type", absl::StrCat(static_cast<int>(r.type())));
  Put(&out, "item_id", r.item_id());
  Put(&out, "tenant", r.tenant());
  Put(&out, "prev_hash", r.prev_hash());
  Put(&out, "recorded_at", TimestampText(r.recorded_at()));
  Put(&out, "subject_event_id", r.subject_event_id());
  Put(&out, "actor_id", r.actor_id());
  Put(&out, "summary", r.summary());
  return out;
}

namespace {

std::string HmacHex(const std::string& hmac_key, const std::string& data) {
  hash::Sha256Digest mac{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), hmac_key.data(), static_cast<int>(hmac_key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &len) ==
          nullptr ||
      len != mac.size()) {
    // HMAC over memory fails only with a broken libcrypto; an unsealed record
    // must never enter the ledger.
    std::abort();
  }
  return hash::Hex(mac);
}

}  // namespace

std::string RecordHash(const docket::v1::AuditRecord& record, const std::string& hmac_key) {
  const std::string data = CanonicalEncoding(record);
  if (hmac_key.empty()) return hash::Sha256Hex(data);
  return HmacHex(hmac_key, data);
}

std::string AnchorMac(const std::string& chain, std::uint64_t sequence, const std::string& hash,
                      const std::string& hmac_key) {
  if (hmac_key.empty()) return "";
  return HmacHex(hmac_key, absl::StrCat("docket.audit.anchor.v1\n", chain, "\n", sequence, "\n", hash, "\n"));
}

void SortOldestFirst(std::vector<docket::v1::AuditRecord>& records) {
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.recorded_at().seconds(), a.recorded_at().nanos()) <
           std::make_pair(b.recorded_at().seconds(), b.recorded_at().nanos());
  });
}

void Seal(const ChainHead& head, const std::string& hmac_key, docket::v1::AuditRecord* record) {
  record->set_sequence(head.sequence + 1);
  record->set_prev_hash(head.hash);
  record->clear_hash();
  record->set_hash(RecordHash(*record, hmac_key));
}

VerifyResult VerifyChain(const std::string& chain, const std::vector<docket::v1::AuditRecord>& records,
                         const ChainHead& anchor, const std::string& hmac_key) {
  VerifyResult result;
  ChainHead prev = anchor;
  std::set<std::pair<std::uint64_t, std::string>> seen;
  auto fail = [&](const docket::v1::AuditRecord& r, std::string problem) {
    result.ok = false;
    result.first_bad_chain = chain;
    result.first_bad_sequence = r.sequence();
    result.problem = std::move(problem);
    return result;
  };
  for (const auto& r : records) {
    if (seen.count({r.sequence(), r.hash()}) && RecordHash(r, hmac_key) == r.hash()) {
      continue;  // a re-published copy of a record already verified
    }
    ++result.records_checked;
    if (r.chain() != chain) return fail(r, absl::StrCat("record belongs to chain ", r.chain()));
    if (RecordHash(r, hmac_key) != r.hash()) {
      return fail(r, "hash mismatch: the record was changed");
    }
    if (r.sequence() != prev.sequence + 1) {
      return fail(r, absl::StrCat("expected sequence ", prev.sequence + 1, ", got ", r.sequence(),
                                  ": a record is missing or out of order"));
    }
    if (r.prev_hash() != prev.hash) {
      return fail(r, prev.sequence == 0
                         ? std::string("prev_hash of the first record must be empty")
                         : absl::StrCat("prev_hash does not match the hash of sequence ",
                                        prev.sequence));
    }
    seen.insert({r.sequence(), r.hash()});
    prev = ChainHead{r.sequence(), r.hash()};
  }
  return result;
}

TopicVerifier::TopicVerifier(std::string hmac_key, std::string only_chain)
    : hmac_key_(std::move(hmac_key)), only_chain_(std::move(only_chain)) {}

void TopicVerifier::Fail(const std::string& chain, std::uint64_t sequence, std::string problem) {
  if (!result_.ok) return;  // the first problem wins
  result_.ok = false;
  result_.first_bad_chain = chain;
  result_.first_bad_sequence = sequence;
  result_.problem = std::move(problem);
}

void TopicVerifier::Add(const docket::v1::AuditRecord& record) {
  if (!result_.ok) return;
  if (!only_chain_.empty() && record.chain() != only_chain_) return;
  Chain& chain = chains_[record.chain()];
  const std::uint64_t seq = record.sequence();
  if (seq == 0) return Fail(record.chain(), seq, "sequence 0: sequences start at 1");
  if (seq <= chain.head.sequence) return Copy(record.chain(), chain, record);
  if (seq == chain.head.sequence + 1) return Link(record.chain(), chain, record);
  auto [it, inserted] = chain.early.try_emplace(seq, record);
  if (!inserted && it->second.hash() != record.hash()) {
    return Fail(record.chain(), seq, absl::StrCat("two different records with sequence ", seq));
  }
  if (chain.early.size() > kMaxEarly) {
    Fail(record.chain(), chain.head.sequence + 1,
         absl::StrCat("sequence ", chain.head.sequence + 1, " never came: ", chain.early.size(),
                      " later records wait for it"));
  }
}

void TopicVerifier::Link(const std::string& name, Chain& chain, const docket::v1::AuditRecord& first) {
  const docket::v1::AuditRecord* record = &first;
  while (record != nullptr) {
    ++result_.records_checked;
    if (RecordHash(*record, hmac_key_) != record->hash()) {
      return Fail(name, record->sequence(), "hash mismatch: the record was changed");
    }
    if (record->prev_hash() != chain.head.hash) {
      return Fail(name, record->sequence(),
                  chain.head.sequence == 0 ? std::string("prev_hash of the first record must be empty")
                                           : absl::StrCat("prev_hash does not match the hash of sequence ",
                                                          chain.head.sequence));
    }
    chain.head = ChainHead{record->sequence(), record->hash()};
    chain.recent.push_back(record->hash());
    if (chain.recent.size() > kRecent) chain.recent.pop_front();
    // A record that came early and waited for this one goes next.
    auto next = chain.early.find(chain.head.sequence + 1);
    if (record != &first) chain.early.erase(record->sequence());
    record = next == chain.early.end() ? nullptr : &next->second;
  }
}

void TopicVerifier::Copy(const std::string& name, const Chain& chain, const docket::v1::AuditRecord& record) {
  const std::uint64_t seq = record.sequence();
  const std::uint64_t behind = chain.head.sequence - seq;  // 0 = the head itself
  if (behind < chain.recent.size()) {
    if (chain.recent[chain.recent.size() - 1 - behind] != record.hash()) {
      return Fail(name, seq, absl::StrCat("two different records with sequence ", seq));
    }
  }
  if (RecordHash(record, hmac_key_) != record.hash()) {
    Fail(name, seq, "hash mismatch: a copy of the record was changed");
  }
}

std::uint64_t TopicVerifier::Linked(const std::string& chain) const {
  auto it = chains_.find(chain);
  return it == chains_.end() ? 0 : it->second.head.sequence;
}

VerifyResult TopicVerifier::Finish() {
  for (const auto& [name, chain] : chains_) {
    if (!result_.ok) break;
    if (!chain.early.empty()) {
      const std::uint64_t missing = chain.head.sequence + 1;
      Fail(name, missing,
           chain.head.sequence == 0
               ? absl::StrCat("sequence ", missing, " never came: the topic holds the chain only from sequence ",
                              chain.early.begin()->first)
               : absl::StrCat("sequence ", missing, " never came: a record is missing"));
    }
  }
  if (result_.ok && !only_chain_.empty() && !chains_.contains(only_chain_)) {
    Fail(only_chain_, 0, "the topic holds no record of this chain");
  }
  return result_;
}

}  // namespace docket::compliance
