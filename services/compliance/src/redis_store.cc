#include <algorithm>

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
std::string ItemKey(const std::string& item) { return absl::StrCat("docket:compliance:item:{", item, "}"); }

// KEYS: head, records, subject. ARGV: expected head seq, new seq, new hash,
// record bytes, verdict bytes. Compare-and-append, or the stored duplicate.
const redis::Script& AppendScript() {
  static const auto* kScript = new redis::Script(R"lua(
local sub = redis.call('HMGET', KEYS[3], 'record', 'verdict', 'published')
if sub[1] then return {'duplicate', sub[1], sub[2] or '', sub[3] or '0'} end
local head = redis.call('HGET', KEYS[1], 'seq')
if not head then head = '0' end
if head ~= ARGV[1] then return {'conflict', head} end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'hash', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[3], 'seq', ARGV[2], 'record', ARGV[4], 'verdict', ARGV[5], 'published', '0')
return {'appended'}
)lua");
  return *kScript;
}

absl::Status Corrupt(const std::string& what) {
  return absl::InternalError(absl::StrCat("corrupt compliance data in Redis: ", what));
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
  explicit RedisComplianceStore(redis::RedisClient& redis) : redis_(redis) {}

  absl::StatusOr<ChainHead> Head(const std::string& chain) override {
    DOCKET_ASSIGN_OR_RETURN(Reply r, redis_.Command({"HMGET", HeadKey(chain), "seq", "hash"}));
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

  absl::StatusOr<AppendResult> Append(const docket::v1::AuditRecord& record,
                                      const std::string& verdict) override {
    const std::string& chain = record.chain();
    DOCKET_ASSIGN_OR_RETURN(
        Reply r, redis_.Eval(AppendScript(),
                             {HeadKey(chain), RecordsKey(chain), SubjectKey(chain, record.subject_event_id())},
                             {absl::StrCat(record.sequence() - 1), absl::StrCat(record.sequence()),
                              record.hash(), record.SerializeAsString(), verdict}));
    if (r.type != Reply::Type::kArray || r.elements.empty()) return Corrupt("append reply");
    AppendResult result;
    const std::string& tag = r.elements[0].str;
    if (tag == "appended") {
      result.status = AppendStatus::kAppended;
      result.entry = StoredEntry{record, verdict, false};
    } else if (tag == "conflict") {
      result.status = AppendStatus::kConflict;
    } else if (tag == "duplicate" && r.elements.size() == 4) {
      result.status = AppendStatus::kDuplicate;
      if (!result.entry.record.ParseFromString(r.elements[1].str)) return Corrupt("stored record");
      result.entry.verdict = r.elements[2].str;
      result.entry.published = r.elements[3].str == "1";
    } else {
      return Corrupt("append reply");
    }
    return result;
  }

  absl::Status Index(const docket::v1::AuditRecord& record) override {
    DOCKET_ASSIGN_OR_RETURN(
        auto replies,
        redis_.Pipeline({{"SADD", kChainsKey, record.chain()},
                         {"ZADD", TrailKey(record.item_id()), absl::StrCat(record.sequence()),
                          record.SerializeAsString()}}));
    for (const Reply& r : replies) {
      if (r.is_error()) return absl::InternalError(absl::StrCat("Redis: ", r.str));
    }
    return absl::OkStatus();
  }

  absl::Status MarkPublished(const std::string& chain, const std::string& subject) override {
    return redis_.Command({"HSET", SubjectKey(chain, subject), "published", "1"}).status();
  }

  absl::StatusOr<std::vector<docket::v1::AuditRecord>> Trail(const std::string& item_id) override {
    DOCKET_ASSIGN_OR_RETURN(Reply r, redis_.Command({"ZRANGE", TrailKey(item_id), "0", "-1"}));
    return ParseRecords(r);
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

  absl::Status SaveItem(const docket::v1::WorkItem& item, std::int64_t ttl_seconds) override {
    return redis_
        .Command({"SET", ItemKey(item.id()), item.SerializeAsString(), "EX", absl::StrCat(ttl_seconds)})
        .status();
  }

  absl::StatusOr<std::optional<docket::v1::WorkItem>> LoadItem(const std::string& id) override {
    DOCKET_ASSIGN_OR_RETURN(Reply r, redis_.Command({"GET", ItemKey(id)}));
    if (r.is_nil()) return std::optional<docket::v1::WorkItem>();
    docket::v1::WorkItem item;
    if (!item.ParseFromString(r.str)) return Corrupt("stored work item");
    return std::optional<docket::v1::WorkItem>(std::move(item));
  }

 private:
  redis::RedisClient& redis_;
};

}  // namespace

std::unique_ptr<ComplianceStore> MakeRedisComplianceStore(redis::RedisClient& redis) {
  return std::make_unique<RedisComplianceStore>(redis);
}

}  // namespace docket::compliance
