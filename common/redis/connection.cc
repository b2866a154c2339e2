#include "common/redis/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace docket::redis::internal {
namespace {

using SteadyClock = std::chrono::steady_clock;

// OpenSSL's queued errors as one line (and the queue emptied).
std::string TlsErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? std::string("no detail from OpenSSL") : out;
}

bool IsIpLiteral(const std::string& host) {
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

void SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A TCP connection to host:port within the timeout, blocking once made;
// -1 with `error` set.
int ConnectSocket(const RedisOptions& options, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options.port);
  if (const int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = absl::StrCat("cannot resolve ", options.host, ": ", gai_strerror(rc));
    return -1;
  }
  const auto deadline = SteadyClock::now() + options.connect_timeout;
  int fd = -1;
  for (const addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int soerr = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      soerr = errno;
      if (soerr == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int n = 0;
        do {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
          n = poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
        } while (n < 0 && errno == EINTR);
        socklen_t len = sizeof soerr;
        if (n == 0) {
          soerr = ETIMEDOUT;
        } else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
          soerr = errno;
        }
      }
    }
    if (soerr != 0) {
      error = soerr == ETIMEDOUT ? absl::StrCat("no connection within ", options.connect_timeout.count(), " ms")
                                 : std::string(std::strerror(soerr));
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  // A silently dead peer is noticed within ~30 s even between commands.
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  const int idle = 15, interval = 5, count = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  return fd;
}

}  // namespace

absl::StatusOr<std::shared_ptr<SSL_CTX>> MakeTlsContext(const RedisOptions& options) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("redis TLS: ", TlsErrors()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Redis may close without close_notify: that is the end of the stream.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (options.tls_ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(ctx.get());
  } else if (SSL_CTX_load_verify_locations(ctx.get(), options.tls_ca_file.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis TLS: cannot load the CA file ", options.tls_ca_file, ": ", TlsErrors()));
  }
  if (!options.tls_cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.tls_cert_file.c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("redis TLS: cannot load the client certificate ",
                                                     options.tls_cert_file, ": ", TlsErrors()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("redis TLS: cannot use the client key ",
                                                     options.tls_key_file, " with ", options.tls_cert_file,
                                                     ": ", TlsErrors()));
    }
  }
  return ctx;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const RedisOptions& options,
                                                             std::shared_ptr<SSL_CTX> tls) {
  std::unique_ptr<Connection> c(new Connection());
  std::string error;
  c->fd_ = ConnectSocket(options, error);
  if (c->fd_ < 0) return absl::UnavailableError(absl::StrCat("connect failed: ", error));
  c->reader_ = redisReaderCreate();
  if (c->reader_ == nullptr) return absl::ResourceExhaustedError("cannot allocate a reply reader");
  if (tls != nullptr) {
    ERR_clear_error();
    c->ctx_ = std::move(tls);
    c->ssl_ = SSL_new(c->ctx_.get());
    if (c->ssl_ == nullptr || SSL_set_fd(c->ssl_, c->fd_) != 1) {
      return absl::UnavailableError(absl::StrCat("TLS setup failed: ", TlsErrors()));
    }
    const std::string& name = options.tls_server_name.empty() ? options.host : options.tls_server_name;
    const bool named = IsIpLiteral(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl_), name.c_str()) == 1
                                         : SSL_set_tlsext_host_name(c->ssl_, name.c_str()) == 1 &&
                                               SSL_set1_host(c->ssl_, name.c_str()) == 1;
    if (!named) return absl::InvalidArgumentError(absl::StrCat("redis TLS: cannot verify for the name ", name));
    SetTimeouts(c->fd_, options.connect_timeout);
    if (const int rc = SSL_connect(c->ssl_); rc != 1) {
      const int saved_errno = errno;
      const long verify = SSL_get_verify_result(c->ssl_);
      std::string why;
      if (verify != X509_V_OK) {
        why = absl::StrCat("certificate verify failed (", X509_verify_cert_error_string(verify), ") for ", name);
      } else if (SSL_get_error(c->ssl_, rc) == SSL_ERROR_SYSCALL || SSL_get_error(c->ssl_, rc) == SSL_ERROR_WANT_READ) {
        why = saved_errno == EAGAIN || saved_errno == EWOULDBLOCK
                  ? absl::StrCat("no answer within ", options.connect_timeout.count(),
                                 " ms (is this port plaintext? then use redis://)")
                  : saved_errno == 0 ? std::string("the server closed the connection")
                                     : std::string(std::strerror(saved_errno));
      } else {
        why = TlsErrors();
        if (absl::StrContains(why, "wrong version number") || absl::StrContains(why, "packet length too long")) {
          absl::StrAppend(&why, " (is this port plaintext? then use redis://)");
        }
      }
      ERR_clear_error();
      return absl::UnavailableError(absl::StrCat("TLS handshake failed: ", why));
    }
  }
  SetTimeouts(c->fd_, options.command_timeout);
  return c;
}

Connection::~Connection() {
  // No close_notify: it is a write that may block or meet a reset peer, and
  // Redis does not need it.
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void Connection::Append(const std::vector<std::string>& args) {
  // RESP: an array of bulk strings (binary-safe).
  absl::StrAppend(&out_, "*", args.size(), "\r\n");
  for (const std::string& a : args) {
    absl::StrAppend(&out_, "$", a.size(), "\r\n");
    out_.append(a);
    out_.append("\r\n");
  }
}

void Connection::Fail(Error error, std::string text) {
  error_ = error;
  error_text_ = std::move(text);
  // With TLS 1.3 a server that wants a client certificate refuses one only
  // after the handshake, by closing the connection: the first read fails.
  if (ssl_ != nullptr && replies_ == 0 && (error == Error::kIo || error == Error::kEof)) {
    absl::StrAppend(&error_text_, " (before the first reply over TLS: does Redis require a client "
                                  "certificate, tls-auth-clients?)");
  }
}

redisReply* Connection::GetReply() {
  if (error_ != Error::kNone) return nullptr;
  void* reply = nullptr;
  if (!out_.empty() && !Flush()) return nullptr;
  for (;;) {
    if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
      Fail(Error::kProtocol, reader_->errstr);
      return nullptr;
    }
    if (reply != nullptr) {
      ++replies_;
      return static_cast<redisReply*>(reply);
    }
    if (!ReadMore()) return nullptr;
  }
}

bool Connection::Flush() {
  std::size_t sent = 0;
  while (sent < out_.size()) {
    const char* data = out_.data() + sent;
    const std::size_t left = out_.size() - sent;
    errno = 0;
    const ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(left, 1 << 30)))
                                      : send(fd_, data, left, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    const int saved_errno = errno;
    if (saved_errno == EINTR) continue;
    if (ssl_ != nullptr && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_SSL) {
      Fail(Error::kIo, absl::StrCat("TLS: ", TlsErrors()));
    } else if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
               (ssl_ != nullptr && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_WANT_WRITE)) {
      Fail(Error::kTimeout, "write timed out");
    } else {
      Fail(Error::kIo, saved_errno != 0 ? std::strerror(saved_errno) : "the server closed the connection");
    }
    ERR_clear_error();
    return false;
  }
  out_.clear();
  return true;
}

bool Connection::ReadMore() {
  char buf[16 * 1024];
  for (;;) {
    errno = 0;
    const ssize_t n =
        ssl_ != nullptr ? SSL_read(ssl_, buf, sizeof buf) : read(fd_, buf, sizeof buf);
    if (n > 0) {
      if (redisReaderFeed(reader_, buf, static_cast<std::size_t>(n)) != REDIS_OK) {
        Fail(Error::kProtocol, reader_->errstr);
        return false;
      }
      return true;
    }
    const int saved_errno = errno;
    if (saved_errno == EINTR) continue;
    const int tls_error = ssl_ != nullptr ? SSL_get_error(ssl_, static_cast<int>(n)) : SSL_ERROR_NONE;
    if (tls_error == SSL_ERROR_SSL) {
      Fail(Error::kIo, absl::StrCat("TLS: ", TlsErrors()));
    } else if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || tls_error == SSL_ERROR_WANT_READ) {
      Fail(Error::kTimeout, "read timed out");
    } else if (n == 0 || tls_error == SSL_ERROR_ZERO_RETURN || saved_errno == 0) {
      Fail(Error::kEof, "Server closed the connection");
    } else {
      Fail(Error::kIo, std::strerror(saved_errno));
    }
    ERR_clear_error();
    return false;
  }
}

}  // namespace docket::redis::internal
