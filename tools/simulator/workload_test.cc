#include "tools/simulator/workload.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "google/protobuf/util/message_differencer.h"

namespace docket::sim {
namespace {

catalog::Catalog ShippedCatalog() {
  const char* src = std::getenv("DOCKET_SOURCE_DIR");
  auto c = catalog::Catalog::Load(std::string(src ? src : ".") + "/deploy/config/catalog.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

TEST(ArrivalCurveTest, QuantilesAreMonotoneAndPeakInTheMorningAndAfternoon) {
  double prev = 0;
  for (int i = 0; i <= 100; ++i) {
    const double t = ArrivalCurveQuantile(i / 100.0);
    EXPECT_GE(t, prev);
    prev = t;
  }
  EXPECT_DOUBLE_EQ(ArrivalCurveQuantile(0), 0);
  EXPECT_NEAR(ArrivalCurveQuantile(1), 1, 1e-9);
  // More arrivals per unit of time at the morning peak (0.25) than at dawn.
  const double at_dawn = ArrivalCurveQuantile(0.1) - ArrivalCurveQuantile(0.0);
  const double at_peak = ArrivalCurveQuantile(0.35) - ArrivalCurveQuantile(0.25);
  EXPECT_LT(at_peak, at_dawn) << "the same share of items should take less time at a peak";
}

TEST(PlanDayTest, ItemsFollowTheKindMixInArrivalOrderWithAFewInvalid) {
  const auto catalog = ShippedCatalog();
  WorkloadOptions o;
  o.items = 2000;
  o.denied_vendors = {"V-SANCTIONED-001"};
  const auto plan = PlanDay(catalog, o);
  ASSERT_EQ(plan.size(), 2000u);
  std::map<std::string, int> kinds;
  int invalid = 0, denied = 0;
  double prev = 0;
  for (const auto& p : plan) {
    EXPECT_GE(p.arrival, prev);
    prev = p.arrival;
    ++kinds[p.submission.kind()];
    invalid += p.invalid;
    auto it = p.submission.attributes().find("vendor_id");
    if (it != p.submission.attributes().end() && it->second.string_value() == "V-SANCTIONED-001") ++denied;
    EXPECT_TRUE(catalog.FindKind(p.submission.kind()));
  }
  EXPECT_GT(kinds["data_entry"], kinds["kyc_review"] * 3);
  EXPECT_GT(invalid, 20);
  EXPECT_LT(invalid, 120);
  EXPECT_GT(denied, 0);
}

TEST(PlanDayTest, ABulkUploadOfTheSurgeKindArrivesAtOnceWithinTheDaysItems) {
  const auto catalog = ShippedCatalog();
  WorkloadOptions o;
  o.items = 400;
  o.surge_items = 20;
  o.surge_at = 0.3;
  const auto plan = PlanDay(catalog, o);
  ASSERT_EQ(plan.size(), 400u) << "the upload is part of --items, not on top";
  int at_surge = 0;
  for (const auto& p : plan) {
    if (p.arrival == 0.3) {
      ++at_surge;
      EXPECT_EQ(p.submission.kind(), "shipping_documents");
    }
  }
  EXPECT_EQ(at_surge, 20);

  o.items = 45;
  at_surge = 0;
  for (const auto& p : PlanDay(catalog, o)) at_surge += p.arrival == 0.3;
  EXPECT_EQ(at_surge, 15) << "at most a third of the day";

  o.items = 400;
  o.surge_items = 0;
  for (const auto& p : PlanDay(catalog, o)) EXPECT_NE(p.arrival, 0.3) << "no upload asked for";
}

TEST(PlanDayTest, SameSeedSameDay) {
  const auto catalog = ShippedCatalog();
  WorkloadOptions o;
  o.items = 50;
  const auto a = PlanDay(catalog, o), b = PlanDay(catalog, o);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a[i].submission, b[i].submission)) << i;
  }
}

}  // namespace
}  // namespace docket::sim
