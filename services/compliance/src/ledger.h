#pragma once

// The audit ledger's format: a hash chain of AuditRecords, one chain per
// partition of the work topic. Each record carries its chain, a sequence
// number (1, 2, 3, ... without gaps), the previous record's hash ("" for
// sequence 1) and its own hash: lowercase hex SHA-256 of the canonical
// encoding below, or HMAC-SHA-256 with a secret key when one is configured.
//
// Canonical encoding (version 1), byte for byte:
//
//   "docket.audit.v1\n"
//   then for each field, in this order:
//     chain, sequence, type, item_id, tenant, prev_hash,
//     recorded_at, subject_event_id, actor_id, summary
//   the bytes  <name> ":" <decimal byte length of value> ":" <value> "\n"
//
// where the value is the field's UTF-8 bytes for strings, decimal ASCII for
// sequence and for type (the AuditRecord.Type number, e.g. "1" for
// TYPE_VERDICT), and "<seconds>.<nanos as 9 digits>" for recorded_at (e.g.
// "1714564800.250000000"; "0.000000000" when unset). The length prefix makes
// the encoding unambiguous whatever the values contain. `hash` itself is
// not encoded. services/compliance/README.md shows a 15-line Python verifier.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "docket/v1/compliance.pb.h"

namespace docket::compliance {

// The bytes that are hashed (see above).
std::string CanonicalEncoding(const docket::v1::AuditRecord& record);

// Lowercase hex SHA-256 of the canonical encoding, or HMAC-SHA-256 with
// `hmac_key` when it is not empty.
std::string RecordHash(const docket::v1::AuditRecord& record, const std::string& hmac_key);

struct ChainHead {
  std::uint64_t sequence = 0;  // 0 = empty chain
  std::string hash;            // "" for an empty chain
  bool operator==(const ChainHead&) const = default;
};

// Where a chain's retained records start once older ones were trimmed from
// Redis (ledger.audit_retention): the sequence and hash of the newest
// trimmed record, so the first retained record still links to it. With an
// HMAC key, `mac` authenticates the anchor (AnchorMac), so moving it (to hide
// a truncation) is detected like a changed record. {0, "", ""}: nothing
// trimmed, the chain starts at sequence 1.
struct ChainAnchor {
  std::uint64_t sequence = 0;
  std::string hash;
  std::string mac;  // "" without an HMAC key
  bool operator==(const ChainAnchor&) const = default;
};

// Lowercase hex HMAC-SHA-256 with `hmac_key` of
//   "docket.audit.anchor.v1\n" <chain> "\n" <decimal sequence> "\n" <hash> "\n"
// or "" when `hmac_key` is empty.
std::string AnchorMac(const std::string& chain, std::uint64_t sequence, const std::string& hash,
                      const std::string& hmac_key);

// Links `record` after `head`: sets sequence = head.sequence + 1,
// prev_hash = head.hash, and hash.
void Seal(const ChainHead& head, const std::string& hmac_key, docket::v1::AuditRecord* record);

// Orders an item's records oldest first by recorded_at (stable): its records
// may be in more than one chain, whose sequences do not compare.
void SortOldestFirst(std::vector<docket::v1::AuditRecord>& records);

struct VerifyResult {
  bool ok = true;
  std::uint64_t records_checked = 0;
  // The first record that does not verify, when !ok.
  std::string first_bad_chain;
  std::uint64_t first_bad_sequence = 0;
  std::string problem;
};

// Verifies records of ONE chain in the order given (e.g. topic order).
// `anchor` is the record just before the first one (head {0, ""} when the
// records start at the chain's beginning). A record identical to one already
// seen (same sequence and hash: a re-published copy) is skipped. The first
// record that breaks the chain is named with a problem like
//   "hash mismatch: the record was changed"
//   "expected sequence 5, got 6: a record is missing or out of order"
//   "prev_hash does not match the hash of sequence 4"
//   "record belongs to chain X"
// A record that was changed and re-hashed without the key is caught by the
// next record's prev_hash (or, with an HMAC key, by its own hash).
VerifyResult VerifyChain(const std::string& chain, const std::vector<docket::v1::AuditRecord>& records,
                         const ChainHead& anchor, const std::string& hmac_key);

// Verifies the chains as docket.audit.v1 holds them, record by record in the
// topic's order, chains interleaved; each chain from sequence 1 (the topic
// keeps every record; Redis trims). Within a chain the topic is in sequence
// order except where a publish failed and was retried after later records,
// and a re-published record appears twice. So a record that comes early
// waits (up to kMaxEarly per chain) for the ones before it, and a copy of a
// record must be identical to it (compared with the last kRecent records of
// its chain; an older copy must at least carry its own valid hash: with an
// HMAC key only the compliance service can make one). The first problem
// wins; besides VerifyChain's, e.g.
//   "two different records with sequence 7"
//   "sequence 3 never came: the topic holds the chain only from sequence 5"
class TopicVerifier {
 public:
  static constexpr std::size_t kRecent = 65536;
  static constexpr std::size_t kMaxEarly = 65536;

  // `only_chain`: verify that chain alone ("" = every chain).
  TopicVerifier(std::string hmac_key, std::string only_chain);

  // The next record in the topic's order.
  void Add(const docket::v1::AuditRecord& record);
  // Once every record was added: a record that never came fails here.
  VerifyResult Finish();
  // The newest sequence of `chain` linked so far (0: none).
  std::uint64_t Linked(const std::string& chain) const;

 private:
  struct Chain {
    ChainHead head;
    std::deque<std::string> recent;  // hashes of sequences head - recent.size() + 1 .. head
    std::map<std::uint64_t, docket::v1::AuditRecord> early;
  };
  void Fail(const std::string& chain, std::uint64_t sequence, std::string problem);
  // Links `record` (sequence head + 1) to its chain, then whatever waited for it.
  void Link(const std::string& name, Chain& chain, const docket::v1::AuditRecord& record);
  // A record at or below the head: a copy, which must be identical.
  void Copy(const std::string& name, const Chain& chain, const docket::v1::AuditRecord& record);

  std::string hmac_key_;
  std::string only_chain_;
  std::map<std::string, Chain> chains_;
  VerifyResult result_;
};

}  // namespace docket::compliance
