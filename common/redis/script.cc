#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "common/redis/redis_client.h"

namespace docket::redis {
namespace {

// Lowercase hex SHA-1, the name Redis gives a script (SCRIPT LOAD, EVALSHA).
std::string Sha1Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; an empty name then makes
  // every EVALSHA answer NOSCRIPT and Eval falls back to EVAL.
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha1(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

absl::StatusOr<std::vector<Reply>> EvalPipeline(RedisClient& redis, std::vector<EvalCall> calls) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EvalCall& call = calls[i];
    if (!call.script) return absl::InvalidArgumentError(absl::StrCat("EvalPipeline: call ", i, " has no script"));
    std::vector<std::string>& cmd = commands.emplace_back();
    cmd.reserve(3 + call.keys.size() + call.args.size());
    cmd.push_back("EVALSHA");
    cmd.push_back(call.script->sha1());
    cmd.push_back(std::to_string(call.keys.size()));
    // The call's strings move into the command (an item's bytes are not copied).
    cmd.insert(cmd.end(), std::make_move_iterator(call.keys.begin()), std::make_move_iterator(call.keys.end()));
    cmd.insert(cmd.end(), std::make_move_iterator(call.args.begin()), std::make_move_iterator(call.args.end()));
  }
  absl::StatusOr<std::vector<Reply>> replies = redis.Pipeline(commands);
  if (!replies.ok()) return replies;
  std::vector<std::size_t> missing;
  std::vector<const Script*> to_load;
  for (std::size_t i = 0; i < replies->size(); ++i) {
    const Reply& r = (*replies)[i];
    if (!r.is_error() || !absl::StartsWith(r.str, "NOSCRIPT")) continue;
    missing.push_back(i);
    if (std::find(to_load.begin(), to_load.end(), calls[i].script) == to_load.end()) {
      to_load.push_back(calls[i].script);
    }
  }
  if (missing.empty()) return replies;
  std::vector<std::vector<std::string>> again;
  for (const Script* s : to_load) again.push_back({"SCRIPT", "LOAD", s->source()});
  for (std::size_t i : missing) again.push_back(std::move(commands[i]));
  absl::StatusOr<std::vector<Reply>> retried = redis.Pipeline(again);
  if (!retried.ok()) return retried.status();
  for (std::size_t j = 0; j < to_load.size(); ++j) {
    if ((*retried)[j].is_error()) {
      return absl::InternalError(absl::StrCat("redis: SCRIPT LOAD failed: ", (*retried)[j].str));
    }
  }
  for (std::size_t j = 0; j < missing.size(); ++j) {
    (*replies)[missing[j]] = std::move((*retried)[to_load.size() + j]);
  }
  return replies;
}

}  // namespace docket::redis
