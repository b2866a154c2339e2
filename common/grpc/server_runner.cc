#include "common/grpc/server_runner.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/red_interceptor.h"
#include "common/grpc/tls_reloader.h"
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

// The gRPC side of TLS: a provider that re-reads the reloader's checked copy
// every second (the least it takes), so what the reloader accepts is served
// within a second.
std::shared_ptr<grpc::ServerCredentials> ReloadingCredentials(const internal::TlsReloader& files) {
  constexpr unsigned kCopyRereadSeconds = 1;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file(), files.cert_file(), files.client_ca_file(), kCopyRereadSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!files.client_ca_file().empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
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
  std::unique_ptr<internal::TlsReloader> tls;  // outlives the server, which reads its copy
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
  std::unique_ptr<internal::TlsReloader> tls;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (impl_->options.tls) {
    auto reloader = internal::TlsReloader::Create(*impl_->options.tls, impl_->options.metrics);
    if (!reloader.ok()) return reloader.status();
    tls = *std::move(reloader);
    credentials = ReloadingCredentials(*tls);
  }
  EnableHealthAndReflectionOnce();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(impl_->options.listen_address, credentials, &selected_port);
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
  if (tls != nullptr) tls->Start();
  impl_->tls = std::move(tls);
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
  internal::TlsReloader* tls;
  {
    std::lock_guard lock(impl_->mu);
    impl_->shutting_down = true;
    server = impl_->server.get();
    tls = impl_->tls.get();
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
  if (tls != nullptr) tls->Stop();
  Logger().Info("gRPC server stopped",
                {{"drained_ms", static_cast<std::int64_t>(
                                    std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count())}});
}

}  // namespace docket::grpcutil
