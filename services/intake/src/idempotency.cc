#include "services/intake/src/idempotency.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"

namespace docket::intake {
namespace {

// Value layout: "C|<item_id>" committed, or "P|<item_id>|<owner>|<lease_until_ms>" pending.
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

// KEYS[1]; ARGV: item id, owner, ttl ms. Commits only the caller's own lease
// (or a key that lost its value, e.g. after a Redis restart).
constexpr char kCommit[] = R"(
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'C|' then return 1 end
if v then
  local id, owner = string.match(v, '^P|([^|]*)|([^|]*)|')
  if id ~= ARGV[1] or owner ~= ARGV[2] then return 0 end
end
redis.call('SET', KEYS[1], 'C|' .. ARGV[1], 'PX', ARGV[3])
return 1
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

absl::Status ParseCommitReply(const redis::Reply& reply) {
  if (reply.integer != 1) return absl::AbortedError("idempotency key was taken over before commit");
  return absl::OkStatus();
}

bool IsNoScript(const redis::Reply& reply) {
  return reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0;
}

class RedisIdempotencyStore final : public IdempotencyStore {
 public:
  RedisIdempotencyStore(redis::RedisClient& redis, const Clock& clock, IdempotencyOptions options)
      : redis_(redis), clock_(clock), options_(options),
        reserve_(kReserve), commit_(kCommit), release_(kRelease) {}

  absl::StatusOr<Reservation> Reserve(const std::string& tenant, const std::string& key,
                                      const std::string& proposed_id) override {
    auto reply = redis_.Eval(reserve_, {IdempotencyRedisKey(tenant, key)},
                             {proposed_id, NewOwner(), absl::StrCat(Millis(clock_)),
                              absl::StrCat(options_.lease.count()), absl::StrCat(options_.ttl.count())});
    if (!reply.ok()) return reply.status();
    return ParseReserveReply(*reply);
  }

  absl::Status Commit(const std::string& tenant, const std::string& key,
                      const Reservation& r) override {
    auto reply = redis_.Eval(commit_, {IdempotencyRedisKey(tenant, key)},
                             {r.item_id, r.owner, absl::StrCat(options_.ttl.count())});
    if (!reply.ok()) return reply.status();
    return ParseCommitReply(*reply);
  }

  absl::Status Release(const std::string& tenant, const std::string& key,
                       const Reservation& r) override {
    return redis_.Eval(release_, {IdempotencyRedisKey(tenant, key)}, {r.item_id, r.owner}).status();
  }

  std::vector<absl::StatusOr<Reservation>> ReserveAll(const std::vector<KeyRequest>& keys) override {
    const std::string now = absl::StrCat(Millis(clock_));
    const std::string lease = absl::StrCat(options_.lease.count());
    const std::string ttl = absl::StrCat(options_.ttl.count());
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(keys.size());
    for (const auto& k : keys) {
      cmds.push_back({"EVALSHA", reserve_.sha1(), "1", IdempotencyRedisKey(*k.tenant, *k.key),
                      k.proposed_id, NewOwner(), now, lease, ttl});
    }
    std::vector<absl::StatusOr<Reservation>> out;
    out.reserve(keys.size());
    auto replies = redis_.Pipeline(cmds);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!replies.ok()) {
        out.push_back(replies.status());
      } else if (IsNoScript((*replies)[i])) {
        // Not in the script cache (e.g. Redis restarted): Eval loads it.
        out.push_back(Reserve(*keys[i].tenant, *keys[i].key, keys[i].proposed_id));
      } else if ((*replies)[i].is_error()) {
        out.push_back(absl::InternalError(absl::StrCat("idempotency reserve: ", (*replies)[i].str)));
      } else {
        out.push_back(ParseReserveReply((*replies)[i]));
      }
    }
    return out;
  }

  std::vector<absl::Status> CommitAll(const std::vector<KeyRequest>& keys) override {
    const std::string ttl = absl::StrCat(options_.ttl.count());
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(keys.size());
    for (const auto& k : keys) {
      cmds.push_back({"EVALSHA", commit_.sha1(), "1", IdempotencyRedisKey(*k.tenant, *k.key),
                      k.reservation->item_id, k.reservation->owner, ttl});
    }
    std::vector<absl::Status> out;
    out.reserve(keys.size());
    auto replies = redis_.Pipeline(cmds);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!replies.ok()) {
        out.push_back(replies.status());
      } else if (IsNoScript((*replies)[i])) {
        out.push_back(Commit(*keys[i].tenant, *keys[i].key, *keys[i].reservation));
      } else if ((*replies)[i].is_error()) {
        out.push_back(absl::InternalError(absl::StrCat("idempotency commit: ", (*replies)[i].str)));
      } else {
        out.push_back(ParseCommitReply((*replies)[i]));
      }
    }
    return out;
  }

 private:
  redis::RedisClient& redis_;
  const Clock& clock_;
  IdempotencyOptions options_;
  redis::Script reserve_, commit_, release_;
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
    Entry& e = Live(tenant, key, now);
    if (e.committed) return absl::OkStatus();
    if (!e.item_id.empty() && (e.item_id != r.item_id || e.owner != r.owner)) {
      return absl::AbortedError("idempotency key was taken over before commit");
    }
    e = Entry{r.item_id, "", true, now, now + options_.ttl};
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
