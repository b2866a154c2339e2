#pragma once

// Runs one gRPC server for a service: standard health checking
// (grpc.health.v1, status per service name and for ""), server reflection,
// optional TLS / mTLS from file paths, an authentication hook, and a graceful
// drain (health NOT_SERVING, stop accepting, finish in-flight calls up to a
// deadline).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
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

struct TlsOptions {
  std::string cert_file;       // server certificate chain (PEM)
  std::string key_file;        // private key (PEM)
  std::string client_ca_file;  // set = mTLS: clients must present a cert signed by it
};

struct ServerOptions {
  // "host:port"; port 0 picks a free one (see ServerRunner::port()).
  std::string listen_address = "0.0.0.0:0";
  std::optional<TlsOptions> tls;  // unset = plaintext
  std::chrono::milliseconds drain_timeout{10000};
  int max_receive_message_bytes = 4 * 1024 * 1024;
};

// Who is calling, as established by an Authenticator.
struct Principal {
  std::string id;                    // e.g. key id or worker id; never the secret
  std::vector<std::string> tenants;  // tenants this principal may act for
  std::vector<std::string> roles;    // e.g. "publisher", "worker", "supervisor"
  bool MayActFor(std::string_view tenant) const;
  bool HasRole(std::string_view role) const;
};

// The auth hook: services call Authenticate() first in every RPC that changes
// something. UNAUTHENTICATED for a missing/unknown credential.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const = 0;
};

// The bearer token of `authorization: Bearer <token>`, or UNAUTHENTICATED.
absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context);

class ServerRunner {
 public:
  explicit ServerRunner(ServerOptions options);
  ~ServerRunner();

  // Registers a service before Start(); `health_name` is its full name, e.g.
  // "docket.v1.Intake". The service must outlive the runner.
  void AddService(grpc::Service* service, std::string health_name);

  // Binds and starts serving; every registered name reports SERVING.
  // FAILED_PRECONDITION if TLS files cannot be read, UNAVAILABLE if the port
  // cannot be bound.
  absl::Status Start();
  int port() const { return port_; }

  // Sets the health status of one registered name (and of "" when all are serving).
  void SetServing(const std::string& health_name, bool serving);

  // Graceful drain: health NOT_SERVING, stop accepting, wait for in-flight
  // calls up to drain_timeout, then cancel what is left. Idempotent.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace docket::grpcutil
