#include "tools/docketctl/src/connector.h"

#include <grpcpp/grpcpp.h>

#include <map>

namespace docket::ctl {
namespace {

class GrpcConnector : public Connector {
 public:
  docket::v1::Intake::StubInterface& Intake(const std::string& address) override {
    return Get<docket::v1::Intake>(intake_, address);
  }
  docket::v1::Work::StubInterface& Work(const std::string& address) override {
    return Get<docket::v1::Work>(work_, address);
  }
  docket::v1::Compliance::StubInterface& Compliance(const std::string& address) override {
    return Get<docket::v1::Compliance>(compliance_, address);
  }
  docket::v1::Kpi::StubInterface& Kpi(const std::string& address) override {
    return Get<docket::v1::Kpi>(kpi_, address);
  }
  grpc::health::v1::Health::StubInterface& Health(const std::string& address) override {
    return Get<grpc::health::v1::Health>(health_, address);
  }

 private:
  template <typename Service>
  using Stubs = std::map<std::string, std::unique_ptr<typename Service::StubInterface>>;

  template <typename Service>
  typename Service::StubInterface& Get(Stubs<Service>& stubs, const std::string& address) {
    auto& stub = stubs[address];
    if (!stub) stub = Service::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    return *stub;
  }

  Stubs<docket::v1::Intake> intake_;
  Stubs<docket::v1::Work> work_;
  Stubs<docket::v1::Compliance> compliance_;
  Stubs<docket::v1::Kpi> kpi_;
  Stubs<grpc::health::v1::Health> health_;
};

}  // namespace

std::unique_ptr<Connector> NewGrpcConnector() { return std::make_unique<GrpcConnector>(); }

}  // namespace docket::ctl
