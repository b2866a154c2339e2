#pragma once

// Queue ordering: one static score per item, lower = served first.
//
//   score = due time (ms since the Unix epoch) - PriorityLead(priority)
//
// Each priority class moves the item's effective deadline earlier by a fixed
// lead: urgent 8 h, high 4 h, normal 0, low -4 h (later). Ordering is then
// "earliest effective deadline first":
//   - same priority: earlier due first;
//   - a higher class wins while the due times are closer than the difference
//     of the leads (high beats normal due up to 4 h later);
//   - aging without rescoring: a waiting item's score is fixed while new
//     arrivals' scores grow with the clock (their due times do), so an old
//     normal item is served before every high item whose due time is more
//     than 4 h after its own. A stream of high work can delay normal work by
//     at most the lead, never starve it;
//   - escalation raises the class (BumpPriority) and re-enqueues with the new
//     score, which moves the item ahead by the difference of the leads.
//
// Because the score never changes while an item waits, it is computed once at
// enqueue and stored as a Redis ZSET score: no periodic rescoring, and the
// order is global across replicas. Scores are whole milliseconds well below
// 2^53, so a double holds them exactly. Ties (same score) fall back to Redis'
// member order, and member ids are UUIDv7 (time-ordered), so ties are FIFO.

#include <chrono>

#include "common/clock/clock.h"
#include "docket/v1/work.pb.h"

namespace docket::processing {

// How much earlier than its due time an item of this class is served.
// UNSPECIFIED (and unknown values) count as NORMAL.
std::chrono::milliseconds PriorityLead(docket::v1::Priority priority);

// The ZSET score: due time in epoch ms minus the class's lead. Lower first.
double UrgencyScore(docket::v1::Priority priority, Clock::TimePoint due);

// `priority` raised by `classes` classes, clamped to URGENT (and never
// lowered: a bump <= 0 keeps it). UNSPECIFIED counts as NORMAL.
docket::v1::Priority BumpPriority(docket::v1::Priority priority, int classes);

}  // namespace docket::processing
