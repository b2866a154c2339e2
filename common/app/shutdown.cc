#include "common/app/shutdown.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/log/log.h"

namespace docket::app {
namespace {

const log::Logger& Logger() {
  static const log::Logger logger("app");
  return logger;
}

[[noreturn]] void Fatal(const char* what) {
  Logger().Error("cannot set up shutdown signal handling",
                 {{"call", what}, {"error", std::strerror(errno)}});
  std::abort();
}

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

ShutdownSignal::ShutdownSignal() {
  const sigset_t set = ShutdownSignals();
  // Blocked signals stay pending for the signalfd instead of killing us.
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) Fatal("pthread_sigmask");
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) Fatal("signalfd");
  event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd_ < 0) Fatal("eventfd");
}

ShutdownSignal::~ShutdownSignal() {
  close(signal_fd_);
  close(event_fd_);
}

int ShutdownSignal::Wait() {
  for (;;) {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {event_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Fatal("poll");
    }
    // A Trigger() is not consumed (it latches); a signal is, so each is seen once.
    if (fds[1].revents & POLLIN) {
      Logger().Info("shutdown requested", {{"by", "trigger"}});
      return 0;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      const ssize_t n = read(signal_fd_, &info, sizeof info);
      if (n == static_cast<ssize_t>(sizeof info)) {
        const int signo = static_cast<int>(info.ssi_signo);
        Logger().Info("shutdown requested", {{"by", "signal"}, {"signal", signo}});
        return signo;
      }
      // EAGAIN: another waiter took the signal first; wait again.
    }
  }
}

void ShutdownSignal::Trigger() {
  const std::uint64_t one = 1;
  // Only fails if the counter would overflow, i.e. it is readable already.
  [[maybe_unused]] const ssize_t n = write(event_fd_, &one, sizeof one);
}

void StopList::Defer(std::string name, std::function<void()> stop) {
  stops_.emplace_back(std::move(name), std::move(stop));
}

void StopList::StopAll() {
  while (!stops_.empty()) {
    // Take it off the list first, so it runs once even if it defers more stops.
    auto [name, stop] = std::move(stops_.back());
    stops_.pop_back();
    Logger().Info("stopping", {{"component", name}});
    if (stop) stop();
  }
}

}  // namespace docket::app
