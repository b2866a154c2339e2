#pragma once

// The baseline: a plain gRPC server (grpc::ServerBuilder, synchronous
// service, like docket-intake's) whose docket.v1.Intake/Submit answers at
// once with the request's idempotency key as the item id. Same messages and
// the same client code as a unary run, none of intake's work (auth,
// validation, Redis, Kafka), so unary/echo is intake's cost on top of gRPC.

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class Server;
}

namespace docket::loadgen {

class EchoServer {
 public:
  // Listens on `address` ("127.0.0.1:0" picks a free port).
  static absl::StatusOr<std::unique_ptr<EchoServer>> Start(const std::string& address = "127.0.0.1:0");
  ~EchoServer();
  std::string address() const;  // 127.0.0.1:<port>
  void Wait();  // until Shutdown() from another thread

 private:
  class Service;
  EchoServer();
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace docket::loadgen
