#include "tools/devkafka/src/control_command.h"

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace docket::devkafka {
namespace {

constexpr int kBrokers = 3;

TEST(ControlCommandTest, ParsesEveryCommand) {
  EXPECT_TRUE(std::holds_alternative<Ping>(*ParseCommand("ping", kBrokers)));

  auto down = ParseCommand("broker-down 2", kBrokers);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(std::get<BrokerDown>(*down).broker_id, 2);

  auto up = ParseCommand("  broker-up\t3 \r", kBrokers);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(std::get<BrokerUp>(*up).broker_id, 3);

  auto rtt = ParseCommand("rtt 1 250", kBrokers);
  ASSERT_TRUE(rtt.ok()) << rtt.status();
  EXPECT_EQ(std::get<SetRtt>(*rtt).broker_id, 1);
  EXPECT_EQ(std::get<SetRtt>(*rtt).rtt_ms, 250);

  auto errors = ParseCommand("request-errors 0 29 5", kBrokers);
  ASSERT_TRUE(errors.ok()) << errors.status();
  EXPECT_EQ(std::get<PushRequestErrors>(*errors).api_key, 0);
  EXPECT_EQ(std::get<PushRequestErrors>(*errors).error_code, 29);
  EXPECT_EQ(std::get<PushRequestErrors>(*errors).count, 5);

  auto topic = ParseCommand("create-topic docket.extra.v1 6", kBrokers);
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_EQ(std::get<CreateTopic>(*topic).name, "docket.extra.v1");
  EXPECT_EQ(std::get<CreateTopic>(*topic).partitions, 6);
}

TEST(ControlCommandTest, AllAndMinusOneMeanEveryBroker) {
  EXPECT_EQ(std::get<BrokerDown>(*ParseCommand("broker-down all", kBrokers)).broker_id,
            kAllBrokers);
  EXPECT_EQ(std::get<SetRtt>(*ParseCommand("rtt -1 5", kBrokers)).broker_id, kAllBrokers);
}

TEST(ControlCommandTest, BadInputIsInvalidArgumentWithAReason) {
  for (const char* line :
       {"", "   ", "nope", "ping extra", "broker-down", "broker-down 0", "broker-down 4",
        "broker-down x", "broker-up 1 2", "rtt 1", "rtt 1 -5", "rtt 1 99999999",
        "request-errors 0 29", "request-errors -1 29 1", "request-errors 0 40000 1",
        "request-errors 0 29 0", "create-topic a/b 1", "create-topic t 0", "create-topic t x",
        "\x01\xff binary"}) {
    auto command = ParseCommand(line, kBrokers);
    ASSERT_FALSE(command.ok()) << "'" << line << "'";
    EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument) << line;
    EXPECT_FALSE(command.status().message().empty()) << line;
  }
}

TEST(ControlCommandTest, AnswerLineIsOkOrOneErrorLine) {
  EXPECT_EQ(AnswerLine(absl::OkStatus()), "ok");
  EXPECT_EQ(AnswerLine(absl::InvalidArgumentError("bad\nthing")), "error bad thing");
  EXPECT_EQ(AnswerLine(absl::Status(absl::StatusCode::kInternal, "")), "error INTERNAL");
}

TEST(ControlCommandTest, UnknownCommandAnswerNamesItPrintably) {
  auto answer = AnswerLine(ParseCommand("\x01zap", kBrokers).status());
  EXPECT_EQ(answer.rfind("error unknown command '\\x01zap'", 0), 0u) << answer;
}

}  // namespace
}  // namespace docket::devkafka
