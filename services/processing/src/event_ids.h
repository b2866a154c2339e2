#pragma once

// Deterministic ids for derived events: an event that processing emits
// because of an input event gets an id computed from the input's id and the
// transition, so replaying a partition re-emits the same ids and consumers
// drop the duplicates.

#include <string>
#include <string_view>

namespace docket::processing {

// The first 32 lowercase hex digits (128 bits) of
// SHA-256(input_event_id + "\x1f" + transition). Stable across runs, hosts
// and versions; the unit separator keeps ("ab", "c") and ("a", "bc") apart.
// `transition` names what happened, e.g. "Routed" or "Claimed:worker-7"
// when one input can cause several events of one type.
std::string DerivedEventId(const std::string& input_event_id, std::string_view transition);

}  // namespace docket::processing
