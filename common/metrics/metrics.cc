#include "common/metrics/metrics.h"

#include <cstdlib>
#include <exception>
#include <mutex>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "common/metrics/process_collector.h"
#include "prometheus/exposer.h"
#include "prometheus/text_serializer.h"

#ifndef DOCKET_VERSION
#error "DOCKET_VERSION must be defined by the build (the CMake project version)"
#endif

namespace docket::metrics {

// The collectables a service adds after the exposer started (registered once,
// at start, as this one).
class MetricsRegistry::Extras final : public prometheus::Collectable {
 public:
  void Add(std::shared_ptr<prometheus::Collectable> c) {
    std::lock_guard lock(mu_);
    collectables_.push_back(std::move(c));
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<std::shared_ptr<prometheus::Collectable>> all;
    {
      std::lock_guard lock(mu_);
      all = collectables_;
    }
    std::vector<prometheus::MetricFamily> out;
    for (const auto& c : all) {
      auto families = c->Collect();
      out.insert(out.end(), std::make_move_iterator(families.begin()),
                 std::make_move_iterator(families.end()));
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

const char* DocketVersion() { return DOCKET_VERSION; }

BuildInfo ProcessBuildInfo(std::string service) {
  const char* revision = std::getenv("DOCKET_REVISION");
  return BuildInfo{std::move(service), DocketVersion(),
                   revision != nullptr && *revision != '\0' ? revision : "unknown"};
}

MetricsRegistry::MetricsRegistry(const BuildInfo& info)
    : info_(info),
      registry_(std::make_shared<prometheus::Registry>()),
      process_(std::make_shared<ProcessCollector>()),
      extras_(std::make_shared<Extras>()) {
  if (info_.version.empty()) info_.version = DocketVersion();
  if (info_.revision.empty()) info_.revision = "unknown";
  prometheus::BuildGauge()
      .Name("docket_build_info")
      .Help("Always 1; labels name the service, version and revision of this build.")
      .Register(*registry_)
      .Add({{"service", info_.service}, {"version", info_.version}, {"revision", info_.revision}})
      .Set(1);
}

MetricsRegistry::~MetricsRegistry() = default;

std::vector<prometheus::MetricFamily> MetricsRegistry::Collect() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> process = process_->Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  std::vector<prometheus::MetricFamily> extras = extras_->Collect();
  families.insert(families.end(), std::make_move_iterator(extras.begin()),
                  std::make_move_iterator(extras.end()));
  return families;
}

std::string MetricsRegistry::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, Collect());
  return out.str();
}

std::vector<std::weak_ptr<prometheus::Collectable>> MetricsRegistry::Collectables() const {
  return {registry_, process_, extras_};
}

void MetricsRegistry::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  extras_->Add(std::move(collectable));
}

struct MetricsServer::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& bind,
                                                                     MetricsRegistry& registry) {
  const auto colon = bind.rfind(':');
  int requested_port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(bind.substr(colon + 1), &requested_port) ||
      requested_port < 0 || requested_port > 65535) {
    return absl::InvalidArgumentError("metrics bind address \"" + bind +
                                      "\" is not host:port");
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->impl_ = std::make_unique<Impl>();
  try {
    // civetweb reports bind failures by throwing from the constructor.
    server->impl_->exposer = std::make_unique<prometheus::Exposer>(bind, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError("cannot serve metrics on " + bind + ": " + e.what());
  }
  for (const auto& collectable : registry.Collectables()) {
    server->impl_->exposer->RegisterCollectable(collectable, "/metrics");
  }
  const std::vector<int> ports = server->impl_->exposer->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::InternalError("metrics server on " + bind + " reports no listening port");
  }
  server->port_ = ports.front();
  return server;
}

MetricsServer::~MetricsServer() = default;

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

prometheus::Histogram::BucketBoundaries BusinessDurationBuckets() {
  constexpr double kMinute = 60, kHour = 3600, kDay = 86400;
  return {1,         5,         15,        30,       kMinute,  5 * kMinute, 15 * kMinute,
          30 * kMinute, kHour,  2 * kHour, 4 * kHour, 8 * kHour, kDay,       2 * kDay,
          3 * kDay,  7 * kDay,  14 * kDay, 30 * kDay};
}

}  // namespace docket::metrics
