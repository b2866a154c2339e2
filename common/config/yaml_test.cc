#include "common/config/yaml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::config {
namespace {

using ::testing::HasSubstr;

constexpr char kCatalog[] = R"(kinds:
  - name: invoice_approval
    sla: 4h
    priority: high
  - name: expense_review
    sla: soon
queues:
  finance:
    skills: [ap, ar]
)";

TEST(YamlTest, ErrorNamesFileLineAndFieldPath) {
  auto root = ParseYaml(kCatalog, "catalog.yaml");
  ASSERT_TRUE(root.ok()) << root.status();
  auto kinds = root->Child("kinds").Items();
  ASSERT_TRUE(kinds.ok());
  ASSERT_EQ(kinds->size(), 2u);
  auto ok = (*kinds)[0].Duration("sla");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, std::chrono::hours(4));
  auto bad = (*kinds)[1].Duration("sla");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("catalog.yaml:6: kinds[1].sla"));
  EXPECT_THAT(bad.status().message(), HasSubstr("\"soon\""));
}

TEST(YamlTest, MissingRequiredFieldIsNamedWithParentLine) {
  auto root = ParseYaml(kCatalog, "catalog.yaml");
  ASSERT_TRUE(root.ok());
  auto kinds = root->Child("kinds").Items();
  ASSERT_TRUE(kinds.ok());
  auto queue = (*kinds)[0].String("queue");
  ASSERT_FALSE(queue.ok());
  EXPECT_THAT(queue.status().message(), HasSubstr("catalog.yaml:2: kinds[0].queue: is required"));
}

TEST(YamlTest, CheckKeysRejectsUnknownFieldByName) {
  auto root = ParseYaml("name: x\nslaa: 4h\n", "k.yaml");
  ASSERT_TRUE(root.ok());
  absl::Status s = root->CheckKeys({"name", "sla"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("k.yaml:2: slaa: unknown field"));
}

TEST(YamlTest, SyntaxErrorNamesFileAndLine) {
  auto root = ParseYaml("a: [1, 2\nb: 3\n", "broken.yaml");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(root.status().message(), HasSubstr("broken.yaml:"));
  EXPECT_THAT(root.status().message(), HasSubstr("invalid YAML"));
}

TEST(YamlTest, TypedScalarsRejectWrongTypes) {
  auto root = ParseYaml("n: 12\nx: 1.5\nb: yes\ns: [1]\nbad: 12abc\n", "t.yaml");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root->Int("n"), 12);
  EXPECT_DOUBLE_EQ(*root->Double("x", 0), 1.5);
  EXPECT_TRUE(*root->Bool("b", false));
  EXPECT_FALSE(root->String("s").ok());
  EXPECT_FALSE(root->Int("bad").ok());
  EXPECT_EQ(*root->Int("absent", 7), 7);
}

TEST(YamlTest, MissingFileIsNotFoundNamingPath) {
  auto root = LoadYamlFile("/nonexistent/catalog.yaml");
  EXPECT_EQ(root.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(root.status().message(), HasSubstr("/nonexistent/catalog.yaml"));
}

TEST(YamlTest, ParseDurationAcceptsCombinedUnitsAndRejectsJunk) {
  EXPECT_EQ(*ParseDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("2d"), std::chrono::hours(48));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("5w").ok());
  EXPECT_FALSE(ParseDuration("h").ok());
}

}  // namespace
}  // namespace docket::config
