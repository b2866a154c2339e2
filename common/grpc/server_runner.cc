#include "common/grpc/server_runner.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/red_interceptor.h"
#include "common/log/log.h"

namespace docket::grpcutil {
namespace {

const log::Logger& Logger() {
  static const log::Logger logger("grpc");
  return logger;
}

// Both are process-wide switches that gRPC reads when a server is built.
void EnableHealthAndReflectionOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });
}

absl::StatusOr<std::string> ReadTlsFile(const std::string& field, const std::string& path) {
  if (path.empty()) return absl::FailedPreconditionError(absl::StrCat("TLS ", field, " is not set"));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read TLS ", field, " ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read TLS ", field, " ", path));
  }
  return text.str();
}

// gRPC would only say "failed to add port" for a bad PEM; name the file instead.
absl::Status CheckPem(const std::string& field, const std::string& path, const std::string& pem,
                      bool is_key) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory reading PEM");
  bool ok;
  if (is_key) {
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    ok = key != nullptr;
    EVP_PKEY_free(key);
  } else {
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    ok = cert != nullptr;
    X509_free(cert);
  }
  BIO_free(bio);
  if (ok) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("TLS ", field, " ", path, " holds no PEM ",
                                                    is_key ? "private key" : "certificate"));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const std::optional<TlsOptions>& tls) {
  if (!tls) return grpc::InsecureServerCredentials();
  auto cert = ReadTlsFile("cert_file", tls->cert_file);
  if (!cert.ok()) return cert.status();
  if (auto s = CheckPem("cert_file", tls->cert_file, *cert, false); !s.ok()) return s;
  auto key = ReadTlsFile("key_file", tls->key_file);
  if (!key.ok()) return key.status();
  if (auto s = CheckPem("key_file", tls->key_file, *key, true); !s.ok()) return s;

  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls->client_ca_file.empty()) {
    auto ca = ReadTlsFile("client_ca_file", tls->client_ca_file);
    if (!ca.ok()) return ca.status();
    if (auto s = CheckPem("client_ca_file", tls->client_ca_file, *ca, false); !s.ok()) return s;
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

struct ServerRunner::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)) {}

  void ApplyHealth() {  // requires mu
    bool all = true;
    for (const auto& [name, serving] : serving) {
      server->GetHealthCheckService()->SetServingStatus(name, serving);
      all = all && serving;
    }
    server->GetHealthCheckService()->SetServingStatus("", all);
  }

  const ServerOptions options;
  std::vector<std::pair<grpc::Service*, std::string>> services;

  std::mutex mu;  // guards the fields below
  std::map<std::string, bool> serving;
  std::unique_ptr<grpc::Server> server;
  bool shutting_down = false;

  std::mutex shutdown_mu;  // held for the whole drain: a second Shutdown() waits it out
  bool stopped = false;
};

ServerRunner::ServerRunner(ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ServerRunner::~ServerRunner() { Shutdown(); }

void ServerRunner::AddService(grpc::Service* service, std::string health_name) {
  std::lock_guard lock(impl_->mu);
  impl_->serving.emplace(health_name, true);
  impl_->services.emplace_back(service, std::move(health_name));
}

absl::Status ServerRunner::Start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->server != nullptr || impl_->shutting_down) {
    return absl::FailedPreconditionError("gRPC server already started");
  }
  auto credentials = Credentials(impl_->options.tls);
  if (!credentials.ok()) return credentials.status();
  EnableHealthAndReflectionOnce();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(impl_->options.listen_address, *credentials, &selected_port);
  // Without this, Linux lets a second server bind the same port and share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(impl_->options.max_receive_message_bytes);
  std::vector<std::string> names;
  for (const auto& [service, name] : impl_->services) {
    builder.RegisterService(service);
    names.push_back(name);
  }
  if (impl_->options.metrics != nullptr) {
    names.push_back("grpc.reflection.v1alpha.ServerReflection");
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
    factories.push_back(
        std::make_unique<RedInterceptorFactory>(*impl_->options.metrics, KnownMethods(names)));
    builder.experimental().SetInterceptorCreators(std::move(factories));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", impl_->options.listen_address));
  }
  impl_->server = std::move(server);
  port_ = selected_port;
  impl_->ApplyHealth();
  Logger().Info("gRPC server listening", {{"address", impl_->options.listen_address},
                                          {"port", port_},
                                          {"tls", impl_->options.tls.has_value()},
                                          {"mtls", impl_->options.tls.has_value() &&
                                                       !impl_->options.tls->client_ca_file.empty()}});
  return absl::OkStatus();
}

void ServerRunner::SetServing(const std::string& health_name, bool serving) {
  std::lock_guard lock(impl_->mu);
  if (impl_->shutting_down) return;
  impl_->serving[health_name] = serving;
  if (impl_->server != nullptr) impl_->ApplyHealth();
}

void ServerRunner::Shutdown() {
  std::lock_guard drain(impl_->shutdown_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  grpc::Server* server;
  {
    std::lock_guard lock(impl_->mu);
    impl_->shutting_down = true;
    server = impl_->server.get();
  }
  if (server == nullptr) return;  // never started
  // NOT_SERVING for every name and "" (Watch streams see it), and no later change.
  server->GetHealthCheckService()->Shutdown();
  const auto& options = impl_->options;
  Logger().Info("gRPC server draining",
                {{"not_serving_delay_ms", static_cast<std::int64_t>(options.not_serving_delay.count())},
                 {"drain_timeout_ms", static_cast<std::int64_t>(options.drain_timeout.count())}});
  if (options.not_serving_delay.count() > 0) std::this_thread::sleep_for(options.not_serving_delay);
  const auto started = std::chrono::steady_clock::now();
  // Rejects new calls at once, lets in-flight ones finish until the deadline,
  // then cancels the rest; returns when all handlers have returned.
  server->Shutdown(std::chrono::system_clock::now() + options.drain_timeout);
  server->Wait();
  Logger().Info("gRPC server stopped",
                {{"drained_ms", static_cast<std::int64_t>(
                                    std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count())}});
}

}  // namespace docket::grpcutil
