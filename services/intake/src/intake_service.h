#pragma once

// The gRPC adapter of docket.v1.Intake: authenticates the caller, turns
// requests into Admission calls, and maps outcomes to gRPC statuses. No
// admission logic lives here. Submit is a callback method whose submissions
// are admitted in groups (GroupAdmission): no thread waits per call.

#include <functional>

#include "absl/status/statusor.h"
#include "docket/v1/intake_service.grpc.pb.h"
#include "services/intake/src/admission.h"
#include "services/intake/src/group_admission.h"

namespace docket::intake {

// Authenticates a call and returns what the caller may submit.
// UNAUTHENTICATED / PERMISSION_DENIED otherwise.
using PublisherAuth = std::function<absl::StatusOr<Publisher>(const grpc::ServerContextBase&)>;

struct IntakeServiceOptions {
  std::size_t max_batch = 1000;        // SubmitBatch items per call
  std::size_t stream_window = 1024;    // SubmitStream requests read ahead of their acks
  std::size_t stream_max_chunk = 500;  // requests admitted together on a stream
  GroupAdmissionOptions submit;         // unary Submit's group commit
};

class IntakeService final
    : public docket::v1::Intake::WithCallbackMethod_Submit<docket::v1::Intake::Service> {
 public:
  IntakeService(Admission& admission, PublisherAuth auth, IntakeServiceOptions options = {})
      : admission_(admission), auth_(std::move(auth)), options_(options),
        group_(admission, options.submit) {}

  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context,
                                   const docket::v1::SubmitRequest* request,
                                   docket::v1::SubmitResponse* response) override;
  grpc::Status SubmitBatch(grpc::ServerContext* context,
                           const docket::v1::SubmitBatchRequest* request,
                           docket::v1::SubmitBatchResponse* response) override;
  grpc::Status SubmitStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<docket::v1::SubmitResult, docket::v1::SubmitRequest>* stream) override;

 private:
  Admission& admission_;
  PublisherAuth auth_;
  IntakeServiceOptions options_;
  GroupAdmission group_;  // last: its destructor admits what is queued
};

// One outcome as the SubmitResult of a batch or stream.
docket::v1::SubmitResult ToResult(const Outcome& outcome, const std::string& client_ref);

}  // namespace docket::intake
