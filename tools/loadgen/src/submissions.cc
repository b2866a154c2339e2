#include "tools/loadgen/src/submissions.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace docket::loadgen {

const char* KindOf(SubmissionProfile profile) {
  return profile == SubmissionProfile::kShippingDocuments ? "shipping_documents" : "data_entry";
}

const char* QueueOf(SubmissionProfile profile) {
  return profile == SubmissionProfile::kShippingDocuments ? "logistics-docs" : "data-entry";
}

SubmissionFactory::SubmissionFactory(std::string tenant, SubmissionProfile profile)
    : tenant_(std::move(tenant)), profile_(profile) {
  std::random_device rd;
  prefix_ = absl::StrCat("lg-", absl::Hex(std::uint64_t{rd()} << 32 | rd()), "-");
}

void SubmissionFactory::Fill(docket::v1::SubmitRequest* req) {
  const std::uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
  auto* s = req->mutable_submission();
  s->set_tenant(tenant_);
  s->set_kind(KindOf(profile_));
  s->set_idempotency_key(absl::StrCat(prefix_, n));
  auto& a = *s->mutable_attributes();
  switch (profile_) {
    case SubmissionProfile::kDataEntry:
    case SubmissionProfile::kDataEntryAutomated:
      a["document_id"].set_string_value(absl::StrCat("D-", n));
      a["document_type"].set_enum_value("receipt");
      a["pages"].set_number_value(1);
      // high-confidence-ocr: receipt, ocr_confidence >= 0.98, pages == 1.
      if (profile_ == SubmissionProfile::kDataEntryAutomated) a["ocr_confidence"].set_number_value(0.99);
      break;
    case SubmissionProfile::kShippingDocuments: {
      a["shipment_id"].set_string_value(absl::StrCat("SHP-", n));
      a["carrier"].set_string_value("DHL Freight");
      a["destination_country"].set_string_value("DE");  // not in deny-lists/restricted-countries.txt
      auto* value = a["declared_value"].mutable_money_value();
      value->set_minor_units(125000);
      value->set_currency("EUR");
      a["hazardous"].set_bool_value(false);
      a["incoterm"].set_enum_value("DAP");
      break;
    }
  }
  req->set_client_ref(absl::StrCat(n));
}

}  // namespace docket::loadgen
