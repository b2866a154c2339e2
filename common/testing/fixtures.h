#pragma once

// Test fixtures that run the real things on free ports of 127.0.0.1:
// redis-server, docket-devkafka (librdkafka's mock cluster in its own
// process) and the Apache Kafka broker that the ctest fixture `apache_kafka`
// starts once per ctest run. Every process is torn down by the destructor;
// its log is kept under $DOCKET_BUILD_DIR/test-logs/ (printed on failure).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace docket::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Polls `ready` every 20 ms until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

// A child process in its own process group; killed (SIGTERM, then SIGKILL)
// when destroyed. stdout+stderr go to log_path.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& argv, const std::string& log_path,
      const std::vector<std::string>& extra_env = {});
  ~ChildProcess();
  int pid() const { return pid_; }
  bool Running();
  // SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code
  // (128+signal if killed by a signal).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Kill();  // SIGKILL now
  const std::string& log_path() const { return log_path_; }

 private:
  ChildProcess() = default;
  int pid_ = -1;
  std::string log_path_;
  int exit_code_ = -1;
};

// Path of a built binary, e.g. Binary("docket-devkafka").
std::string Binary(const std::string& name);
// A fresh log file path under $DOCKET_BUILD_DIR/test-logs/ named after the
// running gtest case.
std::string LogPath(const std::string& what);
// A name unique to this test run, for topics and consumer groups.
std::string UniqueName(const std::string& prefix);

class RedisServer {
 public:
  // With `tls`, a second port speaks TLS only (redis-server's --tls-port),
  // next to the plaintext one.
  struct Tls {
    std::string cert_file, key_file, ca_file;
    bool require_client_cert = false;  // tls-auth-clients yes
  };
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(std::optional<Tls> tls = std::nullopt);
  ~RedisServer();
  int port() const { return port_; }
  int tls_port() const { return tls_port_; }
  std::string url() const;  // redis://127.0.0.1:<port>/0
  absl::Status Stop();      // kill the server (data kept in memory is lost)
  absl::Status Restart();   // start again on the same port
  const std::string& log_path() const { return log_path_; }

 private:
  RedisServer() = default;
  absl::Status Launch();
  int port_ = 0;
  int tls_port_ = 0;
  std::optional<Tls> tls_;
  std::string log_path_;
  std::unique_ptr<ChildProcess> process_;
};

// docket-devkafka in its own process, with its fault controls.
class DevKafka {
 public:
  static absl::StatusOr<std::unique_ptr<DevKafka>> Start(int brokers = 3, int partitions = 4,
                                                         const std::string& topic_prefix = "docket.");
  ~DevKafka();
  const std::string& bootstrap() const { return bootstrap_; }
  absl::Status BrokerDown(int broker_id);
  absl::Status BrokerUp(int broker_id);
  absl::Status SetRtt(int broker_id, std::chrono::milliseconds rtt);
  // Makes the next `count` requests of Kafka API `api_key` fail with Kafka error `error_code`.
  absl::Status PushRequestErrors(int api_key, int error_code, int count);
  absl::Status CreateTopic(const std::string& topic, int partitions);
  // SIGTERM; OK only if docket-devkafka exited 0.
  absl::Status Stop();

  // 127.0.0.1:<port> of the control socket.
  const std::string& control_address() const { return control_address_; }
  const std::string& log_path() const { return log_path_; }
  // Sends one line of the control protocol and returns the answer line
  // ("ok" or "error <reason>", without the newline). UNAVAILABLE if the
  // control socket does not answer.
  absl::StatusOr<std::string> ControlRaw(const std::string& line);

 private:
  DevKafka() = default;
  // ControlRaw, with "error <reason>" as FAILED_PRECONDITION(reason).
  absl::Status Control(const std::string& line);
  std::string bootstrap_;
  std::string log_path_;
  std::string env_file_;
  std::string control_address_;  // 127.0.0.1:port of the line-protocol control socket
  std::unique_ptr<ChildProcess> process_;
};

// The Apache Kafka broker of this ctest run (fixture `apache_kafka`):
// bootstrap servers from $DOCKET_TEST_KAFKA_BROKERS or the file the fixture
// wrote. FAILED_PRECONDITION if the fixture is not running.
absl::StatusOr<std::string> ApacheKafkaBootstrap();

// Creates topics with the Kafka admin API and waits until they are usable
// (every partition has a leader). Topics that already exist are fine.
// Needs a real broker: librdkafka 2.0's mock cluster (docket-devkafka) does
// not implement CreateTopics; use DevKafka::CreateTopic there.
absl::Status CreateTopics(const std::string& bootstrap, const std::vector<std::string>& topics,
                          int partitions);

// The Kafka of a service integration test: a docket-devkafka of its own, or
// (apache) the Apache broker of the ctest run, shared with other tests, on
// which the test gets topics and a consumer group of its own under a unique
// prefix. `env` holds what the service needs to use them.
struct ItestKafka {
  std::string bootstrap;
  std::string prefix;             // "docket." (devkafka) or "<name>-<unique>."
  std::vector<std::string> env;   // DOCKET_TOPIC_PREFIX, DOCKET_CONSUMER_GROUP (apache only)
  std::unique_ptr<DevKafka> dev;  // devkafka only
};
// `families` are topic names without the prefix, e.g. "work.v1", created
// with `partitions` on Apache (devkafka creates topics on first use, with
// its default partitions = `partitions`, on `dev_brokers` brokers).
absl::StatusOr<ItestKafka> StartItestKafka(bool apache, const std::string& name,
                                           const std::vector<std::string>& families,
                                           int dev_brokers = 1, int partitions = 4);

// The build directory: $DOCKET_BUILD_DIR, else the nearest parent of the
// running executable that holds a CMakeCache.txt.
std::string BuildDir();

}  // namespace docket::testing
