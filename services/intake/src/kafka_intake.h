#pragma once

// Kafka-native intake: the batch handler of the docket.intake.v1 consumer.
// Each record is decoded (services/intake/src/cloudevents.h), and the
// fetched records are admitted together exactly like a gRPC batch, on the
// trusted Kafka channel (the topic's ACLs decide who may produce, so no API
// key applies). Each record gets its own status:
//   - admitted or duplicate            -> OK (the offset is committed: the
//                                          Submitted event is durable);
//   - undecodable or invalid           -> INVALID_ARGUMENT, so the consumer
//                                          puts it on docket.dlq.v1 with the
//                                          reason (every violation by field)
//                                          in docket_dlq_reason;
//   - rate limited, overloaded, Redis
//     or Kafka unavailable             -> that retryable status: the record
//                                          is retried after a backoff and
//                                          nothing is committed.

#include "common/kafka/event_consumer.h"
#include "services/intake/src/admission.h"
#include "services/intake/src/intake_metrics.h"

namespace docket::intake {

// `admission` and `metrics` (may be null) must outlive the handler.
kafka::BatchHandler KafkaIntakeHandler(Admission& admission, IntakeMetrics* metrics);

}  // namespace docket::intake
