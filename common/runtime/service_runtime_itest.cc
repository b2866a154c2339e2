// ServiceRuntime::Create against real dependencies and one that is not:
// a Redis that is too old must stop start-up with an error naming its
// version, not fail every submission later with a syntax error.

#include "common/runtime/service_runtime.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fixtures.h"
#include "common/testing/test_pki.h"

namespace docket::runtime {
namespace {

using ::testing::HasSubstr;

// Speaks just enough RESP for the client's start-up: PING -> PONG, INFO ->
// `info`, anything else OK. A thread per connection, all joined on destruction.
class ScriptedRedis {
 public:
  explicit ScriptedRedis(std::string info) : info_(std::move(info)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listener_, 16);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedRedis() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    for (std::thread& t : talkers_) t.join();
    for (int fd : fds_) close(fd);
  }
  std::string url() const { return absl::StrCat("redis://127.0.0.1:", port_, "/0"); }

 private:
  void Serve() {
    while (!stop_) {
      const int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      fds_.push_back(fd);  // only this thread adds; the destructor reads after joining it
      talkers_.emplace_back([this, fd] { Talk(fd); });
    }
  }
  void Talk(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
      std::vector<std::string> args;
      while (Parse(in, args)) {
        const std::string cmd = args.empty() ? "" : absl::AsciiStrToUpper(args[0]);
        const std::string reply = cmd == "PING"   ? "+PONG\r\n"
                                  : cmd == "INFO" ? absl::StrCat("$", info_.size(), "\r\n", info_, "\r\n")
                                                  : "+OK\r\n";
        if (write(fd, reply.data(), reply.size()) < 0) break;
      }
    }
  }
  // One command ("*N\r\n$len\r\narg\r\n"...) off the front of `in`, if whole.
  static bool Parse(std::string& in, std::vector<std::string>& args) {
    args.clear();
    std::size_t pos = 0;
    auto line = [&](std::string& out) {
      const std::size_t end = in.find("\r\n", pos);
      if (end == std::string::npos) return false;
      out = in.substr(pos, end - pos);
      pos = end + 2;
      return true;
    };
    std::string head;
    int count = 0;
    if (!line(head) || head.empty() || head[0] != '*' || !absl::SimpleAtoi(head.substr(1), &count)) return false;
    for (int i = 0; i < count; ++i) {
      std::string size_line;
      int size = 0;
      if (!line(size_line) || size_line.empty() || !absl::SimpleAtoi(size_line.substr(1), &size)) return false;
      if (in.size() < pos + static_cast<std::size_t>(size) + 2) return false;
      args.push_back(in.substr(pos, static_cast<std::size_t>(size)));
      pos += static_cast<std::size_t>(size) + 2;
    }
    in.erase(0, pos);
    return true;
  }

  std::string info_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> fds_;  // closed with the object, after their threads end
  std::vector<std::thread> talkers_;
};

config::ServiceConfig Config(const std::string& brokers, const std::string& redis_url,
                             std::map<std::string, std::string> more = {}) {
  more.insert({{"DOCKET_KAFKA_BROKERS", brokers},
               {"DOCKET_REDIS_URL", redis_url},
               {"DOCKET_GRPC_LISTEN", "127.0.0.1:0"},
               {"DOCKET_METRICS_LISTEN", "127.0.0.1:0"}});
  auto c = config::LoadServiceConfig(config::ServiceDefaults{"intake", 0, 0}, more, {"docket-intake"});
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

class ServiceRuntimeItest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto kafka = testing::DevKafka::Start(1, 1);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = kafka->release();
  }
  static void TearDownTestSuite() { delete kafka_; }
  static testing::DevKafka* kafka_;
};
testing::DevKafka* ServiceRuntimeItest::kafka_ = nullptr;

TEST_F(ServiceRuntimeItest, ARedisOlderThanSevenStopsStartUpNamingItsVersion) {
  ScriptedRedis old("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n");
  auto rt = ServiceRuntime::Create(Config(kafka_->bootstrap(), old.url()), std::chrono::seconds(10));
  ASSERT_FALSE(rt.ok());
  EXPECT_EQ(rt.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(rt.status().message(), HasSubstr("Redis 6.2.14 is too old"));
  EXPECT_THAT(rt.status().message(), HasSubstr(old.url()));
}

TEST_F(ServiceRuntimeItest, ARealRedisSevenAndAServerHidingItsVersionStartUp) {
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto rt = ServiceRuntime::Create(Config(kafka_->bootstrap(), (*redis)->url()), std::chrono::seconds(10));
  EXPECT_TRUE(rt.ok()) << rt.status();

  ScriptedRedis quiet("# Server\r\nredis_mode:standalone\r\n");
  auto rt2 = ServiceRuntime::Create(Config(kafka_->bootstrap(), quiet.url()), std::chrono::seconds(10));
  EXPECT_TRUE(rt2.ok()) << "a version it cannot see gets a warning, not a refusal: " << rt2.status();
}

// A managed Redis that speaks TLS only: rediss:// and the CA (and, for
// tls-auth-clients, the client certificate) from the environment.
TEST_F(ServiceRuntimeItest, AServiceStartsAgainstARedisThatSpeaksOnlyMutualTls) {
  auto pki = testing::TestPki::Create();
  ASSERT_TRUE(pki.ok()) << pki.status();
  auto redis = testing::RedisServer::Start(testing::RedisServer::Tls{
      (*pki)->File("server.crt"), (*pki)->File("server.key"), (*pki)->File("ca.crt"), true});
  ASSERT_TRUE(redis.ok()) << redis.status();
  const std::string url = absl::StrCat("rediss://127.0.0.1:", (*redis)->tls_port(), "/0");
  auto rt = ServiceRuntime::Create(Config(kafka_->bootstrap(), url,
                                          {{"DOCKET_REDIS_CA_FILE", (*pki)->File("ca.crt")},
                                           {"DOCKET_REDIS_CERT_FILE", (*pki)->File("client.crt")},
                                           {"DOCKET_REDIS_KEY_FILE", (*pki)->File("client.key")}}),
                                   std::chrono::seconds(10));
  ASSERT_TRUE(rt.ok()) << rt.status();
  auto pong = (*rt)->redis().Command({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->str, "PONG");

  auto plain = ServiceRuntime::Create(
      Config(kafka_->bootstrap(), absl::StrCat("redis://127.0.0.1:", (*redis)->port(), "/0"),
             {{"DOCKET_REDIS_CA_FILE", (*pki)->File("ca.crt")}}),
      std::chrono::seconds(10));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plain.status().message(), HasSubstr("use rediss://"));
}

}  // namespace
}  // namespace docket::runtime
