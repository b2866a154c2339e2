// Proves the ctest fixture `apache_kafka`: a real Apache Kafka broker that a
// plain librdkafka client can create topics on, produce to and consume from.

#include <gtest/gtest.h>

#include "common/testing/fixtures.h"
#include "common/testing/kafka_probe.h"

namespace docket::testing {
namespace {

TEST(ApacheKafkaFixtureTest, BootstrapNamesARunningSingleBroker) {
  auto bootstrap = ApacheKafkaBootstrap();
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  auto cluster = DescribeCluster(*bootstrap);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->broker_ids, std::vector<int32_t>{1});
}

TEST(ApacheKafkaFixtureTest, CreatedTopicRoundTripsOneRecordThroughTheBroker) {
  auto bootstrap = ApacheKafkaBootstrap();
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  const std::string topic = UniqueName("apache-roundtrip");
  ASSERT_TRUE(CreateTopics(*bootstrap, {topic}, 3).ok());

  auto cluster = DescribeCluster(*bootstrap);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->topics[topic].size(), 3u);

  auto produced = ProduceOne(*bootstrap, topic, "item-1", "hello kafka",
                             /*partition=*/-1, {{"acks", "all"}, {"enable.idempotence", "true"}});
  ASSERT_TRUE(produced.ok()) << produced.status();
  auto records = ConsumeFromBeginning(*bootstrap, topic, 1);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].key, "item-1");
  EXPECT_EQ((*records)[0].value, "hello kafka");
  EXPECT_EQ((*records)[0].partition, produced->partition);
  EXPECT_EQ((*records)[0].offset, produced->offset);
}

TEST(ApacheKafkaFixtureTest, CreateTopicsOfAnExistingTopicSucceeds) {
  auto bootstrap = ApacheKafkaBootstrap();
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  const std::string topic = UniqueName("apache-twice");
  ASSERT_TRUE(CreateTopics(*bootstrap, {topic}, 2).ok());
  EXPECT_TRUE(CreateTopics(*bootstrap, {topic}, 2).ok());
}

}  // namespace
}  // namespace docket::testing
