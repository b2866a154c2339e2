#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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
  // How long a call waits for a free pooled connection before it gives up
  // with DEADLINE_EXCEEDED.
  std::chrono::milliseconds acquire_timeout{2000};
  // TLS (rediss://): the server's certificate is verified against
  // tls_ca_file (PEM; empty = the system's CAs) for tls_server_name (empty =
  // host; an IP address is matched against the certificate's IP SANs); a
  // client certificate (tls_cert_file with tls_key_file) is presented when
  // given, for a Redis with tls-auth-clients.
  bool tls = false;
  // How often new connections check whether a TLS file changed (a renewed
  // certificate, a rotated CA; a Kubernetes Secret volume swaps its files),
  // and then use the new ones.
  std::chrono::milliseconds tls_reload_interval{10000};
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
};

// Parses redis[s]://[[user]:password@]host[:port][/db] (user and password are
// percent-decoded; an IPv6 host goes in brackets; rediss:// turns TLS on, the
// TLS files come from elsewhere). INVALID_ARGUMENT names the part that is
// wrong, never echoing the password.
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
// Each call may run on a different pooled connection, so connection state
// cannot carry over between calls: SELECT, AUTH, HELLO, MULTI/EXEC/DISCARD,
// WATCH, (P|S)SUBSCRIBE, MONITOR, RESET, QUIT are refused by Command with
// INVALID_ARGUMENT (the db comes from the options). A Pipeline may hold a
// MULTI..EXEC (or DISCARD) transaction that it closes itself; anything needing
// reads between WATCH and EXEC belongs in a Script.
//
// Errors: UNAVAILABLE when Redis cannot be reached or a connection broke
// (retryable; the client reconnects with backoff by itself, and while it
// backs off calls fail fast with UNAVAILABLE), or for the error replies that
// mean "try again later" (LOADING, BUSY, MASTERDOWN, READONLY, TRYAGAIN,
// CLUSTERDOWN). DEADLINE_EXCEEDED when a command timed out or no pooled
// connection became free in time (retryable). After UNAVAILABLE or
// DEADLINE_EXCEEDED a write may or may not have been applied: retry only
// idempotent work. INTERNAL for a Redis error reply to a command (e.g.
// WRONGTYPE), carrying Redis's message. Not retryable, because they are
// configuration problems: UNAUTHENTICATED when AUTH is refused or Redis wants
// a password it was not given (NOAUTH), PERMISSION_DENIED for an ACL refusal
// (NOPERM), FAILED_PRECONDITION when SELECT of the configured db fails.
// A Redis error reply inside a pipeline or an EXEC is returned as a Reply of
// type kError instead.
class RedisClient {
 public:
  virtual ~RedisClient() = default;
  // Runs one command (args binary-safe, args[0] the verb). An error reply is
  // a failed status as described above.
  virtual absl::StatusOr<Reply> Command(const std::vector<std::string>& args) = 0;
  // Sends all commands in one round trip on one connection; replies in order,
  // one per command, error replies as kError elements. A transport failure or
  // timeout fails the whole call (some commands may have run). Empty input
  // gives an empty vector without touching Redis.
  virtual absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) = 0;
  // EVALSHA, falling back to EVAL on the same connection on NOSCRIPT.
  virtual absl::StatusOr<Reply> Eval(const Script& script, const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) = 0;
};

// One run of a script in EvalPipeline.
struct EvalCall {
  const Script* script = nullptr;  // required; must outlive the EvalPipeline
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// Runs each call's script in one round trip (a Pipeline of EVALSHA), for
// work that needs many small atomic steps at once. Replies in order, one per
// call; a script's error reply is a kError element, as in Pipeline. Each run
// is atomic on its own, and they run in order, except that calls answered
// NOSCRIPT (the script was not cached: a Redis restart, SCRIPT FLUSH) are
// sent again after a SCRIPT LOAD of their scripts, so they run after the
// others. Transport failures as in Pipeline; INVALID_ARGUMENT for a call
// without a script. No calls: an empty vector, Redis untouched.
absl::StatusOr<std::vector<Reply>> EvalPipeline(RedisClient& redis, std::vector<EvalCall> calls);

// `metrics` may be null; when set (and outliving the client), exports
// docket_redis_command_duration_seconds{command} (the verb uppercased, verbs
// outside a small allow-list as OTHER; PIPELINE for a whole pipeline),
// docket_redis_errors_total{kind=unavailable|timeout|reply} (failed calls by
// code: UNAVAILABLE, DEADLINE_EXCEEDED, anything else; plus kError elements
// of pipelines as reply) and docket_redis_reconnects_total.
// Connects lazily: creating the client succeeds even while Redis is down.
// INVALID_ARGUMENT for options that cannot work (pool_size < 1, ...).
absl::StatusOr<std::unique_ptr<RedisClient>> MakeRedisClient(const RedisOptions& options,
                                                              metrics::MetricsRegistry* metrics);

}  // namespace docket::redis
