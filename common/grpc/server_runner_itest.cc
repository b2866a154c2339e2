// Real gRPC over loopback: health, reflection, TLS/mTLS (and renewed TLS
// files), drain, RED metrics.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/grpc/handler_pool.h"
#include "common/grpc/server_runner.h"
#include "common/metrics/metrics.h"
#include "common/testing/fixtures.h"
#include "common/testing/secret_volume.h"
#include "common/testing/test_pki.h"
#include "docket/v1/intake_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace docket::grpcutil {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

// Bounds every wait so a broken server fails the test instead of hanging it.
constexpr auto kDeadline = std::chrono::seconds(10);
constexpr char kIntake[] = "docket.v1.Intake";

std::chrono::system_clock::time_point CallDeadline() {
  return std::chrono::system_clock::now() + kDeadline;
}

// Where "slow" calls wait: until Release(), or until `cancelled` says the
// server cancelled the call (it does so with calls left after the drain
// timeout). True if released.
class SlowGate {
 public:
  bool Wait(const std::function<bool()>& cancelled) {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    while (!released_ && !cancelled()) cv_.wait_for(lock, std::chrono::milliseconds(10));
    return released_;
  }
  bool WaitEntered(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return entered_ >= count; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

// Submit with client_ref "slow" blocks until Release() (or cancellation);
// "auth" answers the caller's bearer token as item_id; anything else is
// UNIMPLEMENTED, like the generated base class.
class TestIntake final : public docket::v1::Intake::Service {
 public:
  grpc::Status Submit(grpc::ServerContext* context, const docket::v1::SubmitRequest* request,
                      docket::v1::SubmitResponse* response) override {
    if (request->client_ref() == "auth") {
      auto token = BearerToken(*context);
      if (!token.ok()) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(token.status().message()));
      }
      response->set_item_id(*token);
      return grpc::Status::OK;
    }
    if (request->client_ref() != "slow") {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not in this test");
    }
    // Polls cancellation: the server cancels calls left after the drain timeout.
    if (!gate_.Wait([&] { return context->IsCancelled(); })) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    response->set_item_id("slow-done");
    return grpc::Status::OK;
  }

  bool WaitEntered(int count) { return gate_.WaitEntered(count); }
  void Release() { gate_.Release(); }

 private:
  SlowGate gate_;
};

// The same Submit as a callback service: "slow" and "auth" run on a
// HandlerPool (as WorkService's calls do); any other call is answered at once
// on gRPC's thread with FAILED_PRECONDITION, so it never waits behind a
// "slow" one. SubmitBatch and the streams are the generated callback
// defaults (UNIMPLEMENTED).
class CallbackIntake final : public docket::v1::Intake::CallbackService {
 public:
  explicit CallbackIntake(int threads, std::size_t max_queued = grpcutil::HandlerPool::kDefaultMaxQueued)
      : pool_(threads, "test-pool", max_queued) {}

  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context,
                                   const docket::v1::SubmitRequest* request,
                                   docket::v1::SubmitResponse* response) override {
    {
      std::lock_guard lock(mu_);
      ++arrived_;
      contexts_.push_back(context);
      cv_.notify_all();
    }
    if (request->client_ref() != "slow" && request->client_ref() != "auth") {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not in this test"));
      return reactor;
    }
    grpc::ServerUnaryReactor* reactor = pool_.Run(context, [=, this] {
      if (request->client_ref() == "auth") {
        auto token = BearerToken(*context);
        if (!token.ok()) {
          return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                              std::string(token.status().message()));
        }
        response->set_item_id(*token);
        return grpc::Status::OK;
      }
      if (!gate_.Wait([&] { return context->IsCancelled(); })) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
      response->set_item_id("slow-done");
      return grpc::Status::OK;
    });
    {
      std::lock_guard lock(mu_);
      ++handed_;
      cv_.notify_all();
    }
    return reactor;
  }

  bool WaitEntered(int count) { return gate_.WaitEntered(count); }
  // How many "slow" handlers have started.
  int entered() { return gate_.entered(); }
  // Until `count` pooled calls have been handed to the pool (running, queued
  // in it, or refused by it), not merely reached Submit: a call that reached
  // Submit may still be on its way into the pool's queue.
  bool WaitHandedToPool(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return handed_ >= count; });
  }
  void Release() { gate_.Release(); }
  // Until the server has marked the n-th call (0-based) cancelled; only for
  // a call that is still queued or running (its context is alive until then).
  bool WaitServerCancelled(int n) {
    grpc::CallbackServerContext* context = nullptr;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, kDeadline, [&] { return arrived_ > n; })) return false;
      context = contexts_[static_cast<std::size_t>(n)];
    }
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!context->IsCancelled()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int handed_ = 0;  // pooled calls pool_.Run has returned for
  std::vector<grpc::CallbackServerContext*> contexts_;
  SlowGate gate_;
  HandlerPool pool_;  // declared last: destroyed first, while gate_ still exists
};

// Options on a free loopback port, plus `tweak`. (Designated initializers
// would trip -Wmissing-field-initializers.)
ServerOptions Loopback(const std::function<void(ServerOptions&)>& tweak = nullptr) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  if (tweak) tweak(options);
  return options;
}

std::shared_ptr<grpc::Channel> Plaintext(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

// The status of `name`, or the RPC's error code as a negative number.
int HealthOf(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
             grpc::StatusCode* code = nullptr) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  HealthCheckRequest request;
  request.set_service(name);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (code != nullptr) *code = status.error_code();
  return status.ok() ? response.status() : -static_cast<int>(status.error_code());
}

grpc::Status Submit(const std::shared_ptr<grpc::Channel>& channel, const std::string& ref,
                    docket::v1::SubmitResponse* response = nullptr,
                    const std::string& authorization = "") {
  auto stub = docket::v1::Intake::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  docket::v1::SubmitRequest request;
  request.set_client_ref(ref);
  docket::v1::SubmitResponse ignored;
  return stub->Submit(&context, request, response != nullptr ? response : &ignored);
}

// What a call gets once a drain has started: refused before any handler runs.
// gRPC 1.51 answers CANCELLED or UNAVAILABLE depending on how far its
// listener has closed.
auto RefusedByDrain() { return ::testing::AnyOf(grpc::StatusCode::CANCELLED, grpc::StatusCode::UNAVAILABLE); }

// Calls Submit("other") until it is no longer answered `before_drain` (or
// kDeadline passes) and returns the code it got then.
grpc::StatusCode CodeOnceTheDrainStarts(const std::shared_ptr<grpc::Channel>& channel,
                                        grpc::StatusCode before_drain) {
  grpc::StatusCode code = before_drain;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (code == before_drain && std::chrono::steady_clock::now() < deadline) {
    code = Submit(channel, "other").error_code();
  }
  return code;
}

// ---- health ----------------------------------------------------------------

TEST(ServerRunnerHealth, RegisteredNameAndEmptyNameAreServingUnknownIsNotFound) {
  TestIntake intake;
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_GT(runner.port(), 0);
  auto channel = Plaintext(runner.port());
  EXPECT_EQ(HealthOf(channel, kIntake), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf(channel, ""), HealthCheckResponse::SERVING);
  grpc::StatusCode code;
  HealthOf(channel, "docket.v1.NoSuchService", &code);
  EXPECT_EQ(code, grpc::StatusCode::NOT_FOUND);
}

TEST(ServerRunnerHealth, SetServingFalseMakesTheNameAndTheServerNotServing) {
  TestIntake intake;
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  runner.SetServing(kIntake, false);
  EXPECT_EQ(HealthOf(channel, kIntake), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthOf(channel, ""), HealthCheckResponse::NOT_SERVING);
  runner.SetServing(kIntake, true);
  EXPECT_EQ(HealthOf(channel, kIntake), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf(channel, ""), HealthCheckResponse::SERVING);
}

TEST(ServerRunnerHealth, SetServingBeforeStartIsWhatStartReports) {
  TestIntake intake;
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  runner.SetServing(kIntake, false);
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(HealthOf(Plaintext(runner.port()), kIntake), HealthCheckResponse::NOT_SERVING);
}

TEST(ServerRunnerHealth, WatchersSeeNotServingWhenShutdownStarts) {
  TestIntake intake;
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto stub = grpc::health::v1::Health::NewStub(Plaintext(runner.port()));
  for (const std::string name : {kIntake, ""}) {
    SCOPED_TRACE(name);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    HealthCheckRequest request;
    request.set_service(name);
    auto watch = stub->Watch(&context, request);
    HealthCheckResponse response;
    ASSERT_TRUE(watch->Read(&response));
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
    if (name.empty()) break;  // the second round runs after Shutdown below
  }
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  HealthCheckRequest request;
  request.set_service(kIntake);
  auto watch = stub->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  ASSERT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread shutdown([&] { runner.Shutdown(); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  context.TryCancel();  // the open stream would otherwise hold the drain
  watch->Finish().IgnoreError();
  shutdown.join();
}

TEST(ServerRunnerHealth, CheckSeesNotServingDuringTheNotServingDelay) {
  TestIntake intake;
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.not_serving_delay = std::chrono::seconds(3); }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  ASSERT_EQ(HealthOf(channel, kIntake), HealthCheckResponse::SERVING);
  std::thread shutdown([&] { runner.Shutdown(); });
  // Polls until the drain marks it; still answered, so traffic can move away.
  int status = HealthCheckResponse::SERVING;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (status == HealthCheckResponse::SERVING && std::chrono::steady_clock::now() < deadline) {
    status = HealthOf(channel, kIntake);
  }
  EXPECT_EQ(status, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthOf(channel, ""), HealthCheckResponse::NOT_SERVING);
  runner.SetServing(kIntake, true);  // ignored once draining
  EXPECT_EQ(HealthOf(channel, kIntake), HealthCheckResponse::NOT_SERVING);
  shutdown.join();
}

// ---- reflection ------------------------------------------------------------

// Lists services through grpc.reflection.v1alpha. Debian ships the reflection
// server but neither its .proto nor a client header; its messages are in the
// process's descriptor pool (libgrpc++_reflection registers them), so the
// test builds them dynamically and calls the stream without a generated stub.
std::vector<std::string> ListServicesByReflection(const std::shared_ptr<grpc::Channel>& channel) {
  namespace pb = google::protobuf;
  const auto* pool = pb::DescriptorPool::generated_pool();
  const auto* request_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  const auto* response_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  if (request_type == nullptr || response_type == nullptr) {
    ADD_FAILURE() << "reflection messages are not in the descriptor pool";
    return {};
  }
  pb::DynamicMessageFactory factory(pool);
  std::unique_ptr<pb::Message> request(factory.GetPrototype(request_type)->New());
  request->GetReflection()->SetString(request.get(), request_type->FindFieldByName("list_services"),
                                      "*");
  std::string wire;
  request->SerializeToString(&wire);

  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(), method, &context));
  grpc::Slice slice(wire);
  grpc::ByteBuffer out(&slice, 1);
  EXPECT_TRUE(stream->Write(out));
  EXPECT_TRUE(stream->WritesDone());
  grpc::ByteBuffer in;
  std::vector<std::string> names;
  if (stream->Read(&in)) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(in.Dump(&slices).ok());
    std::string bytes;
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    std::unique_ptr<pb::Message> response(factory.GetPrototype(response_type)->New());
    EXPECT_TRUE(response->ParseFromString(bytes));
    const auto* list_field = response_type->FindFieldByName("list_services_response");
    const pb::Message& list = response->GetReflection()->GetMessage(*response, list_field);
    const auto* service_field = list.GetDescriptor()->FindFieldByName("service");
    const auto* refl = list.GetReflection();
    for (int i = 0; i < refl->FieldSize(list, service_field); ++i) {
      const pb::Message& service = refl->GetRepeatedMessage(list, service_field, i);
      names.push_back(service.GetReflection()->GetString(
          service, service.GetDescriptor()->FindFieldByName("name")));
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  return names;
}

TEST(ServerRunnerReflection, ListsTheRegisteredServiceAndHealth) {
  TestIntake intake;
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  const auto names = ListServicesByReflection(Plaintext(runner.port()));
  EXPECT_THAT(names, ::testing::Contains(kIntake));
  EXPECT_THAT(names, ::testing::Contains("grpc.health.v1.Health"));
  EXPECT_THAT(names, ::testing::Contains("grpc.reflection.v1alpha.ServerReflection"));
}

// ---- errors at start -------------------------------------------------------

TEST(ServerRunnerStart, PortHeldByAnotherSocketIsUnavailable) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  ServerRunner runner(Loopback([&](ServerOptions& o) { o.listen_address = "127.0.0.1:" + std::to_string(port); }));
  const absl::Status status = runner.Start();
  close(fd);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(ServerRunnerStart, SecondServerOnTheSamePortIsUnavailableNotShared) {
  TestIntake intake;
  ServerRunner first(Loopback());
  first.AddService(&intake, kIntake);
  ASSERT_TRUE(first.Start().ok());
  ServerRunner second(
      Loopback([&](ServerOptions& o) { o.listen_address = "127.0.0.1:" + std::to_string(first.port()); }));
  EXPECT_EQ(second.Start().code(), absl::StatusCode::kUnavailable);
}

TEST(ServerRunnerStart, StartTwiceIsFailedPrecondition) {
  ServerRunner runner(Loopback());
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(runner.Start().code(), absl::StatusCode::kFailedPrecondition);
}

// ---- drain -----------------------------------------------------------------

TEST(ServerRunnerShutdown, InFlightCallCompletesAndNewCallsFail) {
  TestIntake intake;
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.drain_timeout = std::chrono::seconds(30); }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());

  docket::v1::SubmitResponse slow_response;
  auto slow = std::async(std::launch::async, [&] { return Submit(channel, "slow", &slow_response); });
  ASSERT_TRUE(intake.WaitEntered(1));

  auto shutdown = std::async(std::launch::async, [&] { runner.Shutdown(); });
  // Until the drain starts a new call reaches the handler (UNIMPLEMENTED).
  const auto refused = RefusedByDrain();
  EXPECT_THAT(CodeOnceTheDrainStarts(channel, grpc::StatusCode::UNIMPLEMENTED), refused);
  EXPECT_THAT(Submit(Plaintext(runner.port()), "other").error_code(), refused);
  EXPECT_EQ(shutdown.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "Shutdown returned while a call was in flight";

  intake.Release();
  ASSERT_EQ(slow.wait_for(kDeadline), std::future_status::ready);
  const grpc::Status slow_status = slow.get();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  EXPECT_EQ(slow_response.item_id(), "slow-done");
  ASSERT_EQ(shutdown.wait_for(kDeadline), std::future_status::ready);

  EXPECT_EQ(Submit(Plaintext(runner.port()), "other").error_code(),
            grpc::StatusCode::UNAVAILABLE);  // nothing listens any more
  runner.Shutdown();  // idempotent
}

TEST(ServerRunnerShutdown, CallsLeftAfterTheDrainTimeoutAreCancelled) {
  TestIntake intake;
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.drain_timeout = std::chrono::milliseconds(200); }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  auto slow = std::async(std::launch::async, [&] { return Submit(channel, "slow"); });
  ASSERT_TRUE(intake.WaitEntered(1));
  auto shutdown = std::async(std::launch::async, [&] { runner.Shutdown(); });
  ASSERT_EQ(shutdown.wait_for(kDeadline), std::future_status::ready);
  ASSERT_EQ(slow.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(slow.get().ok());
}

TEST(ServerRunnerShutdown, ShutdownBeforeStartAndTwiceIsHarmless) {
  ServerRunner runner(Loopback());
  runner.Shutdown();
  runner.Shutdown();
  EXPECT_EQ(runner.Start().code(), absl::StatusCode::kFailedPrecondition);
}

// ---- a callback service on a HandlerPool ----------------------------------

TEST(ServerRunnerCallback, HealthAndReflectionServeNextToACallbackService) {
  CallbackIntake intake(2);
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  EXPECT_EQ(HealthOf(channel, kIntake), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf(channel, ""), HealthCheckResponse::SERVING);
  EXPECT_THAT(ListServicesByReflection(channel), ::testing::Contains(kIntake));
  docket::v1::SubmitResponse response;
  ASSERT_TRUE(Submit(channel, "auth", &response, "Bearer key-7.secret").ok());
  EXPECT_EQ(response.item_id(), "key-7.secret");
  EXPECT_EQ(Submit(channel, "auth").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(ServerRunnerCallback, DrainFinishesPooledCallsRunningAndQueuedThenStops) {
  CallbackIntake intake(1);  // one thread: the second call waits in the pool's queue
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.drain_timeout = std::chrono::seconds(30); }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());

  docket::v1::SubmitResponse running_response, queued_response;
  auto running = std::async(std::launch::async, [&] { return Submit(channel, "slow", &running_response); });
  ASSERT_TRUE(intake.WaitEntered(1));
  auto queued = std::async(std::launch::async, [&] { return Submit(channel, "slow", &queued_response); });
  ASSERT_TRUE(intake.WaitHandedToPool(2));

  auto shutdown = std::async(std::launch::async, [&] { runner.Shutdown(); });
  // Until the drain refuses new calls (the queued call was accepted before:
  // it is in flight too); before, "other" is answered FAILED_PRECONDITION.
  EXPECT_THAT(CodeOnceTheDrainStarts(channel, grpc::StatusCode::FAILED_PRECONDITION), RefusedByDrain());
  EXPECT_EQ(shutdown.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "Shutdown returned while pooled calls were in flight";

  intake.Release();
  ASSERT_EQ(running.wait_for(kDeadline), std::future_status::ready);
  ASSERT_EQ(queued.wait_for(kDeadline), std::future_status::ready);
  const grpc::Status running_status = running.get(), queued_status = queued.get();
  EXPECT_TRUE(running_status.ok()) << running_status.error_message();
  EXPECT_TRUE(queued_status.ok()) << queued_status.error_message();
  EXPECT_EQ(running_response.item_id(), "slow-done");
  EXPECT_EQ(queued_response.item_id(), "slow-done");
  ASSERT_EQ(shutdown.wait_for(kDeadline), std::future_status::ready) << "Shutdown hung";
}

TEST(ServerRunnerCallback, PooledCallLeftAfterTheDrainTimeoutIsCancelledAndShutdownReturns) {
  CallbackIntake intake(1);
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.drain_timeout = std::chrono::milliseconds(200); }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  auto slow = std::async(std::launch::async, [&] { return Submit(channel, "slow"); });
  ASSERT_TRUE(intake.WaitEntered(1));
  auto shutdown = std::async(std::launch::async, [&] { runner.Shutdown(); });
  ASSERT_EQ(shutdown.wait_for(kDeadline), std::future_status::ready) << "Shutdown hung";
  ASSERT_EQ(slow.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(slow.get().ok());
}

TEST(ServerRunnerCallback, PooledCallWhoseDeadlinePassedInTheQueueIsNeverRun) {
  CallbackIntake intake(1);  // one thread: the second call waits behind the first
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  auto running = std::async(std::launch::async, [&] { return Submit(channel, "slow"); });
  ASSERT_TRUE(intake.WaitEntered(1));

  auto stub = docket::v1::Intake::NewStub(channel);
  grpc::ClientContext short_deadline;
  short_deadline.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  docket::v1::SubmitRequest request;
  request.set_client_ref("slow");
  docket::v1::SubmitResponse response;
  EXPECT_EQ(stub->Submit(&short_deadline, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(intake.WaitServerCancelled(1)) << "the server never saw the deadline pass";

  intake.Release();
  ASSERT_EQ(running.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(running.get().ok());
  // A call queued after the expired one has run, so the pool has taken that one too.
  docket::v1::SubmitResponse auth;
  ASSERT_TRUE(Submit(channel, "auth", &auth, "Bearer token-1").ok());
  EXPECT_EQ(intake.entered(), 1) << "the handler of a call whose deadline had passed ran";
  runner.Shutdown();
}

TEST(ServerRunnerCallback, CallBeyondThePoolsQueueBoundIsRefusedAtOnceAndTheQueuedOnesStillRun) {
  CallbackIntake intake(1, /*max_queued=*/2);  // one running, two waiting
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  auto running = std::async(std::launch::async, [&] { return Submit(channel, "slow"); });
  ASSERT_TRUE(intake.WaitEntered(1));
  auto queued1 = std::async(std::launch::async, [&] { return Submit(channel, "slow"); });
  auto queued2 = std::async(std::launch::async, [&] { return Submit(channel, "slow"); });
  ASSERT_TRUE(intake.WaitHandedToPool(3));

  const grpc::Status refused = Submit(channel, "slow");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.error_message(), HasSubstr("server overloaded: 2 calls already waiting"));
  EXPECT_EQ(intake.entered(), 1);

  intake.Release();
  for (auto* call : {&running, &queued1, &queued2}) {
    ASSERT_EQ(call->wait_for(kDeadline), std::future_status::ready);
    EXPECT_TRUE(call->get().ok());
  }
  EXPECT_EQ(intake.entered(), 3) << "the refused call ran anyway";
  runner.Shutdown();
}

// ---- auth through a real call ----------------------------------------------

TEST(ServerRunnerAuth, BearerTokenReachesTheHandler) {
  TestIntake intake;
  ServerRunner runner(Loopback());
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  docket::v1::SubmitResponse response;
  ASSERT_TRUE(Submit(channel, "auth", &response, "Bearer key-42.secret").ok());
  EXPECT_EQ(response.item_id(), "key-42.secret");
  EXPECT_EQ(Submit(channel, "auth").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Submit(channel, "auth", nullptr, "Basic abc").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// ---- RED metrics -----------------------------------------------------------

TEST(ServerRunnerMetrics, CountsEveryCallByServiceMethodAndCode) {
  metrics::MetricsRegistry registry({"intake", "", ""});
  TestIntake intake;
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.metrics = &registry; }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  EXPECT_EQ(Submit(channel, "other").error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Submit(channel, "other").error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(Submit(channel, "auth", nullptr, "Bearer t").ok());
  EXPECT_EQ(HealthOf(channel, kIntake), HealthCheckResponse::SERVING);
  // A path the server does not serve must not become a label value.
  {
    grpc::GenericStub generic(channel);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    grpc::ByteBuffer request, response;
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, "/docket.v1.Intake/NoSuchMethod", grpc::StubOptions(), &request,
                      &response, [&](grpc::Status s) { done.set_value(s); });
    auto future = done.get_future();
    ASSERT_EQ(future.wait_for(kDeadline), std::future_status::ready);
    EXPECT_EQ(future.get().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }

  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handled_total{code=\"UNIMPLEMENTED\","
                              "method=\"Submit\",service=\"docket.v1.Intake\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handled_total{code=\"OK\","
                              "method=\"Submit\",service=\"docket.v1.Intake\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handled_total{code=\"OK\","
                              "method=\"Check\",service=\"grpc.health.v1.Health\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_started_total{method=\"Submit\","
                              "service=\"docket.v1.Intake\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handling_seconds_count{method=\"Submit\","
                              "service=\"docket.v1.Intake\"} 3\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("NoSuchMethod")));
}

TEST(ServerRunnerMetrics, CountsCallsOfACallbackServiceFinishedOnAPool) {
  metrics::MetricsRegistry registry({"intake", "", ""});
  CallbackIntake intake(2);
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.metrics = &registry; }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  auto channel = Plaintext(runner.port());
  // Finished on the pool: two errors and an OK.
  EXPECT_EQ(Submit(channel, "auth").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Submit(channel, "auth").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Submit(channel, "auth", nullptr, "Bearer t").ok());
  {
    auto stub = docket::v1::Intake::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    docket::v1::SubmitBatchRequest request;
    docket::v1::SubmitBatchResponse response;
    EXPECT_EQ(stub->SubmitBatch(&context, request, &response).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }

  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handled_total{code=\"UNAUTHENTICATED\","
                              "method=\"Submit\",service=\"docket.v1.Intake\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handled_total{code=\"OK\","
                              "method=\"Submit\",service=\"docket.v1.Intake\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handled_total{code=\"UNIMPLEMENTED\","
                              "method=\"SubmitBatch\",service=\"docket.v1.Intake\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_started_total{method=\"Submit\","
                              "service=\"docket.v1.Intake\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("docket_grpc_server_handling_seconds_count{method=\"Submit\","
                              "service=\"docket.v1.Intake\"} 3\n"));
}

// ---- TLS -------------------------------------------------------------------

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A CA, a server certificate for localhost/127.0.0.1 and a client certificate
// (testing::TestPki), one set per test suite.
class ServerRunnerTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pki = docket::testing::TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = pki->release();
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  static std::string File(const char* name) { return pki_->File(name); }

  static std::shared_ptr<grpc::Channel> Tls(int port, bool with_client_cert) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(File("ca.crt"));
    if (with_client_cert) {
      options.pem_private_key = ReadFile(File("client.key"));
      options.pem_cert_chain = ReadFile(File("client.crt"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::SslCredentials(options), args);
  }

  static docket::testing::TestPki* pki_;
};
docket::testing::TestPki* ServerRunnerTls::pki_ = nullptr;

TEST_F(ServerRunnerTls, TlsClientConnectsAndPlaintextClientFails) {
  TestIntake intake;
  ServerRunner runner(Loopback(
      [&](ServerOptions& o) { o.tls = TlsOptions{File("server.crt"), File("server.key"), ""}; }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(HealthOf(Tls(runner.port(), false), kIntake), HealthCheckResponse::SERVING);
  grpc::StatusCode code;
  HealthOf(Plaintext(runner.port()), kIntake, &code);
  EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerRunnerTls, MutualTlsRefusesClientsWithoutACertificate) {
  TestIntake intake;
  ServerRunner runner(Loopback([&](ServerOptions& o) {
    o.tls = TlsOptions{File("server.crt"), File("server.key"), File("ca.crt")};
  }));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(HealthOf(Tls(runner.port(), true), kIntake), HealthCheckResponse::SERVING);
  grpc::StatusCode code;
  HealthOf(Tls(runner.port(), false), kIntake, &code);
  EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
  HealthOf(Plaintext(runner.port()), kIntake, &code);
  EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerRunnerTls, MissingFileIsFailedPreconditionNamingIt) {
  const std::string missing = File("no-such.key");
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.tls = TlsOptions{File("server.crt"), missing, ""}; }));
  const absl::Status status = runner.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr(missing));
  EXPECT_THAT(std::string(status.message()), HasSubstr("key_file"));

  const std::string ca = File("no-such-ca.crt");
  ServerRunner mtls(Loopback([&](ServerOptions& o) { o.tls = TlsOptions{File("server.crt"), File("server.key"), ca}; }));
  EXPECT_THAT(std::string(mtls.Start().message()), HasSubstr(ca));
}

TEST_F(ServerRunnerTls, FileWithoutPemIsFailedPreconditionNamingIt) {
  const std::string bogus = File("bogus.crt");
  std::ofstream(bogus) << "not a certificate\n";
  ServerRunner runner(Loopback([&](ServerOptions& o) { o.tls = TlsOptions{bogus, File("server.key"), ""}; }));
  const absl::Status status = runner.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr(bogus));
}


// Without the check gRPC would start and then refuse every TLS handshake.
TEST_F(ServerRunnerTls, KeyThatIsNotTheCertificatesIsFailedPreconditionNamingBothFiles) {
  ServerRunner runner(Loopback(
      [&](ServerOptions& o) { o.tls = TlsOptions{File("server.crt"), File("client.key"), ""}; }));
  const absl::Status status = runner.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr(File("client.key")));
  EXPECT_THAT(std::string(status.message()), HasSubstr(File("server.crt")));
}

// ---- TLS files renewed while serving ----------------------------------------

// How often gRPC re-reads the checked copy the server's files are served
// from: watching for longer than this would see a bad copy being served.
constexpr auto kCopyReread = std::chrono::seconds(1);

// Two unrelated PKIs, one_ and two_ (a CA each, with its server and client
// certificates), and the server's files in a Secret volume that is updated
// as kubelet does when cert-manager renews the Secret.
class ServerRunnerTlsReload : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (auto** pki : {&one_, &two_}) {
      auto made = docket::testing::TestPki::Create();
      ASSERT_TRUE(made.ok()) << made.status();
      *pki = made->release();
    }
  }
  static void TearDownTestSuite() {
    delete one_;
    delete two_;
    one_ = two_ = nullptr;
  }

  void SetUp() override {
    auto volume = docket::testing::SecretVolume::Create();
    ASSERT_TRUE(volume.ok()) << volume.status();
    volume_ = *std::move(volume);
  }

  // Checked every second, so a test sees a renewal within a few.
  ServerOptions Options(bool mtls, metrics::MetricsRegistry* registry = nullptr) const {
    return Loopback([&](ServerOptions& o) {
      o.tls = TlsOptions{volume_->File("tls.crt"), volume_->File("tls.key"),
                         mtls ? volume_->File("ca.crt") : "", std::chrono::seconds(1)};
      o.metrics = registry;
    });
  }

  // Whether a new channel that trusts only `trusted`'s CA (and presents
  // `client`'s client certificate, given one) gets an answer: its own
  // connection, so its own handshake, never one another channel made.
  static bool Served(int port, const docket::testing::TestPki& trusted,
                     const docket::testing::TestPki* client = nullptr) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(trusted.File("ca.crt"));
    if (client != nullptr) {
      options.pem_private_key = ReadFile(client->File("client.key"));
      options.pem_cert_chain = ReadFile(client->File("client.crt"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::SslCredentials(options), args);
    return HealthOf(channel, kIntake) == HealthCheckResponse::SERVING;
  }

  static bool Eventually(const std::function<bool()>& served) {
    return docket::testing::WaitFor(served, kDeadline);
  }

  static docket::testing::TestPki* one_;
  static docket::testing::TestPki* two_;
  std::unique_ptr<docket::testing::SecretVolume> volume_;
};
docket::testing::TestPki* ServerRunnerTlsReload::one_ = nullptr;
docket::testing::TestPki* ServerRunnerTlsReload::two_ = nullptr;

TEST_F(ServerRunnerTlsReload, ACertificateRenewedFromAnotherCaIsServedToNewChannelsWithoutARestart) {
  ASSERT_TRUE(volume_->Write(one_->ServerSecret()).ok());
  TestIntake intake;
  ServerRunner runner(Options(false));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  grpc::SslCredentialsOptions trust_one;
  trust_one.pem_root_certs = ReadFile(one_->File("ca.crt"));
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto open = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(runner.port()),
                                        grpc::SslCredentials(trust_one), args);
  ASSERT_EQ(HealthOf(open, kIntake), HealthCheckResponse::SERVING);
  ASSERT_FALSE(Served(runner.port(), *two_));

  ASSERT_TRUE(volume_->Write(two_->ServerSecret()).ok());
  EXPECT_TRUE(Eventually([&] { return Served(runner.port(), *two_); }))
      << "a new channel trusting CA 2 is still refused " << kDeadline.count() << " s after the renewal";
  EXPECT_FALSE(Served(runner.port(), *one_)) << "a new channel trusting only CA 1 is still served";
  EXPECT_EQ(HealthOf(open, kIntake), HealthCheckResponse::SERVING)
      << "the connection made before the renewal was dropped";
}

TEST_F(ServerRunnerTlsReload, ARotatedClientCaAdmitsItsClientsCertificatesAndRefusesTheOldCasOnNewChannels) {
  ASSERT_TRUE(volume_->Write(one_->ServerSecret(one_)).ok());
  TestIntake intake;
  ServerRunner runner(Options(true));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(Served(runner.port(), *one_, one_));
  ASSERT_FALSE(Served(runner.port(), *one_, two_));

  ASSERT_TRUE(volume_->Write(one_->ServerSecret(two_)).ok());  // the same server certificate
  EXPECT_TRUE(Eventually([&] { return Served(runner.port(), *one_, two_); }))
      << "a client certificate of the new client CA is still refused " << kDeadline.count() << " s after";
  EXPECT_FALSE(Served(runner.port(), *one_, one_))
      << "a client certificate of the old client CA is still accepted";
}

// What cert-manager or a hand-made Secret can leave: a renewed certificate
// with a key that is not its own, a certificate cut off mid-write. gRPC
// itself would stop every TLS handshake on them (see tls_reloader.h).
TEST_F(ServerRunnerTlsReload, RenewedFilesThatDoNotLoadAreRefusedAndTheLastGoodCertificateKeepsServing) {
  metrics::MetricsRegistry registry({"intake", "", ""});
  ASSERT_TRUE(volume_->Write(one_->ServerSecret()).ok());
  TestIntake intake;
  ServerRunner runner(Options(false, &registry));
  runner.AddService(&intake, kIntake);
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(Served(runner.port(), *one_));

  auto not_its_key = two_->ServerSecret();
  not_its_key["tls.key"] = ReadFile(one_->File("server.key"));
  auto cut_off = two_->ServerSecret();
  cut_off["tls.crt"].resize(cut_off["tls.crt"].size() / 2);
  int refusals = 0;
  for (const auto& bad : {not_its_key, cut_off}) {
    ASSERT_TRUE(volume_->Write(bad).ok());
    const std::string refused =
        "docket_grpc_server_tls_reloads_total{outcome=\"refused\"} " + std::to_string(++refusals) + "\n";
    ASSERT_TRUE(Eventually([&] { return registry.Serialize().find(refused) != std::string::npos; }))
        << "the server never looked at the bad files";
    EXPECT_THAT(registry.Serialize(), HasSubstr("docket_grpc_server_tls_files_refused 1\n"));
    // Served all along, for longer than gRPC takes to re-read what it serves.
    const auto until = std::chrono::steady_clock::now() + 2 * kCopyReread;
    while (std::chrono::steady_clock::now() < until) {
      ASSERT_TRUE(Served(runner.port(), *one_)) << "the last good certificate is no longer served";
    }
    EXPECT_FALSE(Served(runner.port(), *two_));
  }

  ASSERT_TRUE(volume_->Write(two_->ServerSecret()).ok());
  EXPECT_TRUE(Eventually([&] { return Served(runner.port(), *two_); }))
      << "good files after refused ones are not served";
  EXPECT_THAT(registry.Serialize(),
              HasSubstr("docket_grpc_server_tls_reloads_total{outcome=\"reloaded\"} 1\n"));
  EXPECT_THAT(registry.Serialize(), HasSubstr("docket_grpc_server_tls_files_refused 0\n"))
      << "served files are no longer refused";
}

}  // namespace
}  // namespace docket::grpcutil
