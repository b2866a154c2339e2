#include "services/processing/src/state_machine.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace docket::processing {
namespace {

using docket::v1::WorkState;
using ::testing::HasSubstr;

constexpr WorkState S = v1::WORK_STATE_SUBMITTED;
constexpr WorkState Q = v1::WORK_STATE_QUEUED;
constexpr WorkState C = v1::WORK_STATE_CLAIMED;
constexpr WorkState CR = v1::WORK_STATE_COMPLETION_REQUESTED;
constexpr WorkState H = v1::WORK_STATE_HELD;
constexpr WorkState W = v1::WORK_STATE_WAITING;
constexpr WorkState DONE = v1::WORK_STATE_COMPLETED;
constexpr WorkState AUTO = v1::WORK_STATE_AUTO_COMPLETED;
constexpr WorkState REJ = v1::WORK_STATE_REJECTED;

// The lifecycle written out independently of state_machine.cc: every legal
// (state, action) and where it leads. Anything absent must be refused.
const std::map<std::pair<WorkState, Action>, WorkState>& Expected() {
  static const auto* table = new std::map<std::pair<WorkState, Action>, WorkState>{
      {{S, Action::kRoute}, Q},
      {{S, Action::kReject}, REJ},

      {{Q, Action::kClaim}, C},
      {{Q, Action::kAutoComplete}, AUTO},
      {{Q, Action::kAutomate}, CR},
      {{Q, Action::kEscalate}, Q},
      {{Q, Action::kWait}, W},
      {{Q, Action::kReject}, REJ},
      {{Q, Action::kSlaBreach}, Q},

      {{C, Action::kRequestCompletion}, CR},
      {{C, Action::kComplete}, DONE},
      {{C, Action::kReturn}, Q},
      {{C, Action::kLeaseExpire}, Q},
      {{C, Action::kEscalate}, Q},
      {{C, Action::kWait}, W},
      {{C, Action::kReject}, REJ},
      {{C, Action::kSlaBreach}, C},

      {{CR, Action::kComplete}, DONE},
      {{CR, Action::kAutoComplete}, AUTO},
      {{CR, Action::kHold}, H},
      {{CR, Action::kReject}, REJ},
      {{CR, Action::kSlaBreach}, CR},

      {{H, Action::kRelease}, DONE},
      {{H, Action::kReturn}, Q},
      {{H, Action::kReject}, REJ},

      {{W, Action::kResume}, Q},
      {{W, Action::kReject}, REJ},
  };
  return *table;
}

// Every declared WorkState (from the proto descriptor, so a new state added
// to work.proto is enumerated too) plus an out-of-range value.
std::vector<WorkState> AllStates() {
  std::vector<WorkState> states;
  const auto* d = v1::WorkState_descriptor();
  for (int i = 0; i < d->value_count(); ++i) states.push_back(static_cast<WorkState>(d->value(i)->number()));
  states.push_back(static_cast<WorkState>(42));
  return states;
}

TEST(StateMachineTest, EveryStateActionPairIsLegalExactlyWhenTheLifecycleSaysSo) {
  int legal = 0, refused = 0;
  for (WorkState from : AllStates()) {
    for (Action action : kAllActions) {
      SCOPED_TRACE(testing::Message() << "state " << from << " action " << ActionName(action));
      const auto got = Apply(from, action);
      const auto it = Expected().find({from, action});
      if (it != Expected().end()) {
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(*got, it->second);
        ++legal;
      } else {
        ASSERT_FALSE(got.ok()) << "unexpectedly went to " << *got;
        EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
        ++refused;
      }
    }
  }
  EXPECT_EQ(legal, static_cast<int>(Expected().size()));
  EXPECT_EQ(legal + refused, static_cast<int>(AllStates().size() * kAllActions.size()));
}

TEST(StateMachineTest, RefusalNamesTheStateAndTheAction) {
  const auto got = Apply(v1::WORK_STATE_HELD, Action::kClaim);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("WORK_STATE_HELD"));
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("Claim"));
  const auto unknown = Apply(static_cast<WorkState>(42), Action::kRoute);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("WorkState(42)"));
}

TEST(StateMachineTest, TerminalStatesAcceptNothing) {
  for (WorkState terminal : {DONE, AUTO, REJ}) {
    EXPECT_TRUE(IsTerminal(terminal));
    for (Action action : kAllActions) {
      const auto got = Apply(terminal, action);
      EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition)
          << v1::WorkState_Name(terminal) << " " << ActionName(action);
      EXPECT_THAT(std::string(got.status().message()), HasSubstr("terminal"));
    }
  }
  for (WorkState live : {S, Q, C, CR, H, W}) EXPECT_FALSE(IsTerminal(live));
}

TEST(StateMachineTest, SlaBreachNeverChangesTheStateAndIsLegalOnlyWhereTheClockRuns) {
  for (WorkState from : AllStates()) {
    const auto got = Apply(from, Action::kSlaBreach);
    EXPECT_EQ(got.ok(), SlaClockRuns(from)) << from;
    if (got.ok()) {
      EXPECT_EQ(*got, from);
    }
  }
  EXPECT_FALSE(SlaClockRuns(H));  // paused while held
  EXPECT_FALSE(SlaClockRuns(W));  // paused while waiting on the requester
}

TEST(StateMachineTest, EveryLiveStateCanBeRejected) {
  for (WorkState live : {S, Q, C, CR, H, W}) {
    const auto got = Apply(live, Action::kReject);
    ASSERT_TRUE(got.ok()) << live;
    EXPECT_EQ(*got, REJ);
  }
}

TEST(StateMachineTest, ActionNamesAreDistinctAndEveryActionIsListed) {
  std::set<std::string> names;
  for (Action a : kAllActions) names.insert(std::string(ActionName(a)));
  EXPECT_EQ(names.size(), kAllActions.size());
  EXPECT_EQ(names.count("Unknown"), 0u);
  // kAllActions is in declaration order and covers kRoute .. kSlaBreach.
  for (std::size_t i = 0; i < kAllActions.size(); ++i) EXPECT_EQ(static_cast<std::size_t>(kAllActions[i]), i);
  EXPECT_EQ(kAllActions.back(), Action::kSlaBreach);
}

// The paths of DESIGN.md's diagram, end to end.
WorkState Walk(WorkState from, const std::vector<Action>& actions) {
  for (Action a : actions) {
    auto next = Apply(from, a);
    EXPECT_TRUE(next.ok()) << next.status();
    if (!next.ok()) return from;
    from = *next;
  }
  return from;
}

TEST(StateMachineTest, LifecyclePathsOfTheDesign) {
  // Claim, rework, claim again, completion check passes.
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kClaim, Action::kReturn, Action::kClaim,
                    Action::kRequestCompletion, Action::kComplete}),
            DONE);
  // Kind without completion check.
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kClaim, Action::kComplete}), DONE);
  // Flagged, then released by a second approver.
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kClaim, Action::kRequestCompletion, Action::kHold,
                    Action::kRelease}),
            DONE);
  // Flagged, sent back for rework, then rejected.
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kClaim, Action::kRequestCompletion, Action::kHold,
                    Action::kReturn, Action::kClaim, Action::kReject}),
            REJ);
  // Automation with and without a completion check.
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kAutoComplete}), AUTO);
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kAutomate, Action::kAutoComplete}), AUTO);
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kAutomate, Action::kHold, Action::kRelease}), DONE);
  // SLA breach, escalation, lease expiry, waiting on the requester.
  EXPECT_EQ(Walk(S, {Action::kRoute, Action::kSlaBreach, Action::kEscalate, Action::kClaim,
                    Action::kLeaseExpire, Action::kClaim, Action::kWait, Action::kResume,
                    Action::kClaim, Action::kComplete}),
            DONE);
}

v1::WorkItem HeldItem() {
  v1::WorkItem item;
  item.set_id("item-1");
  item.set_state(H);
  item.mutable_requester()->set_type(v1::Actor::TYPE_PERSON);
  item.mutable_requester()->set_id("rita");
  item.mutable_completer()->set_type(v1::Actor::TYPE_PERSON);
  item.mutable_completer()->set_id("carl");
  item.set_worker("carl");
  return item;
}

TEST(FourEyesTest, AnotherPersonMayRelease) {
  EXPECT_TRUE(CheckFourEyes(HeldItem(), "sam").ok());
}

TEST(FourEyesTest, CompleterMayNotReleaseTheirOwnWork) {
  const absl::Status s = CheckFourEyes(HeldItem(), "carl");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("completed item item-1"));
}

TEST(FourEyesTest, RequesterMayNotReleaseTheirOwnRequest) {
  const absl::Status s = CheckFourEyes(HeldItem(), "rita");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("requested"));
}

TEST(FourEyesTest, WorkerMayNotReleaseEvenWhenTheCompleterIsSomeoneElse) {
  v1::WorkItem item = HeldItem();
  item.mutable_completer()->set_id("bot-7");
  item.set_worker("wanda");
  EXPECT_EQ(CheckFourEyes(item, "wanda").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckFourEyes(item, "bot-7").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckFourEyes(item, "carl").ok());
}

TEST(FourEyesTest, IdsCompareCaseInsensitively) {
  EXPECT_EQ(CheckFourEyes(HeldItem(), "CARL").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckFourEyes(HeldItem(), "Rita").code(), absl::StatusCode::kPermissionDenied);
}

TEST(FourEyesTest, EmptyReleaserIsInvalid) {
  EXPECT_EQ(CheckFourEyes(HeldItem(), "").code(), absl::StatusCode::kInvalidArgument);
}

TEST(FourEyesTest, UnknownCompleterOrRequesterDoesNotBlockOthers) {
  v1::WorkItem item;
  item.set_id("item-2");
  EXPECT_TRUE(CheckFourEyes(item, "sam").ok());
}

}  // namespace
}  // namespace docket::processing
