// The other process of kafka_itest's cross-process round trip.
//
//   kafka_roundtrip_helper produce --brokers=B --topic=T --id= --source= --subject=
//       --tenant= --traceparent= --time-seconds= --time-nanos= --queue=
//       publishes a Routed event with those attributes and exits 0 once Kafka
//       confirmed it (1 on error).
//   kafka_roundtrip_helper consume --brokers=B --topic=T --group=G --dlq=D --count=N --out=F
//       consumes N events through consumer group G (DecodingHandler), writes
//       them to F as JSON lines {"value_hex": ..., "headers": {...}, "key": ...}
//       and exits 0 (2 if N did not arrive within --timeout-ms, default 60000).

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_publisher.h"

namespace {

using docket::kafka::KafkaConfig;

std::map<std::string, std::string> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) continue;
    const auto eq = a.find('=');
    flags[a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2)] =
        eq == std::string::npos ? "" : a.substr(eq + 1);
  }
  return flags;
}

KafkaConfig Config(const std::string& brokers, bool consumer = false) {
  KafkaConfig c;
  c.brokers = brokers;
  c.client_id = "kafka-roundtrip-helper";
  if (consumer) c.extra = {{"fetch.wait.max.ms", "50"}, {"heartbeat.interval.ms", "500"}};
  return c;
}

// Every attribute comes from the command line, so the test knows what to expect.
docket::v1::Event HelperEvent(std::map<std::string, std::string>& f) {
  docket::v1::Event e;
  e.set_id(f["id"]);
  e.set_source(f["source"]);
  e.set_subject(f["subject"]);
  e.set_tenant(f["tenant"]);
  e.set_traceparent(f["traceparent"]);
  e.mutable_time()->set_seconds(std::stoll(f["time-seconds"]));
  e.mutable_time()->set_nanos(std::stoi(f["time-nanos"]));
  e.mutable_routed()->set_queue(f["queue"]);
  return e;
}

int Produce(std::map<std::string, std::string>& f) {
  auto publisher = docket::kafka::MakeKafkaPublisher(Config(f["brokers"]), nullptr);
  if (!publisher.ok()) {
    std::fprintf(stderr, "publisher: %s\n", publisher.status().ToString().c_str());
    return 1;
  }
  absl::Status s = (*publisher)->Publish(f["topic"], HelperEvent(f));
  if (!s.ok()) {
    std::fprintf(stderr, "publish: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("published %s\n", f["id"].c_str());
  return 0;
}

int Consume(std::map<std::string, std::string>& f) {
  const std::size_t want = std::stoul(f.count("count") ? f["count"] : "1");
  const auto timeout =
      std::chrono::milliseconds(std::stol(f.count("timeout-ms") ? f["timeout-ms"] : "60000"));
  auto dlq = docket::kafka::MakeKafkaPublisher(Config(f["brokers"]), nullptr);
  if (!dlq.ok()) return 1;

  std::mutex mu;
  nlohmann::json lines = nlohmann::json::array();
  docket::kafka::ConsumerOptions o;
  o.kafka = Config(f["brokers"], /*consumer=*/true);
  o.group_id = f["group"];
  o.topics = {f["topic"]};
  o.dlq_topic = f["dlq"];
  o.handler = docket::kafka::DecodingHandler(
      [&](const docket::v1::Event&, const docket::kafka::Record& r) {
        nlohmann::json line;
        line["key"] = r.key;
        line["value_hex"] = absl::BytesToHexString(r.value);
        for (const auto& h : r.headers) line["headers"][h.key] = h.value;
        std::lock_guard<std::mutex> lock(mu);
        lines.push_back(line);
        return absl::OkStatus();
      });
  auto consumer = docket::kafka::MakeKafkaConsumer(std::move(o), **dlq, nullptr);
  if (!consumer.ok()) {
    std::fprintf(stderr, "consumer: %s\n", consumer.status().ToString().c_str());
    return 1;
  }
  absl::Status run;
  std::thread t([&] { run = (*consumer)->Run(); });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool got = false;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (lines.size() >= want) {
        got = true;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling with a deadline
  }
  (*consumer)->Stop();
  t.join();
  if (!run.ok()) {
    std::fprintf(stderr, "run: %s\n", run.ToString().c_str());
    return 1;
  }
  if (!got) {
    std::fprintf(stderr, "timed out waiting for %zu events\n", want);
    return 2;
  }
  const std::string tmp = f["out"] + ".tmp";
  {
    std::ofstream out(tmp);
    for (const auto& l : lines) out << l.dump() << "\n";
  }
  std::rename(tmp.c_str(), f["out"].c_str());
  std::printf("consumed %zu\n", lines.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s produce|consume --flag=value...\n", argv[0]);
    return 64;
  }
  auto flags = ParseFlags(argc, argv);
  const std::string mode = argv[1];
  if (mode == "produce") return Produce(flags);
  if (mode == "consume") return Consume(flags);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 64;
}
