#pragma once

// Submissions of deploy/config/catalog.yaml's kinds, with idempotency keys
// unique to this process so every item is new to intake. Thread-safe.

#include <atomic>
#include <cstdint>
#include <string>

#include "docket/v1/intake_service.pb.h"

namespace docket::loadgen {

enum class SubmissionProfile {
  kDataEntry,           // data_entry, no OCR confidence: queued for a person (queue data-entry)
  kDataEntryAutomated,  // data_entry that rule high-confidence-ocr auto-completes (no check)
  kShippingDocuments,   // shipping_documents to DE: a person completes it, compliance passes it
};

// The catalog kind and queue of a profile's items.
const char* KindOf(SubmissionProfile profile);
const char* QueueOf(SubmissionProfile profile);

class SubmissionFactory {
 public:
  SubmissionFactory(std::string tenant, SubmissionProfile profile);
  // Fills `req` with the next submission (its client_ref is its number).
  void Fill(docket::v1::SubmitRequest* req);
  const std::string& prefix() const { return prefix_; }  // of every idempotency key

 private:
  std::string tenant_;
  SubmissionProfile profile_;
  std::string prefix_;
  std::atomic<std::uint64_t> next_{0};
};

}  // namespace docket::loadgen
