#include "services/processing/src/event_ids.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace docket::processing {
namespace {

TEST(DerivedEventIdTest, IsTheTruncatedSha256OfIdSeparatorTransition) {
  // printf 'evt-1\x1fRouted' | sha256sum | cut -c1-32
  EXPECT_EQ(DerivedEventId("evt-1", "Routed"), "f581871dfd4fcd91e30a5c6cf10b6f95");
  EXPECT_EQ(DerivedEventId("evt-1", "Claimed"), "60e96f71bb0792b2f0a3e1f6d77fc617");
  // printf '\x1f' | sha256sum | cut -c1-32
  EXPECT_EQ(DerivedEventId("", ""), "ffe679bb831c95b67dc17819c63c5090");
}

TEST(DerivedEventIdTest, IsStableAcrossCalls) {
  const std::string first = DerivedEventId("0190f3a2-7b1c-7d2e-9f00-123456789abc", "Completed");
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(DerivedEventId("0190f3a2-7b1c-7d2e-9f00-123456789abc", "Completed"), first);
  }
}

TEST(DerivedEventIdTest, Is32LowercaseHexDigits) {
  const std::string id = DerivedEventId("input", "Routed");
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
}

TEST(DerivedEventIdTest, DiffersByInputAndByTransition) {
  EXPECT_NE(DerivedEventId("evt-1", "Routed"), DerivedEventId("evt-2", "Routed"));
  EXPECT_NE(DerivedEventId("evt-1", "Routed"), DerivedEventId("evt-1", "AutoCompleted"));
}

TEST(DerivedEventIdTest, SeparatorKeepsConcatenationsApart) {
  EXPECT_NE(DerivedEventId("ab", "c"), DerivedEventId("a", "bc"));
  EXPECT_NE(DerivedEventId("evt-1R", "outed"), DerivedEventId("evt-1", "Routed"));
}

TEST(DerivedEventIdTest, ManyInputsGiveDistinctIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) {
    ids.insert(DerivedEventId("evt-" + std::to_string(i), "Routed"));
    ids.insert(DerivedEventId("evt-" + std::to_string(i), "Claimed"));
  }
  EXPECT_EQ(ids.size(), 20000u);
}

}  // namespace
}  // namespace docket::processing
