#include "tools/docketctl/src/render.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace docket::ctl {
namespace {

using google::protobuf::util::TimeUtil;

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  google::protobuf::Timestamp whole = t;
  whole.set_nanos(0);  // seconds are enough for people
  return TimeUtil::ToString(whole);
}

std::string ActorText(const docket::v1::Actor& a) {
  if (a.id().empty()) return "-";
  std::string type;
  switch (a.type()) {
    case docket::v1::Actor::TYPE_PERSON: type = "person"; break;
    case docket::v1::Actor::TYPE_BOT: type = "bot"; break;
    case docket::v1::Actor::TYPE_SYSTEM: type = "system"; break;
    case docket::v1::Actor::TYPE_PUBLISHER: type = "publisher"; break;
    default: break;
  }
  return type.empty() ? a.id() : absl::StrCat(a.id(), " (", type, ")");
}

std::string Padded(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

void PrintAttributes(std::ostream& out, const char* title,
                     const google::protobuf::Map<std::string, docket::v1::AttributeValue>& attributes) {
  if (attributes.empty()) return;
  std::map<std::string, std::string> sorted;  // proto maps have no order
  std::size_t width = 0;
  for (const auto& [name, value] : attributes) {
    sorted[name] = FormatValue(value);
    width = std::max(width, name.size());
  }
  out << title << "\n";
  for (const auto& [name, value] : sorted) out << "  " << Padded(name, width + 2) << value << "\n";
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

std::string StateName(docket::v1::WorkState state) {
  std::string name = docket::v1::WorkState_Name(state);
  if (name.rfind("WORK_STATE_", 0) == 0) name.erase(0, 11);
  return name.empty() ? absl::StrCat(static_cast<int>(state)) : name;
}

std::string PriorityName(docket::v1::Priority priority) {
  std::string name = docket::v1::Priority_Name(priority);
  if (name.rfind("PRIORITY_", 0) == 0) name.erase(0, 9);
  return name.empty() ? absl::StrCat(static_cast<int>(priority)) : name;
}

std::string FormatValue(const docket::v1::AttributeValue& v) {
  switch (v.value_case()) {
    case docket::v1::AttributeValue::kStringValue:
      return nlohmann::json(v.string_value()).dump();
    case docket::v1::AttributeValue::kEnumValue:
      return v.enum_value();
    case docket::v1::AttributeValue::kNumberValue: {
      const double n = v.number_value();
      if (std::trunc(n) == n && std::fabs(n) < 1e15) return absl::StrCat(static_cast<std::int64_t>(n));
      return nlohmann::json(n).dump();  // shortest form that reads back: 0.93
    }
    case docket::v1::AttributeValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case docket::v1::AttributeValue::kMoneyValue: {
      const std::int64_t units = v.money_value().minor_units();
      const std::uint64_t abs = units < 0 ? 0 - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%s%llu.%02llu", units < 0 ? "-" : "",
                    static_cast<unsigned long long>(abs / 100), static_cast<unsigned long long>(abs % 100));
      return absl::StrCat(buf, " ", v.money_value().currency());
    }
    case docket::v1::AttributeValue::kDateValue: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", v.date_value().year(), v.date_value().month(),
                    v.date_value().day());
      return buf;
    }
    default:
      return "-";
  }
}

std::string FormatSeconds(double seconds) {
  if (!(seconds > 0)) return "-";
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm %02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof(buf), "%lldh %02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd %02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

std::string FormatPercent(double ratio) { return Fixed(ratio * 100, 1) + " %"; }

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

void PrintItem(std::ostream& out, const docket::v1::WorkItem& item) {
  const auto row = [&](const char* name, const std::string& value) {
    out << Padded(name, 12) << value << "\n";
  };
  row("id", item.id());
  row("tenant", item.tenant());
  row("kind", item.kind());
  row("state", StateName(item.state()));
  row("queue", item.queue().empty() ? "-" : item.queue());
  row("priority", PriorityName(item.priority()));
  row("submitted", Time(item.submitted_at()));
  row("due", Time(item.due_at()));
  if (!item.worker().empty()) row("worker", item.worker());
  if (item.has_claimed_at()) row("claimed", Time(item.claimed_at()));
  if (item.has_lease_expires_at()) row("lease until", Time(item.lease_expires_at()));
  if (item.has_sla_breached_at()) row("breached", Time(item.sla_breached_at()));
  if (item.has_finished_at()) row("finished", Time(item.finished_at()));
  row("attempt", absl::StrCat(item.attempt(), " (reworks ", item.rework_count(), ", escalations ",
                              item.escalation_count(), ")"));
  row("version", absl::StrCat(item.version()));
  if (!item.external_ref().empty()) row("external", item.external_ref());
  if (!item.requester().id().empty()) row("requester", ActorText(item.requester()));
  if (!item.completer().id().empty()) row("completer", ActorText(item.completer()));
  PrintAttributes(out, "attributes", item.attributes());
  PrintAttributes(out, "outcome", item.outcome());
  if (item.comments_size() > 0) {
    out << "comments\n";
    for (const auto& c : item.comments()) {
      out << "  " << Time(c.at()) << "  " << ActorText(c.author()) << ": " << c.text() << "\n";
    }
  }
}

void PrintItemTableHeader(std::ostream& out) {
  out << Padded("ID", 38) << Padded("KIND", 20) << Padded("STATE", 22) << Padded("PRIORITY", 9)
      << Padded("DUE", 22) << "WORKER\n";
}

void PrintItemRow(std::ostream& out, const docket::v1::WorkItem& item) {
  out << Padded(item.id(), 38) << Padded(item.kind(), 20) << Padded(StateName(item.state()), 22)
      << Padded(PriorityName(item.priority()), 9) << Padded(Time(item.due_at()), 22)
      << (item.worker().empty() ? "-" : item.worker()) << "\n";
}

void PrintKpis(std::ostream& out, const docket::v1::KpiSnapshot& s, const std::string& window) {
  const auto& f = s.filter();
  out << "KPIs  tenant " << (f.tenant().empty() ? "*" : f.tenant()) << "  kind "
      << (f.kind().empty() ? "*" : f.kind()) << "  queue " << (f.queue().empty() ? "*" : f.queue())
      << "  window " << (window.empty() ? "all time" : window) << "\n\n";
  const auto row = [&](const char* name, const std::string& value) {
    out << "  " << Padded(name, 20) << value << "\n";
  };
  row("arrivals", absl::StrCat(s.arrivals()));
  row("completed", s.bot_completed() == 0
                       ? absl::StrCat(s.completed())
                       : absl::StrCat(s.completed(), "  (", s.completed() - s.bot_completed(), " by people, ",
                                      s.bot_completed(), " by bots)"));
  row("auto-completed", absl::StrCat(s.auto_completed()));
  row("rejected", absl::StrCat(s.rejected()));
  row("backlog", absl::StrCat(s.backlog()));
  row("throughput", Fixed(s.throughput_per_hour(), 1) + " items/h");
  const std::int64_t sla_total = s.sla_met() + s.sla_missed();
  row("SLA attainment", sla_total == 0 ? "- (nothing completed yet)"
                                       : absl::StrCat(FormatPercent(s.sla_attainment()), "  (", s.sla_met(),
                                                      " met, ", s.sla_missed(), " missed)"));
  row("first-pass yield", FormatPercent(s.first_pass_yield()));
  row("automation rate", FormatPercent(s.automation_rate()));
  row("cycle time p50", FormatSeconds(s.cycle_time_p50_seconds()));
  row("cycle time p90", FormatSeconds(s.cycle_time_p90_seconds()));
  row("SLA breaches", absl::StrCat(s.sla_breaches()));
  row("compliance holds", absl::StrCat(s.holds()));
  row("reworks", absl::StrCat(s.reworks()));
  row("escalations", absl::StrCat(s.escalations()));
  row("oldest open item", FormatSeconds(s.oldest_item_age_seconds()));
}

void PrintProcessMap(std::ostream& out, const docket::v1::ProcessMap& m, const std::string& tenant,
                     const std::string& window) {
  out << "process map  tenant " << (tenant.empty() ? "*" : tenant) << "  kind "
      << (m.kind().empty() ? "*" : m.kind()) << "  window " << (window.empty() ? "all time" : window) << "\n\n";
  if (m.transitions().empty()) {
    out << "  no transitions recorded yet\n";
    return;
  }
  std::size_t width = 10;
  for (const auto& t : m.transitions()) width = std::max(width, t.from().size() + t.to().size() + 4);
  out << "  " << Padded("TRANSITION", width + 2) << Padded("COUNT", 9) << Padded("MEAN", 10) << "P90\n";
  for (const auto& t : m.transitions()) {
    out << "  " << Padded(t.from() + " -> " + t.to(), width + 2) << Padded(absl::StrCat(t.count()), 9)
        << Padded(FormatSeconds(t.mean_seconds()), 10) << FormatSeconds(t.p90_seconds()) << "\n";
  }
  out << "\n  rework loops: " << m.rework_loops() << "\n";
  if (m.bottlenecks().empty()) return;
  const auto& top = m.bottlenecks(0);
  out << "  bottleneck: " << top.state() << " (items wait " << FormatSeconds(top.mean_wait_seconds())
      << " there on average)\n";
  for (int i = 1; i < m.bottlenecks_size() && i < 3; ++i) {
    out << "    then " << m.bottlenecks(i).state() << " (" << FormatSeconds(m.bottlenecks(i).mean_wait_seconds())
        << ")\n";
  }
}

void PrintAuditTrail(std::ostream& out, const docket::v1::GetAuditTrailResponse& trail) {
  if (trail.records().empty()) {
    out << "no audit records for this item\n";
    return;
  }
  out << Padded("RECORDED", 22) << Padded("TYPE", 12) << Padded("CHAIN #SEQ", 26) << Padded("ACTOR", 14)
      << "SUMMARY\n";
  for (const auto& r : trail.records()) {
    std::string type = docket::v1::AuditRecord::Type_Name(r.type());
    if (type.rfind("TYPE_", 0) == 0) type.erase(0, 5);
    out << Padded(Time(r.recorded_at()), 22) << Padded(type, 12)
        << Padded(absl::StrCat(r.chain(), " #", r.sequence()), 26)
        << Padded(r.actor_id().empty() ? "-" : r.actor_id(), 14) << r.summary() << "\n";
  }
}

}  // namespace docket::ctl
