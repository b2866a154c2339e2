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

}  // namespace docket::compliance
