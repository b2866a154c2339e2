#include "services/intake/src/group_admission.h"

#include <pthread.h>

#include <algorithm>

namespace docket::intake {
namespace {

bool SamePublisher(const Publisher& a, const Publisher& b) {
  return a.id == b.id && a.tenants == b.tenants && a.kinds == b.kinds;
}

}  // namespace

GroupAdmission::GroupAdmission(Admission& admission, GroupAdmissionOptions options)
    : admission_(admission), options_(options) {
  const int n = std::max(1, options_.threads);
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "docket-admit");
      Loop();
    });
  }
}

GroupAdmission::~GroupAdmission() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void GroupAdmission::Submit(Publisher publisher, docket::v1::WorkSubmission submission,
                            std::string traceparent, Done done) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() < options_.max_queued) {
      queue_.push_back({std::move(publisher), std::move(submission), std::move(traceparent),
                        std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  Outcome o;
  o.status = absl::ResourceExhaustedError("intake is at its in-flight limit; retry shortly");
  o.retry_after = std::chrono::milliseconds(100);
  done(std::move(o));
}

void GroupAdmission::Loop() {
  std::vector<Call> group;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // One publisher per Admit: the front call's publisher's calls, in
      // arrival order, from a bounded look ahead; the others keep their
      // places for the next group.
      const Publisher publisher = queue_.front().publisher;
      std::vector<Call> others;
      for (std::size_t scanned = 0; !queue_.empty() && group.size() < options_.max_group &&
                                    scanned < 4 * options_.max_group;
           ++scanned) {
        Call& c = queue_.front();
        (SamePublisher(c.publisher, publisher) ? group : others).push_back(std::move(c));
        queue_.pop_front();
      }
      for (auto it = others.rbegin(); it != others.rend(); ++it) queue_.push_front(std::move(*it));
      if (!queue_.empty()) cv_.notify_one();  // another admitter can take the rest now
    }
    AdmitGroup(group);
  }
}

void GroupAdmission::AdmitGroup(std::vector<Call>& group) {
  std::vector<docket::v1::WorkSubmission> subs;
  std::vector<std::string> traceparents;
  subs.reserve(group.size());
  traceparents.reserve(group.size());
  for (Call& c : group) {
    subs.push_back(std::move(c.submission));
    traceparents.push_back(std::move(c.traceparent));
  }
  std::vector<Outcome> outcomes = admission_.Admit(group.front().publisher, subs, "grpc", traceparents);
  for (std::size_t i = 0; i < group.size(); ++i) group[i].done(std::move(outcomes[i]));
}

}  // namespace docket::intake
