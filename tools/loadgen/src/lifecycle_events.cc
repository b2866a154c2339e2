#include "tools/loadgen/src/lifecycle_events.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace docket::loadgen {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Ts(std::int64_t ms) { return TimeUtil::MillisecondsToTimestamp(ms); }

docket::v1::Event Envelope(const std::string& item_id, std::string_view tenant, const char* type,
                           const char* source, std::int64_t ms) {
  docket::v1::Event e;
  e.set_id(absl::StrCat(item_id, ":", type));
  e.set_source(source);
  e.set_subject(item_id);
  e.set_tenant(std::string(tenant));
  *e.mutable_time() = Ts(ms);
  return e;
}

docket::v1::Actor Person(const char* id) {
  docket::v1::Actor a;
  a.set_type(docket::v1::Actor::TYPE_PERSON);
  a.set_id(id);
  return a;
}

}  // namespace

ItemPath PathOf(std::uint64_t n) {
  const std::uint64_t r = n % 10;
  return r < 7 ? ItemPath::kPerson : r < 9 ? ItemPath::kAutomated : ItemPath::kChecked;
}

std::vector<StreamEvent> ItemLife(const std::string& item_id, std::string_view tenant, ItemPath path,
                                  std::int64_t now_ms) {
  constexpr char kProcessing[] = "//docket/processing";
  const bool checked = path == ItemPath::kChecked;
  const std::string kind = checked ? "shipping_documents" : "data_entry";
  const std::string queue = checked ? "logistics-docs" : "data-entry";
  const std::int64_t submitted = now_ms - 40, routed_at = now_ms - 30, claimed = now_ms - 20,
                     done = now_ms;
  const std::int64_t due = submitted + (checked ? 6 : 4) * 3600 * 1000;
  std::vector<StreamEvent> out;

  auto sub = Envelope(item_id, tenant, "Submitted", "//docket/intake", submitted);
  auto* s = sub.mutable_submitted();
  auto* w = s->mutable_submission();
  w->set_tenant(std::string(tenant));
  w->set_kind(kind);
  w->set_idempotency_key(absl::StrCat("k-", item_id));
  auto& a = *w->mutable_attributes();
  if (checked) {
    a["shipment_id"].set_string_value(absl::StrCat("SHP-", item_id));
    a["carrier"].set_string_value("DHL Freight");
    a["destination_country"].set_string_value("DE");
    a["declared_value"].mutable_money_value()->set_minor_units(125000);
    a["declared_value"].mutable_money_value()->set_currency("EUR");
    a["hazardous"].set_bool_value(false);
  } else {
    a["document_id"].set_string_value(absl::StrCat("D-", item_id));
    a["document_type"].set_enum_value("receipt");
    a["pages"].set_number_value(1);
    if (path == ItemPath::kAutomated) a["ocr_confidence"].set_number_value(0.99);
  }
  *s->mutable_submitted_at() = Ts(submitted);
  s->set_channel("grpc");
  out.push_back({false, std::move(sub)});

  auto routed = Envelope(item_id, tenant, "Routed", kProcessing, routed_at);
  auto* r = routed.mutable_routed();
  r->set_queue(queue);
  r->set_priority(docket::v1::PRIORITY_NORMAL);
  *r->mutable_due_at() = Ts(due);
  *r->mutable_sla() = TimeUtil::MillisecondsToDuration(due - submitted);
  *r->mutable_submitted_at() = Ts(submitted);
  r->set_kind(kind);
  out.push_back({false, std::move(routed)});

  if (path == ItemPath::kAutomated) {
    auto ac = Envelope(item_id, tenant, "AutoCompleted", kProcessing, done);
    auto* p = ac.mutable_auto_completed();
    p->set_queue(queue);
    p->set_rule_id("high-confidence-ocr");
    *p->mutable_submitted_at() = Ts(submitted);
    *p->mutable_completed_at() = Ts(done);
    *p->mutable_due_at() = Ts(due);
    p->set_sla_met(true);
    p->set_kind(kind);
    out.push_back({false, std::move(ac)});
    return out;
  }

  auto cl = Envelope(item_id, tenant, "Claimed", kProcessing, claimed);
  auto* c = cl.mutable_claimed();
  c->set_queue(queue);
  *c->mutable_worker() = Person("dana");
  *c->mutable_claimed_at() = Ts(claimed);
  *c->mutable_lease_expires_at() = Ts(claimed + 15 * 60 * 1000);
  *c->mutable_submitted_at() = Ts(submitted);
  *c->mutable_queued_at() = Ts(routed_at);
  *c->mutable_due_at() = Ts(due);
  c->set_attempt(1);
  c->set_kind(kind);
  out.push_back({false, std::move(cl)});

  std::string verdict_id;
  if (checked) {
    auto cr = Envelope(item_id, tenant, "CompletionRequested", kProcessing, done - 10);
    auto* p = cr.mutable_completion_requested();
    p->set_queue(queue);
    *p->mutable_completer() = Person("dana");
    (*p->mutable_outcome())["decision"].set_string_value("cleared");
    *p->mutable_submitted_at() = Ts(submitted);
    *p->mutable_claimed_at() = Ts(claimed);
    *p->mutable_due_at() = Ts(due);
    p->set_attempt(1);
    p->set_kind(kind);
    const std::string source_event = cr.id();
    out.push_back({false, std::move(cr)});

    auto ve = Envelope(item_id, tenant, "Verdict", "//docket/compliance", done - 5);
    auto* v = ve.mutable_verdict();
    v->set_id(ve.id());
    v->set_item_id(item_id);
    v->set_tenant(std::string(tenant));
    v->set_kind(kind);
    v->set_checkpoint(docket::v1::CHECKPOINT_COMPLETE);
    v->set_outcome(docket::v1::OUTCOME_PASS);
    v->set_source_event_id(source_event);
    *v->mutable_evaluated_at() = Ts(done - 5);
    v->set_policy_version("2026.05-1");
    verdict_id = ve.id();
    out.push_back({true, std::move(ve)});
  }

  auto co = Envelope(item_id, tenant, "Completed", kProcessing, done);
  auto* p = co.mutable_completed();
  p->set_queue(queue);
  *p->mutable_completer() = Person("dana");
  (*p->mutable_outcome())["decision"].set_string_value("done");
  *p->mutable_submitted_at() = Ts(submitted);
  *p->mutable_claimed_at() = Ts(claimed);
  *p->mutable_completed_at() = Ts(done);
  *p->mutable_due_at() = Ts(due);
  p->set_attempt(1);
  p->set_sla_met(true);
  p->set_kind(kind);
  p->set_verdict_id(verdict_id);
  out.push_back({false, std::move(co)});
  return out;
}

docket::v1::Event ProbeCompleted(const std::string& item_id, std::string_view tenant, std::int64_t now_ms) {
  auto e = Envelope(item_id, tenant, "Completed", "//docket/processing", now_ms);
  auto* p = e.mutable_completed();
  p->set_queue("data-entry");
  *p->mutable_completer() = Person("dana");
  *p->mutable_submitted_at() = Ts(now_ms - 1000);
  *p->mutable_claimed_at() = Ts(now_ms - 500);
  *p->mutable_completed_at() = Ts(now_ms);
  *p->mutable_due_at() = Ts(now_ms + 3600 * 1000);
  p->set_attempt(1);
  p->set_sla_met(true);
  p->set_kind("data_entry");
  return e;
}

}  // namespace docket::loadgen
