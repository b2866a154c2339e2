#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace docket::app {

// Blocks SIGTERM and SIGINT in the calling thread (call first in main, before
// any thread starts, so every thread inherits the mask) and returns a waiter.
// A thread created before the constructor ran keeps its old mask and may take
// the signal's default action (terminate) instead: construct it first.
// Process-directed signals (kill, Kubernetes, Ctrl-C) are seen; a signal
// directed at one other thread (pthread_kill, raise() elsewhere) is not.
// The mask stays blocked after destruction, so a late signal stays pending
// instead of killing the process half-way through its teardown.
// Aborts the process if the kernel cannot give it a signalfd/eventfd (only at
// start, when descriptors run out).
class ShutdownSignal {
 public:
  ShutdownSignal();
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Waits until SIGTERM/SIGINT arrives or Trigger() is called; returns the
  // signal number (0 for Trigger()). Each signal is reported once; a Trigger()
  // latches, so every later Wait() returns 0 at once.
  int Wait();
  // Ends Wait() from inside the process (tests, fatal component errors).
  // Thread-safe and async-signal-safe; may be called before Wait().
  void Trigger();

 private:
  int signal_fd_ = -1;  // signalfd for SIGTERM/SIGINT
  int event_fd_ = -1;   // eventfd that Trigger() makes readable
};

// Stops components in reverse order of registration (Redpanda's deferred
// stops): start in order, stop in reverse. Not thread-safe: used by the one
// thread that builds and tears down the App.
class StopList {
 public:
  void Defer(std::string name, std::function<void()> stop);
  // Runs every deferred stop, last registered first, each exactly once (a stop
  // deferred later runs at the next StopAll()). Idempotent.
  void StopAll();
  ~StopList() { StopAll(); }

 private:
  std::vector<std::pair<std::string, std::function<void()>>> stops_;
};

}  // namespace docket::app
