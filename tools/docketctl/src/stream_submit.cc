#include "tools/docketctl/src/stream_submit.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/docketctl/src/submission.h"

namespace docket::ctl {
namespace {

using Clock = std::chrono::steady_clock;

bool Retryable(int code) {
  return code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::UNAVAILABLE;
}

std::string Reason(const docket::v1::SubmitResult& r) {
  std::string out = absl::StatusCodeToString(static_cast<absl::StatusCode>(r.code()));
  if (!r.message().empty()) {
    absl::StrAppend(&out, ": ", r.message());
  } else {
    const char* sep = ": ";
    for (const auto& v : r.violations()) {
      absl::StrAppend(&out, sep, v.field(), " ", v.description());
      sep = "; ";
    }
  }
  return out;
}

// One SubmitStream call over the requests `next` hands out.
class Round {
 public:
  Round(const StreamOptions& options, StreamSummary& summary, std::mutex& mu,
        const std::function<void(const StreamSummary&)>& progress)
      : options_(options), summary_(summary), mu_(mu), progress_(progress) {}

  // Sends everything `next` returns (nullopt = done; it runs with mu_ held).
  // Returns the stream's status; retryable answers are left in retry().
  grpc::Status Run(docket::v1::Intake::StubInterface& stub,
                   const std::function<std::optional<docket::v1::SubmitRequest>()>& next) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + options_.api_key);
    auto stream = stub.SubmitStream(&ctx);
    std::thread writer([&] {
      while (true) {
        std::optional<docket::v1::SubmitRequest> request;
        {
          std::unique_lock lock(mu_);
          window_open_.wait(lock, [&] {
            return reading_done_ || static_cast<int>(in_flight_.size()) < options_.window;
          });
          if (reading_done_) break;
          request = next();
          if (!request) break;
          in_flight_[request->client_ref()] = *request;
        }
        if (!stream->Write(*request)) break;  // the stream failed: Finish says why
      }
      stream->WritesDone();
    });
    docket::v1::SubmitResult result;
    auto last_progress = Clock::now();
    while (stream->Read(&result)) {
      std::lock_guard lock(mu_);
      auto it = in_flight_.find(result.client_ref());
      if (it == in_flight_.end()) continue;  // not ours: ignore
      if (result.code() == 0) {
        ++(result.duplicate() ? summary_.duplicates : summary_.admitted);
      } else if (Retryable(result.code())) {
        retry_.push_back(std::move(it->second));
        last_retry_reason_[result.client_ref()] = Reason(result);
        retry_after_ = std::max(retry_after_, std::chrono::milliseconds(result.retry_after_ms()));
      } else {
        summary_.rejected.push_back({std::atoi(result.client_ref().c_str()), Reason(result)});
      }
      in_flight_.erase(it);
      window_open_.notify_one();
      if (Clock::now() - last_progress > std::chrono::milliseconds(200)) {
        last_progress = Clock::now();
        progress_(summary_);
      }
    }
    {
      std::lock_guard lock(mu_);
      reading_done_ = true;
    }
    window_open_.notify_all();
    writer.join();
    return stream->Finish();
  }

  std::vector<docket::v1::SubmitRequest>& retry() { return retry_; }
  std::chrono::milliseconds retry_after() const { return retry_after_; }
  const std::string& RetryReason(const std::string& ref) { return last_retry_reason_[ref]; }

 private:
  const StreamOptions& options_;
  StreamSummary& summary_;
  std::mutex& mu_;
  const std::function<void(const StreamSummary&)>& progress_;
  std::condition_variable window_open_;
  bool reading_done_ = false;
  std::map<std::string, docket::v1::SubmitRequest> in_flight_;  // by client_ref
  std::vector<docket::v1::SubmitRequest> retry_;
  std::map<std::string, std::string> last_retry_reason_;
  std::chrono::milliseconds retry_after_{0};
};

}  // namespace

StreamSummary SubmitItems(docket::v1::Intake::StubInterface& stub, ItemReader& reader,
                          const StreamOptions& options,
                          const std::function<void(const StreamSummary&)>& progress) {
  StreamSummary summary;
  std::mutex mu;
  // Round 0 reads the file; items that fail locally are rejected here.
  const auto from_file = [&]() -> std::optional<docket::v1::SubmitRequest> {
    while (auto item = reader.Next()) {
      ++summary.items;
      if (!item->object.ok()) {
        summary.rejected.push_back({item->line, std::string(item->object.status().message())});
        continue;
      }
      nlohmann::json& object = *item->object;
      if (!object.contains("tenant") && !options.default_tenant.empty()) object["tenant"] = options.default_tenant;
      if (!object.contains("kind") && !options.default_kind.empty()) object["kind"] = options.default_kind;
      if (!object.contains("idempotency_key")) object["idempotency_key"] = ContentKey(object);
      auto submission = SubmissionFromJson(object);
      if (!submission.ok()) {
        summary.rejected.push_back({item->line, std::string(submission.status().message())});
        continue;
      }
      docket::v1::SubmitRequest request;
      *request.mutable_submission() = *std::move(submission);
      request.set_client_ref(std::to_string(item->line));
      return request;
    }
    return std::nullopt;
  };

  std::vector<docket::v1::SubmitRequest> todo;
  for (int round = 0; round < options.max_rounds; ++round) {
    Round r(options, summary, mu, progress);
    std::size_t next_index = 0;
    const auto from_retries = [&]() -> std::optional<docket::v1::SubmitRequest> {
      if (next_index >= todo.size()) return std::nullopt;
      return todo[next_index++];
    };
    grpc::Status status = round == 0 ? r.Run(stub, from_file) : r.Run(stub, from_retries);
    if (!status.ok()) {
      summary.status = status;
      break;
    }
    todo = std::move(r.retry());
    if (todo.empty()) break;
    if (round + 1 == options.max_rounds) {
      for (const auto& request : todo) {
        summary.rejected.push_back({std::atoi(request.client_ref().c_str()),
                                    absl::StrCat(r.RetryReason(request.client_ref()), " (gave up after ",
                                                 options.max_rounds, " attempts)")});
      }
      break;
    }
    const auto backoff = std::clamp(r.retry_after(), std::chrono::milliseconds(100), options.max_backoff);
    progress(summary);
    std::this_thread::sleep_for(backoff);  // the server asked us to wait (retry_after_ms)
  }
  std::stable_sort(summary.rejected.begin(), summary.rejected.end(),
                   [](const Rejection& a, const Rejection& b) { return a.line < b.line; });
  progress(summary);
  return summary;
}

}  // namespace docket::ctl
