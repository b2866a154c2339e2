#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/redis/redis_client.h"
#include "common/status/macros.h"
#include "services/compliance/src/store.h"

namespace docket::compliance {
namespace {

using redis::Reply;

std::string HeadKey(const std::string& chain) { return absl::StrCat("docket:audit:{", chain, "}:head"); }
std::string RecordsKey(const std::string& chain) {
  return absl::StrCat("docket:audit:{", chain, "}:records");
}
std::string SubjectKey(const std::string& chain, const std::string& subject) {
  return absl::StrCat("docket:audit:{", chain, "}:subject:", subject);
}
constexpr char kChainsKey[] = "docket:audit:chains";
std::string TrailKey(const std::string& item) { return absl::StrCat("docket:audit:item:{", item, "}"); }
// An item trail's member: where the record is in its chain. A trail written
// before refs holds the record itself (its bytes start with the chain's
// field tag, '\n'; a chain name never does).
std::string TrailRef(const docket::v1::AuditRecord& record) {
  return absl::StrCat(record.chain(), "@", record.sequence());
}
std::string ItemKey(const std::string& item) { return absl::StrCat("docket:compliance:item:{", item, "}"); }

// KEYS: head, records, subject. ARGV: expected head seq, new seq, new hash,
// record bytes, verdict bytes, expected head hash, subject TTL ms.
// Compare-and-append, or the stored duplicate. The hash is compared as well
// as the sequence: records sealed ahead in a batch must never link to a head
// another writer put there. The record is stored once, in the chain; the
// subject keeps its sequence (and a subject written before that keeps the
// record itself, which is still read). A duplicate whose record was trimmed
// answers an empty record.
const redis::Script& AppendScript() {
  static const auto* kScript = new redis::Script(R"lua(
local sub = redis.call('HMGET', KEYS[3], 'seq', 'verdict', 'published', 'record')
if sub[1] or sub[4] then
  local record = sub[4]
  if not record then record = redis.call('ZRANGEBYSCORE', KEYS[2], sub[1], sub[1])[1] end
  return {'duplicate', record or '', sub[2] or '', sub[3] or '0'}
end
local head = redis.call('HMGET', KEYS[1], 'seq', 'hash')
local seq = head[1] or '0'
if seq ~= ARGV[1] or (head[2] or '') ~= ARGV[6] then return {'conflict', seq} end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'hash', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[3], 'seq', ARGV[2], 'verdict', ARGV[5], 'published', '0')
redis.call('PEXPIRE', KEYS[3], ARGV[7])
return {'appended'}
)lua");
  return *kScript;
}

// Trims a chain's oldest records. KEYS: head, records. ARGV: anchor
// sequence, hash, mac. Returns the number dropped, 0 when the anchor is
// already there or past it, -1 for an anchor at or past the head.
const redis::Script& TrimScript() {
  static const auto* kScript = new redis::Script(R"lua(
local seq = tonumber(ARGV[1])
local head = redis.call('HMGET', KEYS[1], 'seq', 'anchor_seq')
if tonumber(head[1] or '0') <= seq then return -1 end
if tonumber(head[2] or '0') >= seq then return 0 end
local n = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', seq)
redis.call('HSET', KEYS[1], 'anchor_seq', ARGV[1], 'anchor_hash', ARGV[2], 'anchor_mac', ARGV[3])
return n
)lua");
  return *kScript;
}

absl::Status Corrupt(const std::string& what) {
  return absl::InternalError(absl::StrCat("corrupt compliance data in Redis: ", what));
}

// A pipeline's reply as a status: an error reply is INTERNAL.
absl::Status ReplyStatus(const Reply& r) {
  if (r.is_error()) return absl::InternalError(absl::StrCat("Redis: ", r.str));
  return absl::OkStatus();
}

// The replies of a pipeline of `n` commands, each parsed by `parse`; a
// failed call fails every element.
template <typename T, typename Parse>
std::vector<T> EachReply(const absl::StatusOr<std::vector<Reply>>& replies, std::size_t n, Parse parse) {
  std::vector<T> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!replies.ok()) {
      out.push_back(replies.status());
    } else if (replies->size() != n) {
      out.push_back(absl::InternalError("Redis: a pipeline answered the wrong number of replies"));
    } else {
      out.push_back(parse((*replies)[i]));
    }
  }
  return out;
}

absl::StatusOr<ChainHead> ParseHead(const Reply& r) {
  DOCKET_RETURN_IF_ERROR(ReplyStatus(r));
  ChainHead head;
  if (r.type != Reply::Type::kArray || r.elements.size() != 2) return Corrupt("chain head");
  if (r.elements[0].is_nil()) return head;
  try {
    head.sequence = std::stoull(r.elements[0].str);
  } catch (const std::exception&) {
    return Corrupt("chain head sequence");
  }
  head.hash = r.elements[1].str;
  return head;
}

absl::StatusOr<AppendResult> ParseAppend(const Reply& r, const AppendRequest& request) {
  DOCKET_RETURN_IF_ERROR(ReplyStatus(r));
  if (r.type != Reply::Type::kArray || r.elements.empty()) return Corrupt("append reply");
  AppendResult result;
  const std::string& tag = r.elements[0].str;
  if (tag == "appended") {
    result.status = AppendStatus::kAppended;
    result.entry = StoredEntry{request.record, request.verdict, false};
  } else if (tag == "conflict") {
    result.status = AppendStatus::kConflict;
  } else if (tag == "duplicate" && r.elements.size() == 4) {
    result.status = AppendStatus::kDuplicate;
    if (r.elements[1].str.empty()) {
      return Corrupt(absl::StrCat("the chain ", request.record.chain(), " no longer holds the record of subject ",
                                  request.record.subject_event_id(), " (trimmed past the audit retention)"));
    }
    if (!result.entry.record.ParseFromString(r.elements[1].str)) return Corrupt("stored record");
    result.entry.verdict = r.elements[2].str;
    result.entry.published = r.elements[3].str == "1";
  } else {
    return Corrupt("append reply");
  }
  return result;
}

absl::StatusOr<std::optional<docket::v1::WorkItem>> ParseItem(const Reply& r) {
  DOCKET_RETURN_IF_ERROR(ReplyStatus(r));
  if (r.is_nil()) return std::optional<docket::v1::WorkItem>();
  docket::v1::WorkItem item;
  if (!item.ParseFromString(r.str)) return Corrupt("stored work item");
  return std::optional<docket::v1::WorkItem>(std::move(item));
}

absl::StatusOr<std::vector<docket::v1::AuditRecord>> ParseRecords(const Reply& reply) {
  std::vector<docket::v1::AuditRecord> out;
  if (reply.type != Reply::Type::kArray) return Corrupt("expected an array of records");
  for (const Reply& e : reply.elements) {
    docket::v1::AuditRecord r;
    if (!r.ParseFromString(e.str)) return Corrupt("an audit record does not parse");
    out.push_back(std::move(r));
  }
  return out;
}

class RedisComplianceStore final : public ComplianceStore {
 public:
  RedisComplianceStore(redis::RedisClient& redis, std::chrono::seconds audit_retention)
      : redis_(redis),
        retention_ms_(absl::StrCat(std::chrono::duration_cast<std::chrono::milliseconds>(audit_retention).count())) {}

  std::vector<absl::StatusOr<ChainHead>> Heads(const std::vector<std::string>& chains) override {
    std::vector<std::vector<std::string>> commands;
    for (const std::string& chain : chains) commands.push_back({"HMGET", HeadKey(chain), "seq", "hash"});
    return EachReply<absl::StatusOr<ChainHead>>(redis_.Pipeline(commands), chains.size(), ParseHead);
  }

  std::vector<absl::StatusOr<AppendResult>> Append(const std::vector<AppendRequest>& records) override {
    std::vector<redis::EvalCall> calls;
    calls.reserve(records.size());
    for (const auto& [record, verdict] : records) {
      const std::string& chain = record.chain();
      calls.push_back(redis::EvalCall{
          &AppendScript(),
          {HeadKey(chain), RecordsKey(chain), SubjectKey(chain, record.subject_event_id())},
          {absl::StrCat(record.sequence() - 1), absl::StrCat(record.sequence()), record.hash(),
           record.SerializeAsString(), verdict, record.prev_hash(), retention_ms_}});
    }
    const auto replies = redis::EvalPipeline(redis_, std::move(calls));
    std::size_t i = 0;
    return EachReply<absl::StatusOr<AppendResult>>(
        replies, records.size(), [&](const Reply& r) { return ParseAppend(r, records[i++]); });
  }

  std::vector<absl::Status> Index(const std::vector<const docket::v1::AuditRecord*>& records) override {
    // One SADD per chain of the batch, then one ZADD per record.
    std::vector<std::string> chains;
    for (const auto* record : records) {
      if (std::find(chains.begin(), chains.end(), record->chain()) == chains.end()) {
        chains.push_back(record->chain());
      }
    }
    std::vector<std::vector<std::string>> commands;
    for (const std::string& chain : chains) commands.push_back({"SADD", kChainsKey, chain});
    for (const auto* record : records) {
      commands.push_back({"ZADD", TrailKey(record->item_id()), absl::StrCat(record->sequence()),
                          TrailRef(*record)});
      commands.push_back({"PEXPIRE", TrailKey(record->item_id()), retention_ms_});
    }
    const auto replies = redis_.Pipeline(commands);
    std::vector<absl::Status> out =
        EachReply<absl::Status>(replies, commands.size(), ReplyStatus);
    std::vector<absl::Status> per_record;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const std::size_t chain =
          std::find(chains.begin(), chains.end(), records[i]->chain()) - chains.begin();
      const std::size_t zadd = chains.size() + 2 * i;
      per_record.push_back(!out[chain].ok() ? out[chain] : !out[zadd].ok() ? out[zadd] : out[zadd + 1]);
    }
    return per_record;
  }

  std::vector<absl::Status> MarkPublished(const std::vector<const docket::v1::AuditRecord*>& records) override {
    std::vector<std::vector<std::string>> commands;
    for (const auto* record : records) {
      commands.push_back(
          {"HSET", SubjectKey(record->chain(), record->subject_event_id()), "published", "1"});
    }
    return EachReply<absl::Status>(redis_.Pipeline(commands), records.size(), ReplyStatus);
  }

  std::vector<absl::StatusOr<bool>> Published(const std::vector<const docket::v1::AuditRecord*>& records) override {
    std::vector<std::vector<std::string>> commands;
    for (const auto* record : records) {
      commands.push_back({"HGET", SubjectKey(record->chain(), record->subject_event_id()), "published"});
    }
    return EachReply<absl::StatusOr<bool>>(redis_.Pipeline(commands), records.size(),
                                           [](const Reply& r) -> absl::StatusOr<bool> {
                                             DOCKET_RETURN_IF_ERROR(ReplyStatus(r));
                                             return r.str == "1";
                                           });
  }

  absl::StatusOr<std::vector<docket::v1::AuditRecord>> Trail(const std::string& item_id) override {
    DOCKET_ASSIGN_OR_RETURN(Reply r, redis_.Command({"ZRANGE", TrailKey(item_id), "0", "-1"}));
    if (r.type != Reply::Type::kArray) return Corrupt("expected an array of trail entries");
    std::vector<docket::v1::AuditRecord> out;
    std::vector<std::vector<std::string>> lookups;
    for (const Reply& e : r.elements) {
      if (!e.str.empty() && e.str[0] == '\n') {
        if (!out.emplace_back().ParseFromString(e.str)) return Corrupt("an audit record does not parse");
        continue;
      }
      const std::size_t at = e.str.rfind('@');
      std::uint64_t seq = 0;
      if (at == std::string::npos || at == 0 || !absl::SimpleAtoi(e.str.substr(at + 1), &seq)) {
        return Corrupt(absl::StrCat("item trail entry \"", e.str, "\""));
      }
      const std::string n = absl::StrCat(seq);
      lookups.push_back({"ZRANGEBYSCORE", RecordsKey(e.str.substr(0, at)), n, n});
    }
    if (!lookups.empty()) {
      DOCKET_ASSIGN_OR_RETURN(std::vector<Reply> found, redis_.Pipeline(lookups));
      for (const Reply& f : found) {
        DOCKET_RETURN_IF_ERROR(ReplyStatus(f));
        // Empty: trimmed from its chain past the audit retention.
        DOCKET_ASSIGN_OR_RETURN(auto records, ParseRecords(f));
        for (auto& record : records) out.push_back(std::move(record));
      }
    }
    SortOldestFirst(out);
    return out;
  }

  absl::StatusOr<std::vector<docket::v1::AuditRecord>> Range(const std::string& chain,
                                                             std::uint64_t from, std::uint64_t to,
                                                             std::size_t limit) override {
    DOCKET_ASSIGN_OR_RETURN(
        Reply r, redis_.Command({"ZRANGEBYSCORE", RecordsKey(chain), absl::StrCat(from),
                                 to == 0 ? std::string("+inf") : absl::StrCat(to), "LIMIT", "0",
                                 absl::StrCat(limit)}));
    return ParseRecords(r);
  }

  absl::StatusOr<std::vector<std::string>> Chains() override {
    DOCKET_ASSIGN_OR_RETURN(Reply r, redis_.Command({"SMEMBERS", kChainsKey}));
    std::vector<std::string> out;
    for (const Reply& e : r.elements) out.push_back(e.str);
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::StatusOr<ChainAnchor> Anchor(const std::string& chain) override {
    DOCKET_ASSIGN_OR_RETURN(Reply r, redis_.Command({"HMGET", HeadKey(chain), "anchor_seq", "anchor_hash",
                                                     "anchor_mac"}));
    if (r.elements.size() != 3) return Corrupt("chain anchor");
    ChainAnchor anchor;
    if (r.elements[0].is_nil()) return anchor;
    if (!absl::SimpleAtoi(r.elements[0].str, &anchor.sequence)) return Corrupt("chain anchor sequence");
    anchor.hash = r.elements[1].str;
    anchor.mac = r.elements[2].str;
    return anchor;
  }

  absl::StatusOr<std::uint64_t> TrimTo(const std::string& chain, const ChainAnchor& anchor) override {
    DOCKET_ASSIGN_OR_RETURN(Reply r, redis_.Eval(TrimScript(), {HeadKey(chain), RecordsKey(chain)},
                                                 {absl::StrCat(anchor.sequence), anchor.hash, anchor.mac}));
    if (r.integer < 0) return absl::FailedPreconditionError("an anchor at or past the chain's head");
    return static_cast<std::uint64_t>(r.integer);
  }

  std::vector<absl::Status> WriteItems(const std::vector<ItemWrite>& writes,
                                       std::int64_t ttl_seconds) override {
    std::vector<std::vector<std::string>> commands;
    for (const ItemWrite& w : writes) {
      if (w.item == nullptr) {
        commands.push_back({"DEL", ItemKey(std::string(w.id))});
      } else {
        commands.push_back({"SET", ItemKey(std::string(w.id)), w.item->SerializeAsString(), "EX",
                            absl::StrCat(ttl_seconds)});
      }
    }
    return EachReply<absl::Status>(redis_.Pipeline(commands), writes.size(), ReplyStatus);
  }

  std::vector<absl::StatusOr<std::optional<docket::v1::WorkItem>>> LoadItems(
      const std::vector<std::string>& ids) override {
    std::vector<std::vector<std::string>> commands;
    for (const std::string& id : ids) commands.push_back({"GET", ItemKey(id)});
    return EachReply<absl::StatusOr<std::optional<docket::v1::WorkItem>>>(redis_.Pipeline(commands),
                                                                          ids.size(), ParseItem);
  }

 private:
  redis::RedisClient& redis_;
  const std::string retention_ms_;
};

}  // namespace

std::unique_ptr<ComplianceStore> MakeRedisComplianceStore(redis::RedisClient& redis,
                                                          std::chrono::seconds audit_retention) {
  return std::make_unique<RedisComplianceStore>(redis, audit_retention);
}

}  // namespace docket::compliance
