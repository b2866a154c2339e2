#include "services/compliance/src/app.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/auth/api_keys.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "common/log/log.h"
#include "common/kafka/topic_reader.h"
#include "common/runtime/service_runtime.h"
#include "services/compliance/src/audit_schedule.h"
#include "services/compliance/src/compliance_metrics.h"
#include "services/compliance/src/compliance_service.h"
#include "services/compliance/src/evaluator.h"
#include "services/compliance/src/handler.h"
#include "common/policy/policy.h"
#include "services/compliance/src/store.h"

namespace docket::compliance {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("compliance");
  return logger;
}

// Who holds a verification claim, for someone reading Redis: the pod name
// (the hostname in Kubernetes) and the process id.
std::string ReplicaName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return absl::StrCat(host, ":", getpid());
}

}  // namespace

int App::Run(app::ShutdownSignal& signal) {
  // Files first: a bad file must stop start-up before we connect anywhere.
  auto catalog = catalog::Catalog::Load(config_.ConfigFile("catalog.yaml"));
  if (!catalog.ok()) {
    Log().Error("bad configuration", {{"error", std::string(catalog.status().message())}});
    return 2;
  }
  auto policies = LoadPolicies(config_.ConfigFile("policies.yaml"), &*catalog);
  auto keys = auth::ApiKeyStore::Load(config_.ConfigFile("api-keys.yaml"));
  for (const absl::Status& s : {policies.status(), keys.status()}) {
    if (!s.ok()) {
      Log().Error("bad configuration", {{"error", std::string(s.message())}});
      return 2;
    }
  }
  for (const auto& w : policies->warnings) Log().Warn("policy note", {{"note", w}});

  // Every batch waits for the acks of its audit records, then of its
  // verdicts, before its consumer takes the next, so a linger adds to each
  // wait (docs/performance.md: 5 ms -> ~80 verdicts/s, 0 ms -> ~160/s when
  // records went one at a time). A batch now publishes its records together:
  // 2 ms gathers them into one produce request per partition instead of a
  // first small one and the rest, ~6 us less compliance CPU per lifecycle
  // item than 0 ms (fourteenth round).
  config_.producer_linger_ms = 2;
  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    Log().Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  runtime::ServiceRuntime& rt = **runtime;
  const Clock& clock = rt.clock();

  ComplianceMetrics metrics(rt.metrics(), &*catalog, *policies);
  Evaluator evaluator(*policies);
  auto store = MakeRedisComplianceStore(rt.redis(),
                                        std::chrono::seconds(policies->ledger.audit_retention_seconds));
  ComplianceHandler handler(&*catalog, evaluator, *store, rt.publisher(), rt.topics(), clock, &metrics);

  auth::ApiKeyAuthenticator authenticator(*keys);
  kafka::KafkaConfig audit_reader = rt.kafka_config();
  audit_reader.client_id = "docket-compliance-audit-reader";
  ComplianceApi api(
      handler, *store, policies->ledger.hmac_key,
      [&authenticator](const grpcutil::Principal& p) { return authenticator.KeyFor(p); },
      [&audit_reader, topic = rt.topics().audit()](const auto& each) {
        return kafka::ReadTopic(audit_reader, topic, std::chrono::minutes(5), each);  // 5 min without a record
      },
      &metrics);
  ComplianceService service(api, authenticator);
  rt.AddGrpcService(&service, "docket.v1.Compliance");

  // DOCKET_CONSUMER_THREADS members of the group: a partition is handled by
  // one member, in order, so each audit chain keeps one writer, while
  // different partitions wait for their acks in parallel.
  kafka::ConsumerOptions consumer;
  consumer.kafka = rt.kafka_config();
  consumer.kafka.client_id = "docket-compliance-consumer";
  consumer.group_id = config_.consumer_group;
  consumer.topics = {rt.topics().work()};
  consumer.dlq_topic = rt.topics().dlq();
  // The records already fetched go through the handler together: one round
  // trip per step and one wait for Kafka's acks per batch, not per record.
  // The cap is high because compliance reads every work event but acts on
  // about one in five, and the two ack waits per batch are fixed: when it
  // falls behind, bigger batches let it catch up (256 -> 2,048: lifecycle
  // 2,737-2,971 -> 3,379-3,416 items/s, docs/performance.md, tenth round).
  consumer.batch_handler = kafka::DecodingBatchHandler(
      [&handler](const std::vector<const docket::v1::Event*>& events,
                 const std::vector<const kafka::Record*>& records) { return handler.HandleBatch(events, records); },
      ComplianceHandler::HandledPayloads());
  consumer.max_batch = 2048;
  if (absl::Status s = rt.AddConsumers(consumer); !s.ok()) {
    Log().Error("cannot create the work topic consumer", {{"error", std::string(s.message())}});
    return 1;
  }

  // The first scheduled verification 10 s after start (the consumers are up
  // by then): a fresh deployment shows its outcome at once, and the period's
  // claim keeps restarts and other replicas from repeating it.
  AuditSchedule schedule(
      api, ClaimInRedis(rt.redis(), ReplicaName()), clock,
      {{docket::v1::VerifyAuditRequest::SOURCE_LEDGER, std::chrono::seconds(policies->ledger.verify_every_seconds)},
       {docket::v1::VerifyAuditRequest::SOURCE_AUDIT_TOPIC,
        std::chrono::seconds(policies->ledger.verify_topic_every_seconds)}},
      std::chrono::seconds(10));
  schedule.Start();
  struct StopVerifying {
    ComplianceApi& api;
    AuditSchedule& schedule;
    ~StopVerifying() {
      api.CancelVerifications();
      schedule.Stop();
    }
  } stop_verifying{api, schedule};

  Log().Info("compliance configured",
             {{"policy_version", policies->version},
              {"rules", static_cast<std::int64_t>(policies->rules.size())},
              {"ledger_hmac", !policies->ledger.hmac_key.empty()},
              {"consumer_group", config_.consumer_group},
              {"consumer_threads", static_cast<std::int64_t>(config_.consumer_threads)}});
  return rt.Serve(signal);
}

}  // namespace docket::compliance
