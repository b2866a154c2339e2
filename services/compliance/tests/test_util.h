#pragma once

// Helpers shared by compliance's unit tests.

#include <cstdlib>
#include <string>

#include "common/catalog/catalog.h"
#include "docket/v1/work.pb.h"

namespace docket::compliance::testutil {

// The source tree (ctest sets DOCKET_SOURCE_DIR).
inline std::string SourceDir() {
  const char* s = std::getenv("DOCKET_SOURCE_DIR");
  return s ? s : ".";
}

inline const catalog::Catalog& ShippedCatalog() {
  static const catalog::Catalog* c = [] {
    auto loaded = catalog::Catalog::Load(SourceDir() + "/deploy/config/catalog.yaml");
    if (!loaded.ok()) std::abort();
    return new catalog::Catalog(*std::move(loaded));
  }();
  return *c;
}

inline docket::v1::AttributeValue Str(const std::string& s) {
  docket::v1::AttributeValue v;
  v.set_string_value(s);
  return v;
}

inline docket::v1::AttributeValue Money(std::int64_t minor, const std::string& currency) {
  docket::v1::AttributeValue v;
  v.mutable_money_value()->set_minor_units(minor);
  v.mutable_money_value()->set_currency(currency);
  return v;
}

inline docket::v1::AttributeValue Num(double d) {
  docket::v1::AttributeValue v;
  v.set_number_value(d);
  return v;
}

inline docket::v1::AttributeValue Enum(const std::string& s) {
  docket::v1::AttributeValue v;
  v.set_enum_value(s);
  return v;
}

// A clean invoice of the shipped catalog.
inline docket::v1::WorkSubmission Invoice(const std::string& requester = "erp-bot") {
  docket::v1::WorkSubmission s;
  s.set_tenant("acme");
  s.set_kind("invoice_approval");
  s.set_idempotency_key("inv-1");
  auto& a = *s.mutable_attributes();
  a["vendor_id"] = Str("V-1001");
  a["vendor_name"] = Str("Muster Bürobedarf GmbH");
  a["invoice_number"] = Str("INV-2026-0042");
  a["amount"] = Money(125000, "EUR");
  docket::v1::AttributeValue date;
  date.mutable_date_value()->set_year(2026);
  date.mutable_date_value()->set_month(5);
  date.mutable_date_value()->set_day(4);
  a["invoice_date"] = date;
  a["po_number"] = Str("PO-7781");
  a["category"] = Enum("goods");
  a["notes"] = Str("Quarterly toner order");
  s.mutable_requester()->set_type(docket::v1::Actor::TYPE_PUBLISHER);
  s.mutable_requester()->set_id(requester);
  return s;
}

}  // namespace docket::compliance::testutil
