#pragma once

// One blocking connection to Redis, internal to docket_redis: a TCP socket,
// with TLS over it for rediss://, commands formatted and replies parsed by
// hiredis's protocol code (hiredis 0.14's own contexts have no TLS).
//
// Timeouts: the connect (and the TLS handshake) get connect_timeout; each
// read and write after that gets command_timeout (SO_RCVTIMEO/SO_SNDTIMEO).
// After any error the connection is unusable: drop it.

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

struct redisReader;
struct redisReply;

namespace docket::redis::internal {

// An SSL_CTX for a client of `options` (TLS on), shared by its connections:
// verifies the server against options.tls_ca_file (or the system's CAs),
// presents the client certificate when one is given. INVALID_ARGUMENT names
// a file that cannot be read or does not fit.
absl::StatusOr<std::shared_ptr<SSL_CTX>> MakeTlsContext(const RedisOptions& options);

class Connection {
 public:
  enum class Error { kNone, kTimeout, kIo, kEof, kProtocol };

  // Connects (and handshakes, with `tls`); UNAVAILABLE names what failed,
  // e.g. "connect failed: Connection refused" or "TLS handshake failed:
  // certificate verify failed (self-signed certificate in certificate chain)".
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const RedisOptions& options,
                                                          std::shared_ptr<SSL_CTX> tls);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues a command; nothing is sent until GetReply.
  void Append(const std::vector<std::string>& args);
  // Sends what is queued, then the next reply (owned by the caller, free
  // with freeReplyObject); nullptr on failure, with error() and error_text().
  redisReply* GetReply();

  Error error() const { return error_; }
  const std::string& error_text() const { return error_text_; }

 private:
  Connection() = default;
  bool Flush();
  bool ReadMore();
  void Fail(Error error, std::string text);

  int fd_ = -1;
  std::shared_ptr<SSL_CTX> ctx_;  // keeps the context alive while ssl_ uses it
  SSL* ssl_ = nullptr;
  redisReader* reader_ = nullptr;
  std::string out_;  // formatted commands not yet sent
  std::uint64_t replies_ = 0;
  Error error_ = Error::kNone;
  std::string error_text_;
};

}  // namespace docket::redis::internal
