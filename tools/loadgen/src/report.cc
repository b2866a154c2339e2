#include "tools/loadgen/src/report.h"

#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace docket::loadgen {
namespace {

double Ms(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

std::uint64_t Failed(const ModeResult& r) {
  std::uint64_t n = 0;
  for (const auto& [code, count] : r.errors) n += count;
  return n;
}

std::optional<double> UnaryEchoRatio(const std::vector<ModeResult>& results) {
  const ModeResult* unary = nullptr;
  const ModeResult* echo = nullptr;
  for (const auto& r : results) {
    if (r.mode == Mode::kUnary && r.rate == 0) unary = &r;
    if (r.mode == Mode::kEcho && r.rate == 0) echo = &r;
  }
  if (!unary || !echo || echo->items_per_second() == 0) return std::nullopt;
  return unary->items_per_second() / echo->items_per_second();
}

}  // namespace

std::string FormatTable(const std::vector<ModeResult>& results) {
  std::string out = absl::StrFormat(
      "%-7s %5s %5s %9s %10s %8s %8s %8s %8s %8s %10s %8s %5s  %s\n", "mode", "conc", "batch",
      "rate", "items/s", "p50 ms", "p90 ms", "p99 ms", "p99.9ms", "max ms", "admitted", "failed",
      "load", "cpu (cores)");
  for (const auto& r : results) {
    std::string cpu = absl::StrFormat("loadgen %.2f", r.loadgen_cpu);
    for (const auto& [name, cores] : r.watched_cpu) absl::StrAppendFormat(&cpu, " %s %.2f", name, cores);
    out += absl::StrFormat(
        "%-7s %5d %5d %9s %10.0f %8.2f %8.2f %8.2f %8.2f %8.2f %10d %8d %5.2f  %s\n",
        ModeName(r.mode), r.concurrency, r.batch_size,
        r.rate > 0 ? absl::StrFormat("%.0f", r.rate) : std::string("max"), r.items_per_second(),
        Ms(r.latency.p50), Ms(r.latency.p90), Ms(r.latency.p99), Ms(r.latency.p999),
        Ms(r.latency.max), r.admitted, Failed(r), r.load_average, cpu);
  }
  out += "latency: per call for echo/unary/batch (a batch's whole ack), per item ack for stream;\n"
         "items/s: items answered OK and not duplicate, per second of the measured window.\n";
  if (auto ratio = UnaryEchoRatio(results)) {
    absl::StrAppendFormat(&out, "unary/echo: %.2f\n", *ratio);
  }
  for (const auto& r : results) {
    if (Failed(r) == 0 && r.first_error.empty()) continue;
    absl::StrAppend(&out, ModeName(r.mode), " failures:");
    for (const auto& [code, n] : r.errors) absl::StrAppend(&out, " ", code, "=", n);
    absl::StrAppend(&out, "; first: ", r.first_error, "\n");
  }
  return out;
}

std::string FormatStages(const std::vector<StageResult>& stages) {
  std::string out;
  for (const auto& r : stages) {
    absl::StrAppendFormat(&out, "== %s%s  (load %.2f)\n", ModeName(r.mode),
                          r.complete ? "" : "  [INCOMPLETE: figures are partial]", r.load_average);
    for (const auto& [name, value] : r.figures) absl::StrAppendFormat(&out, "  %-44s %14.2f\n", name, value);
    if (!r.latencies.empty()) {
      absl::StrAppendFormat(&out, "  %-32s %8s %8s %8s %8s %9s %9s\n", "latency (ms)", "count", "p50", "p90",
                            "p99", "p99.9", "max");
      for (const auto& [name, l] : r.latencies) {
        absl::StrAppendFormat(&out, "  %-32s %8d %8.2f %8.2f %8.2f %8.2f %9.2f\n", name, l.count, Ms(l.p50),
                              Ms(l.p90), Ms(l.p99), Ms(l.p999), Ms(l.max));
      }
    }
    std::string cpu;
    for (const auto& [name, cores] : r.cpu_cores) absl::StrAppendFormat(&cpu, " %s %.2f", name, cores);
    if (!cpu.empty()) absl::StrAppend(&out, "  cpu (cores):", cpu, "\n");
    if (!r.errors.empty() || !r.first_error.empty()) {
      absl::StrAppend(&out, "  failures:");
      for (const auto& [code, n] : r.errors) absl::StrAppend(&out, " ", code, "=", n);
      absl::StrAppend(&out, "; first: ", r.first_error, "\n");
    }
    for (const auto& note : r.notes) absl::StrAppend(&out, "  ", note, "\n");
  }
  return out;
}

std::string FormatJson(const std::vector<ModeResult>& results, const std::vector<StageResult>& stages) {
  nlohmann::json doc;
  doc["modes"] = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json m;
    m["mode"] = ModeName(r.mode);
    m["target"] = r.target;
    m["concurrency"] = r.concurrency;
    m["batch_size"] = r.batch_size;
    m["rate"] = r.rate;
    m["seconds"] = r.seconds;
    m["items_per_second"] = r.items_per_second();
    m["admitted"] = r.admitted;
    m["duplicates"] = r.duplicates;
    m["calls"] = r.calls;
    m["failed"] = r.errors;
    if (!r.first_error.empty()) m["first_error"] = r.first_error;
    m["latency_ms"] = {{"p50", Ms(r.latency.p50)},   {"p90", Ms(r.latency.p90)},
                       {"p99", Ms(r.latency.p99)},   {"p999", Ms(r.latency.p999)},
                       {"max", Ms(r.latency.max)},   {"mean", Ms(r.latency.mean)}};
    m["load_average"] = r.load_average;
    m["cpu_cores"] = {{"loadgen", r.loadgen_cpu}};
    for (const auto& [name, cores] : r.watched_cpu) m["cpu_cores"][name] = cores;
    doc["modes"].push_back(std::move(m));
  }
  if (auto ratio = UnaryEchoRatio(results)) doc["unary_echo_ratio"] = *ratio;
  if (!stages.empty()) {
    doc["stages"] = nlohmann::json::array();
    for (const auto& r : stages) {
      nlohmann::json st;
      st["mode"] = ModeName(r.mode);
      st["complete"] = r.complete;
      st["figures"] = nlohmann::json::object();
      for (const auto& [name, value] : r.figures) st["figures"][name] = value;
      st["latency_ms"] = nlohmann::json::object();
      for (const auto& [name, l] : r.latencies) {
        st["latency_ms"][name] = {{"count", l.count},       {"p50", Ms(l.p50)},   {"p90", Ms(l.p90)},
                                  {"p99", Ms(l.p99)},       {"p999", Ms(l.p999)}, {"max", Ms(l.max)},
                                  {"mean", Ms(l.mean)}};
      }
      st["failed"] = r.errors;
      if (!r.first_error.empty()) st["first_error"] = r.first_error;
      st["load_average"] = r.load_average;
      st["cpu_cores"] = r.cpu_cores;
      st["cpu_seconds"] = r.cpu_seconds;
      st["notes"] = r.notes;
      doc["stages"].push_back(std::move(st));
    }
  }
  return doc.dump(2) + "\n";
}

}  // namespace docket::loadgen
