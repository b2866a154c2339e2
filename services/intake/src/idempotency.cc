#include "services/intake/src/idempotency.h"

#include <optional>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/hash/sha256.h"

namespace docket::intake {
namespace {

// Value layout: "C|<item_id>" committed, or "P|<item_id>|<owner>|<lease_until_ms>" pending.
//
// The common steps need no script: a new key is reserved with SET NX GET
// (Redis 7.0+), which also returns what a taken key holds, and a commit is a
// plain SET. Only taking over a released or expired lease needs the reserve
// script's read-decide-write in one step.
//
// KEYS[1] key; ARGV: proposed id, owner, now ms, lease ms, ttl ms.
// Returns {state, item_id, owner}.
constexpr char kReserve[] = R"(
local v = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[3])
if not v then
  redis.call('SET', KEYS[1], 'P|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. (now + tonumber(ARGV[4])), 'PX', ARGV[5])
  return {'reserved', ARGV[1], ARGV[2]}
end
if string.sub(v, 1, 2) == 'C|' then
  return {'committed', string.sub(v, 3), ''}
end
local id, owner, until_ms = string.match(v, '^P|([^|]*)|([^|]*)|(%d+)$')
if id and tonumber(until_ms) > now then
  return {'pending', id, ''}
end
-- the lease ran out or was released: take over, keeping the item id
redis.call('SET', KEYS[1], 'P|' .. id .. '|' .. ARGV[2] .. '|' .. (now + tonumber(ARGV[4])), 'PX', ARGV[5])
return {'reserved', id, ARGV[2]}
)";

// KEYS[1]; ARGV: item id, owner. Ends the caller's lease, keeping the id.
constexpr char kRelease[] = R"(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local id, owner = string.match(v, '^P|([^|]*)|([^|]*)|')
if id ~= ARGV[1] or owner ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], 'P|' .. id .. '|-|0', 'KEEPTTL')
return 1
)";

std::string NewOwner() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrCat(absl::Hex(rng()), absl::Hex(rng()));
}

std::int64_t Millis(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch()).count();
}

absl::StatusOr<Reservation> ParseReserveReply(const redis::Reply& reply) {
  if (reply.type != redis::Reply::Type::kArray || reply.elements.size() != 3) {
    return absl::InternalError("idempotency reserve: unexpected reply from Redis");
  }
  Reservation r;
  const std::string& state = reply.elements[0].str;
  r.state = state == "reserved"    ? Reservation::State::kReserved
            : state == "committed" ? Reservation::State::kCommitted
                                   : Reservation::State::kPending;
  r.item_id = reply.elements[1].str;
  r.owner = reply.elements[2].str;
  return r;
}

std::string PendingValue(const std::string& id, const std::string& owner, std::int64_t lease_until_ms) {
  return absl::StrCat("P|", id, "|", owner, "|", lease_until_ms);
}

// What SET NX GET found on a taken key: committed, or pending under a live
// lease; nullopt for a lease that ran out or was released (take it over).
std::optional<Reservation> Taken(const std::string& v, std::int64_t now_ms) {
  if (absl::StartsWith(v, "C|")) return Reservation{Reservation::State::kCommitted, v.substr(2), ""};
  // "P|<id>|<owner>|<lease_until_ms>"
  const std::vector<absl::string_view> f = absl::StrSplit(v, '|');
  std::int64_t until = 0;
  if (f.size() == 4 && f[0] == "P" && absl::SimpleAtoi(f[3], &until) && until > now_ms) {
    return Reservation{Reservation::State::kPending, std::string(f[1]), ""};
  }
  return std::nullopt;
}

class RedisIdempotencyStore final : public IdempotencyStore {
 public:
  RedisIdempotencyStore(redis::RedisClient& redis, const Clock& clock, IdempotencyOptions options)
      : redis_(redis), clock_(clock), options_(options), reserve_(kReserve), release_(kRelease) {}

  absl::StatusOr<Reservation> Reserve(const std::string& tenant, const std::string& key,
                                      const std::string& proposed_id) override {
    auto reply = redis_.Eval(reserve_, {IdempotencyRedisKey(tenant, key)},
                             {proposed_id, NewOwner(), absl::StrCat(Millis(clock_)),
                              absl::StrCat(options_.lease.count()), absl::StrCat(options_.ttl.count())});
    if (!reply.ok()) return reply.status();
    return ParseReserveReply(*reply);
  }

  // A commit follows a confirmed publish, so the key's item is durable
  // whoever holds the lease now: a takeover keeps the item id, and the key
  // says committed from here on (a later Release by the new owner finds
  // "C|" and leaves it).
  absl::Status Commit(const std::string& tenant, const std::string& key,
                      const Reservation& r) override {
    return CommitAll({{&tenant, &key, "", &r}}).front();
  }

  absl::Status Release(const std::string& tenant, const std::string& key,
                       const Reservation& r) override {
    return redis_.Eval(release_, {IdempotencyRedisKey(tenant, key)}, {r.item_id, r.owner}).status();
  }

  std::vector<absl::StatusOr<Reservation>> ReserveAll(const std::vector<KeyRequest>& keys) override {
    const std::int64_t now = Millis(clock_);
    const std::int64_t until = now + options_.lease.count();
    const std::string ttl = absl::StrCat(options_.ttl.count());
    std::vector<std::vector<std::string>> cmds;
    std::vector<std::string> owners;
    cmds.reserve(keys.size());
    owners.reserve(keys.size());
    for (const auto& k : keys) {
      owners.push_back(NewOwner());
      cmds.push_back({"SET", IdempotencyRedisKey(*k.tenant, *k.key), PendingValue(k.proposed_id, owners.back(), until),
                      "NX", "GET", "PX", ttl});
    }
    std::vector<absl::StatusOr<Reservation>> out;
    out.reserve(keys.size());
    auto replies = redis_.Pipeline(cmds);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!replies.ok()) {
        out.push_back(replies.status());
        continue;
      }
      const redis::Reply& reply = (*replies)[i];
      if (reply.is_nil()) {
        out.push_back(Reservation{Reservation::State::kReserved, keys[i].proposed_id, owners[i]});
      } else if (reply.is_error()) {
        // (Redis before 7.0 answers "syntax error": SET NX GET is 7.0's.)
        out.push_back(absl::InternalError(absl::StrCat("idempotency reserve (SET NX GET, Redis 7.0+): ", reply.str)));
      } else if (std::optional<Reservation> taken = Taken(reply.str, now)) {
        out.push_back(std::move(*taken));
      } else {
        // A lease that ran out or was released: the script takes it over.
        out.push_back(Reserve(*keys[i].tenant, *keys[i].key, keys[i].proposed_id));
      }
    }
    return out;
  }

  std::vector<absl::Status> CommitAll(const std::vector<KeyRequest>& keys) override {
    const std::string ttl = absl::StrCat(options_.ttl.count());
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(keys.size());
    for (const auto& k : keys) {
      cmds.push_back({"SET", IdempotencyRedisKey(*k.tenant, *k.key), absl::StrCat("C|", k.reservation->item_id),
                      "PX", ttl});
    }
    std::vector<absl::Status> out;
    out.reserve(keys.size());
    auto replies = redis_.Pipeline(cmds);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!replies.ok()) {
        out.push_back(replies.status());
      } else if ((*replies)[i].is_error()) {
        out.push_back(absl::InternalError(absl::StrCat("idempotency commit: ", (*replies)[i].str)));
      } else {
        out.push_back(absl::OkStatus());
      }
    }
    return out;
  }

 private:
  redis::RedisClient& redis_;
  const Clock& clock_;
  IdempotencyOptions options_;
  redis::Script reserve_, release_;
};

class InMemoryIdempotencyStore final : public IdempotencyStore {
 public:
  InMemoryIdempotencyStore(const Clock& clock, IdempotencyOptions options)
      : clock_(clock), options_(options) {}

  absl::StatusOr<Reservation> Reserve(const std::string& tenant, const std::string& key,
                                      const std::string& proposed_id) override {
    std::lock_guard lock(mu_);
    const auto now = clock_.Now();
    Entry& e = Live(tenant, key, now);
    if (e.item_id.empty()) {
      e = Entry{proposed_id, NewOwner(), false, now + options_.lease, now + options_.ttl};
      return Reservation{Reservation::State::kReserved, e.item_id, e.owner};
    }
    if (e.committed) return Reservation{Reservation::State::kCommitted, e.item_id, ""};
    if (e.lease_until > now) return Reservation{Reservation::State::kPending, e.item_id, ""};
    e.owner = NewOwner();
    e.lease_until = now + options_.lease;
    return Reservation{Reservation::State::kReserved, e.item_id, e.owner};
  }

  absl::Status Commit(const std::string& tenant, const std::string& key,
                      const Reservation& r) override {
    std::lock_guard lock(mu_);
    const auto now = clock_.Now();
    Live(tenant, key, now) = Entry{r.item_id, "", true, now, now + options_.ttl};
    return absl::OkStatus();
  }

  absl::Status Release(const std::string& tenant, const std::string& key,
                       const Reservation& r) override {
    std::lock_guard lock(mu_);
    Entry& e = Live(tenant, key, clock_.Now());
    if (!e.committed && e.item_id == r.item_id && e.owner == r.owner) {
      e.owner = "-";
      e.lease_until = Clock::TimePoint{};
    }
    return absl::OkStatus();
  }

 private:
  struct Entry {
    std::string item_id;
    std::string owner;
    bool committed = false;
    Clock::TimePoint lease_until;
    Clock::TimePoint expires;
  };
  Entry& Live(const std::string& tenant, const std::string& key, Clock::TimePoint now) {
    Entry& e = entries_[IdempotencyRedisKey(tenant, key)];
    if (!e.item_id.empty() && e.expires <= now) e = Entry{};
    return e;
  }
  const Clock& clock_;
  IdempotencyOptions options_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace

std::vector<absl::StatusOr<Reservation>> IdempotencyStore::ReserveAll(
    const std::vector<KeyRequest>& keys) {
  std::vector<absl::StatusOr<Reservation>> out;
  out.reserve(keys.size());
  for (const auto& k : keys) out.push_back(Reserve(*k.tenant, *k.key, k.proposed_id));
  return out;
}

std::vector<absl::Status> IdempotencyStore::CommitAll(const std::vector<KeyRequest>& keys) {
  std::vector<absl::Status> out;
  out.reserve(keys.size());
  for (const auto& k : keys) out.push_back(Commit(*k.tenant, *k.key, *k.reservation));
  return out;
}

std::string IdempotencyRedisKey(const std::string& tenant, const std::string& key) {
  // The hash tag keeps a tenant's keys on one Redis Cluster slot.
  return absl::StrCat("docket:idem:{", tenant, "}:", hash::Sha256Hex(key));
}

std::unique_ptr<IdempotencyStore> MakeRedisIdempotencyStore(redis::RedisClient& redis,
                                                            const Clock& clock,
                                                            IdempotencyOptions options) {
  return std::make_unique<RedisIdempotencyStore>(redis, clock, options);
}

std::unique_ptr<IdempotencyStore> MakeInMemoryIdempotencyStore(const Clock& clock,
                                                               IdempotencyOptions options) {
  return std::make_unique<InMemoryIdempotencyStore>(clock, options);
}

}  // namespace docket::intake
