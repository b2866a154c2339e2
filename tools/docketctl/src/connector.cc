#include "tools/docketctl/src/connector.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace docket::ctl {
namespace {

absl::Status ReadPem(const std::string& flag, const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, ": cannot be read"));
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, ": is not PEM"));
  }
  *out = text.str();
  return absl::OkStatus();
}

class GrpcConnector : public Connector {
 public:
  absl::Status UseTls(const TlsSettings& tls) override {
    if (!tls.on) return absl::OkStatus();
    grpc::SslCredentialsOptions options;  // empty roots = the system's CAs
    for (const auto& [flag, path, out] : {std::tuple{"tls-ca", tls.ca_file, &options.pem_root_certs},
                                          std::tuple{"tls-cert", tls.cert_file, &options.pem_cert_chain},
                                          std::tuple{"tls-key", tls.key_file, &options.pem_private_key}}) {
      if (path.empty()) continue;
      if (absl::Status s = ReadPem(flag, path, out); !s.ok()) return s;
    }
    credentials_ = grpc::SslCredentials(options);
    if (!tls.server_name.empty()) args_.SetSslTargetNameOverride(tls.server_name);
    return absl::OkStatus();
  }

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
    if (!stub) stub = Service::NewStub(grpc::CreateCustomChannel(address, credentials_, args_));
    return *stub;
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials_ = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args_;
  Stubs<docket::v1::Intake> intake_;
  Stubs<docket::v1::Work> work_;
  Stubs<docket::v1::Compliance> compliance_;
  Stubs<docket::v1::Kpi> kpi_;
  Stubs<grpc::health::v1::Health> health_;
};

}  // namespace

std::unique_ptr<Connector> NewGrpcConnector() { return std::make_unique<GrpcConnector>(); }

}  // namespace docket::ctl
