#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace docket::app {

// Blocks SIGTERM and SIGINT in the calling thread (call first in main, before
// any thread starts, so every thread inherits the mask) and returns a waiter.
class ShutdownSignal {
 public:
  ShutdownSignal();
  // Waits until SIGTERM/SIGINT arrives or Trigger() is called; returns the
  // signal number (0 for Trigger()).
  int Wait();
  // Ends Wait() from inside the process (tests, fatal component errors).
  void Trigger();
};

// Stops components in reverse order of registration (Redpanda's deferred
// stops): start in order, stop in reverse.
class StopList {
 public:
  void Defer(std::string name, std::function<void()> stop);
  // Runs every deferred stop, last registered first. Idempotent.
  void StopAll();
  ~StopList() { StopAll(); }

 private:
  std::vector<std::pair<std::string, std::function<void()>>> stops_;
};

}  // namespace docket::app
