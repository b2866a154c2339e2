#include "services/intake/src/cloudevents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"

namespace docket::intake {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using docket::v1::AttributeValue;

// Appears in attribute values of every bad record below: no error message
// may ever contain it (attribute values may be personal data).
constexpr char kPii[] = "SECRET-PII-Jane-Doe";
constexpr char kTrace[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

kafka::Record Binary(std::string value, const std::string& content_type = "application/json") {
  kafka::Record r;
  r.topic = "docket.intake.v1";
  r.value = std::move(value);
  r.headers = {{"ce_specversion", "1.0"},
               {"ce_id", "evt-1"},
               {"ce_source", "//erp/acme"},
               {"ce_type", std::string(kSubmitEventType)},
               {"content-type", content_type}};
  return r;
}

kafka::Record Structured(const nlohmann::json& event) {
  kafka::Record r;
  r.topic = "docket.intake.v1";
  r.value = event.dump();
  r.headers = {{"content-type", "application/cloudevents+json; charset=utf-8"}};
  return r;
}

kafka::Record StructuredRaw(std::string value) {
  kafka::Record r = Structured(nlohmann::json::object());
  r.value = std::move(value);
  return r;
}

nlohmann::json Event(nlohmann::json extra) {
  nlohmann::json e = {{"specversion", "1.0"},
                      {"id", "evt-9"},
                      {"source", "//erp/acme"},
                      {"type", std::string(kSubmitEventType)}};
  if (extra.is_object()) e.update(extra);  // {} arrives as null
  return e;
}

void SetHeader(kafka::Record& r, const std::string& key, const std::string& value) {
  for (auto& h : r.headers) {
    if (h.key == key) {
      h.value = value;
      return;
    }
  }
  r.headers.push_back({key, value});
}

void DropHeader(kafka::Record& r, const std::string& key) {
  std::erase_if(r.headers, [&](const kafka::Header& h) { return h.key == key; });
}

const char kInvoiceJson[] = R"({
  "tenant": "acme",
  "kind": "invoice_approval",
  "idempotency_key": "inv-2026-0042",
  "priority": "high",
  "external_ref": "SAP-4711",
  "requester": {"type": "person", "id": "u-17"},
  "attributes": {
    "vendor_name": "Muster GmbH",
    "amount": {"amount": "1234.50", "currency": "EUR"},
    "invoice_date": {"date": "2026-11-23"},
    "vendor_verified": true,
    "lines": 3,
    "category": "services",
    "po_number": null
  }
})";

docket::v1::WorkSubmission InvoiceProto() {
  docket::v1::WorkSubmission s;
  s.set_tenant("acme");
  s.set_kind("invoice_approval");
  s.set_idempotency_key("inv-proto-1");
  (*s.mutable_attributes())["vendor_name"].set_string_value("Muster GmbH");
  auto* money = (*s.mutable_attributes())["amount"].mutable_money_value();
  money->set_minor_units(99);
  money->set_currency("CHF");
  return s;
}

bool SameMessage(const docket::v1::WorkSubmission& a, const docket::v1::WorkSubmission& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

void ExpectInvoice(const docket::v1::WorkSubmission& s) {
  EXPECT_EQ(s.tenant(), "acme");
  EXPECT_EQ(s.kind(), "invoice_approval");
  EXPECT_EQ(s.idempotency_key(), "inv-2026-0042");
  EXPECT_EQ(s.priority(), docket::v1::PRIORITY_HIGH);
  EXPECT_EQ(s.external_ref(), "SAP-4711");
  EXPECT_EQ(s.requester().type(), docket::v1::Actor::TYPE_PERSON);
  EXPECT_EQ(s.requester().id(), "u-17");
  const auto& a = s.attributes();
  EXPECT_EQ(a.size(), 6u);  // po_number: null = absent
  EXPECT_EQ(a.at("vendor_name").string_value(), "Muster GmbH");
  EXPECT_EQ(a.at("amount").money_value().minor_units(), 123450);
  EXPECT_EQ(a.at("amount").money_value().currency(), "EUR");
  EXPECT_EQ(a.at("invoice_date").date_value().year(), 2026);
  EXPECT_EQ(a.at("invoice_date").date_value().month(), 11);
  EXPECT_EQ(a.at("invoice_date").date_value().day(), 23);
  EXPECT_TRUE(a.at("vendor_verified").bool_value());
  EXPECT_EQ(a.at("lines").value_case(), AttributeValue::kNumberValue);
  EXPECT_EQ(a.at("lines").number_value(), 3.0);
  EXPECT_EQ(a.at("category").string_value(), "services");  // enum members travel as strings
  EXPECT_FALSE(a.contains("po_number"));
}

// ---- Accepted forms ----

TEST(DecodeIntakeRecord, BinaryModeJsonData) {
  kafka::Record r = Binary(kInvoiceJson);
  r.headers.push_back({"ce_subject", "invoice/4711"});
  r.headers.push_back({"ce_traceparent", kTrace});
  r.headers.push_back({"ce_time", "2026-11-23T10:00:00Z"});
  auto d = DecodeIntakeRecord(r);
  ASSERT_TRUE(d.ok()) << d.status();
  ExpectInvoice(d->submission);
  EXPECT_EQ(d->id, "evt-1");
  EXPECT_EQ(d->source, "//erp/acme");
  EXPECT_EQ(d->type, "docket.work.submit.v1");
  EXPECT_EQ(d->subject, "invoice/4711");
  EXPECT_EQ(d->traceparent, kTrace);
  EXPECT_FALSE(d->structured);
}

TEST(DecodeIntakeRecord, BinaryModeProtobufDataUnderEitherMediaType) {
  for (const char* ct : {"application/protobuf", "application/x-protobuf",
                         "Application/Protobuf; proto=docket.v1.WorkSubmission"}) {
    auto d = DecodeIntakeRecord(Binary(InvoiceProto().SerializeAsString(), ct));
    ASSERT_TRUE(d.ok()) << ct << ": " << d.status();
    EXPECT_TRUE(SameMessage(d->submission, InvoiceProto())) << ct;
  }
}

TEST(DecodeIntakeRecord, ContentTypeHeaderNameAndParametersAreLenient) {
  kafka::Record r = Binary(kInvoiceJson, "application/json; charset=utf-8");
  r.headers.back().key = "Content-Type";
  auto d = DecodeIntakeRecord(r);
  ASSERT_TRUE(d.ok()) << d.status();
  ExpectInvoice(d->submission);
}

TEST(DecodeIntakeRecord, StructuredModeJsonData) {
  auto d = DecodeIntakeRecord(Structured(Event({{"subject", "invoice/1"},
                                                {"traceparent", kTrace},
                                                {"datacontenttype", "application/json"},
                                                {"time", "2026-11-23T10:00:00Z"},
                                                {"someextension", 42},
                                                {"data", nlohmann::json::parse(kInvoiceJson)}})));
  ASSERT_TRUE(d.ok()) << d.status();
  ExpectInvoice(d->submission);
  EXPECT_EQ(d->id, "evt-9");
  EXPECT_EQ(d->source, "//erp/acme");
  EXPECT_EQ(d->subject, "invoice/1");
  EXPECT_EQ(d->traceparent, kTrace);
  EXPECT_TRUE(d->structured);
}

TEST(DecodeIntakeRecord, StructuredModeDataBase64IsProtobufByDefault) {
  const std::string b64 = absl::Base64Escape(InvoiceProto().SerializeAsString());
  for (const nlohmann::json& extra :
       {nlohmann::json{{"data_base64", b64}},
        nlohmann::json{{"data_base64", b64}, {"datacontenttype", "application/x-protobuf"}}}) {
    auto d = DecodeIntakeRecord(Structured(Event(extra)));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_TRUE(SameMessage(d->submission, InvoiceProto()));
  }
}

TEST(DecodeIntakeRecord, StructuredModeDataBase64WithJsonContentType) {
  auto d = DecodeIntakeRecord(Structured(Event(
      {{"data_base64", absl::Base64Escape(kInvoiceJson)}, {"datacontenttype", "application/json"}})));
  ASSERT_TRUE(d.ok()) << d.status();
  ExpectInvoice(d->submission);
}

TEST(DecodeIntakeRecord, TenantComesFromCeTenantWhenTheDataHasNone) {
  kafka::Record r = Binary(R"({"kind": "data_entry", "idempotency_key": "k"})");
  r.headers.push_back({"ce_tenant", "globex"});
  auto d = DecodeIntakeRecord(r);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->submission.tenant(), "globex");

  auto s = DecodeIntakeRecord(
      Structured(Event({{"tenant", "globex"}, {"data", {{"kind", "data_entry"}}}})));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->submission.tenant(), "globex");

  // The same tenant in both places is fine.
  r = Binary(R"({"tenant": "globex", "kind": "data_entry"})");
  r.headers.push_back({"ce_tenant", "globex"});
  EXPECT_TRUE(DecodeIntakeRecord(r).ok());
}

TEST(DecodeIntakeRecord, IdempotencyKeyDefaultsToSourceSlashId) {
  auto d = DecodeIntakeRecord(Binary(R"({"tenant": "acme", "kind": "data_entry"})"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->submission.idempotency_key(), "//erp/acme/evt-1");

  // Too long for an idempotency key: its SHA-256 instead, still deterministic.
  kafka::Record r = Binary(R"({"tenant": "acme", "kind": "data_entry"})");
  SetHeader(r, "ce_id", std::string(200, 'x'));
  auto a = DecodeIntakeRecord(r);
  auto b = DecodeIntakeRecord(r);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->submission.idempotency_key().rfind("ce-sha256:", 0), 0u);
  EXPECT_EQ(a->submission.idempotency_key().size(), 10u + 64u);
  EXPECT_EQ(a->submission.idempotency_key(), b->submission.idempotency_key());

  // Protobuf data without a key gets the same default.
  auto proto = InvoiceProto();
  proto.clear_idempotency_key();
  auto p = DecodeIntakeRecord(Binary(proto.SerializeAsString(), "application/protobuf"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->submission.idempotency_key(), "//erp/acme/evt-1");
}

TEST(DecodeIntakeRecord, InvalidTraceparentIsDroppedAndPlainTraceparentHeaderIsRead) {
  kafka::Record r = Binary(kInvoiceJson);
  r.headers.push_back({"ce_traceparent", "not-a-trace"});
  auto d = DecodeIntakeRecord(r);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->traceparent, "");
  r = Binary(kInvoiceJson);
  r.headers.push_back({"traceparent", kTrace});
  EXPECT_EQ(DecodeIntakeRecord(r)->traceparent, kTrace);
  r = Binary(kInvoiceJson);
  r.headers.push_back({"ce_traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"});
  EXPECT_EQ(DecodeIntakeRecord(r)->traceparent, "");
}

TEST(DecodeIntakeRecord, MoneyIsExactFromStringsAndFromJsonNumbers) {
  const std::vector<std::pair<std::string, std::int64_t>> cases = {
      {R"("123.45")", 12345}, {R"("0.1")", 10},     {R"("-7")", -700},  {R"("-0.05")", -5},
      {"19.99", 1999},        {"0.29", 29},          {"123.45", 12345}, {"100", 10000},
      {"1e2", 10000},         {"9999999999999.99", 999999999999999}, {"-0.01", -1},
      {R"("92233720368547758.07")", INT64_MAX}};
  for (const auto& [amount, units] : cases) {
    auto d = DecodeIntakeRecord(Binary(absl::StrCat(
        R"({"attributes": {"amount": {"amount": )", amount, R"(, "currency": "EUR"}}})")));
    ASSERT_TRUE(d.ok()) << amount << ": " << d.status();
    EXPECT_EQ(d->submission.attributes().at("amount").money_value().minor_units(), units) << amount;
  }
}

TEST(ParseMinorUnits, AcceptsPlainDecimalsWithAtMostTwoPlaces) {
  EXPECT_EQ(*ParseMinorUnits("0"), 0);
  EXPECT_EQ(*ParseMinorUnits("12.3"), 1230);
  EXPECT_EQ(*ParseMinorUnits("-12.34"), -1234);
  for (const char* bad : {"", "-", ".5", "5.", "+5", "1e3", " 1", "1,50", "1.2.3", "0x10", "--1"}) {
    EXPECT_EQ(ParseMinorUnits(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(ParseMinorUnits("1.005").status().message()),
              HasSubstr("more than 2 decimal places"));
  EXPECT_THAT(std::string(ParseMinorUnits("92233720368547758.08").status().message()),
              HasSubstr("out of range"));
  EXPECT_THAT(std::string(ParseMinorUnits("123456789012345678901234567890").status().message()),
              HasSubstr("out of range"));
}

// ---- Rejections: INVALID_ARGUMENT naming what is wrong, never a value ----

struct Rejection {
  std::string name;
  kafka::Record record;
  std::string expected;
};

std::vector<Rejection> Rejections() {
  const std::string pii_json = absl::StrCat(R"({"tenant": "acme", "attributes": {"notes": ")", kPii,
                                            R"("}})");
  const auto with = [&](auto mutate, std::string value = "") {
    kafka::Record r = Binary(value.empty() ? pii_json : value);
    mutate(r);
    return r;
  };
  const auto attr = [&](const std::string& name, const std::string& value) {
    return Binary(absl::StrCat(R"({"attributes": {"notes": ")", kPii, R"(", ")", name, R"(": )", value,
                               "}}"));
  };
  const auto pii_data = nlohmann::json{{"attributes", {{"notes", kPii}}}};
  const std::string huge(kMaxCloudEventBytes + 1, ' ');

  return {
      {"missing ce_id", with([](auto& r) { DropHeader(r, "ce_id"); }), "missing ce_id header"},
      {"empty ce_id", with([](auto& r) { SetHeader(r, "ce_id", ""); }), "missing ce_id header"},
      {"missing ce_source", with([](auto& r) { DropHeader(r, "ce_source"); }),
       "missing ce_source header"},
      {"missing ce_type", with([](auto& r) { DropHeader(r, "ce_type"); }), "missing ce_type header"},
      {"missing ce_specversion", with([](auto& r) { DropHeader(r, "ce_specversion"); }),
       "missing ce_specversion header"},
      {"wrong specversion", with([](auto& r) { SetHeader(r, "ce_specversion", "0.3"); }),
       "ce_specversion \"0.3\" is not supported (expected 1.0)"},
      {"wrong type", with([](auto& r) { SetHeader(r, "ce_type", "com.example.order.created"); }),
       "ce_type \"com.example.order.created\" is not docket.work.submit.v1"},
      {"duplicate ce_id", with([](auto& r) { r.headers.push_back({"ce_id", "evt-2"}); }),
       "header ce_id appears more than once"},
      {"missing content-type", with([](auto& r) { DropHeader(r, "content-type"); }),
       "missing content-type header"},
      {"unsupported content-type", with([](auto& r) { SetHeader(r, "content-type", "text/plain"); }),
       "unsupported content-type \"text/plain\""},
      {"batch mode", with([](auto& r) {
         SetHeader(r, "content-type", "application/cloudevents-batch+json");
       }),
       "unsupported content-type \"application/cloudevents-batch+json\""},
      {"empty value", Binary(""), "record value is empty"},
      {"oversize value", Binary(huge), "record value is 1048577 bytes; at most 1048576"},
      {"bad JSON", Binary(absl::StrCat(R"({"attributes": {"notes": ")", kPii)),
       "data is not valid JSON (at byte"},
      {"bad JSON after PII", Binary(absl::StrCat(R"({"attributes": {"notes": ")", kPii, R"(" x})")),
       "data is not valid JSON (at byte"},
      {"deep nesting", Binary(std::string(100, '[') + std::string(100, ']')),
       "data is nested deeper than 16 levels"},
      {"data not an object", Binary(absl::StrCat(R"([")", kPii, R"("])")),
       "data: expected a JSON object, got an array"},
      {"unknown data field", Binary(R"({"idempotencyKey": "k"})"),
       "data.idempotencyKey: unknown field (expected attributes, external_ref, idempotency_key, "
       "kind, priority, requester, tenant)"},
      {"kind not a string", Binary(R"({"kind": 7})"), "data.kind: expected a string, got a number"},
      {"bad priority", Binary(R"({"priority": "asap"})"),
       "data.priority: expected low, normal, high or urgent"},
      {"bad requester type", Binary(R"({"requester": {"type": "alien", "id": "x"}})"),
       "data.requester.type: expected person, bot, system or publisher"},
      {"attributes not an object", Binary(absl::StrCat(R"({"attributes": [")", kPii, R"("]})")),
       "data.attributes: expected an object, got an array"},
      {"array attribute", attr("tags", absl::StrCat(R"([")", kPii, R"("])")),
       "data.attributes.tags: expected a string, number, bool or object, got an array"},
      {"money with 3 decimals", attr("amount", R"({"amount": "12.345", "currency": "EUR"})"),
       "data.attributes.amount.amount: has more than 2 decimal places"},
      {"money number with 3 decimals", attr("amount", R"({"amount": 0.125, "currency": "EUR"})"),
       "data.attributes.amount.amount: has more than 2 decimal places"},
      {"money not a decimal", attr("amount", absl::StrCat(R"({"amount": ")", kPii, R"(", "currency": "EUR"})")),
       "data.attributes.amount.amount: expected a decimal amount like \"123.45\""},
      {"money number too large", attr("amount", R"({"amount": 1e15, "currency": "EUR"})"),
       "data.attributes.amount.amount: is out of range for a JSON number (send the amount as a string)"},
      {"money without currency", attr("amount", R"({"amount": "1.00"})"),
       "data.attributes.amount.currency: is required for a money value"},
      {"money with extra field", attr("amount", R"({"amount": "1.00", "currency": "EUR", "fx": 1})"),
       "data.attributes.amount.fx: unknown field (expected amount, currency)"},
      {"bad date", attr("invoice_date", absl::StrCat(R"({"date": ")", kPii, R"("})")),
       "data.attributes.invoice_date.date: expected a date like \"2026-11-23\" (YYYY-MM-DD)"},
      {"unknown object attribute", attr("vendor", absl::StrCat(R"({"name": ")", kPii, R"("})")),
       "data.attributes.vendor: expected {\"amount\": \"123.45\", \"currency\": \"EUR\"} for money"},
      {"tenant conflict", with([](auto& r) { r.headers.push_back({"ce_tenant", "globex"}); }),
       "the data's tenant differs from the ce_tenant header"},
      {"protobuf garbage", Binary(std::string("\x0a\xff", 2) + kPii, "application/protobuf"),
       "data is not a serialized docket.v1.WorkSubmission"},
      {"structured: not JSON", StructuredRaw(absl::StrCat("{\"id\": \"", kPii)),
       "event is not valid JSON (at byte"},
      {"structured: not an object", Structured(nlohmann::json::array({kPii})),
       "event: expected a JSON object, got an array"},
      {"structured: missing id", Structured([&] {
         auto e = Event({{"data", pii_data}});
         e.erase("id");
         return e;
       }()),
       "event.id: is required"},
      {"structured: id not a string", Structured(Event({{"id", 5}, {"data", pii_data}})),
       "event.id: expected a string, got a number"},
      {"structured: wrong specversion", Structured(Event({{"specversion", "0.3"}, {"data", pii_data}})),
       "event.specversion \"0.3\" is not supported (expected 1.0)"},
      {"structured: wrong type", Structured(Event({{"type", "other"}, {"data", pii_data}})),
       "event.type \"other\" is not docket.work.submit.v1"},
      {"structured: no data", Structured(Event({})), "event has no data (data or data_base64)"},
      {"structured: both data forms",
       Structured(Event({{"data", pii_data}, {"data_base64", absl::Base64Escape(kPii)}})),
       "event has both data and data_base64"},
      {"structured: bad base64", Structured(Event({{"data_base64", absl::StrCat("!!", kPii)}})),
       "event.data_base64: is not valid base64"},
      {"structured: protobuf in data",
       Structured(Event({{"datacontenttype", "application/protobuf"}, {"data", pii_data}})),
       "event.datacontenttype \"application/protobuf\" needs data_base64"},
      {"structured: unsupported datacontenttype",
       Structured(Event({{"datacontenttype", "text/csv"}, {"data_base64", absl::Base64Escape(kPii)}})),
       "event.datacontenttype \"text/csv\" is not supported"},
      {"structured: data not an object", Structured(Event({{"data", kPii}})),
       "data: expected a JSON object, got a string"},
      {"structured: bad attribute", Structured(Event({{"data", {{"attributes", {{"x", {kPii}}}}}}})),
       "data.attributes.x: expected a string, number, bool or object, got an array"},
      {"structured: tenant conflict",
       Structured(Event({{"tenant", "globex"}, {"data", {{"tenant", "acme"}}}})),
       "the data's tenant differs from the event's tenant attribute"},
  };
}

TEST(DecodeIntakeRecord, EachRejectionIsInvalidArgumentNamingTheProblemButNoValue) {
  google::protobuf::SetLogHandler(nullptr);  // the protobuf case logs invalid input
  for (const Rejection& c : Rejections()) {
    auto d = DecodeIntakeRecord(c.record);
    ASSERT_FALSE(d.ok()) << c.name;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    const std::string message(d.status().message());
    EXPECT_THAT(message, HasSubstr(c.expected)) << c.name;
    EXPECT_THAT(message, Not(HasSubstr("SECRET"))) << c.name;
    EXPECT_THAT(message, Not(HasSubstr("Jane"))) << c.name;
  }
}

// ---- Robustness: arbitrary bytes yield a status, never a crash or throw ----

TEST(DecodeIntakeRecord, TenThousandMutatedRecordsAllYieldAStatus) {
  google::protobuf::SetLogHandler(nullptr);
  std::vector<kafka::Record> seeds = {
      Binary(kInvoiceJson),
      Binary(InvoiceProto().SerializeAsString(), "application/protobuf"),
      Structured(Event({{"data", nlohmann::json::parse(kInvoiceJson)}, {"tenant", "acme"}})),
      Structured(Event({{"data_base64", absl::Base64Escape(InvoiceProto().SerializeAsString())}})),
  };
  const std::vector<std::string> tokens = {
      "{", "}", "[", "]", "\"", ":", ",", "null", "true", "-", ".", "e308", "\\u0000", "\\ud800",
      "\"amount\":", "\"date\":", "\"data\":", "\"data_base64\":", "1e999", "0.125", "\xff", "\xc3",
      std::string(1, '\0')};
  const std::vector<std::string> content_types = {
      "application/json", "application/protobuf", "application/cloudevents+json",
      "application/cloudevents-batch+json", "", "application/json;", ";", "APPLICATION/JSON"};
  std::mt19937_64 rng(20261123);
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  int ok = 0, invalid = 0;
  for (int i = 0; i < 10000; ++i) {
    kafka::Record r = seeds[pick(seeds.size())];
    std::string& v = r.value;
    const int mutations = 1 + static_cast<int>(pick(8));
    for (int m = 0; m < mutations; ++m) {
      switch (pick(9)) {
        case 0:  // flip a byte
          if (!v.empty()) v[pick(v.size())] = static_cast<char>(rng());
          break;
        case 1:  // delete a range
          if (!v.empty()) {
            const std::size_t at = pick(v.size());
            v.erase(at, pick(16) + 1);
          }
          break;
        case 2:  // insert a token
          v.insert(pick(v.size() + 1), tokens[pick(tokens.size())]);
          break;
        case 3:  // truncate
          v.resize(pick(v.size() + 1));
          break;
        case 4:  // random bytes
          for (std::size_t n = pick(32); n > 0; --n) v.insert(pick(v.size() + 1), 1, static_cast<char>(rng()));
          break;
        case 5:  // duplicate a range
          if (!v.empty()) {
            const std::size_t at = pick(v.size());
            v.insert(pick(v.size() + 1), v.substr(at, pick(64)));
          }
          break;
        case 6:  // another content-type
          SetHeader(r, "content-type", content_types[pick(content_types.size())]);
          break;
        case 7:  // drop or garble a header
          if (!r.headers.empty()) {
            auto& h = r.headers[pick(r.headers.size())];
            if (rng() % 2) h.value = std::string(pick(8), static_cast<char>(rng()));
            else r.headers.erase(r.headers.begin() + static_cast<long>(pick(r.headers.size())));
          }
          break;
        case 8:  // wholly random value
          v.assign(pick(256), '\0');
          for (char& c : v) c = static_cast<char>(rng());
          break;
      }
    }
    absl::StatusOr<DecodedSubmission> d;
    ASSERT_NO_THROW(d = DecodeIntakeRecord(r)) << "iteration " << i;
    if (d.ok()) {
      ++ok;
    } else {
      ++invalid;
      ASSERT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << "iteration " << i;
      ASSERT_FALSE(d.status().message().empty()) << "iteration " << i;
    }
  }
  EXPECT_EQ(ok + invalid, 10000);
  EXPECT_GT(invalid, 1000);  // the mutations do reach the error paths
}

}  // namespace
}  // namespace docket::intake
