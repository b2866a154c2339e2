#include "common/config/service_config.h"

#include "common/clock/clock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace docket::config {
namespace {

using ::testing::HasSubstr;

const ServiceDefaults kIntake{"intake", 7001, 9101};

std::map<std::string, std::string> MinimalEnv() {
  return {{"DOCKET_KAFKA_BROKERS", "127.0.0.1:9092"},
          {"DOCKET_REDIS_URL", "redis://127.0.0.1:6379/0"}};
}

TEST(ServiceConfigTest, EnvironmentGivesValuesAndDefaultsFillTheRest) {
  auto c = LoadServiceConfig(kIntake, MinimalEnv(), {"docket-intake"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka_brokers, "127.0.0.1:9092");
  EXPECT_EQ(c->grpc_listen, "0.0.0.0:7001");
  EXPECT_EQ(c->metrics_listen, "0.0.0.0:9101");
  EXPECT_EQ(c->consumer_group, "docket-intake");
  EXPECT_EQ(c->topic_prefix, "docket.");
  EXPECT_EQ(c->drain_timeout, std::chrono::seconds(10));
}

TEST(ServiceConfigTest, FlagsOverrideEnvironment) {
  auto c = LoadServiceConfig(kIntake, MinimalEnv(),
                             {"x", "--kafka-brokers=k:1", "--grpc-listen=127.0.0.1:0",
                              "--drain-timeout=2s"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka_brokers, "k:1");
  EXPECT_EQ(c->grpc_listen, "127.0.0.1:0");
  EXPECT_EQ(c->drain_timeout, std::chrono::seconds(2));
}

TEST(ServiceConfigTest, MissingRequiredValueIsNamed) {
  auto env = MinimalEnv();
  env.erase("DOCKET_REDIS_URL");
  auto c = LoadServiceConfig(kIntake, env, {"x"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("DOCKET_REDIS_URL is required"));
}

TEST(ServiceConfigTest, UnknownFlagAndBadValuesAreNamed) {
  auto unknown = LoadServiceConfig(kIntake, MinimalEnv(), {"x", "--kafka-brokerz=a:1"});
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown flag --kafka-brokerz"));
  auto port = LoadServiceConfig(kIntake, MinimalEnv(), {"x", "--grpc-listen=localhost"});
  EXPECT_THAT(port.status().message(), HasSubstr("DOCKET_GRPC_LISTEN"));
  auto drain = LoadServiceConfig(kIntake, MinimalEnv(), {"x", "--drain-timeout=forever"});
  EXPECT_THAT(drain.status().message(), HasSubstr("DOCKET_DRAIN_TIMEOUT"));
  auto level = LoadServiceConfig(kIntake, MinimalEnv(), {"x", "--log-level=loud"});
  EXPECT_THAT(level.status().message(), HasSubstr("DOCKET_LOG_LEVEL"));
  auto tls = LoadServiceConfig(kIntake, MinimalEnv(), {"x", "--tls-cert-file=/c.pem"});
  EXPECT_THAT(tls.status().message(), HasSubstr("DOCKET_TLS_KEY_FILE"));
}

TEST(ServiceConfigTest, RedisTlsFilesAreReadAndACertificateWithoutItsKeyIsNamed) {
  auto env = MinimalEnv();
  env["DOCKET_REDIS_URL"] = "rediss://cache.example.net:6380/0";
  env["DOCKET_REDIS_CA_FILE"] = "/etc/docket/redis/ca.crt";
  env["DOCKET_REDIS_SERVER_NAME"] = "cache.example.net";
  auto c = LoadServiceConfig(kIntake, env, {"x"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis_ca_file, "/etc/docket/redis/ca.crt");
  EXPECT_EQ(c->redis_server_name, "cache.example.net");
  env["DOCKET_REDIS_CERT_FILE"] = "/etc/docket/redis/client.crt";
  auto half = LoadServiceConfig(kIntake, env, {"x"});
  EXPECT_EQ(half.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(half.status().message(), HasSubstr("DOCKET_REDIS_CERT_FILE and DOCKET_REDIS_KEY_FILE"));
}

TEST(ServiceConfigTest, ConsumerThreadsDefaultPerServiceAndOutOfRangeIsNamed) {
  const ServiceDefaults four{"compliance", 7003, 9103, 4};
  auto def = LoadServiceConfig(four, MinimalEnv(), {"x"});
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->consumer_threads, 4);
  auto env = MinimalEnv();
  env["DOCKET_CONSUMER_THREADS"] = "2";
  auto set = LoadServiceConfig(four, env, {"x"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->consumer_threads, 2);
  for (const char* bad : {"0", "65", "two", "-1"}) {
    auto c = LoadServiceConfig(four, MinimalEnv(), {"x", std::string("--consumer-threads=") + bad});
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(c.status().message(), HasSubstr("DOCKET_CONSUMER_THREADS")) << bad;
    EXPECT_THAT(c.status().message(), HasSubstr(std::string("\"") + bad + "\"")) << bad;
  }
}

TEST(ServiceConfigTest, HelpReturnsUsageListingEveryVariable) {
  auto c = LoadServiceConfig(kIntake, {}, {"x", "--help"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  for (const auto& [key, help] : ServiceConfigKeys()) {
    EXPECT_THAT(c.status().message(), HasSubstr(key));
  }
}

TEST(ServiceConfigTest, KafkaPropertiesFileIsLoadedAndBadLinesNamed) {
  const std::string path = ::testing::TempDir() + "/kafka.properties";
  {
    std::ofstream f(path);
    f << "# comment\nsecurity.protocol = SASL_SSL\n\nsasl.password=s3cret\n";
  }
  auto env = MinimalEnv();
  env["DOCKET_KAFKA_PROPERTIES_FILE"] = path;
  auto c = LoadServiceConfig(kIntake, env, {"x"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka_properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->kafka_properties.at("sasl.password"), "s3cret");
  {
    std::ofstream f(path);
    f << "ok=1\nno equals sign here\n";
  }
  auto bad = LoadServiceConfig(kIntake, env, {"x"});
  EXPECT_THAT(bad.status().message(), HasSubstr(path + ":2: expected key=value"));
  std::remove(path.c_str());
}

TEST(ServiceConfigTest, SimClockIsParsedAndABadOneIsNamed) {
  auto env = MinimalEnv();
  env["DOCKET_SIM_CLOCK"] = "1000,5000,480";
  auto c = LoadServiceConfig(kIntake, env, {"docket-intake"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sim_clock.real_origin_ms, 1000);
  EXPECT_EQ(c->sim_clock.sim_origin_ms, 5000);
  EXPECT_EQ(c->sim_clock.scale, 480);
  env["DOCKET_SIM_CLOCK"] = "1000,5000,fast";
  auto bad = LoadServiceConfig(kIntake, env, {"docket-intake"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("DOCKET_SIM_CLOCK"));
}

TEST(ScaledClockTest, SimulatedTimeRunsScaleTimesAsFastFromItsOrigin) {
  const auto real_origin = std::chrono::system_clock::now() - std::chrono::seconds(10);
  const Clock::TimePoint sim_origin{std::chrono::hours(1000)};
  ScaledClock clock(real_origin, sim_origin, 60);
  const auto elapsed = clock.Now() - sim_origin;
  EXPECT_GE(elapsed, std::chrono::seconds(600));  // 10 real s = 10 simulated min
  EXPECT_LT(elapsed, std::chrono::seconds(660));
}

}  // namespace
}  // namespace docket::config
