#include "tools/devkafka/src/options.h"

#include <gtest/gtest.h>

namespace docket::devkafka {
namespace {

TEST(OptionsTest, DefaultsAreThreeBrokersFourPartitionsDocketPrefixFreeControlPort) {
  auto options = ParseOptions({});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->brokers, 3);
  EXPECT_EQ(options->partitions, 4);
  EXPECT_EQ(options->topic_prefix, "docket.");
  EXPECT_EQ(options->control_port, 0);
  EXPECT_TRUE(options->env_file.empty());
  EXPECT_TRUE(options->extra_topics.empty());
}

TEST(OptionsTest, DefaultTopicsAreDocketsFiveTopicsWithThePrefix) {
  EXPECT_EQ(DefaultTopics("x."),
            (std::vector<std::string>{"x.intake.v1", "x.work.v1", "x.compliance.v1", "x.audit.v1",
                                      "x.dlq.v1"}));
}

TEST(OptionsTest, ParsesEveryFlagInBothSpellings) {
  auto options = ParseOptions({"--brokers=1", "--partitions", "2", "--topic-prefix=t.",
                               "--topic=a:3", "--topic", "b:1,c:7", "--control-port=4567",
                               "--env-file=/tmp/x.env"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->brokers, 1);
  EXPECT_EQ(options->partitions, 2);
  EXPECT_EQ(options->topic_prefix, "t.");
  ASSERT_EQ(options->extra_topics.size(), 3u);
  EXPECT_EQ(options->extra_topics[0].name, "a");
  EXPECT_EQ(options->extra_topics[0].partitions, 3);
  EXPECT_EQ(options->extra_topics[2].name, "c");
  EXPECT_EQ(options->extra_topics[2].partitions, 7);
  EXPECT_EQ(options->control_port, 4567);
  EXPECT_EQ(options->env_file, "/tmp/x.env");
}

TEST(OptionsTest, RejectsBadValuesNamingTheFlag) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--brokers=0"}, {"--brokers=x"}, {"--partitions=-1"},
        {"--control-port=70000"}, {"--topic=noPartitions"}, {"--topic=bad name:2"},
        {"--topic=a:0"}, {"--topic-prefix=a b."}, {"--nope=1"}, {"stray"}, {"--brokers"},
        {"--env-file="}}) {
    auto options = ParseOptions(args);
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << args[0];
  }
  EXPECT_NE(ParseOptions({"--brokers=0"}).status().message().find("--brokers"),
            std::string::npos);
}

TEST(OptionsTest, TopicNamesFollowKafkasRule) {
  EXPECT_TRUE(IsValidTopicName("docket.work.v1"));
  EXPECT_TRUE(IsValidTopicName("a-b_C.9"));
  EXPECT_FALSE(IsValidTopicName(""));
  EXPECT_FALSE(IsValidTopicName("."));
  EXPECT_FALSE(IsValidTopicName(".."));
  EXPECT_FALSE(IsValidTopicName("a/b"));
  EXPECT_FALSE(IsValidTopicName(std::string(250, 'a')));
}

}  // namespace
}  // namespace docket::devkafka
