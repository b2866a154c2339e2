#pragma once

#include <map>
#include <string>

namespace docket::kafka {

// Docket's topic names, all under one configurable prefix ("docket." by default).
struct Topics {
  explicit Topics(std::string prefix = "docket.") : prefix_(std::move(prefix)) {}
  std::string intake() const { return prefix_ + "intake.v1"; }
  std::string work() const { return prefix_ + "work.v1"; }
  std::string compliance() const { return prefix_ + "compliance.v1"; }
  std::string audit() const { return prefix_ + "audit.v1"; }
  std::string dlq() const { return prefix_ + "dlq.v1"; }
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
};

struct KafkaConfig {
  // Comma-separated bootstrap servers, e.g. "127.0.0.1:9092".
  std::string brokers;
  // client.id, also the metrics label "client".
  std::string client_id = "docket";
  // How long Publish() waits for the broker's ack before UNAVAILABLE/DEADLINE_EXCEEDED.
  int delivery_timeout_ms = 30000;
  // How long the producer waits to batch records (linger.ms). 5 is the
  // default (intake, whose callers wait for the acks); each service sets its
  // own: processing 20 (its events wait in the outbox, nobody waits for the
  // acks), compliance 2 (each batch waits twice, for bursts of records).
  // docs/performance.md, fourteenth round.
  int linger_ms = 5;
  // Extra librdkafka properties, applied last (e.g. security.protocol, ssl.*, sasl.*).
  // Values are never logged.
  std::map<std::string, std::string> extra;
};

}  // namespace docket::kafka
