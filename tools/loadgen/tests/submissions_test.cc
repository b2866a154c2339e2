// The submissions each mode sends: the catalog's kind, queue and the
// attributes that decide automation and the compliance verdict.

#include "tools/loadgen/src/submissions.h"

#include <gtest/gtest.h>

namespace docket::loadgen {
namespace {

docket::v1::SubmitRequest Next(SubmissionFactory& f) {
  docket::v1::SubmitRequest r;
  f.Fill(&r);
  return r;
}

TEST(SubmissionsTest, DataEntryIsNotAutomatableAndTheAutomatedProfileIs) {
  SubmissionFactory manual("acme", SubmissionProfile::kDataEntry);
  SubmissionFactory automated("acme", SubmissionProfile::kDataEntryAutomated);
  const auto m = Next(manual).submission();
  const auto a = Next(automated).submission();
  EXPECT_EQ(m.kind(), "data_entry");
  // Rule high-confidence-ocr: receipt, pages == 1, ocr_confidence >= 0.98.
  EXPECT_FALSE(m.attributes().contains("ocr_confidence"));
  EXPECT_EQ(a.attributes().at("document_type").enum_value(), "receipt");
  EXPECT_EQ(a.attributes().at("pages").number_value(), 1);
  EXPECT_GE(a.attributes().at("ocr_confidence").number_value(), 0.98);
  EXPECT_STREQ(QueueOf(SubmissionProfile::kDataEntry), "data-entry");
}

TEST(SubmissionsTest, ShippingDocumentsGoToAnUnrestrictedDestination) {
  SubmissionFactory f("acme", SubmissionProfile::kShippingDocuments);
  const auto s = Next(f).submission();
  EXPECT_EQ(s.kind(), "shipping_documents");
  EXPECT_STREQ(QueueOf(SubmissionProfile::kShippingDocuments), "logistics-docs");
  EXPECT_EQ(s.attributes().at("destination_country").string_value(), "DE");
  for (const char* required : {"shipment_id", "carrier", "declared_value", "hazardous"}) {
    EXPECT_TRUE(s.attributes().contains(required)) << required;
  }
}

TEST(SubmissionsTest, IdempotencyKeysAreUniquePerFactoryAndAcrossFactories) {
  SubmissionFactory a("acme", SubmissionProfile::kDataEntry);
  SubmissionFactory b("acme", SubmissionProfile::kDataEntry);
  const auto a0 = Next(a), a1 = Next(a), b0 = Next(b);
  EXPECT_NE(a0.submission().idempotency_key(), a1.submission().idempotency_key());
  EXPECT_NE(a0.submission().idempotency_key(), b0.submission().idempotency_key());
  EXPECT_EQ(a1.client_ref(), "1");
  EXPECT_EQ(a0.submission().tenant(), "acme");
}

}  // namespace
}  // namespace docket::loadgen
