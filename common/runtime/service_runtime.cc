#include "common/runtime/service_runtime.h"

#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/redis/server_version.h"
#include "common/status/macros.h"

namespace docket::runtime {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("runtime");
  return logger;
}

// Polls `check` until OK or the deadline; returns the last status.
template <typename Check>
absl::Status WaitUntilOk(Check check, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto backoff = std::chrono::milliseconds(100);
  absl::Status last;
  while (true) {
    last = check();
    if (last.ok() || std::chrono::steady_clock::now() >= deadline) return last;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

// Writes `text` to `path` atomically (temp file + rename), so a reader never
// sees half a file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

ServiceRuntime::ServiceRuntime(const config::ServiceConfig& config)
    : config_(config), topics_(config.topic_prefix) {}

ServiceRuntime::~ServiceRuntime() = default;

kafka::KafkaConfig ServiceRuntime::kafka_config() const {
  kafka::KafkaConfig k;
  k.brokers = config_.kafka_brokers;
  k.client_id = "docket-" + config_.service;
  k.linger_ms = config_.producer_linger_ms;
  k.extra = config_.kafka_properties;
  return k;
}

absl::StatusOr<std::unique_ptr<ServiceRuntime>> ServiceRuntime::Create(
    const config::ServiceConfig& config, std::chrono::milliseconds startup_timeout) {
  std::unique_ptr<ServiceRuntime> rt(new ServiceRuntime(config));
  log::SetLevel(log::ParseLevel(config.log_level));
  if (config.sim_clock.scale > 0) {
    using std::chrono::milliseconds;
    rt->clock_ = std::make_unique<ScaledClock>(
        Clock::TimePoint(milliseconds(config.sim_clock.real_origin_ms)),
        Clock::TimePoint(milliseconds(config.sim_clock.sim_origin_ms)), config.sim_clock.scale);
    Log().Warn("simulated business time (DOCKET_SIM_CLOCK): not for production",
               {{"scale", static_cast<std::int64_t>(config.sim_clock.scale)}});
  }

  rt->metrics_ = std::make_unique<metrics::MetricsRegistry>(
      metrics::BuildInfo{config.service, DOCKET_VERSION,
                         std::getenv("DOCKET_REVISION") ? std::getenv("DOCKET_REVISION") : "unknown"});
  auto metrics_server = metrics::MetricsServer::Start(config.metrics_listen, *rt->metrics_);
  if (!metrics_server.ok()) return metrics_server.status();
  rt->metrics_server_ = std::move(*metrics_server);

  auto publisher = kafka::MakeKafkaPublisher(rt->kafka_config(), rt->metrics_.get());
  if (!publisher.ok()) return publisher.status();
  rt->publisher_ = std::move(*publisher);
  if (absl::Status s = WaitUntilOk(
          [&] { return rt->publisher_->CheckConnection(std::chrono::seconds(2)); },
          startup_timeout);
      !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("Kafka at ", config.kafka_brokers, " did not answer: ", s.message()));
  }

  auto redis_options = redis::ParseRedisUrl(config.redis_url);
  if (!redis_options.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DOCKET_REDIS_URL: ", redis_options.status().message()));
  }
  redis_options->tls_ca_file = config.redis_ca_file;
  redis_options->tls_cert_file = config.redis_cert_file;
  redis_options->tls_key_file = config.redis_key_file;
  redis_options->tls_server_name = config.redis_server_name;
  auto redis_client = redis::MakeRedisClient(*redis_options, rt->metrics_.get());
  if (!redis_client.ok()) return redis_client.status();
  rt->redis_ = std::move(*redis_client);
  if (absl::Status s = WaitUntilOk(
          [&] { return rt->redis_->Command({"PING"}).status(); }, startup_timeout);
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat("Redis at ", log::RedactUrl(config.redis_url),
                                               " did not answer: ", s.message()));
  }
  // A too old Redis must stop start-up, not fail every call later. A server
  // that does not show its version (INFO refused by an ACL) gets the benefit
  // of the doubt, with a warning.
  if (auto info = rt->redis_->Command({"INFO", "server"}); !info.ok() || info->is_error()) {
    Log().Warn("cannot read the Redis version (INFO server); Docket needs Redis 7.0 or newer",
               {{"error", info.ok() ? info->str : std::string(info.status().message())}});
  } else if (absl::Status version = redis::CheckServerVersion(info->str); absl::IsNotFound(version)) {
    Log().Warn("Redis does not report its version; Docket needs Redis 7.0 or newer");
  } else if (!version.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Redis at ", log::RedactUrl(config.redis_url), ": ", version.message()));
  }

  grpcutil::ServerOptions options;
  options.listen_address = config.grpc_listen;
  options.drain_timeout = config.drain_timeout;
  if (!config.tls_cert_file.empty()) {
    options.tls = grpcutil::TlsOptions{config.tls_cert_file, config.tls_key_file,
                                       config.tls_client_ca_file};
  }
  options.metrics = rt->metrics_.get();
  rt->grpc_ = std::make_unique<grpcutil::ServerRunner>(options);
  return rt;
}

void ServiceRuntime::AddGrpcService(grpc::Service* service, std::string health_name) {
  health_names_.push_back(health_name);
  grpc_->AddService(service, std::move(health_name));
}

void ServiceRuntime::AddConsumer(std::unique_ptr<kafka::EventConsumer> consumer) {
  consumers_.push_back(std::move(consumer));
}

absl::Status ServiceRuntime::AddConsumers(const kafka::ConsumerOptions& options) {
  for (int i = 0; i < config_.consumer_threads; ++i) {
    DOCKET_ASSIGN_OR_RETURN(std::unique_ptr<kafka::EventConsumer> consumer,
                            kafka::MakeKafkaConsumer(options, *publisher_, metrics_.get()));
    AddConsumer(std::move(consumer));
  }
  return absl::OkStatus();
}

int ServiceRuntime::grpc_port() const { return grpc_->port(); }

int ServiceRuntime::Serve(app::ShutdownSignal& signal) {
  if (absl::Status s = grpc_->Start(); !s.ok()) {
    Log().Error("cannot start the gRPC server", {{"error", std::string(s.message())}});
    return 1;
  }
  for (auto& consumer : consumers_) {
    consumer_threads_.emplace_back([&signal, c = consumer.get()] {
      if (absl::Status s = c->Run(); !s.ok()) {
        Log().Error("consumer stopped with an error", {{"error", std::string(s.message())}});
        signal.Trigger();  // a dead consumer means a stuck partition: restart the pod
      }
    });
  }
  if (!config_.ready_file.empty()) {
    const std::string text = absl::StrCat("grpc_port=", grpc_->port(), "\nmetrics_port=",
                                          metrics_server_->port(), "\npid=", getpid(), "\n");
    if (absl::Status s = WriteFileAtomically(config_.ready_file, text); !s.ok()) {
      Log().Warn("cannot write the ready file", {{"error", std::string(s.message())}});
    }
  }
  Log().Info("serving", {{"service", config_.service},
                         {"grpc_port", grpc_->port()},
                         {"metrics_port", metrics_server_->port()},
                         {"kafka", config_.kafka_brokers},
                         {"redis", config_.redis_url}});

  // Health follows the dependencies: NOT_SERVING while Kafka or Redis is down,
  // so a readiness probe takes the pod out of rotation instead of failing calls.
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::thread watcher([&] {
    bool serving = true;
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return stopping.load(); })) {
      lock.unlock();
      absl::Status kafka = publisher_->CheckConnection(std::chrono::seconds(2));
      absl::Status redis = redis_->Command({"PING"}).status();
      const bool healthy = kafka.ok() && redis.ok();
      if (healthy != serving) {
        serving = healthy;
        for (const auto& name : health_names_) grpc_->SetServing(name, healthy);
        if (healthy) {
          Log().Info("dependencies back; serving again");
        } else {
          Log().Warn("a dependency is down; health NOT_SERVING",
                     {{"kafka", kafka.ok() ? "ok" : std::string(kafka.message())},
                      {"redis", redis.ok() ? "ok" : std::string(redis.message())}});
        }
      }
      lock.lock();
    }
  });

  const int sig = signal.Wait();
  Log().Info("draining", {{"signal", sig}});
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  watcher.join();

  // Stop in reverse: consumers commit what is done, then gRPC drains, then
  // the producer flushes what the drained calls published.
  for (auto& consumer : consumers_) consumer->Stop();
  for (auto& t : consumer_threads_) t.join();
  grpc_->Shutdown();
  int code = 0;
  if (absl::Status s = publisher_->Flush(config_.drain_timeout); !s.ok()) {
    Log().Error("producer did not flush", {{"error", std::string(s.message())}});
    code = 1;
  }
  Log().Info("stopped", {{"service", config_.service}});
  return code;
}

config::ServiceConfig LoadConfigOrExit(const config::ServiceDefaults& defaults, int argc,
                                       char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  auto config = config::LoadServiceConfig(defaults, config::ProcessEnvironment(), args);
  if (!config.ok()) {
    if (config.status().code() == absl::StatusCode::kFailedPrecondition) {
      std::fputs(std::string(config.status().message()).c_str(), stdout);
      std::exit(0);
    }
    std::fprintf(stderr, "docket-%s: %s\n", defaults.service.c_str(),
                 std::string(config.status().message()).c_str());
    std::exit(2);
  }
  return *std::move(config);
}

}  // namespace docket::runtime
