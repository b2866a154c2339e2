#include "tools/loadgen/src/echo_server.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "docket/v1/intake_service.grpc.pb.h"

namespace docket::loadgen {

class EchoServer::Service final : public docket::v1::Intake::Service {
 public:
  grpc::Status Submit(grpc::ServerContext*, const docket::v1::SubmitRequest* request,
                      docket::v1::SubmitResponse* response) override {
    response->set_item_id(request->submission().idempotency_key());
    return grpc::Status::OK;
  }
};

EchoServer::EchoServer() : service_(std::make_unique<Service>()) {}

EchoServer::~EchoServer() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

absl::StatusOr<std::unique_ptr<EchoServer>> EchoServer::Start(const std::string& address) {
  auto echo = std::unique_ptr<EchoServer>(new EchoServer());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &echo->port_);
  builder.RegisterService(echo->service_.get());
  echo->server_ = builder.BuildAndStart();
  if (!echo->server_ || echo->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("echo server: cannot listen on ", address));
  }
  return echo;
}

std::string EchoServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void EchoServer::Wait() { server_->Wait(); }

}  // namespace docket::loadgen
