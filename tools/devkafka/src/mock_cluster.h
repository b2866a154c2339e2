#pragma once

// librdkafka's mock Kafka cluster (real Kafka protocol over TCP on
// 127.0.0.1, in memory) and its fault controls. The only file of devkafka
// that sees librdkafka.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/devkafka/src/control_command.h"

namespace docket::devkafka {

class MockCluster {
 public:
  // Starts `brokers` brokers with ids 1..brokers, each on its own ephemeral
  // port of 127.0.0.1. INTERNAL if librdkafka refuses.
  static absl::StatusOr<std::unique_ptr<MockCluster>> Create(int brokers);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:p1,127.0.0.1:p2,..."
  const std::string& bootstrap() const { return bootstrap_; }
  int broker_count() const { return broker_count_; }

  // Replication factor min(3, brokers). ALREADY_EXISTS if the topic exists.
  absl::Status CreateTopic(const std::string& name, int partitions);

  // Runs one control command. Thread-safe (the mock serialises its
  // commands on its own thread). Errors are FAILED_PRECONDITION or
  // ALREADY_EXISTS with librdkafka's reason.
  absl::Status Apply(const Command& command);

 private:
  struct Handles;
  explicit MockCluster(std::unique_ptr<Handles> handles, int broker_count);
  std::unique_ptr<Handles> handles_;
  int broker_count_ = 0;
  std::string bootstrap_;
};

}  // namespace docket::devkafka
