#include "common/kafka/fake_event_publisher.h"

#include <gtest/gtest.h>

namespace docket::kafka {
namespace {

docket::v1::Event Submitted(const std::string& id) {
  docket::v1::Event e;
  e.set_id(id);
  e.set_subject("item-" + id);
  e.mutable_submitted()->set_channel("grpc");
  return e;
}

TEST(FakeEventPublisherTest, KeepsPublishedRecordsWithPerTopicOffsets) {
  FakeEventPublisher p;
  ASSERT_TRUE(p.Publish("work", Submitted("a")).ok());
  ASSERT_TRUE(p.Publish("work", Submitted("b")).ok());
  ASSERT_TRUE(p.Publish("audit", Submitted("c")).ok());
  ASSERT_EQ(p.records().size(), 3u);
  auto work = p.RecordsOf("work");
  ASSERT_EQ(work.size(), 2u);
  EXPECT_EQ(work[0].offset, 0);
  EXPECT_EQ(work[1].offset, 1);
  EXPECT_EQ(work[1].key, "item-b");
  EXPECT_EQ(p.RecordsOf("audit")[0].offset, 0);
  auto events = p.Events("work");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id(), "a");
  EXPECT_TRUE(p.Flush(std::chrono::milliseconds(1)).ok());
}

TEST(FakeEventPublisherTest, FailsTheNextNPublishesWithTheGivenStatus) {
  FakeEventPublisher p;
  p.FailNext(2, absl::UnavailableError("broker down"));
  EXPECT_EQ(p.Publish("work", Submitted("a")).code(), absl::StatusCode::kUnavailable);
  absl::Status async;
  p.PublishAsync(EncodeEvent("work", Submitted("b")), [&](absl::Status s) { async = s; });
  EXPECT_EQ(async.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(p.Publish("work", Submitted("c")).ok());
  EXPECT_EQ(p.attempts(), 3);
  ASSERT_EQ(p.records().size(), 1u);
  EXPECT_EQ(p.Events("work")[0].id(), "c");
  p.Clear();
  EXPECT_TRUE(p.records().empty());
}

TEST(FakeEventPublisherTest, ConnectionCheckIsOkUntilToldOtherwise) {
  FakeEventPublisher p;
  EXPECT_TRUE(p.CheckConnection(std::chrono::milliseconds(1)).ok());
  p.SetConnectionStatus(absl::UnavailableError("down"));
  EXPECT_EQ(p.CheckConnection(std::chrono::milliseconds(1)).code(),
            absl::StatusCode::kUnavailable);
}

TEST(EventPublisherTest, PublishAllAnswersEachRecordsOwnConfirmationInOrder) {
  FakeEventPublisher p;
  p.FailNext(1, absl::UnavailableError("broker down"));
  std::vector<Record> records;
  for (const char* id : {"a", "b", "c"}) records.push_back(EncodeEvent("work", Submitted(id)));
  const std::vector<absl::Status> s = p.PublishAll(std::move(records));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(s[1].ok());
  EXPECT_TRUE(s[2].ok());
  ASSERT_EQ(p.Events("work").size(), 2u);
  EXPECT_EQ(p.Events("work")[0].id(), "b");
  EXPECT_TRUE(p.PublishAll({}).empty());
}

}  // namespace
}  // namespace docket::kafka
