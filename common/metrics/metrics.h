#pragma once

// The Prometheus registry of a process and the HTTP exposer that serves it.
// Components declare their metrics in one struct built from the registry
// (Envoy's stats structs) and keep references; names follow Prometheus
// conventions (docket_ prefix, base units, _total for counters, bounded
// labels). prometheus-cpp types appear here on purpose: this is the one
// place that owns them.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace docket::metrics {

struct BuildInfo {
  std::string service;  // "intake", ...
  std::string version;  // project version
  std::string revision; // git revision or "unknown"
};

// Owns the registry; always registers docket_build_info{service,version,revision} 1
// and the standard process_* metrics (cpu, resident/virtual memory, open and
// max fds, start time) read from /proc at scrape time.
class MetricsRegistry {
 public:
  explicit MetricsRegistry(const BuildInfo& info);
  ~MetricsRegistry();
  prometheus::Registry& registry() { return *registry_; }
  const std::shared_ptr<prometheus::Registry>& shared() const { return registry_; }
  // The text exposition of everything registered (for tests and debugging).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
};

// Serves GET /metrics for a registry. Thread-safe after construction.
class MetricsServer {
 public:
  // `bind` is "host:port"; port 0 picks a free one (see port()).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& bind,
                                                               MetricsRegistry& registry);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Histogram buckets shared across Docket.
prometheus::Histogram::BucketBoundaries LatencyBuckets();   // 0.5 ms .. 10 s
prometheus::Histogram::BucketBoundaries BusinessDurationBuckets();  // 1 s .. 30 d

}  // namespace docket::metrics
