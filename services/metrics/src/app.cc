#include "services/metrics/src/app.h"

#include <atomic>
#include <thread>

#include "common/auth/api_keys.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "common/log/log.h"
#include "common/runtime/service_runtime.h"
#include "services/metrics/src/kpi_service.h"
#include "services/metrics/src/kpi_store.h"

namespace docket::metrics {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("metrics");
  return logger;
}

}  // namespace

int App::Run(app::ShutdownSignal& signal) {
  auto catalog = catalog::Catalog::Load(config_.ConfigFile("catalog.yaml"));
  auto keys = auth::ApiKeyStore::Load(config_.ConfigFile("api-keys.yaml"));
  for (const absl::Status& s : {catalog.status(), keys.status()}) {
    if (!s.ok()) {
      Log().Error("bad configuration", {{"error", std::string(s.message())}});
      return 2;
    }
  }
  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    Log().Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  runtime::ServiceRuntime& rt = **runtime;
  const Clock& clock = rt.clock();
  kpi::KpiStore store(*catalog, rt.redis(), clock);
  rt.metrics().AddCollectable(store.Collectable());
  auth::ApiKeyAuthenticator authenticator(*keys);
  kpi::KpiService service(store, authenticator, clock);
  rt.AddGrpcService(&service, "docket.v1.Kpi");

  // DOCKET_CONSUMER_THREADS members, each folding its own partitions on its
  // own thread; the store locks per partition.
  kafka::ConsumerOptions consumer;
  consumer.kafka = rt.kafka_config();
  consumer.kafka.client_id = "docket-metrics-consumer";
  // docket-metrics reads the whole stream, so it fetches in big pieces: the
  // broker's CPU per event falls with the fetch size (Apache Kafka, 1,000,000
  // events drained with 2 threads: 3.9 -> 2.1 us per event, 192k -> 245k
  // events/s; docs/performance.md). DOCKET_KAFKA_PROPERTIES_FILE may set
  // either key, prefixed or not, and wins.
  consumer.kafka.extra.try_emplace("consumer.max.partition.fetch.bytes", "8388608");
  consumer.kafka.extra.try_emplace("consumer.fetch.max.bytes", "67108864");
  consumer.group_id = config_.consumer_group;
  consumer.topics = {rt.topics().work(), rt.topics().compliance()};
  consumer.dlq_topic = rt.topics().dlq();
  consumer.handler = [&store](const kafka::Record& r) { return store.Handle(r); };
  consumer.on_assigned = [&store](const std::vector<kafka::TopicPartition>& tps) {
    return store.OnAssigned(tps);
  };
  consumer.on_revoked = [&store](const std::vector<kafka::TopicPartition>& tps) { store.OnRevoked(tps); };
  if (absl::Status s = rt.AddConsumers(consumer); !s.ok()) {
    Log().Error("cannot create the consumer", {{"error", std::string(s.message())}});
    return 1;
  }

  // Snapshot what an idle partition has not yet written, so a restart
  // replays little.
  std::atomic<bool> stop{false};
  std::thread snapshots([&] {
    while (!stop) {
      for (int i = 0; i < 20 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (absl::Status s = store.SnapshotAll(); !s.ok()) {
        Log().Warn("KPI snapshot failed", {{"error", std::string(s.message())}});
      }
    }
  });
  const int code = rt.Serve(signal);
  stop = true;
  snapshots.join();
  return code;
}

}  // namespace docket::metrics
