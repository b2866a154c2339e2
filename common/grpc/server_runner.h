#pragma once

// Runs one gRPC server for a service: standard health checking
// (grpc.health.v1, status per service name and for ""), server reflection,
// optional TLS / mTLS from file paths (renewed files are picked up without a
// restart, see TlsOptions), an authentication hook, and a graceful
// drain (health NOT_SERVING, stop accepting, finish in-flight calls up to a
// deadline), and, given a metrics registry, RED metrics for every RPC:
//   docket_grpc_server_started_total{service,method}
//   docket_grpc_server_handled_total{service,method,code}
//   docket_grpc_server_handling_seconds{service,method}  (LatencyBuckets)
// `service` is the full service name ("docket.v1.Intake"), `method` the bare
// method name ("Submit"), `code` the canonical status name ("OK",
// "UNAVAILABLE"). Methods the server does not know are counted as
// service="unknown",method="unknown" so a client cannot grow the label set.
// With TLS, also:
//   docket_grpc_server_tls_reloads_total{outcome}  renewed files served
//     ("reloaded") or refused, the last good ones kept ("refused")
//   docket_grpc_server_tls_certificate_expiry_timestamp_seconds  the served
//     certificate's notAfter (Unix time)

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class Service;
class ServerContext;
class ServerContextBase;
}  // namespace grpc

namespace docket::metrics {
class MetricsRegistry;
}

namespace docket::grpcutil {

// The files are read again every reload_interval; new connections get renewed
// ones within about a second more (connections already open keep theirs).
// Renewed files that do not load (a key that is not the certificate's, a
// file cut off mid-write, a file gone) are refused with one warning, and the
// last good ones stay in use until the files change again.
struct TlsOptions {
  std::string cert_file;       // server certificate chain (PEM)
  std::string key_file;        // private key (PEM)
  std::string client_ca_file;  // set = mTLS: clients must present a cert signed by it
  std::chrono::milliseconds reload_interval{10000};
};

struct ServerOptions {
  // "host:port"; port 0 picks a free one (see ServerRunner::port()).
  std::string listen_address = "0.0.0.0:0";
  std::optional<TlsOptions> tls;  // unset = plaintext
  std::chrono::milliseconds drain_timeout{10000};
  // Time between health NOT_SERVING and no longer accepting calls in
  // Shutdown(), so load balancers that poll health move traffic away first.
  std::chrono::milliseconds not_serving_delay{0};
  int max_receive_message_bytes = 4 * 1024 * 1024;
  // Set = count RED metrics of every RPC there; must outlive the runner.
  metrics::MetricsRegistry* metrics = nullptr;
};

// Who is calling, as established by an Authenticator.
struct Principal {
  std::string id;                    // e.g. key id or worker id; never the secret
  std::vector<std::string> tenants;  // tenants this principal may act for; "*" = any
  std::vector<std::string> roles;    // e.g. "publisher", "worker", "supervisor"
  // Exact match, or "*" in tenants; an empty tenant is never allowed.
  bool MayActFor(std::string_view tenant) const;
  // Exact match; no wildcard.
  bool HasRole(std::string_view role) const;
};

// The auth hook: services call Authenticate() first in every RPC that changes
// something. UNAUTHENTICATED for a missing/unknown credential.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const = 0;
};

// The bearer token of `authorization: Bearer <token>`, or UNAUTHENTICATED
// (header missing, sent twice, another scheme, or an empty token). The scheme
// is case-insensitive (RFC 7235); the error never contains the header value.
absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context);

// Thread-safety: AddService() and Start() from one thread before serving;
// SetServing(), port() and Shutdown() from any thread after Start().
class ServerRunner {
 public:
  explicit ServerRunner(ServerOptions options);
  // Shuts down (with the drain) if still running.
  ~ServerRunner();
  ServerRunner(const ServerRunner&) = delete;
  ServerRunner& operator=(const ServerRunner&) = delete;

  // Registers a service before Start(); `health_name` is its full name, e.g.
  // "docket.v1.Intake". The service must outlive the runner.
  void AddService(grpc::Service* service, std::string health_name);

  // Binds and starts serving; every registered name reports SERVING.
  // FAILED_PRECONDITION naming the file if a TLS file cannot be read, holds
  // no PEM certificate/key or a PEM block that does not parse, or if the key
  // is not the certificate's; INVALID_ARGUMENT if tls.reload_interval is not
  // positive; UNAVAILABLE if the checked copy of the TLS files gRPC reads
  // (see tls_reloader.h) cannot be written or the address cannot be bound (the
  // port is never shared with another process: SO_REUSEPORT is off);
  // FAILED_PRECONDITION if called twice or after Shutdown().
  absl::Status Start();
  int port() const { return port_; }

  // Sets the health status of one registered name (and of "" when all are
  // serving). Before Start() it sets the status Start() reports; after
  // Shutdown() it does nothing (everything stays NOT_SERVING).
  void SetServing(const std::string& health_name, bool serving);

  // Graceful drain: health NOT_SERVING, wait not_serving_delay, stop
  // accepting, wait for in-flight calls up to drain_timeout, then cancel what
  // is left. Returns when the server has stopped. Idempotent; a concurrent
  // second call returns once the first has finished.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace docket::grpcutil
