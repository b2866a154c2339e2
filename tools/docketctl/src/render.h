#pragma once

// How docketctl shows API answers to people (text) and scripts (JSON).

#include <ostream>
#include <string>

#include "docket/v1/compliance_service.pb.h"
#include "docket/v1/kpi_service.pb.h"
#include "docket/v1/work.pb.h"
#include "google/protobuf/message.h"

namespace docket::ctl {

// "QUEUED" for WORK_STATE_QUEUED, "HIGH" for PRIORITY_HIGH.
std::string StateName(docket::v1::WorkState state);
std::string PriorityName(docket::v1::Priority priority);

// "12.50 EUR", "2026-11-23", "true", "3", "\"D-1\"" (strings quoted).
std::string FormatValue(const docket::v1::AttributeValue& value);
// "45s", "12m 05s", "3h 07m", "2d 04h"; "-" for 0 or less.
std::string FormatSeconds(double seconds);
// "97.5 %".
std::string FormatPercent(double ratio);

// The message as JSON with every field, including zero values (for scripts).
std::string ToJson(const google::protobuf::Message& message);

void PrintItem(std::ostream& out, const docket::v1::WorkItem& item);
// One line per item under a header: ID KIND STATE PRIORITY DUE WORKER.
void PrintItemTableHeader(std::ostream& out);
void PrintItemRow(std::ostream& out, const docket::v1::WorkItem& item);

// `window` is the label to show ("24h", or "" for all time).
void PrintKpis(std::ostream& out, const docket::v1::KpiSnapshot& snapshot, const std::string& window);
// Transitions with counts and times, then the bottleneck.
void PrintProcessMap(std::ostream& out, const docket::v1::ProcessMap& map, const std::string& tenant,
                     const std::string& window);
void PrintAuditTrail(std::ostream& out, const docket::v1::GetAuditTrailResponse& trail);

}  // namespace docket::ctl
