#include "services/processing/src/state_machine.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace docket::processing {
namespace {

using docket::v1::WorkState;

struct Transition {
  WorkState from;
  Action action;
  WorkState to;
};

// Every legal transition; anything not listed is refused.
constexpr Transition kTable[] = {
    {v1::WORK_STATE_SUBMITTED, Action::kRoute, v1::WORK_STATE_QUEUED},
    {v1::WORK_STATE_SUBMITTED, Action::kReject, v1::WORK_STATE_REJECTED},

    {v1::WORK_STATE_QUEUED, Action::kClaim, v1::WORK_STATE_CLAIMED},
    {v1::WORK_STATE_QUEUED, Action::kAutomate, v1::WORK_STATE_COMPLETION_REQUESTED},
    {v1::WORK_STATE_QUEUED, Action::kAutoComplete, v1::WORK_STATE_AUTO_COMPLETED},
    {v1::WORK_STATE_QUEUED, Action::kEscalate, v1::WORK_STATE_QUEUED},
    {v1::WORK_STATE_QUEUED, Action::kWait, v1::WORK_STATE_WAITING},
    {v1::WORK_STATE_QUEUED, Action::kReject, v1::WORK_STATE_REJECTED},
    {v1::WORK_STATE_QUEUED, Action::kSlaBreach, v1::WORK_STATE_QUEUED},

    {v1::WORK_STATE_CLAIMED, Action::kRequestCompletion, v1::WORK_STATE_COMPLETION_REQUESTED},
    {v1::WORK_STATE_CLAIMED, Action::kComplete, v1::WORK_STATE_COMPLETED},
    {v1::WORK_STATE_CLAIMED, Action::kReturn, v1::WORK_STATE_QUEUED},
    {v1::WORK_STATE_CLAIMED, Action::kLeaseExpire, v1::WORK_STATE_QUEUED},
    {v1::WORK_STATE_CLAIMED, Action::kEscalate, v1::WORK_STATE_QUEUED},
    {v1::WORK_STATE_CLAIMED, Action::kWait, v1::WORK_STATE_WAITING},
    {v1::WORK_STATE_CLAIMED, Action::kReject, v1::WORK_STATE_REJECTED},
    {v1::WORK_STATE_CLAIMED, Action::kSlaBreach, v1::WORK_STATE_CLAIMED},

    {v1::WORK_STATE_COMPLETION_REQUESTED, Action::kComplete, v1::WORK_STATE_COMPLETED},
    {v1::WORK_STATE_COMPLETION_REQUESTED, Action::kAutoComplete, v1::WORK_STATE_AUTO_COMPLETED},
    {v1::WORK_STATE_COMPLETION_REQUESTED, Action::kHold, v1::WORK_STATE_HELD},
    {v1::WORK_STATE_COMPLETION_REQUESTED, Action::kReject, v1::WORK_STATE_REJECTED},
    {v1::WORK_STATE_COMPLETION_REQUESTED, Action::kSlaBreach, v1::WORK_STATE_COMPLETION_REQUESTED},

    {v1::WORK_STATE_HELD, Action::kRelease, v1::WORK_STATE_COMPLETED},
    {v1::WORK_STATE_HELD, Action::kReturn, v1::WORK_STATE_QUEUED},
    {v1::WORK_STATE_HELD, Action::kReject, v1::WORK_STATE_REJECTED},

    {v1::WORK_STATE_WAITING, Action::kResume, v1::WORK_STATE_QUEUED},
    {v1::WORK_STATE_WAITING, Action::kReject, v1::WORK_STATE_REJECTED},
};

std::string StateName(WorkState state) {
  if (v1::WorkState_IsValid(state)) return v1::WorkState_Name(state);
  return absl::StrCat("WorkState(", static_cast<int>(state), ")");
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kRoute: return "Route";
    case Action::kClaim: return "Claim";
    case Action::kRequestCompletion: return "RequestCompletion";
    case Action::kComplete: return "Complete";
    case Action::kAutomate: return "Automate";
    case Action::kAutoComplete: return "AutoComplete";
    case Action::kReturn: return "Return";
    case Action::kEscalate: return "Escalate";
    case Action::kHold: return "Hold";
    case Action::kRelease: return "Release";
    case Action::kReject: return "Reject";
    case Action::kLeaseExpire: return "LeaseExpire";
    case Action::kWait: return "Wait";
    case Action::kResume: return "Resume";
    case Action::kSlaBreach: return "SlaBreach";
  }
  return "Unknown";
}

absl::StatusOr<WorkState> Apply(WorkState from, Action action) {
  for (const Transition& t : kTable) {
    if (t.from == from && t.action == action) return t.to;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "illegal transition: ", std::string(ActionName(action)), " is not allowed in state ",
      StateName(from), IsTerminal(from) ? " (terminal)" : ""));
}

bool IsTerminal(WorkState state) {
  return state == v1::WORK_STATE_COMPLETED || state == v1::WORK_STATE_AUTO_COMPLETED ||
         state == v1::WORK_STATE_REJECTED;
}

bool SlaClockRuns(WorkState state) {
  return state == v1::WORK_STATE_QUEUED || state == v1::WORK_STATE_CLAIMED ||
         state == v1::WORK_STATE_COMPLETION_REQUESTED;
}

absl::Status CheckFourEyes(const v1::WorkItem& item, const std::string& releaser) {
  if (releaser.empty()) return absl::InvalidArgumentError("four-eyes: the releaser must be named");
  auto same = [&](const std::string& other) {
    return !other.empty() && absl::EqualsIgnoreCase(absl::string_view(other), absl::string_view(releaser));
  };
  if (same(item.completer().id())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "four-eyes: ", releaser, " completed item ", item.id(), " and cannot also release it"));
  }
  if (same(item.worker())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "four-eyes: ", releaser, " worked on item ", item.id(), " and cannot also release it"));
  }
  if (same(item.requester().id())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "four-eyes: ", releaser, " requested item ", item.id(), " and cannot also release it"));
  }
  return absl::OkStatus();
}

}  // namespace docket::processing
