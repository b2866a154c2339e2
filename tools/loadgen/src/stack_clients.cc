#include "tools/loadgen/src/stack_clients.h"

#include <google/protobuf/arena.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/macros.h"

namespace docket::loadgen {
namespace {

using namespace std::chrono_literals;

std::string CodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Long enough for a call queued behind a busy service; short enough that a
// hung stack ends the run.
constexpr auto kCallDeadline = 60s;

}  // namespace

void ErrorCounts::Add(int code, const std::string& message) {
  std::lock_guard lock(mu_);
  ++counts_[CodeName(code)];
  if (first_.empty()) first_ = absl::StrCat(CodeName(code), ": ", message);
}

std::map<std::string, std::uint64_t> ErrorCounts::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::string ErrorCounts::first() const {
  std::lock_guard lock(mu_);
  return first_;
}

std::uint64_t ErrorCounts::total() const {
  std::lock_guard lock(mu_);
  std::uint64_t n = 0;
  for (const auto& [code, count] : counts_) n += count;
  return n;
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// ---- BatchSubmitter ----

struct BatchSubmitter::Call {
  grpc::ClientContext context;
  docket::v1::SubmitBatchRequest request;
  docket::v1::SubmitBatchResponse response;
};

BatchSubmitter::BatchSubmitter(docket::v1::Intake::Stub& stub, std::string authorization,
                               SubmissionFactory& factory, std::int64_t items, int batch_size,
                               int concurrency, std::function<void(const std::string&)> on_admitted)
    : stub_(stub),
      authorization_(std::move(authorization)),
      factory_(factory),
      on_admitted_(std::move(on_admitted)),
      batch_size_(batch_size),
      concurrency_(concurrency),
      left_(items) {}

void BatchSubmitter::Start() {
  started_ = last_answer_ = SteadyClock::now();
  for (int i = 0; i < concurrency_; ++i) Issue();
}

void BatchSubmitter::Issue() {
  const std::int64_t n = std::min<std::int64_t>(batch_size_, left_.fetch_sub(batch_size_));
  if (n <= 0) return;
  auto* call = new Call;
  {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  call->context.AddMetadata("authorization", authorization_);
  call->context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  for (std::int64_t i = 0; i < n; ++i) factory_.Fill(call->request.add_items());
  stub_.async()->SubmitBatch(&call->context, &call->request, &call->response,
                             [this, call](grpc::Status s) { Done(call, s); });
}

void BatchSubmitter::Done(Call* call, const grpc::Status& status) {
  if (!status.ok()) {
    for (int i = 0; i < call->request.items_size(); ++i) errors_.Add(status.error_code(), status.error_message());
  } else {
    for (const auto& r : call->response.results()) {
      if (r.code() != 0) {
        errors_.Add(r.code(), r.message());
      } else if (r.duplicate()) {
        duplicates_.fetch_add(1);
      } else {
        admitted_.fetch_add(1);
        if (on_admitted_) on_admitted_(r.item_id());
      }
    }
  }
  delete call;
  Issue();  // the slot goes on while items are left
  std::lock_guard lock(mu_);
  --in_flight_;
  last_answer_ = SteadyClock::now();
  cv_.notify_all();
}

bool BatchSubmitter::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return in_flight_ == 0; });
}

double BatchSubmitter::seconds() const {
  std::lock_guard lock(mu_);
  return std::chrono::duration<double>(last_answer_ - started_).count();
}

// ---- WorkerPool ----

WorkerPool::WorkerPool(std::shared_ptr<grpc::Channel> channel, std::string authorization, Settings settings)
    : authorization_(std::move(authorization)), settings_(std::move(settings)) {
  for (int i = 0; i < settings_.workers; ++i) stubs_.push_back(docket::v1::Work::NewStub(channel));
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start(SteadyClock::time_point begin, SteadyClock::time_point end) {
  begin_ = begin;
  end_ = end;
  for (int i = 0; i < settings_.workers; ++i) {
    threads_.emplace_back([this, i] { settings_.batch > 1 ? BatchLoop(i) : Loop(i); });
  }
}

void WorkerPool::Stop() {
  stop_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::optional<SteadyClock::time_point> WorkerPool::first_empty() const {
  std::lock_guard lock(mu_);
  return first_empty_;
}

void WorkerPool::Loop(int index) {
  docket::v1::Work::Stub& stub = *stubs_[static_cast<std::size_t>(index)];
  auto in_window = [&](SteadyClock::time_point t) { return t >= begin_ && t < end_; };
  docket::v1::ClaimNextRequest claim;
  claim.set_tenant(settings_.tenant);
  claim.add_queues(settings_.queue);
  std::optional<docket::v1::WorkItem> carried;  // claimed by the last Complete
  while (!stop_.load()) {
    const auto t0 = SteadyClock::now();
    docket::v1::ClaimNextResponse claimed;
    grpc::Status cs;
    if (carried) {
      *claimed.mutable_item() = *std::move(carried);
      carried.reset();
    } else {
      grpc::ClientContext cctx;
      cctx.AddMetadata("authorization", authorization_);
      cctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      cs = stub.ClaimNext(&cctx, claim, &claimed);
    }
    const auto t1 = SteadyClock::now();
    if (!cs.ok()) {
      if (in_window(t1)) errors_.Add(cs.error_code(), cs.error_message());
      // ABORTED (the heads were taken) is worth an immediate retry; anything
      // else (WIP cap, unavailable) a short pause.
      if (cs.error_code() != grpc::StatusCode::ABORTED) std::this_thread::sleep_for(10ms);
      continue;
    }
    if (!claimed.has_item()) {
      if (FoundNothing(t1)) return;
      continue;
    }
    docket::v1::CompleteRequest complete;
    complete.set_item_id(claimed.item().id());
    complete.set_expected_version(claimed.item().version());
    (*complete.mutable_outcome())["decision"].set_string_value("done");
    if (settings_.complete_and_next) *complete.mutable_claim_next() = claim;
    docket::v1::WorkItemResponse done;
    grpc::ClientContext dctx;
    dctx.AddMetadata("authorization", authorization_);
    dctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    const grpc::Status ds = stub.Complete(&dctx, complete, &done);
    const auto t2 = SteadyClock::now();
    if (!ds.ok()) {
      if (in_window(t2)) errors_.Add(ds.error_code(), ds.error_message());
      continue;
    }
    total_completed_.fetch_add(1);
    if (done.has_next()) carried = done.next();
    if (in_window(t2)) {
      cycles_.fetch_add(1);
      claim_.Record(t1 - t0);
      complete_.Record(t2 - t1);
      cycle_.Record(t2 - t0);
    }
  }
}

bool WorkerPool::FoundNothing(SteadyClock::time_point when) {
  empty_claims_.fetch_add(1);
  {
    std::lock_guard lock(mu_);
    if (!first_empty_) first_empty_ = when;
  }
  if (settings_.stop_when_empty) return true;
  std::this_thread::sleep_for(settings_.empty_backoff);
  return false;
}

void WorkerPool::BatchLoop(int index) {
  docket::v1::Work::Stub& stub = *stubs_[static_cast<std::size_t>(index)];
  auto in_window = [&](SteadyClock::time_point t) { return t >= begin_ && t < end_; };
  docket::v1::ClaimNextRequest claim;
  claim.set_tenant(settings_.tenant);
  claim.add_queues(settings_.queue);
  claim.set_max_items(settings_.batch);
  // Claimed, not yet completed: all a completion needs of each item. The
  // responses (items with their attributes, as a bot would read them) are
  // parsed into an arena that each call reuses: no malloc and free per
  // attribute.
  struct Held {
    std::string id;
    std::int64_t version;
  };
  std::vector<Held> held;
  auto take = [&held](const google::protobuf::RepeatedPtrField<docket::v1::WorkItem>& items) {
    held.clear();
    for (const auto& item : items) held.push_back({item.id(), item.version()});
  };
  std::vector<char> first_block(256 * 1024);
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = first_block.data();
  arena_options.initial_block_size = first_block.size();
  google::protobuf::Arena arena(arena_options);
  while (!stop_.load()) {
    const auto t0 = SteadyClock::now();
    arena.Reset();
    if (held.empty()) {
      auto& claimed = *google::protobuf::Arena::CreateMessage<docket::v1::ClaimNextResponse>(&arena);
      grpc::ClientContext cctx;
      cctx.AddMetadata("authorization", authorization_);
      cctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      const grpc::Status cs = stub.ClaimNext(&cctx, claim, &claimed);
      const auto t1 = SteadyClock::now();
      if (!cs.ok()) {
        if (in_window(t1)) errors_.Add(cs.error_code(), cs.error_message());
        if (cs.error_code() != grpc::StatusCode::ABORTED) std::this_thread::sleep_for(10ms);
        continue;
      }
      if (claimed.items().empty()) {
        if (FoundNothing(t1)) return;
        continue;
      }
      take(claimed.items());
      if (in_window(t1)) claim_.Record(t1 - t0);
    }
    const auto t1 = SteadyClock::now();
    auto& batch = *google::protobuf::Arena::CreateMessage<docket::v1::CompleteBatchRequest>(&arena);
    for (const auto& item : held) {
      docket::v1::CompleteRequest* c = batch.add_completions();
      c->set_item_id(item.id);
      c->set_expected_version(item.version);
      (*c->mutable_outcome())["decision"].set_string_value("done");
    }
    if (settings_.complete_and_next) *batch.mutable_claim_next() = claim;
    auto& done = *google::protobuf::Arena::CreateMessage<docket::v1::CompleteBatchResponse>(&arena);
    grpc::ClientContext dctx;
    dctx.AddMetadata("authorization", authorization_);
    dctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    const grpc::Status ds = stub.CompleteBatch(&dctx, batch, &done);
    const auto t2 = SteadyClock::now();
    if (!ds.ok()) {
      if (in_window(t2)) errors_.Add(ds.error_code(), ds.error_message());
      // A call that may not have run (overload, no connection, deadline) is
      // made again with the same items; any other refusal drops them (their
      // leases give them back), as a bot would.
      const grpc::StatusCode code = ds.error_code();
      if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
          code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        std::this_thread::sleep_for(10ms);
      } else {
        held.clear();
      }
      continue;
    }
    std::uint64_t completed = 0;
    for (const auto& r : done.results()) {
      if (r.code() == 0) {
        ++completed;
      } else if (in_window(t2)) {
        errors_.Add(static_cast<grpc::StatusCode>(r.code()), r.message());
      }
    }
    if (done.next_code() != 0 && in_window(t2)) {
      errors_.Add(static_cast<grpc::StatusCode>(done.next_code()), done.next_message());
    }
    take(done.next());
    total_completed_.fetch_add(completed);
    if (in_window(t2)) {
      cycles_.fetch_add(completed);
      complete_.Record(t2 - t1);
      cycle_.Record(t2 - t0);
    }
  }
}

// ---- /metrics ----

absl::StatusOr<std::vector<double>> ScrapeSums(const HttpUrl& url, const std::vector<Watched>& watched) {
  auto body = HttpGet(url);
  if (!body.ok()) return body.status();
  std::vector<double> out;
  out.reserve(watched.size());
  for (const auto& w : watched) out.push_back(SumSamples(*body, w.metric, w.match));
  return out;
}

absl::Status WaitForConsumers(const std::vector<std::string>& metrics_urls, std::chrono::milliseconds timeout) {
  const std::vector<Watched> assigned = {{"assigned", "docket_kafka_consumer_assigned_partitions", {}}};
  const auto deadline = SteadyClock::now() + timeout;
  for (const std::string& url : metrics_urls) {
    DOCKET_ASSIGN_OR_RETURN(HttpUrl parsed, ParseHttpUrl(url));
    for (;;) {
      absl::StatusOr<std::vector<double>> v = ScrapeSums(parsed, assigned);
      if (v.ok() && v->front() > 0) break;
      if (SteadyClock::now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "the Kafka consumer behind ", url, " has no partitions assigned after ", timeout.count(), " ms",
            v.ok() ? "" : absl::StrCat(" (", v.status().message(), ")")));
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  return absl::OkStatus();
}

}  // namespace docket::loadgen
