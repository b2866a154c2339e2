#pragma once

// `docketctl submit --file`: items from a file over Intake.SubmitStream,
// with a bounded number in flight, retries of RESOURCE_EXHAUSTED and
// UNAVAILABLE answers (same idempotency key, so a retry never makes a second
// item), and a count of what happened to each line.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "docket/v1/intake_service.grpc.pb.h"
#include "tools/docketctl/src/items_file.h"

namespace docket::ctl {

struct StreamOptions {
  std::string default_tenant;  // for items that name none
  std::string default_kind;
  std::string api_key;
  int window = 256;      // requests sent and not yet answered
  int max_rounds = 5;    // first attempt + retries of retryable answers
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};
};

struct Rejection {
  int line = 0;
  std::string reason;  // "INVALID_ARGUMENT: 1 violation: attributes.pages is required"
};

struct StreamSummary {
  std::int64_t items = 0;  // items read from the file
  std::int64_t admitted = 0;
  std::int64_t duplicates = 0;
  std::vector<Rejection> rejected;  // in line order
  // Not OK when the stream itself failed (e.g. UNAUTHENTICATED): then the
  // items not counted above were not submitted.
  grpc::Status status;
};

// `progress` is called now and then (at most every 200 ms) and at the end.
StreamSummary SubmitItems(docket::v1::Intake::StubInterface& stub, ItemReader& reader,
                          const StreamOptions& options,
                          const std::function<void(const StreamSummary&)>& progress);

}  // namespace docket::ctl
