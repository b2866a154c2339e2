#include "common/app/shutdown.h"

#include <signal.h>
#include <unistd.h>

#include <future>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace docket::app {
namespace {

using ::testing::ElementsAre;

// Generous: a healthy run answers in microseconds; this only bounds a hang.
constexpr auto kDeadline = std::chrono::seconds(10);

TEST(StopList, RunsStopsInReverseOrderExactlyOnce) {
  std::vector<std::string> order;
  {
    StopList stops;
    stops.Defer("config", [&] { order.push_back("config"); });
    stops.Defer("metrics", [&] { order.push_back("metrics"); });
    stops.Defer("server", [&] { order.push_back("server"); });
    stops.StopAll();
    EXPECT_THAT(order, ElementsAre("server", "metrics", "config"));
    stops.StopAll();  // idempotent
  }  // and the destructor does not run them again
  EXPECT_THAT(order, ElementsAre("server", "metrics", "config"));
}

TEST(StopList, DestructorStopsWhatWasNotStopped) {
  std::vector<std::string> order;
  {
    StopList stops;
    stops.Defer("a", [&] { order.push_back("a"); });
    stops.Defer("b", [&] { order.push_back("b"); });
  }
  EXPECT_THAT(order, ElementsAre("b", "a"));
}

TEST(StopList, StopDeferredAfterStopAllRunsAtTheNextStopAll) {
  std::vector<std::string> order;
  StopList stops;
  stops.Defer("a", [&] { order.push_back("a"); });
  stops.StopAll();
  stops.Defer("b", [&] { order.push_back("b"); });
  stops.StopAll();
  EXPECT_THAT(order, ElementsAre("a", "b"));
}

TEST(ShutdownSignal, WaitReturnsZeroWhenTriggeredFromAnotherThread) {
  ShutdownSignal signal;
  auto waited = std::async(std::launch::async, [&] { return signal.Wait(); });
  signal.Trigger();
  ASSERT_EQ(waited.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(waited.get(), 0);
  EXPECT_EQ(signal.Wait(), 0);  // a trigger latches
}

TEST(ShutdownSignal, TriggerBeforeWaitIsNotLost) {
  ShutdownSignal signal;
  signal.Trigger();
  EXPECT_EQ(signal.Wait(), 0);
}

TEST(ShutdownSignal, WaitReturnsSigtermSentToTheProcess) {
  ShutdownSignal signal;  // blocks SIGTERM here, before the sender thread starts
  std::thread sender([] { kill(getpid(), SIGTERM); });
  auto waited = std::async(std::launch::async, [&] { return signal.Wait(); });
  ASSERT_EQ(waited.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(waited.get(), SIGTERM);
  sender.join();
}

TEST(ShutdownSignal, SigintIsCaughtAndEachSignalIsReportedOnce) {
  ShutdownSignal signal;
  ASSERT_EQ(kill(getpid(), SIGINT), 0);  // Ctrl-C
  EXPECT_EQ(signal.Wait(), SIGINT);
  // The signal was consumed: the next Wait() sees only what comes next.
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  EXPECT_EQ(signal.Wait(), SIGTERM);
}

}  // namespace
}  // namespace docket::app
