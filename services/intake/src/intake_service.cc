#include "services/intake/src/intake_service.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"

namespace docket::intake {
namespace {

std::string Traceparent(const grpc::ServerContextBase& context) {
  const auto& md = context.client_metadata();
  auto it = md.find("traceparent");
  if (it == md.end()) return "";
  std::string value(it->second.data(), it->second.size());
  return value.size() <= 64 ? value : "";  // W3C traceparent is 55 characters
}

}  // namespace

docket::v1::SubmitResult ToResult(const Outcome& o, const std::string& client_ref) {
  docket::v1::SubmitResult r;
  r.set_client_ref(client_ref);
  r.set_item_id(o.item_id);
  r.set_duplicate(o.duplicate);
  r.set_code(static_cast<int>(o.status.code()));
  r.set_message(std::string(o.status.message()));
  for (const auto& v : o.violations) {
    auto* fv = r.add_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  r.set_retry_after_ms(o.retry_after.count());
  return r;
}

grpc::ServerUnaryReactor* IntakeService::Submit(grpc::CallbackServerContext* context,
                                                const docket::v1::SubmitRequest* request,
                                                docket::v1::SubmitResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto publisher = auth_(*context);
  if (!publisher.ok()) {
    reactor->Finish(grpcutil::ToGrpcStatus(publisher.status()));
    return reactor;
  }
  // gRPC keeps the context, request and response until Finish.
  group_.Submit(*std::move(publisher), request->submission(), Traceparent(*context),
                [context, reactor, response](Outcome o) {
                  if (o.retry_after.count() > 0) {
                    context->AddTrailingMetadata("retry-after-ms", std::to_string(o.retry_after.count()));
                  }
                  if (!o.status.ok()) {
                    reactor->Finish(grpcutil::ToGrpcStatus(o.status));
                    return;
                  }
                  response->set_item_id(o.item_id);
                  response->set_duplicate(o.duplicate);
                  reactor->Finish(grpc::Status::OK);
                });
  return reactor;
}

grpc::Status IntakeService::SubmitBatch(grpc::ServerContext* context,
                                        const docket::v1::SubmitBatchRequest* request,
                                        docket::v1::SubmitBatchResponse* response) {
  auto publisher = auth_(*context);
  if (!publisher.ok()) return grpcutil::ToGrpcStatus(publisher.status());
  if (static_cast<std::size_t>(request->items_size()) > options_.max_batch) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("items: ", request->items_size(), " submissions; at most ",
                                     options_.max_batch, " per batch"));
  }
  std::vector<docket::v1::WorkSubmission> subs;
  subs.reserve(request->items_size());
  for (const auto& item : request->items()) subs.push_back(item.submission());
  auto outcomes = admission_.Admit(*publisher, subs, "grpc",
                                   std::vector<std::string>(subs.size(), Traceparent(*context)));
  for (int i = 0; i < request->items_size(); ++i) {
    *response->add_results() = ToResult(outcomes[i], request->items(i).client_ref());
  }
  return grpc::Status::OK;
}

grpc::Status IntakeService::SubmitStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<docket::v1::SubmitResult, docket::v1::SubmitRequest>* stream) {
  auto publisher = auth_(*context);
  if (!publisher.ok()) return grpcutil::ToGrpcStatus(publisher.status());
  const std::string traceparent = Traceparent(*context);

  // A reader thread reads ahead up to stream_window requests (beyond that it
  // stops reading, and gRPC's flow control holds the publisher back); this
  // thread admits whatever has arrived as one chunk and acks in order.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<docket::v1::SubmitRequest> queue;
  bool reader_done = false;
  bool writer_failed = false;
  std::thread reader([&] {
    docket::v1::SubmitRequest req;
    while (true) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return queue.size() < options_.stream_window || writer_failed; });
        if (writer_failed) break;
      }
      if (!stream->Read(&req)) break;
      std::lock_guard lock(mu);
      queue.push_back(std::move(req));
      cv.notify_all();
    }
    std::lock_guard lock(mu);
    reader_done = true;
    cv.notify_all();
  });

  grpc::Status result = grpc::Status::OK;
  while (true) {
    std::vector<docket::v1::SubmitRequest> chunk;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !queue.empty() || reader_done; });
      if (queue.empty() && reader_done) break;
      while (!queue.empty() && chunk.size() < options_.stream_max_chunk) {
        chunk.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      cv.notify_all();
    }
    std::vector<docket::v1::WorkSubmission> subs;
    subs.reserve(chunk.size());
    for (auto& r : chunk) subs.push_back(std::move(*r.mutable_submission()));
    auto outcomes =
        admission_.Admit(*publisher, subs, "grpc", std::vector<std::string>(subs.size(), traceparent));
    bool ok = true;
    for (std::size_t i = 0; i < chunk.size() && ok; ++i) {
      ok = stream->Write(ToResult(outcomes[i], chunk[i].client_ref()));
    }
    if (!ok) {
      // The client went away; items already admitted stay admitted (their
      // idempotency keys make a resubmission safe).
      std::lock_guard lock(mu);
      writer_failed = true;
      cv.notify_all();
      result = grpc::Status(grpc::StatusCode::CANCELLED, "client stopped reading acks");
      break;
    }
  }
  if (context->IsCancelled()) {
    std::lock_guard lock(mu);
    writer_failed = true;
    cv.notify_all();
  }
  reader.join();
  return result;
}

}  // namespace docket::intake
