#pragma once

// A realistic stream of Docket's lifecycle events, as the services write
// them (docket.v1.Event envelopes; EncodeEvent adds the ce_* headers), to
// feed docket-metrics without the rest of the stack. Items take one of
// three paths, in a fixed 7 : 2 : 1 mix by item number:
//
//   person     data_entry          Submitted, Routed, Claimed, Completed
//   automated  data_entry          Submitted, Routed, AutoCompleted
//   checked    shipping_documents  Submitted, Routed, Claimed, CompletionRequested,
//                                  Verdict (PASS, on the compliance topic), Completed
//
// so four events per item on average, every item finishes, and every
// Completed counts on /metrics as path="person".

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "docket/v1/event.pb.h"

namespace docket::loadgen {

enum class ItemPath { kPerson, kAutomated, kChecked };

// The path of item number n (7 : 2 : 1 by n mod 10).
ItemPath PathOf(std::uint64_t n);

struct StreamEvent {
  bool compliance_topic = false;  // docket.compliance.v1 (a Verdict), else docket.work.v1
  docket::v1::Event event;
};

// The events of one item's life in order, `item_id` as subject and record
// key, event ids unique per item and type; timestamps a few ms apart from `now_ms`.
std::vector<StreamEvent> ItemLife(const std::string& item_id, std::string_view tenant, ItemPath path,
                                  std::int64_t now_ms);

// A Completed event of a person's data_entry item (no earlier event needed:
// metrics counts it on its own), for freshness probes under another tenant
// than the stream's.
docket::v1::Event ProbeCompleted(const std::string& item_id, std::string_view tenant, std::int64_t now_ms);

}  // namespace docket::loadgen
