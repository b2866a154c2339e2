#pragma once

// The Prometheus registry of a process and the HTTP exposer that serves it.
// Components declare their metrics in one struct built from the registry
// (Envoy's stats structs) and keep references; names follow Prometheus
// conventions (docket_ prefix, base units, _total for counters, bounded
// labels). prometheus-cpp types appear here on purpose: this is the one
// place that owns them.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace docket::metrics {

struct BuildInfo {
  std::string service;  // "intake", ...
  std::string version;  // project version
  std::string revision; // git revision or "unknown"
};

// Docket's version (the CMake project version this library was built from).
const char* DocketVersion();

// The build info of this process: `service`, DocketVersion(), and the revision
// from the DOCKET_REVISION environment variable ("unknown" when unset or
// empty). Call once at start, with the rest of the configuration.
BuildInfo ProcessBuildInfo(std::string service);

// Owns the registry; always registers docket_build_info{service,version,revision} 1
// and the standard process_* metrics (cpu, resident/virtual memory, open and
// max fds, start time) read from /proc at scrape time. An empty `version`
// becomes DocketVersion(), an empty `revision` "unknown".
// Thread-safe (prometheus::Registry is).
class MetricsRegistry {
 public:
  explicit MetricsRegistry(const BuildInfo& info);
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  prometheus::Registry& registry() { return *registry_; }
  const std::shared_ptr<prometheus::Registry>& shared() const { return registry_; }
  const BuildInfo& build_info() const { return info_; }
  // Everything a scrape returns: the registry's families, then process_*.
  std::vector<prometheus::MetricFamily> Collect() const;
  // The text exposition of Collect() (for tests and debugging).
  std::string Serialize() const;
  // What an exposer must register to serve this registry (held weakly).
  std::vector<std::weak_ptr<prometheus::Collectable>> Collectables() const;
  // Adds a collectable computed at scrape time (e.g. from a service's own
  // aggregates); served by a MetricsServer started before or after. Thread-safe.
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable);

 private:
  class Extras;
  BuildInfo info_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
  std::shared_ptr<Extras> extras_;
};

// Serves GET /metrics for a registry. Thread-safe after construction. The
// server holds the registry weakly: it should not outlive it (a scrape after
// the registry is gone answers without its metrics rather than crashing).
class MetricsServer {
 public:
  // `bind` is "host:port"; port 0 picks a free one (see port()). UNAVAILABLE if the address cannot be bound,
  // INVALID_ARGUMENT if `bind` has no port.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& bind,
                                                               MetricsRegistry& registry);
  // Stops serving. Takes up to ~2 s: civetweb's listener thread only notices
  // the stop at its next poll timeout (a compile-time 2 s in civetweb 1.15).
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
