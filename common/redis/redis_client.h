#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace docket::metrics {
class MetricsRegistry;
}

namespace docket::redis {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // never logged
  std::string username;  // Redis 6 ACL user; empty = default
  int db = 0;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  // Reconnect backoff after a failure: initial, doubled up to max.
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  // Connections in the pool (each command takes one for its duration).
  int pool_size = 4;
};

// Parses redis://[[user]:password@]host[:port][/db]. INVALID_ARGUMENT names
// the part that is wrong (never echoing the password).
absl::StatusOr<RedisOptions> ParseRedisUrl(std::string_view url);

// A Redis reply, free of hiredis types.
struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray, kError };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

// A Lua script, run by EVALSHA with a transparent EVAL fallback on NOSCRIPT
// (e.g. after a Redis restart or SCRIPT FLUSH).
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

// A Redis client over a small connection pool. Thread-safe.
//
// Errors: UNAVAILABLE when Redis cannot be reached or a connection broke
// (retryable; the client reconnects with backoff by itself), DEADLINE_EXCEEDED
// when a command timed out (retryable), INTERNAL for a Redis error reply to a
// command (e.g. WRONGTYPE), carrying Redis's message. A Redis error reply
// inside a pipeline or an EXEC is returned as a Reply of type kError instead.
class RedisClient {
 public:
  virtual ~RedisClient() = default;
  virtual absl::StatusOr<Reply> Command(const std::vector<std::string>& args) = 0;
  // Sends all commands in one round trip on one connection; replies in order.
  virtual absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) = 0;
  virtual absl::StatusOr<Reply> Eval(const Script& script, const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) = 0;
};

// `metrics` may be null; when set, exports docket_redis_command_duration_seconds
// and docket_redis_errors_total{kind} and docket_redis_reconnects_total.
// Connects lazily: creating the client succeeds even while Redis is down.
absl::StatusOr<std::unique_ptr<RedisClient>> MakeRedisClient(const RedisOptions& options,
                                                              metrics::MetricsRegistry* metrics);

}  // namespace docket::redis
