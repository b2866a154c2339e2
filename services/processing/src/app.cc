#include "services/processing/src/app.h"

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/auth/api_keys.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "common/config/yaml.h"
#include "common/status/macros.h"
#include "common/grpc/handler_pool.h"
#include "common/log/log.h"
#include "common/runtime/service_runtime.h"
#include "services/processing/src/work_service.h"
#include "services/processing/src/workflow.h"

namespace docket::processing {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("processing");
  return logger;
}

// Threads running Work calls. Each call holds one of the 4 pooled Redis
// connections for most of its time; with 16 claiming workers 4 threads beat
// 2 and 8. Running the calls inline on gRPC's 2 callback threads was slower
// there (faster with 1-8 workers in one scan) and stalls those threads'
// socket work, health checks included, for every Redis round trip.
constexpr int kWorkThreads = 4;

// Runs the watchdog (leases, SLA timers), the outbox relay and the queue
// gauges once a second until destroyed.
class Background {
 public:
  explicit Background(Workflow& workflow) : thread_([this, &workflow] { Loop(workflow); }) {}
  ~Background() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop(Workflow& workflow) {
    std::unique_lock lock(mu_);
    for (int tick = 0; !cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; }); ++tick) {
      lock.unlock();
      if (auto s = workflow.Tick(); !s.ok()) {
        Log().Warn("watchdog tick failed", {{"error", std::string(s.status().message())}});
      }
      if (tick % 5 == 0) {
        if (auto s = workflow.RelayOutbox(std::chrono::seconds(10)); !s.ok()) {
          Log().Warn("outbox relay failed", {{"error", std::string(s.status().message())}});
        }
        (void)workflow.RefreshQueueGauges();
      }
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// processing.yaml (optional): lease, default_wip_limit, terminal_retention. Errors name file:line:field.
absl::StatusOr<WorkflowOptions> LoadOptions(const std::string& path) {
  WorkflowOptions o;
  if (!std::filesystem::exists(path)) return o;
  DOCKET_ASSIGN_OR_RETURN(config::YamlNode root, config::LoadYamlFile(path));
  if (root.IsNull()) return o;
  DOCKET_RETURN_IF_ERROR(root.CheckKeys({"lease", "default_wip_limit", "terminal_retention"}));
  if (!root.Child("terminal_retention").IsNull()) {
    DOCKET_ASSIGN_OR_RETURN(o.terminal_retention, root.Duration("terminal_retention"));
    if (o.terminal_retention.count() <= 0) {
      return root.Child("terminal_retention").Error("must be a positive duration");
    }
  }
  if (!root.Child("lease").IsNull()) {
    DOCKET_ASSIGN_OR_RETURN(o.lease, root.Duration("lease"));
    if (o.lease.count() <= 0) return root.Child("lease").Error("must be a positive duration");
  }
  DOCKET_ASSIGN_OR_RETURN(std::int64_t wip, root.Int("default_wip_limit", o.default_wip_limit));
  if (wip <= 0) return root.Child("default_wip_limit").Error("must be positive");
  o.default_wip_limit = static_cast<int>(wip);
  return o;
}

}  // namespace

int App::Run(app::ShutdownSignal& signal) {
  auto catalog = catalog::Catalog::Load(config_.ConfigFile("catalog.yaml"));
  auto keys = auth::ApiKeyStore::Load(config_.ConfigFile("api-keys.yaml"));
  auto options = LoadOptions(config_.ConfigFile("processing.yaml"));
  for (const absl::Status& s : {catalog.status(), keys.status(), options.status()}) {
    if (!s.ok()) {
      Log().Error("bad configuration", {{"error", std::string(s.message())}});
      return 2;
    }
  }
  // Every event is durable in the outbox before it is published, and nothing
  // here waits for the acks but the outbox clearer and the relay: a longer
  // linger makes fewer, larger produce requests. 20 ms instead of 5 takes
  // ~15 us of processing CPU and ~8 us of the broker's off each lifecycle
  // item, for <= 20 ms more before compliance and metrics see an event
  // (docs/performance.md, fourteenth round).
  config_.producer_linger_ms = 20;
  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    Log().Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  runtime::ServiceRuntime& rt = **runtime;
  auto workflow = Workflow::Create(*catalog, rt.redis(), rt.publisher(), rt.clock(),
                                   rt.topics(), &rt.metrics(), *options);
  if (!workflow.ok()) {
    Log().Error("bad configuration", {{"error", std::string(workflow.status().message())}});
    return 2;
  }
  auth::ApiKeyAuthenticator authenticator(*keys);
  grpcutil::HandlerPool work_pool(kWorkThreads, "docket-work");
  WorkService service(**workflow, authenticator, work_pool);
  rt.AddGrpcService(&service, "docket.v1.Work");

  kafka::ConsumerOptions consumer;
  consumer.kafka = rt.kafka_config();
  consumer.kafka.client_id = "docket-processing-consumer";
  consumer.group_id = config_.consumer_group;
  consumer.topics = {rt.topics().work(), rt.topics().compliance()};
  // Verdicts go first: a burst of submissions fetched before them would
  // otherwise hold back every completion until the whole burst is routed.
  consumer.priority_topics = {rt.topics().compliance()};
  consumer.dlq_topic = rt.topics().dlq();
  // What is fetched together is handled together: two Redis round trips per
  // batch instead of two per event.
  consumer.batch_handler = kafka::DecodingBatchHandler(
      [wf = workflow->get()](const std::vector<const docket::v1::Event*>& events,
                             const std::vector<const kafka::Record*>&) { return wf->HandleBatch(events); },
      Workflow::HandledPayloads());
  if (absl::Status s = rt.AddConsumers(consumer); !s.ok()) {
    Log().Error("cannot create the consumer", {{"error", std::string(s.message())}});
    return 1;
  }

  Background background(**workflow);
  return rt.Serve(signal);
}

}  // namespace docket::processing
