// HandlerPool without a server: grpc::testing::DefaultReactorTestPeer turns a
// CallbackServerContext's DefaultReactor into one whose Finish() calls back.

#include "common/grpc/handler_pool.h"

#include <grpcpp/test/default_reactor_test_peer.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace docket::grpcutil {
namespace {

// Bounds every wait so a broken pool fails the test instead of hanging it.
constexpr auto kDeadline = std::chrono::seconds(10);

// A call's context, bound to a test reactor that records the finishing status.
class TestCall {
 public:
  TestCall() : peer_(&context_, [this](grpc::Status s) { Finished(std::move(s)); }) {}
  grpc::CallbackServerContext* context() { return &context_; }

  // The status the call was finished with, or nullopt if not finished by the deadline.
  std::optional<grpc::Status> WaitFinished() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kDeadline, [&] { return status_.has_value(); })) return std::nullopt;
    return status_;
  }
  bool finished() {
    std::lock_guard lock(mu_);
    return status_.has_value();
  }

 private:
  void Finished(grpc::Status s) {
    std::lock_guard lock(mu_);
    EXPECT_FALSE(status_.has_value()) << "finished twice";
    status_ = std::move(s);
    cv_.notify_all();
  }

  grpc::CallbackServerContext context_;
  grpc::testing::DefaultReactorTestPeer peer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<grpc::Status> status_;
};

// Handlers block in Enter() until Open(); the test waits for them with WaitEntered().
class Gate {
 public:
  // False if not opened by the deadline.
  bool Enter() {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    return cv_.wait_for(lock, kDeadline, [&] { return open_; });
  }
  bool WaitEntered(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return entered_ >= count; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

TEST(HandlerPool, FinishesTheCallWithTheHandlersStatusFromAPoolThread) {
  HandlerPool pool(2, "test-pool");
  TestCall call;
  std::thread::id handler_thread;
  grpc::ServerUnaryReactor* reactor = pool.Run(call.context(), [&] {
    handler_thread = std::this_thread::get_id();
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "item is held");
  });
  EXPECT_NE(reactor, nullptr);
  auto status = call.WaitFinished();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status->error_message(), "item is held");
  EXPECT_NE(handler_thread, std::this_thread::get_id()) << "the handler ran on the caller's thread";
}

TEST(HandlerPool, RunsAsManyHandlersAtOnceAsItHasThreads) {
  HandlerPool pool(3, "test-pool");
  Gate gate;
  TestCall calls[3];
  // Each handler waits until all three are in: only possible if they run at once.
  for (auto& call : calls) {
    pool.Run(call.context(), [&] {
      if (!gate.Enter()) {
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "gate never opened");
      }
      return grpc::Status::OK;
    });
  }
  ASSERT_TRUE(gate.WaitEntered(3)) << "the three handlers did not run at the same time";
  gate.Open();
  for (auto& call : calls) {
    auto status = call.WaitFinished();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->ok()) << status->error_message();
  }
}

TEST(HandlerPool, ThrowingHandlerFinishesUnknownAndTheThreadServesTheNextCall) {
  HandlerPool pool(1, "test-pool");
  TestCall throwing, next;
  pool.Run(throwing.context(), []() -> grpc::Status { throw std::runtime_error("bug"); });
  pool.Run(next.context(), [] { return grpc::Status::OK; });
  auto status = throwing.WaitFinished();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(status->error_message().find("bug"), std::string::npos)
      << "the exception's text must not reach the client";
  status = next.WaitFinished();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->ok());
}

TEST(HandlerPool, DestructionFinishesEveryQueuedCallBeforeItReturns) {
  auto pool = std::make_unique<HandlerPool>(1, "test-pool");
  Gate gate;
  TestCall running, queued1, queued2;
  pool->Run(running.context(), [&] {
    return gate.Enter() ? grpc::Status::OK
                        : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "gate never opened");
  });
  ASSERT_TRUE(gate.WaitEntered(1));
  // The only thread is busy: these two wait in the queue.
  pool->Run(queued1.context(), [] { return grpc::Status(grpc::StatusCode::NOT_FOUND, "one"); });
  pool->Run(queued2.context(), [] { return grpc::Status(grpc::StatusCode::NOT_FOUND, "two"); });

  std::promise<void> destroying;
  auto destroyed = std::async(std::launch::async, [&] {
    destroying.set_value();
    pool.reset();
  });
  // The destructor is (about to be) waiting: the queued calls must still run.
  destroying.get_future().wait();
  gate.Open();
  ASSERT_EQ(destroyed.wait_for(kDeadline), std::future_status::ready) << "the destructor hung";
  // Finished before the destructor returned, not merely eventually.
  ASSERT_TRUE(running.finished());
  ASSERT_TRUE(queued1.finished());
  ASSERT_TRUE(queued2.finished());
  EXPECT_TRUE(running.WaitFinished()->ok());
  EXPECT_EQ(queued1.WaitFinished()->error_message(), "one");
  EXPECT_EQ(queued2.WaitFinished()->error_message(), "two");
}

}  // namespace
}  // namespace docket::grpcutil
