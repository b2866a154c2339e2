#include "services/intake/src/app.h"

#include <filesystem>
#include <optional>

#include "common/auth/api_keys.h"
#include "common/catalog/catalog.h"
#include "common/clock/clock.h"
#include "common/log/log.h"
#include "common/policy/policy.h"
#include "common/runtime/service_runtime.h"
#include "services/intake/src/admission.h"
#include "services/intake/src/idempotency.h"
#include "services/intake/src/intake_metrics.h"
#include "services/intake/src/intake_service.h"
#include "services/intake/src/intake_settings.h"
#include "services/intake/src/kafka_intake.h"
#include "services/intake/src/publisher_auth.h"
#include "services/intake/src/rate_limiter.h"

namespace docket::intake {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("intake");
  return logger;
}

}  // namespace

int App::Run(app::ShutdownSignal& signal) {
  // Files first: a bad file must stop start-up before we connect anywhere.
  auto catalog = catalog::Catalog::Load(config_.ConfigFile("catalog.yaml"));
  auto keys = auth::ApiKeyStore::Load(config_.ConfigFile("api-keys.yaml"));
  auto settings = LoadIntakeSettings(config_.ConfigFile("intake.yaml"));
  for (const absl::Status& s : {catalog.status(), keys.status(), settings.status()}) {
    if (!s.ok()) {
      Log().Error("bad configuration", {{"error", std::string(s.message())}});
      return 2;
    }
  }
  // The compliance policy's redact rules; without a policies.yaml nothing is
  // redacted (compliance still flags what it finds).
  std::optional<compliance::PolicySet> policies;
  const std::string policies_file = config_.ConfigFile("policies.yaml");
  if (std::filesystem::exists(policies_file)) {
    auto loaded = compliance::LoadPolicies(policies_file, &*catalog);
    if (!loaded.ok()) {
      Log().Error("bad configuration", {{"error", std::string(loaded.status().message())}});
      return 2;
    }
    policies = *std::move(loaded);
  }
  std::optional<Redactor> redactor;
  if (policies) redactor.emplace(*policies);
  settings->admission.redactor = redactor && !redactor->empty() ? &*redactor : nullptr;

  auto runtime = runtime::ServiceRuntime::Create(config_);
  if (!runtime.ok()) {
    Log().Error("cannot start", {{"error", std::string(runtime.status().message())}});
    return 1;
  }
  runtime::ServiceRuntime& rt = **runtime;
  const Clock& clock = rt.clock();

  IntakeMetrics metrics(rt.metrics(), *catalog);
  // Keys and leases live in real time, also under a simulated business clock.
  auto idempotency =
      MakeRedisIdempotencyStore(rt.redis(), SystemClock::Instance(), settings->idempotency);
  RateLimiter rate_limiter(clock, settings->rate_limits);
  Admission admission(*catalog, *idempotency, rt.publisher(), rate_limiter, clock, rt.topics(),
                      &metrics, settings->admission);

  auth::ApiKeyAuthenticator authenticator(*keys);
  IntakeService service(
      admission,
      [&authenticator](const grpc::ServerContextBase& ctx) {
        return AuthenticatePublisher(authenticator, ctx);
      },
      settings->service);
  rt.AddGrpcService(&service, "docket.v1.Intake");

  kafka::ConsumerOptions consumer;
  consumer.kafka = rt.kafka_config();
  consumer.kafka.client_id = "docket-intake-consumer";
  consumer.group_id = config_.consumer_group;
  consumer.topics = {rt.topics().intake()};
  consumer.dlq_topic = rt.topics().dlq();
  consumer.batch_handler = KafkaIntakeHandler(admission, &metrics);
  consumer.max_batch = 500;  // as a SubmitStream chunk
  auto kafka_intake = kafka::MakeKafkaConsumer(std::move(consumer), rt.publisher(), &rt.metrics());
  if (!kafka_intake.ok()) {
    Log().Error("cannot create the intake topic consumer",
                {{"error", std::string(kafka_intake.status().message())}});
    return 1;
  }
  rt.AddConsumer(std::move(*kafka_intake));

  Log().Info("intake configured", {{"kinds", static_cast<std::int64_t>(catalog->kinds().size())},
                                   {"tenants", static_cast<std::int64_t>(catalog->tenants().size())},
                                   {"api_keys", static_cast<std::int64_t>(keys->keys().size())},
                                   {"rate_limited_tenants", static_cast<std::int64_t>(settings->rate_limits.size())},
                                   {"redacting", settings->admission.redactor != nullptr}});
  return rt.Serve(signal);
}

}  // namespace docket::intake
