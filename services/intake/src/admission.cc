#include "services/intake/src/admission.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "google/protobuf/util/time_util.h"

namespace docket::intake {
namespace {

const log::Logger& Log() {
  static const log::Logger logger("intake.admission");
  return logger;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  for (const auto& e : v) {
    if (e == x || e == "*") return true;
  }
  return false;
}

std::string ViolationSummary(const std::vector<Violation>& v) {
  std::string out = absl::StrCat(v.size(), v.size() == 1 ? " violation: " : " violations: ");
  for (std::size_t i = 0; i < v.size(); ++i) {
    absl::StrAppend(&out, i ? "; " : "", v[i].field, " ", v[i].description);
  }
  return out;
}

}  // namespace

Admission::Admission(const catalog::Catalog& catalog, IdempotencyStore& idempotency,
                     kafka::EventPublisher& publisher, RateLimiter& rate_limiter,
                     const Clock& clock, const kafka::Topics& topics, IntakeMetrics* metrics,
                     AdmissionOptions options)
    : catalog_(catalog), idempotency_(idempotency), publisher_(publisher),
      rate_limiter_(rate_limiter), clock_(clock), topics_(topics), metrics_(metrics),
      options_(std::move(options)), ids_(clock) {}

absl::Status Admission::Authorize(const Publisher& p, const docket::v1::WorkSubmission& s) const {
  if (!Contains(p.tenants, s.tenant())) {
    return absl::PermissionDeniedError(
        absl::StrCat("key ", p.id, " may not submit for tenant \"", s.tenant().substr(0, 64), "\""));
  }
  if (!p.kinds.empty() && !Contains(p.kinds, s.kind())) {
    return absl::PermissionDeniedError(
        absl::StrCat("key ", p.id, " may not submit kind \"", s.kind().substr(0, 64), "\""));
  }
  return absl::OkStatus();
}

docket::v1::Event Admission::SubmittedEvent(const docket::v1::WorkSubmission& s,
                                            const std::string& item_id, const std::string& channel,
                                            const std::string& traceparent) const {
  using google::protobuf::util::TimeUtil;
  docket::v1::Event e;
  // Deterministic: a retry that re-publishes the same item carries the same
  // event id, so consumers drop the second copy.
  e.set_id(item_id + ":submitted");
  e.set_source(options_.source);
  e.set_subject(item_id);
  e.set_tenant(s.tenant());
  e.set_traceparent(traceparent);
  const auto now = TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count());
  *e.mutable_time() = now;
  auto* sub = e.mutable_submitted();
  *sub->mutable_submission() = s;
  if (options_.redactor) {
    for (auto& r : options_.redactor->Apply(*sub->mutable_submission())) {
      if (metrics_) metrics_->Redaction(s.kind(), r.rule_id());
      *sub->add_redactions() = std::move(r);
    }
  }
  *sub->mutable_submitted_at() = now;
  sub->set_channel(channel);
  e.set_type(kafka::EventType(e));
  return e;
}

std::vector<Outcome> Admission::Admit(const std::optional<Publisher>& publisher,
                                      const std::vector<docket::v1::WorkSubmission>& subs,
                                      const std::string& channel,
                                      const std::vector<std::string>& traceparents) {
  const auto started = clock_.Monotonic();
  std::vector<Outcome> out(subs.size());
  if (!traceparents.empty() && traceparents.size() != subs.size()) {
    for (Outcome& o : out) {
      o.status = absl::InvalidArgumentError(absl::StrCat(
          "admission: ", traceparents.size(), " traceparents for ", subs.size(), " submissions"));
    }
    return out;
  }
  std::vector<std::string> results(subs.size());  // metrics label per item
  std::vector<std::size_t> accepted;

  // 1. Authorize, validate, rate limit: no I/O.
  for (std::size_t i = 0; i < subs.size(); ++i) {
    if (publisher) {
      if (absl::Status s = Authorize(*publisher, subs[i]); !s.ok()) {
        out[i].status = s;
        results[i] = "denied";
        continue;
      }
    }
    out[i].violations = Validate(catalog_, subs[i]);
    if (!out[i].violations.empty()) {
      out[i].status = absl::InvalidArgumentError(ViolationSummary(out[i].violations));
      results[i] = "invalid";
      continue;
    }
    if (auto wait = rate_limiter_.Acquire(subs[i].tenant()); wait.count() > 0) {
      out[i].status = absl::ResourceExhaustedError(
          absl::StrCat("tenant ", subs[i].tenant(), " is over its submission rate; retry in ",
                       wait.count(), " ms"));
      out[i].retry_after = wait;
      results[i] = "rate_limited";
      continue;
    }
    accepted.push_back(i);
  }

  // 2. Bound the work in flight across all callers.
  std::size_t admitted_slots = 0;
  if (!accepted.empty()) {
    const std::size_t before = in_flight_.fetch_add(accepted.size());
    if (before + accepted.size() > options_.max_in_flight) {
      in_flight_.fetch_sub(accepted.size());
      for (std::size_t i : accepted) {
        out[i].status = absl::ResourceExhaustedError("intake is at its in-flight limit; retry shortly");
        out[i].retry_after = std::chrono::milliseconds(100);
        results[i] = "overloaded";
      }
      accepted.clear();
    } else {
      admitted_slots = accepted.size();
      if (metrics_) metrics_->in_flight().Increment(static_cast<double>(admitted_slots));
    }
  }

  // 3. Reserve keys; publish what we reserved; wait for pending duplicates.
  std::vector<Reservation> reservations(subs.size());
  std::vector<std::size_t> to_publish;
  std::vector<std::size_t> pending = accepted;
  // Real time: this is a wait inside the process, not business time.
  const auto deadline = std::chrono::steady_clock::now() + options_.pending_wait;
  auto backoff = std::chrono::milliseconds(1);
  while (!pending.empty()) {
    std::vector<std::size_t> still_pending;
    // One round trip for every key of this call.
    std::vector<IdempotencyStore::KeyRequest> keys;
    keys.reserve(pending.size());
    for (std::size_t i : pending) {
      keys.push_back({&subs[i].tenant(), &subs[i].idempotency_key(), ids_.Next()});
    }
    auto reserved = idempotency_.ReserveAll(keys);
    for (std::size_t n = 0; n < pending.size(); ++n) {
      const std::size_t i = pending[n];
      auto& r = reserved[n];
      if (!r.ok()) {
        out[i].status = absl::UnavailableError(
            absl::StrCat("idempotency store unavailable: ", r.status().message()));
        out[i].retry_after = std::chrono::milliseconds(500);
        results[i] = "unavailable";
        continue;
      }
      reservations[i] = *r;
      out[i].item_id = r->item_id;
      switch (r->state) {
        case Reservation::State::kCommitted:
          out[i].duplicate = true;
          results[i] = "duplicate";
          break;
        case Reservation::State::kReserved:
          to_publish.push_back(i);
          break;
        case Reservation::State::kPending:
          still_pending.push_back(i);
          break;
      }
    }

    if (!to_publish.empty()) {
      std::vector<kafka::Record> records;
      records.reserve(to_publish.size());
      for (std::size_t i : to_publish) {
        records.push_back(kafka::EncodeEvent(
            topics_.work(), SubmittedEvent(subs[i], out[i].item_id, channel,
                           traceparents.empty() ? std::string() : traceparents[i])));
      }
      // Bounded: while Kafka is down the producer keeps the record for its
      // delivery timeout, but the caller hears UNAVAILABLE now. A record that
      // still lands later carries the same item and event id as the retry's.
      const std::vector<absl::Status> confirmed =
          publisher_.PublishAll(std::move(records), std::chrono::steady_clock::now() + options_.publish_wait);
      std::vector<absl::Status> published(subs.size());
      for (std::size_t n = 0; n < to_publish.size(); ++n) published[to_publish[n]] = confirmed[n];
      std::vector<IdempotencyStore::KeyRequest> durable;
      for (std::size_t i : to_publish) {
        if (published[i].ok()) {
          durable.push_back({&subs[i].tenant(), &subs[i].idempotency_key(), "", &reservations[i]});
        }
      }
      const std::vector<absl::Status> committed = idempotency_.CommitAll(durable);
      std::size_t next_commit = 0;
      for (std::size_t i : to_publish) {
        const auto& sub = subs[i];
        if (published[i].ok()) {
          results[i] = "admitted";
          if (const absl::Status& c = committed[next_commit++]; !c.ok()) {
            // The item is durable; a retry after the lease takes the key over
            // with the same id and event id, which downstream drops.
            Log().Warn("idempotency commit failed after a durable publish",
                       {{"item_id", out[i].item_id}, {"error", std::string(c.message())}});
          }
        } else {
          (void)idempotency_.Release(sub.tenant(), sub.idempotency_key(), reservations[i]);
          out[i].status = absl::UnavailableError(
              absl::StrCat("Kafka did not confirm the item; retry (same idempotency key): ",
                           published[i].message()));
          out[i].retry_after = std::chrono::milliseconds(500);
          out[i].item_id.clear();
          results[i] = "unavailable";
        }
      }
      to_publish.clear();
    }

    pending.swap(still_pending);
    if (!pending.empty()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        for (std::size_t i : pending) {
          out[i].status = absl::UnavailableError(
              "a submission with this idempotency key is still being admitted; retry");
          out[i].retry_after = std::chrono::milliseconds(200);
          out[i].item_id.clear();
          results[i] = "unavailable";
        }
        break;
      }
      std::this_thread::sleep_for(backoff);  // wait for the concurrent admission's outcome
      backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
    }
  }

  if (admitted_slots) {
    in_flight_.fetch_sub(admitted_slots);
    if (metrics_) metrics_->in_flight().Decrement(static_cast<double>(admitted_slots));
  }
  if (metrics_) {
    const double seconds = std::chrono::duration<double>(clock_.Monotonic() - started).count();
    for (std::size_t i = 0; i < subs.size(); ++i) {
      metrics_->Submission(subs[i].tenant(), subs[i].kind(), results[i]);
    }
    metrics_->Latency(channel, seconds);
  }
  return out;
}

}  // namespace docket::intake
