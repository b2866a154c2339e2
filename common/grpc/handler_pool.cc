#include "common/grpc/handler_pool.h"

#include <pthread.h>

#include <cassert>
#include <exception>

namespace docket::grpcutil {

HandlerPool::HandlerPool(int threads, const std::string& name, std::size_t max_queued)
    : max_queued_(max_queued) {
  assert(threads >= 1);
  const std::string thread_name = name.substr(0, 15);  // the kernel's limit
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Loop(); });
    pthread_setname_np(threads_.back().native_handle(), thread_name.c_str());
  }
}

HandlerPool::~HandlerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

grpc::ServerUnaryReactor* HandlerPool::Run(grpc::CallbackServerContext* context,
                                           std::function<grpc::Status()> handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::size_t waiting = 0;
  {
    std::lock_guard lock(mu_);
    waiting = queue_.size();
    if (waiting < max_queued_) queue_.push_back(Call{context, reactor, std::move(handler)});
  }
  if (waiting >= max_queued_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "server overloaded: " + std::to_string(waiting) +
                                     " calls already waiting; retry with backoff"));
    return reactor;
  }
  cv_.notify_one();
  return reactor;
}

void HandlerPool::Loop() {
  for (;;) {
    Call call;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to finish
      call = std::move(queue_.front());
      queue_.pop_front();
    }
    grpc::Status status;
    try {
      status = call.context->IsCancelled()
                   ? grpc::Status(grpc::StatusCode::CANCELLED,
                                  "the call ended (cancelled, or past its deadline) before it ran")
                   : call.handler();
    } catch (...) {
      // gRPC's own words for a sync handler that throws.
      status = grpc::Status(grpc::StatusCode::UNKNOWN, "Unexpected error in RPC handling");
    }
    call.handler = nullptr;  // release captures before the call (and its messages) can end
    call.reactor->Finish(std::move(status));
  }
}

}  // namespace docket::grpcutil
