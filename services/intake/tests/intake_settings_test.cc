#include "services/intake/src/intake_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace docket::intake {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(IntakeSettingsTest, EmptyFileGivesProductionDefaults) {
  auto s = ParseIntakeSettings("", "intake.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->idempotency.ttl, 24h);
  EXPECT_EQ(s->service.max_batch, 1000u);
  EXPECT_EQ(s->admission.max_in_flight, 20000u);
  EXPECT_TRUE(s->rate_limits.empty());
}

TEST(IntakeSettingsTest, EveryFieldIsRead) {
  auto s = ParseIntakeSettings(R"(idempotency: {ttl: 2h, lease: 5s}
admission: {max_in_flight: 100, max_batch: 50, stream_window: 16, submit_admitters: 2}
rate_limits:
  "*": {per_second: 10}
  acme: {per_second: 100, burst: 300}
)",
                               "intake.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->idempotency.ttl, 2h);
  EXPECT_EQ(s->idempotency.lease, 5s);
  EXPECT_EQ(s->admission.max_in_flight, 100u);
  EXPECT_EQ(s->service.max_batch, 50u);
  EXPECT_EQ(s->service.stream_window, 16u);
  EXPECT_EQ(s->service.submit.threads, 2);
  ASSERT_EQ(s->rate_limits.size(), 2u);
  EXPECT_EQ(s->rate_limits.at("*").burst, 10);  // burst defaults to one second's worth
  EXPECT_EQ(s->rate_limits.at("acme").per_second, 100);
  EXPECT_EQ(s->rate_limits.at("acme").burst, 300);
}

TEST(IntakeSettingsTest, TypoInAFieldIsRefusedNamingFileLineAndField) {
  auto s = ParseIntakeSettings("admission:\n  max_batchh: 10\n", "intake.yaml");
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("intake.yaml:2"));
  EXPECT_THAT(s.status().message(), HasSubstr("max_batchh"));
}

TEST(IntakeSettingsTest, NonPositiveLimitsAreRefusedNamingTheField) {
  auto zero_rate = ParseIntakeSettings("rate_limits:\n  acme: {per_second: 0}\n", "intake.yaml");
  EXPECT_THAT(zero_rate.status().message(), HasSubstr("rate_limits.acme.per_second"));
  auto zero_batch = ParseIntakeSettings("admission: {max_batch: 0}\n", "intake.yaml");
  EXPECT_THAT(zero_batch.status().message(), HasSubstr("admission.max_batch"));
  auto many = ParseIntakeSettings("admission: {submit_admitters: 65}\n", "intake.yaml");
  EXPECT_THAT(many.status().message(), HasSubstr("admission.submit_admitters"));
  EXPECT_THAT(many.status().message(), HasSubstr("at most 64"));
  auto bad_ttl = ParseIntakeSettings("idempotency: {ttl: soon}\n", "intake.yaml");
  EXPECT_THAT(bad_ttl.status().message(), HasSubstr("idempotency.ttl"));
}

TEST(IntakeSettingsTest, ShippedIntakeYamlLoads) {
  const char* src = std::getenv("DOCKET_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "ctest sets DOCKET_SOURCE_DIR";
  auto s = LoadIntakeSettings(std::string(src) + "/deploy/config/intake.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->rate_limits.contains("acme"));
}

}  // namespace
}  // namespace docket::intake
