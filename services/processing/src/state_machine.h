#pragma once

// The work item lifecycle of DESIGN.md as one explicit transition table.
//
//   from                  action             to
//   SUBMITTED             Route              QUEUED
//   QUEUED                Claim              CLAIMED
//   QUEUED                AutoComplete       AUTO_COMPLETED        (rule matched, no check needed)
//   QUEUED                Automate           COMPLETION_REQUESTED  (rule matched, check needed)
//   QUEUED, CLAIMED       Escalate           QUEUED                (another queue, higher priority)
//   CLAIMED               RequestCompletion  COMPLETION_REQUESTED  (kind needs a completion check)
//   CLAIMED               Complete           COMPLETED             (kind needs no completion check)
//   CLAIMED               Return             QUEUED                (rework)
//   CLAIMED               LeaseExpire        QUEUED
//   COMPLETION_REQUESTED  Complete           COMPLETED             (PASS for a person's work)
//   COMPLETION_REQUESTED  AutoComplete       AUTO_COMPLETED        (PASS for an automated item)
//   COMPLETION_REQUESTED  Hold               HELD                  (FLAG or FAIL)
//   HELD                  Release            COMPLETED             (second approver, four-eyes)
//   HELD                  Return             QUEUED                (the approver sends it back)
//   QUEUED, CLAIMED       Wait               WAITING               (on the requester)
//   WAITING               Resume             QUEUED
//   every live state      Reject             REJECTED
//   QUEUED, CLAIMED,
//   COMPLETION_REQUESTED  SlaBreach          (unchanged)           where the SLA clock runs
//
// COMPLETED, AUTO_COMPLETED and REJECTED are terminal: they accept nothing.
// The SLA clock is paused in HELD and WAITING (BusinessCalendar::ExtendDue).
// The table in state_machine.cc is the single place these rules live; the
// handler calls Apply() before any write, so an illegal request answers
// FAILED_PRECONDITION and changes nothing.

#include <array>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "docket/v1/work.pb.h"

namespace docket::processing {

enum class Action {
  kRoute,              // Submitted: the kind's queue, priority and due time are set
  kClaim,              // a worker takes the item (a lease)
  kRequestCompletion,  // the worker is done; a compliance verdict must follow
  kComplete,           // PASS verdict, or a worker completing a kind without a check
  kAutomate,           // an automation rule matched; a compliance verdict must follow
  kAutoComplete,       // an automation rule completed the item (no check, or PASS)
  kReturn,             // rework: back to the queue
  kEscalate,           // to the escalation queue with a priority bump
  kHold,               // FLAG or FAIL verdict on a completion
  kRelease,            // a second approver releases a held item (four-eyes)
  kReject,             // ends the item without completing it
  kLeaseExpire,        // the claiming worker vanished
  kWait,               // waiting on the requester (SLA clock paused)
  kResume,             // the requester answered
  kSlaBreach,          // the due time passed; the state does not change
};

inline constexpr std::array<Action, 15> kAllActions = {
    Action::kRoute,   Action::kClaim,   Action::kRequestCompletion, Action::kComplete,
    Action::kAutomate, Action::kAutoComplete, Action::kReturn,     Action::kEscalate,
    Action::kHold,    Action::kRelease, Action::kReject,           Action::kLeaseExpire,
    Action::kWait,    Action::kResume,  Action::kSlaBreach,
};

// "Route", "Claim", ... (stable: used in event types, errors and metrics labels).
std::string_view ActionName(Action action);

// The state after `action` in `from`; FAILED_PRECONDITION naming both when
// the table has no such transition (including any action in a terminal,
// unspecified or unknown state).
absl::StatusOr<docket::v1::WorkState> Apply(docket::v1::WorkState from, Action action);

// COMPLETED, AUTO_COMPLETED, REJECTED.
bool IsTerminal(docket::v1::WorkState state);

// Whether the SLA clock runs in `state` (QUEUED, CLAIMED, COMPLETION_REQUESTED).
// In HELD and WAITING it is paused; see BusinessCalendar::ExtendDue.
bool SlaClockRuns(docket::v1::WorkState state);

// Four-eyes: whoever releases a held item must be someone other than the
// person who completed it (or worked on it) and the requester. Ids compare
// case-insensitively, failing closed if an identity provider is loose with
// case. INVALID_ARGUMENT for an empty releaser, PERMISSION_DENIED when the
// releaser is one of those people. Does not check the item's state (Apply does).
absl::Status CheckFourEyes(const docket::v1::WorkItem& item, const std::string& releaser);

}  // namespace docket::processing
