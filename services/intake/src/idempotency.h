#pragma once

// Idempotent admission: (tenant, idempotency_key) -> the first item's id.
//
// A key is first *pending* (reserved by one admission, with a short lease)
// and becomes *committed* once the Submitted event is on Kafka. The item id
// is fixed at the first reservation and never changes: a retry after a
// failed or ambiguous publish (timeouts can't tell whether the broker kept
// the record) takes the key over with the SAME id, so a record that did land
// and its retry carry the same item id and event id, and downstream drops
// the second. Concurrent duplicates see "pending" and wait for the outcome.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/redis/redis_client.h"

namespace docket::intake {

struct Reservation {
  enum class State {
    kReserved,   // the caller owns the key and must Commit or Release it
    kCommitted,  // a duplicate of an admitted item
    kPending,    // another admission holds it right now: wait and ask again
  };
  State state = State::kReserved;
  std::string item_id;  // the key's item id (the caller's proposal if newly reserved)
  std::string owner;    // kReserved: the token to pass to Commit/Release
};

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;
  // Reserves the key for `proposed_id` unless it is taken. Errors are
  // retryable (UNAVAILABLE, DEADLINE_EXCEEDED).
  virtual absl::StatusOr<Reservation> Reserve(const std::string& tenant, const std::string& key,
                                              const std::string& proposed_id) = 0;
  // The item is durable: a duplicate from now on gets its id. Whoever holds
  // the lease now (a takeover keeps the item id), the key is committed.
  virtual absl::Status Commit(const std::string& tenant, const std::string& key,
                              const Reservation& reservation) = 0;
  // The publish failed: end the lease now so a retry can take the key over
  // (with the same item id) without waiting for the lease to run out.
  virtual absl::Status Release(const std::string& tenant, const std::string& key,
                               const Reservation& reservation) = 0;

  // Reserve / Commit for many keys of one call, one result per key in order,
  // each with the semantics of the single-key call. The Redis store sends
  // them in one round trip; these defaults call the single-key versions.
  struct KeyRequest {
    const std::string* tenant;
    const std::string* key;
    std::string proposed_id;  // ReserveAll only
    const Reservation* reservation = nullptr;  // CommitAll only
  };
  virtual std::vector<absl::StatusOr<Reservation>> ReserveAll(const std::vector<KeyRequest>& keys);
  virtual std::vector<absl::Status> CommitAll(const std::vector<KeyRequest>& keys);
};

struct IdempotencyOptions {
  std::chrono::milliseconds ttl = std::chrono::hours(24);  // how long a key is remembered
  std::chrono::milliseconds lease = std::chrono::seconds(30);  // how long a pending owner is trusted
};

// Redis implementation: one key per (tenant, idempotency key). A new key is
// reserved with SET NX GET and committed with SET (Redis 7.0 or later); a
// takeover and a release are Lua scripts. Each step is atomic on the server.
std::unique_ptr<IdempotencyStore> MakeRedisIdempotencyStore(redis::RedisClient& redis,
                                                            const Clock& clock,
                                                            IdempotencyOptions options);

// In-memory implementation with the same semantics, for unit tests of logic.
std::unique_ptr<IdempotencyStore> MakeInMemoryIdempotencyStore(const Clock& clock,
                                                               IdempotencyOptions options);

// Redis key of a (tenant, idempotency key): "docket:idem:{tenant}:<sha256(key)>".
std::string IdempotencyRedisKey(const std::string& tenant, const std::string& key);

}  // namespace docket::intake
