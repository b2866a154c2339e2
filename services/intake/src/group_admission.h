#pragma once

// Group commit for single submissions: unary Submit calls that arrive while
// the admitter threads are busy join the next group, and a group is one
// Admission::Admit (one Redis round trip per step, one wait for Kafka's
// acknowledgements) instead of one per call. Nothing waits to fill a group:
// an idle admitter takes a lone submission at once, so a quiet intake
// answers as fast as before, and a busy one answers many calls for the cost
// of a few. No thread is blocked per call.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/intake/src/admission.h"

namespace docket::intake {

struct GroupAdmissionOptions {
  int threads = 16;               // admitters: groups in flight at once
  std::size_t max_group = 500;   // submissions per Admit
  std::size_t max_queued = 10000;  // submissions waiting for an admitter
};

// Thread-safety: Submit() from any thread.
class GroupAdmission {
 public:
  using Done = std::function<void(Outcome)>;

  GroupAdmission(Admission& admission, GroupAdmissionOptions options = {});
  // Admits everything still queued (each `done` runs), then joins.
  ~GroupAdmission();
  GroupAdmission(const GroupAdmission&) = delete;
  GroupAdmission& operator=(const GroupAdmission&) = delete;

  // Queues one submission of `publisher`; `done` runs once, on an admitter
  // thread, with its outcome. When max_queued submissions are already
  // waiting, `done` runs at once (on this thread) with RESOURCE_EXHAUSTED
  // and a retry-after, as for Admission's own in-flight limit.
  void Submit(Publisher publisher, docket::v1::WorkSubmission submission, std::string traceparent,
              Done done);

 private:
  struct Call {
    Publisher publisher;
    docket::v1::WorkSubmission submission;
    std::string traceparent;
    Done done;
  };
  void Loop();
  void AdmitGroup(std::vector<Call>& group);

  Admission& admission_;
  const GroupAdmissionOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace docket::intake
