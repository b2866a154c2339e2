#include "tools/loadgen/src/load_driver.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "docket/v1/intake_service.grpc.pb.h"
#include "tools/loadgen/src/proc_stats.h"
#include "tools/loadgen/src/submissions.h"

namespace docket::loadgen {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long in-flight calls may take to finish once the window closed.
constexpr auto kDrainTimeout = 30s;

std::string CodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Counts what completes inside the measured window [begin, end).
class Recorder {
 public:
  Recorder(Clock::time_point begin, Clock::time_point end) : begin_(begin), end_(end) {}
  bool InWindow(Clock::time_point done) const { return done >= begin_ && done < end_; }
  void Latency(Clock::duration d) { histogram_.Record(d); }
  void Call() { calls_.fetch_add(1, std::memory_order_relaxed); }
  void Item(int code, bool duplicate, const std::string& message) {
    if (code == 0) {
      (duplicate ? duplicates_ : admitted_).fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::lock_guard lock(mu_);
    ++errors_[CodeName(code)];
    if (first_error_.empty()) first_error_ = absl::StrCat(CodeName(code), ": ", message);
  }
  void Fill(ModeResult& r) const {
    r.admitted = admitted_.load();
    r.duplicates = duplicates_.load();
    r.calls = calls_.load();
    r.latency = Summarize(histogram_);
    std::lock_guard lock(mu_);
    for (const auto& [code, n] : errors_) r.errors[code] += n;
    if (r.first_error.empty()) r.first_error = first_error_;
  }

 private:
  const Clock::time_point begin_, end_;
  LatencyHistogram histogram_;
  std::atomic<std::uint64_t> admitted_{0}, duplicates_{0}, calls_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> errors_;
  std::string first_error_;
};

// What the drivers share: stubs (one channel each), submissions, recorder.
struct Context {
  std::vector<std::unique_ptr<docket::v1::Intake::Stub>> stubs;
  std::atomic<std::size_t> next_stub{0};
  SubmissionFactory* submissions = nullptr;
  Recorder* recorder = nullptr;
  const Options* options = nullptr;
  std::string authorization;  // "Bearer <key>", or empty

  docket::v1::Intake::Stub& Stub() {
    return *stubs[next_stub.fetch_add(1, std::memory_order_relaxed) % stubs.size()];
  }
  void Authorize(grpc::ClientContext& ctx) const {
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  }
};

// Unary Submit (unary, echo) or SubmitBatch calls, closed or open loop.
class CallDriver {
 public:
  CallDriver(Context& ctx, bool batch) : ctx_(ctx), batch_(batch) {}

  void Start(Clock::time_point begin, Clock::time_point end) {
    const int concurrency = ctx_.options->concurrency;
    if (ctx_.options->rate <= 0) {
      {
        std::lock_guard lock(mu_);
        in_flight_ = concurrency;
      }
      for (int i = 0; i < concurrency; ++i) Issue(Clock::now());
      return;
    }
    const double calls_per_second =
        ctx_.options->rate / (batch_ ? ctx_.options->batch_size : 1);
    pacer_ = std::thread([this, begin, end, calls_per_second, concurrency] {
      const auto interval = std::chrono::duration<double>(1.0 / calls_per_second);
      for (std::uint64_t n = 0;; ++n) {
        const auto scheduled =
            begin + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(n));
        if (scheduled >= end || stopping_.load()) break;
        std::this_thread::sleep_until(scheduled);
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return in_flight_ < concurrency || stopping_.load(); });
          if (stopping_.load()) break;
          ++in_flight_;
        }
        Issue(scheduled);
      }
    });
  }

  // Stops issuing calls and waits for those in flight (up to kDrainTimeout).
  bool StopAndWait() {
    {
      std::lock_guard lock(mu_);
      stopping_.store(true);
      cv_.notify_all();
    }
    if (pacer_.joinable()) pacer_.join();
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDrainTimeout, [&] { return in_flight_ == 0; });
  }

 private:
  struct Call {
    grpc::ClientContext context;
    docket::v1::SubmitRequest request;
    docket::v1::SubmitResponse response;
    docket::v1::SubmitBatchRequest batch_request;
    docket::v1::SubmitBatchResponse batch_response;
    Clock::time_point scheduled;
  };

  void Issue(Clock::time_point scheduled) {
    auto* call = new Call;
    call->scheduled = scheduled;
    ctx_.Authorize(call->context);
    call->context.set_deadline(std::chrono::system_clock::now() + kDrainTimeout);
    auto& stub = ctx_.Stub();
    if (batch_) {
      for (int i = 0; i < ctx_.options->batch_size; ++i) {
        ctx_.submissions->Fill(call->batch_request.add_items());
      }
      stub.async()->SubmitBatch(&call->context, &call->batch_request, &call->batch_response,
                                [this, call](grpc::Status s) { Done(call, std::move(s)); });
    } else {
      ctx_.submissions->Fill(&call->request);
      stub.async()->Submit(&call->context, &call->request, &call->response,
                           [this, call](grpc::Status s) { Done(call, std::move(s)); });
    }
  }

  void Done(Call* call, grpc::Status status) {
    const auto now = Clock::now();
    Recorder& rec = *ctx_.recorder;
    if (rec.InWindow(now)) {
      rec.Call();
      rec.Latency(now - call->scheduled);
      if (!status.ok()) {
        const int items = batch_ ? call->batch_request.items_size() : 1;
        for (int i = 0; i < items; ++i) rec.Item(status.error_code(), false, status.error_message());
      } else if (batch_) {
        for (const auto& r : call->batch_response.results()) rec.Item(r.code(), r.duplicate(), r.message());
      } else {
        rec.Item(0, call->response.duplicate(), "");
      }
    }
    delete call;
    // Closed loop: the slot goes straight on with a new call.
    if (ctx_.options->rate <= 0 && !stopping_.load()) {
      Issue(Clock::now());
      return;
    }
    std::lock_guard lock(mu_);
    --in_flight_;
    cv_.notify_all();
  }

  Context& ctx_;
  const bool batch_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  std::thread pacer_;
};

// One SubmitStream call: keeps up to `window` items sent and not yet acked,
// matching acks to send times in order (intake acks in order).
class StreamWorker final
    : public grpc::ClientBidiReactor<docket::v1::SubmitRequest, docket::v1::SubmitResult> {
 public:
  explicit StreamWorker(Context& ctx) : ctx_(ctx), window_(ctx.options->window) {}

  void Start() {
    ctx_.Authorize(context_);
    ctx_.Stub().async()->SubmitStream(&context_, this);
    StartRead(&result_);
    {
      std::lock_guard lock(mu_);
      writing_ = PrepareWrite();
    }
    if (writing_) StartWrite(&request_);
    StartCall();
  }

  // No more writes; the stream ends once every sent item is acked.
  void Stop() {
    bool close = false;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      close = !writing_ && !closed_;
      closed_ = closed_ || close;
    }
    if (close) StartWritesDone();
  }

  // Waits for OnDone; the stream's final status.
  grpc::Status Wait(std::chrono::steady_clock::duration timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return done_; })) {
      lock.unlock();
      context_.TryCancel();
      lock.lock();
      cv_.wait(lock, [&] { return done_; });
    }
    return status_;
  }

  void OnWriteDone(bool ok) override {
    bool write = false, close = false;
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) return;  // the stream is broken; OnDone follows
      write = PrepareWrite();
      writing_ = write;
      close = !write && stopping_ && !closed_;
      closed_ = closed_ || close;
    }
    if (write) StartWrite(&request_);
    if (close) StartWritesDone();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the server closed the stream; OnDone follows
    const auto now = Clock::now();
    bool write = false;
    {
      std::lock_guard lock(mu_);
      const Clock::time_point sent = sent_.empty() ? now : sent_.front();
      if (!sent_.empty()) sent_.pop_front();
      Recorder& rec = *ctx_.recorder;
      if (rec.InWindow(now)) {
        rec.Call();
        rec.Latency(now - sent);
        rec.Item(result_.code(), result_.duplicate(), result_.message());
      }
      if (!writing_) {
        write = PrepareWrite();
        writing_ = write;
      }
    }
    if (write) StartWrite(&request_);
    StartRead(&result_);
  }

  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(mu_);
    status_ = s;
    done_ = true;
    cv_.notify_all();
  }

 private:
  // Under mu_: fills request_ if the window has room and we are not stopping.
  bool PrepareWrite() {
    if (stopping_ || static_cast<int>(sent_.size()) >= window_) return false;
    request_.Clear();
    ctx_.submissions->Fill(&request_);
    sent_.push_back(Clock::now());
    return true;
  }

  Context& ctx_;
  const int window_;
  grpc::ClientContext context_;
  docket::v1::SubmitRequest request_;
  docket::v1::SubmitResult result_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Clock::time_point> sent_;
  bool writing_ = false;
  bool stopping_ = false;
  bool closed_ = false;  // WritesDone started
  bool done_ = false;
  grpc::Status status_;
};

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int index) {
  grpc::ChannelArguments args;
  // Distinct arguments give each channel its own HTTP/2 connection.
  args.SetInt("docket.loadgen.connection", index);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

LatencySummary Summarize(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.p50 = h.Percentile(50);
  s.p90 = h.Percentile(90);
  s.p99 = h.Percentile(99);
  s.p999 = h.Percentile(99.9);
  s.max = h.max();
  s.mean = h.mean();
  return s;
}

ModeResult RunMode(const Options& options, Mode mode, const std::string& target) {
  ModeResult result;
  result.mode = mode;
  result.target = target;
  result.concurrency = options.concurrency;
  result.rate = mode == Mode::kStream ? 0 : options.rate;
  result.batch_size = mode == Mode::kBatch ? options.batch_size : 1;

  Context ctx;
  Options effective = options;
  effective.rate = result.rate;
  ctx.options = &effective;
  if (mode != Mode::kEcho) ctx.authorization = "Bearer " + options.key;
  for (int i = 0; i < options.connections; ++i) {
    auto channel = MakeChannel(target, i);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + 10s)) {
      result.errors["CONNECT"] = 1;
      result.first_error = absl::StrCat("cannot connect to ", target, " within 10 s");
      return result;
    }
    ctx.stubs.push_back(docket::v1::Intake::NewStub(channel));
  }
  SubmissionFactory submissions(options.tenant, SubmissionProfile::kDataEntry);
  ctx.submissions = &submissions;
  const auto begin = Clock::now() + options.warmup;
  const auto end = begin + options.duration;
  Recorder recorder(begin, end);
  ctx.recorder = &recorder;

  std::unique_ptr<CallDriver> calls;
  std::vector<std::unique_ptr<StreamWorker>> streams;
  if (mode == Mode::kStream) {
    for (int i = 0; i < options.concurrency; ++i) {
      streams.push_back(std::make_unique<StreamWorker>(ctx));
      streams.back()->Start();
    }
  } else {
    calls = std::make_unique<CallDriver>(ctx, mode == Mode::kBatch);
    calls->Start(begin, end);
  }

  std::this_thread::sleep_until(begin);
  result.load_average = LoadAverage();
  const double self_before = SelfCpuSeconds();
  std::map<std::string, double> watched_before;
  for (const auto& w : options.watch) watched_before[w.name] = ProcessCpuSeconds(w.pid);
  std::this_thread::sleep_until(end);
  const double self_after = SelfCpuSeconds();
  const double seconds = std::chrono::duration<double>(options.duration).count();
  result.seconds = seconds;
  result.loadgen_cpu = (self_after - self_before) / seconds;
  for (const auto& w : options.watch) {
    const double after = ProcessCpuSeconds(w.pid);
    result.watched_cpu[w.name] =
        after < 0 || watched_before[w.name] < 0 ? -1 : (after - watched_before[w.name]) / seconds;
  }

  if (calls && !calls->StopAndWait()) {
    result.errors["DRAIN"] = 1;
    if (result.first_error.empty()) result.first_error = "calls still in flight 30 s after the window";
  }
  for (auto& s : streams) s->Stop();
  for (auto& s : streams) {
    grpc::Status st = s->Wait(kDrainTimeout);
    if (!st.ok() && result.first_error.empty()) {
      result.first_error = absl::StrCat("stream ended ", CodeName(st.error_code()), ": ", st.error_message());
    }
  }
  recorder.Fill(result);
  return result;
}

}  // namespace docket::loadgen
