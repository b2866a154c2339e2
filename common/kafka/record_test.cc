#include "common/kafka/record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/kafka/event_consumer.h"
#include "google/protobuf/util/message_differencer.h"

namespace docket::kafka {
namespace {

using ::testing::HasSubstr;

docket::v1::Event SampleEvent() {
  docket::v1::Event e;
  e.set_id("evt-0001");
  e.set_source("//docket/intake");
  e.set_subject("item-42");
  e.set_tenant("acme");
  e.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  e.mutable_time()->set_seconds(1714564800);  // 2024-05-01T12:00:00Z
  e.mutable_time()->set_nanos(250000000);
  auto* s = e.mutable_submitted();
  s->set_channel("grpc");
  s->mutable_submission()->set_tenant("acme");
  s->mutable_submission()->set_kind("invoice_approval");
  return e;
}

std::map<std::string, std::string> HeaderMap(const Record& r) {
  std::map<std::string, std::string> out;
  for (const auto& h : r.headers) out[h.key] = h.value;
  return out;
}

Record WithHeader(Record r, const std::string& key, const std::string& value) {
  for (auto& h : r.headers) {
    if (h.key == key) {
      h.value = value;
      return r;
    }
  }
  r.headers.push_back({key, value});
  return r;
}

TEST(EventTypeTest, NamesTheTopicFamilyAndPayloadMessage) {
  docket::v1::Event e;
  EXPECT_EQ(EventType(e), "");
  e.mutable_submitted();
  EXPECT_EQ(EventType(e), "docket.work.v1.Submitted");
  e.mutable_completion_requested();
  EXPECT_EQ(EventType(e), "docket.work.v1.CompletionRequested");
  e.mutable_sla_breached();
  EXPECT_EQ(EventType(e), "docket.work.v1.SlaBreached");
  e.mutable_verdict();
  EXPECT_EQ(EventType(e), "docket.compliance.v1.Verdict");
  e.mutable_audit_record();
  EXPECT_EQ(EventType(e), "docket.audit.v1.AuditRecord");
}

TEST(FormatCeTimeTest, IsRfc3339UtcWithFractionalSeconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(1714564800);
  EXPECT_EQ(FormatCeTime(t), "2024-05-01T12:00:00.000Z");
  t.set_nanos(250000000);
  EXPECT_EQ(FormatCeTime(t), "2024-05-01T12:00:00.250Z");
  t.set_nanos(123456000);
  EXPECT_EQ(FormatCeTime(t), "2024-05-01T12:00:00.123456Z");
  t.set_nanos(123456789);
  EXPECT_EQ(FormatCeTime(t), "2024-05-01T12:00:00.123456789Z");
}

TEST(FormatCeTimeTest, CoversTheWholeTimestampRangeAndLeapDays) {
  google::protobuf::Timestamp t;
  t.set_seconds(-62135596800);  // the earliest Timestamp
  EXPECT_EQ(FormatCeTime(t), "0001-01-01T00:00:00.000Z");
  t.set_seconds(-1);
  EXPECT_EQ(FormatCeTime(t), "1969-12-31T23:59:59.000Z");
  t.set_seconds(1709208000);
  t.set_nanos(7000000);
  EXPECT_EQ(FormatCeTime(t), "2024-02-29T12:00:00.007Z");
  t.set_seconds(253402300799);  // the latest
  t.set_nanos(999999999);
  EXPECT_EQ(FormatCeTime(t), "9999-12-31T23:59:59.999999999Z");
}

TEST(FormatCeTimeTest, AnOutOfRangeTimestampIsStillReadable) {
  google::protobuf::Timestamp t;
  t.set_seconds(253402300800);  // year 10000
  EXPECT_EQ(FormatCeTime(t), "10000-01-01T00:00:00.0Z");
}

TEST(EncodeEventTest, WritesCloudEventsBinaryModeHeadersKeyAndValue) {
  const docket::v1::Event e = SampleEvent();
  const Record r = EncodeEvent("docket.work.v1", e);
  EXPECT_EQ(r.topic, "docket.work.v1");
  EXPECT_EQ(r.key, "item-42");
  EXPECT_EQ(r.partition, -1);
  auto h = HeaderMap(r);
  EXPECT_EQ(h["ce_specversion"], "1.0");
  EXPECT_EQ(h["ce_id"], "evt-0001");
  EXPECT_EQ(h["ce_source"], "//docket/intake");
  EXPECT_EQ(h["ce_type"], "docket.work.v1.Submitted");
  EXPECT_EQ(h["ce_time"], "2024-05-01T12:00:00.250Z");
  EXPECT_EQ(h["ce_subject"], "item-42");
  EXPECT_EQ(h["ce_tenant"], "acme");
  EXPECT_EQ(h["ce_traceparent"], e.traceparent());
  EXPECT_EQ(h["content-type"], "application/protobuf");
  EXPECT_EQ(r.headers.size(), 9u);
}

TEST(EncodeEventTest, OmitsOptionalHeadersThatAreUnset) {
  docket::v1::Event e;
  e.set_id("x");
  e.set_source("//docket/test");
  e.mutable_routed();
  const Record r = EncodeEvent("t", e);
  auto h = HeaderMap(r);
  EXPECT_EQ(h.count("ce_time"), 0u);
  EXPECT_EQ(h.count("ce_subject"), 0u);
  EXPECT_EQ(h.count("ce_tenant"), 0u);
  EXPECT_EQ(h.count("ce_traceparent"), 0u);
  EXPECT_EQ(h["ce_type"], "docket.work.v1.Routed");
  EXPECT_EQ(r.key, "");
}

TEST(EncodeEventTest, FillsAnEmptyTypeInValueAndHeaderAlike) {
  docket::v1::Event e = SampleEvent();
  ASSERT_TRUE(e.type().empty());
  const Record r = EncodeEvent("t", e);
  docket::v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(r.value));
  EXPECT_EQ(parsed.type(), "docket.work.v1.Submitted");
  EXPECT_EQ(*r.Header("ce_type"), parsed.type());
}

TEST(DecodeEventTest, RoundTripKeepsTheEnvelopeAndEveryCeHeader) {
  docket::v1::Event e = SampleEvent();
  e.set_type("docket.work.v1.Submitted");
  const Record r = EncodeEvent("docket.work.v1", e);
  auto decoded = DecodeEvent(r);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*decoded, e))
      << decoded->DebugString();
  // Every ce_* header mirrors the decoded envelope.
  EXPECT_EQ(*r.Header("ce_id"), decoded->id());
  EXPECT_EQ(*r.Header("ce_source"), decoded->source());
  EXPECT_EQ(*r.Header("ce_type"), decoded->type());
  EXPECT_EQ(*r.Header("ce_time"), FormatCeTime(decoded->time()));
  EXPECT_EQ(*r.Header("ce_subject"), decoded->subject());
  EXPECT_EQ(*r.Header("ce_tenant"), decoded->tenant());
  EXPECT_EQ(*r.Header("ce_traceparent"), decoded->traceparent());
  EXPECT_EQ(*r.Header("ce_specversion"), "1.0");
}

TEST(DecodeEventTest, RoundTripOfComplianceAndAuditPayloads) {
  docket::v1::Event v;
  v.set_id("v1");
  v.set_source("//docket/compliance");
  v.mutable_verdict()->set_outcome(docket::v1::OUTCOME_FLAG);
  auto dv = DecodeEvent(EncodeEvent("c", v));
  ASSERT_TRUE(dv.ok()) << dv.status();
  EXPECT_EQ(dv->type(), "docket.compliance.v1.Verdict");
  EXPECT_EQ(dv->verdict().outcome(), docket::v1::OUTCOME_FLAG);

  docket::v1::Event a;
  a.set_id("a1");
  a.mutable_audit_record()->set_sequence(7);
  auto da = DecodeEvent(EncodeEvent("a", a));
  ASSERT_TRUE(da.ok()) << da.status();
  EXPECT_EQ(da->audit_record().sequence(), 7u);
}

TEST(DecodeEventTest, DecodesAValueWithoutHeaders) {
  Record r;
  r.value = SampleEvent().SerializeAsString();
  auto decoded = DecodeEvent(r);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->type(), "docket.work.v1.Submitted");  // filled from the payload
}

void ExpectRejected(const Record& r, const std::string& reason) {
  auto decoded = DecodeEvent(r);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(reason));
}

TEST(DecodeEventTest, RejectsGarbageNamingTheExpectedMessage) {
  Record r = EncodeEvent("t", SampleEvent());
  r.value = "not-an-event";
  ExpectRejected(r, "is not a serialized docket.v1.Event");
}

TEST(DecodeEventTest, RejectsAnEmptyValue) {
  Record r = EncodeEvent("t", SampleEvent());
  r.value.clear();
  ExpectRejected(r, "record value is empty");
}

TEST(DecodeEventTest, RejectsAnEnvelopeWithoutPayload) {
  docket::v1::Event e = SampleEvent();
  e.clear_payload();
  ExpectRejected(EncodeEvent("t", e), "has no payload");
}

TEST(DecodeEventTest, RejectsAPayloadOfAFutureSchemaAsUnknown) {
  docket::v1::Event e = SampleEvent();
  e.clear_payload();
  std::string value = e.SerializeAsString();
  value += std::string("\xca\x0f\x00", 3);  // field 249, length 0: not in this schema
  Record r;
  r.value = value;
  ExpectRejected(r, "unknown fields present");
}

TEST(DecodeEventTest, RejectsMismatchedCeId) {
  ExpectRejected(WithHeader(EncodeEvent("t", SampleEvent()), "ce_id", "evt-other"),
                 "ce_id header \"evt-other\" disagrees with the envelope's \"evt-0001\"");
}

TEST(DecodeEventTest, RejectsMismatchedCeTypeAndSubject) {
  ExpectRejected(WithHeader(EncodeEvent("t", SampleEvent()), "ce_type", "docket.work.v1.Routed"),
                 "ce_type header");
  ExpectRejected(WithHeader(EncodeEvent("t", SampleEvent()), "ce_subject", "item-1"),
                 "ce_subject header");
}

TEST(DecodeEventTest, RejectsATypeThatDoesNotMatchThePayload) {
  docket::v1::Event e = SampleEvent();
  e.set_type("docket.work.v1.Completed");
  ExpectRejected(EncodeEvent("t", e), "but its payload is docket.work.v1.Submitted");
}

TEST(DecodeEventTest, RejectsOtherContentTypesAndSpecVersions) {
  ExpectRejected(WithHeader(EncodeEvent("t", SampleEvent()), "content-type", "application/json"),
                 "content-type \"application/json\"");
  ExpectRejected(WithHeader(EncodeEvent("t", SampleEvent()), "ce_specversion", "0.3"),
                 "ce_specversion \"0.3\"");
}

TEST(RecordTest, HeaderReturnsTheFirstMatch) {
  Record r;
  r.headers = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  EXPECT_EQ(r.Header("a"), "1");
  EXPECT_EQ(r.Header("b"), "2");
  EXPECT_EQ(r.Header("c"), std::nullopt);
}

TEST(DecodingHandlerTest, PassesDecodedEnvelopeAndRecordToTheHandler) {
  const Record r = EncodeEvent("t", SampleEvent());
  std::string seen;
  RecordHandler h = DecodingHandler([&](const docket::v1::Event& e, const Record& rec) {
    seen = e.id() + "@" + rec.topic;
    return absl::UnavailableError("try later");
  });
  const absl::Status s = h(r);
  EXPECT_EQ(seen, "evt-0001@t");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);  // the handler's status, unchanged
}

TEST(DecodingHandlerTest, MapsUndecodableToInvalidArgumentNamingTheProblem) {
  Record r = EncodeEvent("t", SampleEvent());
  r.value = "not-an-event";
  bool called = false;
  RecordHandler h = DecodingHandler([&](const docket::v1::Event&, const Record&) {
    called = true;
    return absl::OkStatus();
  });
  const absl::Status s = h(r);
  EXPECT_FALSE(called);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("undecodable record"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("is not a serialized docket.v1.Event"));

  Record mismatched = WithHeader(EncodeEvent("t", SampleEvent()), "ce_id", "zzz");
  EXPECT_EQ(h(mismatched).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(called);
}

TEST(EventTypeTest, OfAPayloadKindEqualsThatOfAnEnvelopeCarryingIt) {
  EXPECT_EQ(EventType(docket::v1::Event::kSubmitted), "docket.work.v1.Submitted");
  EXPECT_EQ(EventType(docket::v1::Event::kSubmitted), EventType(SampleEvent()));
  EXPECT_EQ(EventType(docket::v1::Event::kVerdict), "docket.compliance.v1.Verdict");
  EXPECT_EQ(EventType(docket::v1::Event::PAYLOAD_NOT_SET), "");
}

TEST(DecodingHandlerTest, WithHandledPayloadsSkipsOtherTypesUndecodedButDecodesHandledAndUntyped) {
  int calls = 0;
  RecordHandler h = DecodingHandler(
      [&](const docket::v1::Event& e, const Record&) {
        ++calls;
        EXPECT_TRUE(e.has_submitted());
        return absl::OkStatus();
      },
      {docket::v1::Event::kSubmitted});

  // Another type: done without a parse (its value is not even an event).
  docket::v1::Event routed = SampleEvent();
  routed.mutable_routed()->set_queue("ap");
  Record other = EncodeEvent("t", routed);
  other.value = "not-an-event";
  EXPECT_TRUE(h(other).ok());
  EXPECT_EQ(calls, 0);

  // The handled type is decoded and handed over; garbage of it is poison.
  EXPECT_TRUE(h(EncodeEvent("t", SampleEvent())).ok());
  EXPECT_EQ(calls, 1);
  Record bad = EncodeEvent("t", SampleEvent());
  bad.value = "not-an-event";
  EXPECT_EQ(h(bad).code(), absl::StatusCode::kInvalidArgument);

  // No ce_type header: decoded, so a malformed record still goes to the DLQ.
  Record untyped = EncodeEvent("t", routed);
  std::erase_if(untyped.headers, [](const Header& x) { return x.key == "ce_type"; });
  EXPECT_TRUE(h(untyped).ok()) << "a decodable event of another type is done";
  untyped.value = "not-an-event";
  EXPECT_EQ(h(untyped).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
}

TEST(DecodingBatchHandlerTest, HandsOverOnlyHandledEventsWithTheirRecordsAndMapsEachStatusBackToItsRecord) {
  docket::v1::Event routed = SampleEvent();
  routed.set_id("routed");
  routed.mutable_routed()->set_queue("ap");
  Record skipped = EncodeEvent("t", routed);
  skipped.value = "not-an-event";  // another type: never parsed
  docket::v1::Event first = SampleEvent();
  first.set_id("first");
  docket::v1::Event second = SampleEvent();
  second.set_id("second");
  Record garbage = EncodeEvent("t", SampleEvent());
  garbage.value = "not-an-event";
  const Record a = EncodeEvent("t", first);
  const Record b = EncodeEvent("t", second);

  std::vector<std::string> seen;
  std::vector<const Record*> records;
  BatchHandler h = DecodingBatchHandler(
      [&](const std::vector<const docket::v1::Event*>& events, const std::vector<const Record*>& from) {
        records = from;
        std::vector<absl::Status> out;
        for (const auto* e : events) {
          seen.push_back(e->id());
          out.push_back(e->id() == "second" ? absl::UnavailableError("later") : absl::OkStatus());
        }
        return out;
      },
      {docket::v1::Event::kSubmitted});
  const std::vector<absl::Status> s = h({&a, &skipped, &garbage, &b});
  EXPECT_THAT(seen, ::testing::ElementsAre("first", "second"));
  EXPECT_THAT(records, ::testing::ElementsAre(&a, &b)) << "each event comes with the record it was decoded from";
  ASSERT_EQ(s.size(), 4u);
  EXPECT_TRUE(s[0].ok());
  EXPECT_TRUE(s[1].ok()) << "a record of another type is done";
  EXPECT_EQ(s[2].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s[2].message()), HasSubstr("undecodable record"));
  EXPECT_EQ(s[3].code(), absl::StatusCode::kUnavailable);
}

TEST(DecodingBatchHandlerTest, AHandlerReturningTheWrongNumberOfStatusesFailsEveryHandledRecordRetryably) {
  BatchHandler h = DecodingBatchHandler(
      [](const std::vector<const docket::v1::Event*>&, const std::vector<const Record*>&) {
        return std::vector<absl::Status>{};
      });
  const Record a = EncodeEvent("t", SampleEvent());
  const std::vector<absl::Status> s = h({&a, &a});
  ASSERT_EQ(s.size(), 2u);
  for (const auto& st : s) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(st.message()), HasSubstr("returned 0 statuses for 2 events"));
  }
}

}  // namespace
}  // namespace docket::kafka
