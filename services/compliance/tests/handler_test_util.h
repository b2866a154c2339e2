#pragma once

// Helpers shared by the tests of ComplianceHandler's batch path (unit tests
// and the Redis integration test).

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/kafka/fake_event_publisher.h"
#include "services/compliance/src/handler.h"
#include "services/compliance/tests/test_util.h"

namespace docket::compliance::testutil {

// A record consumed from docket.work.v1 at that partition and offset.
inline kafka::Record At(int partition, std::int64_t offset = 0) {
  kafka::Record r;
  r.topic = "docket.work.v1";
  r.partition = partition;
  r.offset = offset;
  return r;
}

inline docket::v1::Event Submitted(const std::string& item, const docket::v1::WorkSubmission& s = Invoice()) {
  docket::v1::Event e;
  e.set_id(item + ":submitted");
  e.set_subject(item);
  e.set_tenant(s.tenant());
  *e.mutable_submitted()->mutable_submission() = s;
  return e;
}

inline docket::v1::Event CompletionRequested(const std::string& item, const std::string& completer) {
  docket::v1::Event e;
  e.set_id(item + ":completion-requested:" + completer);
  e.set_subject(item);
  e.set_tenant("acme");
  auto* c = e.mutable_completion_requested();
  c->set_kind("invoice_approval");
  c->set_queue("accounts-payable");
  c->mutable_completer()->set_id(completer);
  return e;
}

// The event that ends an item: Completed, or AutoCompleted when `automated`.
inline docket::v1::Event Ended(const std::string& item, bool automated = false) {
  docket::v1::Event e;
  e.set_id(item + (automated ? ":auto-completed" : ":completed"));
  e.set_subject(item);
  e.set_tenant("acme");
  if (automated) {
    e.mutable_auto_completed()->set_kind("invoice_approval");
  } else {
    e.mutable_completed()->set_kind("invoice_approval");
  }
  return e;
}

// A consumed work event with the record it came from.
struct Consumed {
  docket::v1::Event event;
  kafka::Record record;
};

// Hands `batch` to the handler in one HandleBatch call.
inline std::vector<absl::Status> HandleAll(ComplianceHandler& handler, const std::vector<Consumed>& batch) {
  std::vector<const docket::v1::Event*> events;
  std::vector<const kafka::Record*> records;
  for (const auto& c : batch) {
    events.push_back(&c.event);
    records.push_back(&c.record);
  }
  return handler.HandleBatch(events, records);
}

// Every verdict the fake took came after the audit record of its subject.
inline void ExpectEveryVerdictAfterItsAuditRecord(const kafka::FakeEventPublisher& fake,
                                                  const kafka::Topics& topics) {
  std::set<std::string> audited;
  for (const auto& r : fake.records()) {
    auto e = kafka::DecodeEvent(r);
    ASSERT_TRUE(e.ok()) << e.status();
    if (r.topic == topics.audit()) audited.insert(e->audit_record().subject_event_id());
    if (r.topic == topics.compliance()) {
      EXPECT_TRUE(audited.count(e->id())) << "verdict " << e->id() << " went out before its audit record";
    }
  }
}

}  // namespace docket::compliance::testutil
