#pragma once

// The Kafka client metrics, declared once (STYLE.md habit 7). Registering the
// same families again (a second publisher or consumer in the process) returns
// the existing ones: prometheus::Registry merges families of equal name.

#include "common/metrics/metrics.h"

namespace docket::kafka {

struct KafkaMetrics {
  explicit KafkaMetrics(prometheus::Registry& registry)
      : consumer_lag(prometheus::BuildGauge()
                         .Name("docket_kafka_consumer_lag")
                         .Help("Records behind the partition's high watermark, per assigned "
                               "partition (librdkafka statistics, every 5 s)")
                         .Register(registry)),
        assigned_partitions(prometheus::BuildGauge()
                                .Name("docket_kafka_consumer_assigned_partitions")
                                .Help("Partitions assigned to the process's group members, per "
                                      "client: 0 until the group is joined (and for a member "
                                      "without partitions)")
                                .Register(registry)),
        offset_resets(prometheus::BuildCounter()
                          .Name("docket_kafka_consumer_offset_resets_total")
                          .Help("Times a consumer's position was no longer on the broker "
                                "(retention deleted records it had not read) and librdkafka "
                                "moved it to the oldest record left: the records in between "
                                "were never handled")
                          .Register(registry)),
        records_consumed(prometheus::BuildCounter()
                             .Name("docket_kafka_records_consumed_total")
                             .Help("Records handed to a handler, by result: ok (committed), "
                                   "retry (failed retryably, offered again), dlq (poison, "
                                   "sent to the DLQ and committed)")
                             .Register(registry)),
        dlq_records(prometheus::BuildCounter()
                        .Name("docket_kafka_dlq_records_total")
                        .Help("Poison records written to the DLQ, by reason_class "
                              "(invalid_argument|data_loss)")
                        .Register(registry)),
        produce_errors(prometheus::BuildCounter()
                           .Name("docket_kafka_produce_errors_total")
                           .Help("Records whose publish failed, by librdkafka error reason")
                           .Register(registry)),
        produce_latency(prometheus::BuildHistogram()
                            .Name("docket_kafka_produce_latency_seconds")
                            .Help("Time from publish to the broker's acks=all confirmation")
                            .Register(registry)),
        producer_queue(prometheus::BuildGauge()
                           .Name("docket_kafka_producer_queue_messages")
                           .Help("Records queued in the producer, not yet confirmed "
                                 "(librdkafka statistics, every 5 s)")
                           .Register(registry)) {}

  prometheus::Family<prometheus::Gauge>& consumer_lag;         // {client,topic,partition}
  prometheus::Family<prometheus::Gauge>& assigned_partitions;  // {client}
  prometheus::Family<prometheus::Counter>& offset_resets;      // {client,topic}
  prometheus::Family<prometheus::Counter>& records_consumed;   // {client,topic,result}
  prometheus::Family<prometheus::Counter>& dlq_records;        // {client,reason_class}
  prometheus::Family<prometheus::Counter>& produce_errors;     // {client,reason}
  prometheus::Family<prometheus::Histogram>& produce_latency;  // {client}
  prometheus::Family<prometheus::Gauge>& producer_queue;       // {client}
};

}  // namespace docket::kafka
