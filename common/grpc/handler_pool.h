#pragma once

// Runs the blocking bodies of unary handlers of a gRPC callback service
// (Redis round trips, ...) on a small fixed pool of threads of our own, so
// gRPC's few callback threads, which also poll the sockets, never block, and
// no thread is created per call (the sync server's way under load).
//
//   grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const Req* req,
//                                 Resp* resp) override {
//     return pool_.Run(ctx, [=, this] { return ...blocking work filling *resp...; });
//   }

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace docket::grpcutil {

// Thread-safety: Run() from any thread (gRPC's handler threads).
class HandlerPool {
 public:
  // `threads` >= 1 threads named `name` (at most 15 characters are kept).
  // At most `max_queued` calls wait for a thread; beyond that a call is
  // refused at once with UNAVAILABLE (the replica is overloaded: the client
  // backs off and retries, or goes to another replica) instead of waiting in
  // an ever longer queue until its deadline. Not RESOURCE_EXHAUSTED: the Work
  // API answers that for a worker at the WIP cap, which a retry cannot fix.
  HandlerPool(int threads, const std::string& name, std::size_t max_queued = kDefaultMaxQueued);
  static constexpr std::size_t kDefaultMaxQueued = 512;
  // Runs every queued handler, finishing its call, then joins the threads.
  // Destroy it only after the server that calls Run() has shut down.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues `handler` and returns the reactor the callback method must return
  // (the context's DefaultReactor). A pool thread runs the handler, in
  // arrival order, and finishes the call with its status; the handler may
  // use the request, the response and the context until it returns (gRPC
  // keeps them until the call is finished). A handler that throws finishes
  // the call with UNKNOWN, as gRPC does for a throwing sync handler. A call
  // that ended while queued (the client cancelled, or its deadline passed) is
  // finished CANCELLED without running its handler: under a backlog no work
  // (a claim, say) is done for a caller who is gone.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context,
                                std::function<grpc::Status()> handler);

 private:
  struct Call {
    grpc::CallbackServerContext* context = nullptr;
    grpc::ServerUnaryReactor* reactor = nullptr;
    std::function<grpc::Status()> handler;
  };
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  const std::size_t max_queued_;
  std::vector<std::thread> threads_;
};

}  // namespace docket::grpcutil
