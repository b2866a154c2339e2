// RedisClient over a pool of blocking connections (connection.h: a socket,
// TLS for rediss://, hiredis's protocol reader).
//
// How failures travel:
// - A connection that failed is unusable: it is dropped and the slot
//   reconnects on its next use.
// - An I/O error or EOF means the server went away (restart, failover), so
//   every other connection made before it is suspect too: the pool bumps its
//   epoch and older idle connections are re-created instead of each failing
//   once in turn.
// - A failed connect starts a pool-wide exponential backoff. While it runs,
//   calls that need a new connection fail fast; after it, one call at a time
//   probes Redis (the others keep failing fast) until a connect succeeds.
// - A timed-out connection is dropped (its late reply would answer the next
//   command) but does not start a backoff: the server was reachable.

#include <hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/redis/connection.h"
#include "common/redis/redis_client.h"

namespace docket::redis {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const log::Logger& Logger() {
  static const log::Logger logger("redis");
  return logger;
}

using internal::Connection;
using ConnectionPtr = std::unique_ptr<Connection>;

struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

std::int64_t Millis(SteadyClock::duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    case REDIS_REPLY_NIL:
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

absl::string_view FirstWord(absl::string_view msg) { return msg.substr(0, msg.find(' ')); }

// Error replies that mean "the server cannot serve this right now".
bool IsRetryableErrorReply(absl::string_view msg) {
  static constexpr std::array<absl::string_view, 6> kRetryable = {
      "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"};
  const absl::string_view word = FirstWord(msg);
  return std::find(kRetryable.begin(), kRetryable.end(), word) != kRetryable.end();
}

// The status for an error reply to a whole command.
absl::Status ErrorReplyStatus(absl::string_view msg) {
  const absl::string_view word = FirstWord(msg);
  if (IsRetryableErrorReply(msg)) return absl::UnavailableError(absl::StrCat("redis: ", msg));
  if (word == "NOAUTH" || word == "WRONGPASS") {
    return absl::UnauthenticatedError(absl::StrCat("redis: ", msg));
  }
  if (word == "NOPERM") return absl::PermissionDeniedError(absl::StrCat("redis: ", msg));
  return absl::InternalError(absl::StrCat("redis: ", msg));
}

bool IsRetryableCode(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
}

// OpenSSL writes with write(2): a peer that reset the connection would raise
// SIGPIPE and kill the process. Block it in this thread for the duration of
// a call and swallow one that became pending meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{};
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

// The verbs Docket uses get their own series; anything else is OTHER, so a
// caller cannot blow up the label set.
constexpr absl::string_view kKnownVerbs[] = {
    "GET",      "SET",      "SETNX",       "SETEX",         "PSETEX",   "GETSET",
    "GETDEL",   "MGET",     "MSET",        "DEL",           "UNLINK",   "EXISTS",
    "EXPIRE",   "PEXPIRE",  "EXPIREAT",    "PEXPIREAT",     "PERSIST",  "TTL",
    "PTTL",     "TYPE",     "INCR",        "INCRBY",        "DECR",     "DECRBY",
    "HGET",     "HSET",     "HSETNX",      "HMGET",         "HDEL",     "HGETALL",
    "HINCRBY",  "HLEN",     "HEXISTS",     "SADD",          "SREM",     "SMEMBERS",
    "SISMEMBER", "SCARD",   "ZADD",        "ZREM",          "ZSCORE",   "ZCARD",
    "ZRANGE",   "ZRANGEBYSCORE", "ZPOPMIN", "ZCOUNT",       "LPUSH",    "RPUSH",
    "LRANGE",   "LLEN",     "SCAN",        "PING",          "SCRIPT",   "EVALSHA",
    "EVAL",     "PIPELINE", "OTHER"};

// Index of the verb's series in kKnownVerbs; the last one is OTHER.
std::size_t VerbIndex(absl::string_view verb) {
  constexpr std::size_t kOther = std::size(kKnownVerbs) - 1;
  static_assert(kKnownVerbs[kOther] == "OTHER");
  for (std::size_t i = 0; i < kOther; ++i) {
    if (absl::EqualsIgnoreCase(kKnownVerbs[i], verb)) return i;
  }
  return kOther;
}

// Commands that change the state of the connection they run on. A pooled
// connection serves the next caller, who must not inherit a SELECTed db, an
// open MULTI or a subscription.
bool ChangesConnectionState(absl::string_view verb) {
  static constexpr absl::string_view kStateful[] = {
      "SELECT",   "AUTH",       "HELLO",        "RESET",       "QUIT",      "MONITOR",
      "WATCH",    "UNWATCH",    "SUBSCRIBE",    "PSUBSCRIBE",  "SSUBSCRIBE", "UNSUBSCRIBE",
      "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MULTI",  "EXEC",        "DISCARD"};
  for (absl::string_view s : kStateful) {
    if (absl::EqualsIgnoreCase(s, verb)) return true;
  }
  return false;
}

absl::Status RefuseStateful(absl::string_view verb, absl::string_view where) {
  return absl::InvalidArgumentError(absl::StrCat(
      "redis: ", verb, " ", where,
      " would change the state of a pooled connection; set the db in the options, run "
      "MULTI..EXEC inside one Pipeline, or use a Script"));
}

// Metrics of all clients that share a registry (prometheus-cpp merges the
// families and series by name and labels).
class ClientMetrics {
 public:
  explicit ClientMetrics(metrics::MetricsRegistry& registry)
      : duration_family_(prometheus::BuildHistogram()
                             .Name("docket_redis_command_duration_seconds")
                             .Help("Time from sending a Redis command (or a whole pipeline) "
                                   "to having its reply, by command verb")
                             .Register(registry.registry())),
        buckets_(metrics::LatencyBuckets()) {
    auto& errors = prometheus::BuildCounter()
                       .Name("docket_redis_errors_total")
                       .Help("Failed Redis calls by kind: unavailable (connection or "
                             "retryable reply), timeout, reply (an error reply)")
                       .Register(registry.registry());
    unavailable_ = &errors.Add({{"kind", "unavailable"}});
    timeout_ = &errors.Add({{"kind", "timeout"}});
    reply_ = &errors.Add({{"kind", "reply"}});
    reconnects_ = &prometheus::BuildCounter()
                       .Name("docket_redis_reconnects_total")
                       .Help("Redis connections re-created after a connection broke or a "
                             "connect attempt failed")
                       .Register(registry.registry())
                       .Add({});
  }

  void Observe(absl::string_view verb, SteadyClock::duration d) {
    // Series are made on first use, so a scrape shows only the verbs in use.
    // Family::Add is thread-safe and returns the existing series.
    const std::size_t index = VerbIndex(verb);
    std::atomic<prometheus::Histogram*>& slot = duration_[index];
    prometheus::Histogram* h = slot.load(std::memory_order_acquire);
    if (h == nullptr) {
      h = &duration_family_.Add({{"command", std::string(kKnownVerbs[index])}}, buckets_);
      slot.store(h, std::memory_order_release);
    }
    h->Observe(std::chrono::duration<double>(d).count());
  }
  void CountError(absl::StatusCode code) {
    switch (code) {
      case absl::StatusCode::kUnavailable: unavailable_->Increment(); break;
      case absl::StatusCode::kDeadlineExceeded: timeout_->Increment(); break;
      default: reply_->Increment(); break;
    }
  }
  void CountErrorReply() { reply_->Increment(); }
  void CountReconnect() { reconnects_->Increment(); }

 private:
  prometheus::Family<prometheus::Histogram>& duration_family_;
  const prometheus::Histogram::BucketBoundaries buckets_;
  std::array<std::atomic<prometheus::Histogram*>, std::size(kKnownVerbs)> duration_{};
  prometheus::Counter* unavailable_ = nullptr;
  prometheus::Counter* timeout_ = nullptr;
  prometheus::Counter* reply_ = nullptr;
  prometheus::Counter* reconnects_ = nullptr;
};

// What a call did to the connection it borrowed.
enum class Fate {
  kHealthy,
  kDrop,      // unusable (timeout, protocol error): re-create on next use
  kPeerLost,  // I/O error or EOF: the server went away, older connections too
};

// The TLS context for new connections, made again when one of its files
// changed since (checked at most every tls_reload_interval). A change that
// does not load keeps the last good context, with one warning; the files are
// tried again once they change again.
class TlsSource {
 public:
  TlsSource(const RedisOptions& options, std::shared_ptr<SSL_CTX> ctx)
      : options_(options), ctx_(std::move(ctx)), stamp_(Stamp()),
        next_check_(SteadyClock::now() + options.tls_reload_interval) {}

  std::shared_ptr<SSL_CTX> Current() {
    std::lock_guard lock(mu_);
    const auto now = SteadyClock::now();
    if (now < next_check_) return ctx_;
    next_check_ = now + options_.tls_reload_interval;
    std::string stamp = Stamp();
    if (stamp == stamp_ || stamp == refused_stamp_) return ctx_;
    auto fresh = internal::MakeTlsContext(options_);
    if (!fresh.ok()) {
      refused_stamp_ = std::move(stamp);
      Logger().Warn("redis TLS files changed but do not load; new connections keep the previous ones",
                    {{"error", std::string(fresh.status().message())}});
      return ctx_;
    }
    Logger().Info("redis TLS files changed; new connections use them", {});
    ctx_ = *std::move(fresh);
    stamp_ = std::move(stamp);
    return ctx_;
  }

 private:
  // Identity and contents' age of each file (following symlinks, as a Secret
  // volume's ..data swap does).
  std::string Stamp() const {
    std::string out;
    for (const std::string* file : {&options_.tls_ca_file, &options_.tls_cert_file, &options_.tls_key_file}) {
      struct stat st {};
      if (!file->empty() && ::stat(file->c_str(), &st) == 0) {
        absl::StrAppend(&out, st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
      }
      out.push_back('|');
    }
    return out;
  }

  const RedisOptions& options_;
  std::mutex mu_;
  std::shared_ptr<SSL_CTX> ctx_;
  std::string stamp_;
  std::string refused_stamp_;  // files that did not load, as they were then
  SteadyClock::time_point next_check_;
};

struct Conn {
  ConnectionPtr ctx;
  std::uint64_t epoch = 0;
  bool ever_connected = false;
};

class HiredisClient final : public RedisClient {
 public:
  HiredisClient(const RedisOptions& options, std::shared_ptr<SSL_CTX> tls, metrics::MetricsRegistry* registry)
      : options_(options),
        tls_(tls == nullptr ? nullptr : std::make_unique<TlsSource>(options_, std::move(tls))),
        address_(options.host.find(':') != std::string::npos
                     ? absl::StrCat("[", options.host, "]:", options.port)
                     : absl::StrCat(options.host, ":", options.port)),
        backoff_(options.backoff_initial) {
    if (registry != nullptr) metrics_ = std::make_unique<ClientMetrics>(*registry);
    conns_.reserve(static_cast<std::size_t>(options_.pool_size));
    for (int i = 0; i < options_.pool_size; ++i) {
      conns_.push_back(std::make_unique<Conn>());
      idle_.push_back(conns_.back().get());
    }
  }

  absl::StatusOr<Reply> Command(const std::vector<std::string>& args) override {
    if (args.empty()) return absl::InvalidArgumentError("redis: empty command");
    if (ChangesConnectionState(args.front())) return RefuseStateful(args.front(), "as a command");
    return Run<Reply>(args.front(), [&](Connection* c, Fate& fate,
                                        absl::string_view&) -> absl::StatusOr<Reply> {
      auto reply = SendCommand(*c, args, fate);
      if (!reply.ok()) return reply.status();
      if (reply->is_error()) return ErrorReplyStatus(reply->str);
      return reply;
    });
  }

  absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    // Only a closed MULTI..EXEC/DISCARD may change connection state.
    bool in_multi = false;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      if (commands[i].empty()) {
        return absl::InvalidArgumentError(absl::StrCat("redis: pipeline command ", i, " is empty"));
      }
      const std::string& verb = commands[i].front();
      if (absl::EqualsIgnoreCase(verb, "MULTI") && !in_multi) {
        in_multi = true;
      } else if ((absl::EqualsIgnoreCase(verb, "EXEC") || absl::EqualsIgnoreCase(verb, "DISCARD")) &&
                 in_multi) {
        in_multi = false;
      } else if (ChangesConnectionState(verb)) {
        return RefuseStateful(verb, absl::StrCat("at pipeline command ", i));
      }
    }
    if (in_multi) {
      return absl::InvalidArgumentError("redis: pipeline opens MULTI without EXEC or DISCARD");
    }
    if (commands.empty()) return std::vector<Reply>{};
    auto replies = Run<std::vector<Reply>>(
        "PIPELINE",
        [&](Connection* c, Fate& fate, absl::string_view&) -> absl::StatusOr<std::vector<Reply>> {
          for (const auto& cmd : commands) c->Append(cmd);
          std::vector<Reply> out;
          out.reserve(commands.size());
          for (std::size_t i = 0; i < commands.size(); ++i) {
            ReplyPtr reply(c->GetReply());
            // The remaining replies are unread: the connection cannot be reused.
            if (reply == nullptr) return TransportError(*c, fate);
            out.push_back(Convert(reply.get()));
          }
          return out;
        });
    if (replies.ok() && metrics_ != nullptr) {
      for (const Reply& r : *replies) {
        if (r.is_error()) metrics_->CountErrorReply();
      }
    }
    return replies;
  }

  absl::StatusOr<Reply> Eval(const Script& script, const std::vector<std::string>& keys,
                             const std::vector<std::string>& args) override {
    std::vector<std::string> cmd;
    cmd.reserve(3 + keys.size() + args.size());
    cmd.push_back("EVALSHA");
    cmd.push_back(script.sha1());
    cmd.push_back(std::to_string(keys.size()));
    cmd.insert(cmd.end(), keys.begin(), keys.end());
    cmd.insert(cmd.end(), args.begin(), args.end());
    return Run<Reply>("EVALSHA", [&](Connection* c, Fate& fate,
                                     absl::string_view& verb) -> absl::StatusOr<Reply> {
      auto reply = SendCommand(*c, cmd, fate);
      if (!reply.ok()) return reply.status();
      if (reply->is_error() && absl::StartsWith(reply->str, "NOSCRIPT")) {
        // Not in the script cache (restart, SCRIPT FLUSH, failover): EVAL
        // sends the source and caches it for the next EVALSHA.
        verb = "EVAL";
        cmd[0] = "EVAL";
        cmd[1] = script.source();
        reply = SendCommand(*c, cmd, fate);
        if (!reply.ok()) return reply.status();
      }
      if (reply->is_error()) return ErrorReplyStatus(reply->str);
      return reply;
    });
  }

 private:
  absl::StatusOr<Reply> SendCommand(Connection& c, const std::vector<std::string>& args, Fate& fate) {
    c.Append(args);
    ReplyPtr reply(c.GetReply());
    if (reply == nullptr) return TransportError(c, fate);
    return Convert(reply.get());
  }

  // Maps a failed connection to a status and a fate.
  absl::Status TransportError(const Connection& c, Fate& fate) {
    switch (c.error()) {
      case Connection::Error::kTimeout:
        fate = Fate::kDrop;
        return absl::DeadlineExceededError(absl::StrCat("redis ", address_, ": no reply within ",
                                                        options_.command_timeout.count(), " ms"));
      case Connection::Error::kProtocol:
        fate = Fate::kDrop;
        return absl::InternalError(absl::StrCat("redis ", address_, ": protocol error: ", c.error_text()));
      case Connection::Error::kIo:
      case Connection::Error::kEof:
      case Connection::Error::kNone:
        break;
    }
    fate = Fate::kPeerLost;
    return absl::UnavailableError(absl::StrCat("redis ", address_, ": connection lost: ", c.error_text()));
  }

  // Borrows a connection, runs `body` on it, gives it back, and records the
  // metrics. The duration excludes the wait for a free connection: it is
  // Redis's latency as this process sees it.
  template <typename T, typename Body>
  absl::StatusOr<T> Run(absl::string_view verb, Body&& body) {
    // Plaintext writes use send(MSG_NOSIGNAL); only OpenSSL's write(2) needs it.
    std::optional<SigpipeGuard> sigpipe_guard;
    if (tls_ != nullptr) sigpipe_guard.emplace();
    auto conn = Acquire();
    if (!conn.ok()) {
      if (metrics_ != nullptr) metrics_->CountError(conn.status().code());
      return conn.status();
    }
    Fate fate = Fate::kHealthy;
    const auto start = SteadyClock::now();
    absl::StatusOr<T> result = body((*conn)->ctx.get(), fate, verb);
    const auto elapsed = SteadyClock::now() - start;
    if (fate != Fate::kHealthy) {
      // The error text comes from hiredis or the socket, never from a secret.
      const std::string error(result.ok() ? "" : result.status().message());
      if (fate == Fate::kPeerLost) {
        Logger().Warn("redis connection lost", {{"addr", address_}, {"error", error}});
      } else {
        Logger().Debug("redis connection dropped", {{"addr", address_}, {"error", error}});
      }
    }
    Release(*conn, fate);
    if (metrics_ != nullptr) {
      metrics_->Observe(verb, elapsed);
      if (!result.ok()) metrics_->CountError(result.status().code());
    }
    return result;
  }

  absl::StatusOr<Conn*> Acquire() {
    std::unique_lock lock(mu_);
    const auto deadline = SteadyClock::now() + options_.acquire_timeout;
    if (!cv_.wait_until(lock, deadline, [&] { return !idle_.empty(); })) {
      return absl::DeadlineExceededError(absl::StrCat(
          "redis ", address_, ": no free connection within ", options_.acquire_timeout.count(),
          " ms (pool_size ", options_.pool_size, ")"));
    }
    // Prefer a live connection of the current epoch (most recently used first).
    auto it = std::find_if(idle_.rbegin(), idle_.rend(), [&](const Conn* c) {
      return c->ctx != nullptr && c->epoch == epoch_;
    });
    Conn* conn = nullptr;
    if (it != idle_.rend()) {
      conn = *it;
      idle_.erase(std::next(it).base());
      return conn;
    }
    conn = idle_.back();
    idle_.pop_back();
    ConnectionPtr stale = std::move(conn->ctx);  // from before a lost peer, if any

    const auto now = SteadyClock::now();
    bool probe = false;
    if (failures_ > 0) {
      if (probing_ || now < retry_at_) {
        idle_.push_back(conn);
        lock.unlock();
        cv_.notify_one();
        return FailFastStatus(now);
      }
      probing_ = probe = true;
    }
    lock.unlock();
    stale.reset();

    absl::Status status = Connect(*conn);

    lock.lock();
    if (probe) probing_ = false;
    const auto done = SteadyClock::now();
    if (status.ok()) {
      conn->epoch = epoch_;
      const bool reconnect = conn->ever_connected || failures_ > 0;
      conn->ever_connected = true;
      if (failures_ > 0 || !announced_) {
        if (failures_ > 0) {
          Logger().Info("redis reconnected", {{"addr", address_},
                                              {"failed_attempts", failures_},
                                              {"down_ms", Millis(done - down_since_)}});
        } else {
          Logger().Info("redis connected", {{"addr", address_},
                                            {"db", options_.db},
                                            {"pool_size", options_.pool_size}});
        }
        announced_ = true;
      }
      failures_ = 0;
      backoff_ = options_.backoff_initial;
      if (reconnect && metrics_ != nullptr) metrics_->CountReconnect();
      return conn;
    }

    // Attempts that overlapped (several slots connecting at once when Redis
    // went down) count as one step of the backoff.
    if (failures_ == 0) down_since_ = now;
    ++failures_;
    last_failure_ = status;
    if (done >= retry_at_) {
      retry_at_ = done + backoff_;
      const auto level = failures_ == 1 ? log::Level::kWarn : log::Level::kDebug;
      Logger().Log(level, "redis connect failed",
                   {{"addr", address_},
                    {"error", std::string(status.message())},
                    {"failed_attempts", failures_},
                    {"retry_in_ms", static_cast<std::int64_t>(backoff_.count())}});
      backoff_ = std::min(backoff_ * 2, options_.backoff_max);
    }
    idle_.push_back(conn);
    lock.unlock();
    cv_.notify_one();
    return status;
  }

  // Called with mu_ held, while the pool backs off or another call probes.
  absl::Status FailFastStatus(SteadyClock::time_point now) const {
    // A refused AUTH or SELECT is a configuration problem: keep its code, so
    // it is not retried as if Redis were merely down.
    if (!IsRetryableCode(last_failure_.code()) && !last_failure_.ok()) return last_failure_;
    const std::int64_t wait_ms = std::max<std::int64_t>(0, Millis(retry_at_ - now));
    return absl::UnavailableError(absl::StrCat("redis ", address_,
                                               " unavailable (reconnecting, next attempt in ",
                                               wait_ms, " ms): ", last_failure_.message()));
  }

  void Release(Conn* conn, Fate fate) {
    ConnectionPtr dead;
    {
      std::lock_guard lock(mu_);
      if (fate != Fate::kHealthy) dead = std::move(conn->ctx);
      // Only a connection of the current epoch moves the epoch: a stale one
      // failing tells nothing new.
      if (fate == Fate::kPeerLost && conn->epoch == epoch_) ++epoch_;
      idle_.push_back(conn);
    }
    cv_.notify_one();
  }

  // Opens, authenticates and selects the db; on success conn.ctx is set.
  absl::Status Connect(Conn& conn) {
    auto opened = Connection::Open(options_, tls_ == nullptr ? nullptr : tls_->Current());
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("redis ", address_, ": ", opened.status().message()));
    }
    ConnectionPtr c = *std::move(opened);
    Fate fate = Fate::kHealthy;
    if (!options_.password.empty()) {
      std::vector<std::string> auth = {"AUTH"};
      if (!options_.username.empty()) auth.push_back(options_.username);
      auth.push_back(options_.password);
      auto reply = SendCommand(*c, auth, fate);
      if (!reply.ok()) return SetupStatus(reply.status(), "AUTH");
      if (reply->is_error()) {
        return absl::UnauthenticatedError(
            absl::StrCat("redis ", address_, ": AUTH refused", UserNote(), ": ",
                         Scrub(reply->str)));
      }
    }
    if (options_.db != 0) {
      auto reply = SendCommand(*c, {"SELECT", std::to_string(options_.db)}, fate);
      if (!reply.ok()) return SetupStatus(reply.status(), "SELECT");
      if (reply->is_error()) {
        const absl::Status s = ErrorReplyStatus(reply->str);
        if (s.code() == absl::StatusCode::kUnauthenticated) {
          return absl::UnauthenticatedError(absl::StrCat(
              "redis ", address_, ": Redis requires a password and none is configured: ",
              reply->str));
        }
        if (IsRetryableCode(s.code())) return s;
        return absl::FailedPreconditionError(absl::StrCat("redis ", address_, ": SELECT ",
                                                          options_.db, " failed: ", reply->str));
      }
    }
    Logger().Debug("redis connection opened", {{"addr", address_}});
    conn.ctx = std::move(c);
    return absl::OkStatus();
  }

  // A transport failure during AUTH/SELECT is just "Redis unavailable".
  absl::Status SetupStatus(const absl::Status& s, absl::string_view step) const {
    return absl::UnavailableError(absl::StrCat(s.message(), " (during ", step, ")"));
  }

  std::string UserNote() const {
    return options_.username.empty() ? std::string()
                                     : absl::StrCat(" for user '", options_.username, "'");
  }

  // Redis never echoes the password, but make sure no server message does.
  std::string Scrub(absl::string_view msg) const {
    if (options_.password.empty()) return std::string(msg);
    return absl::StrReplaceAll(msg, {{options_.password, "***"}});
  }

  const RedisOptions options_;
  const std::unique_ptr<TlsSource> tls_;  // null without TLS
  const std::string address_;  // host:port, what logs and errors name
  std::unique_ptr<ClientMetrics> metrics_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> conns_;  // all slots; fixed after construction
  std::vector<Conn*> idle_;                   // guarded by mu_, like the fields below
  std::uint64_t epoch_ = 1;
  int failures_ = 0;  // consecutive failed connects
  milliseconds backoff_;
  SteadyClock::time_point retry_at_{};
  SteadyClock::time_point down_since_{};
  bool probing_ = false;
  bool announced_ = false;
  absl::Status last_failure_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RedisClient>> MakeRedisClient(const RedisOptions& options,
                                                              metrics::MetricsRegistry* metrics) {
  if (options.host.empty()) return absl::InvalidArgumentError("redis: host is empty");
  if (options.port < 1 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("redis: port ", options.port, " not in 1..65535"));
  }
  if (options.db < 0) return absl::InvalidArgumentError(absl::StrCat("redis: db ", options.db, " < 0"));
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("redis: pool_size ", options.pool_size, " < 1"));
  }
  if (!options.username.empty() && options.password.empty()) {
    return absl::InvalidArgumentError("redis: a username needs a password");
  }
  const std::pair<absl::string_view, milliseconds> positive[] = {
      {"connect_timeout", options.connect_timeout},
      {"command_timeout", options.command_timeout},
      {"backoff_initial", options.backoff_initial},
      {"acquire_timeout", options.acquire_timeout},
      {"tls_reload_interval", options.tls_reload_interval}};
  for (const auto& [name, value] : positive) {
    if (value.count() <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("redis: ", name, " must be > 0 ms"));
    }
  }
  if (options.backoff_max < options.backoff_initial) {
    return absl::InvalidArgumentError("redis: backoff_max must be >= backoff_initial");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("redis: a TLS client certificate and its key go together");
  }
  if (!options.tls && (!options.tls_ca_file.empty() || !options.tls_cert_file.empty() ||
                       !options.tls_server_name.empty())) {
    return absl::InvalidArgumentError(
        "redis: TLS settings are given but the connection is plaintext (use rediss://)");
  }
  std::shared_ptr<SSL_CTX> tls;
  if (options.tls) {
    auto ctx = internal::MakeTlsContext(options);
    if (!ctx.ok()) return ctx.status();
    tls = *std::move(ctx);
  }
  return std::make_unique<HiredisClient>(options, std::move(tls), metrics);
}

}  // namespace docket::redis
