// Reading a service's /metrics: exact metric names, label matching, escapes,
// and the lines a Prometheus exposition may hold besides samples.

#include "tools/loadgen/src/prom_text.h"

#include <gtest/gtest.h>

namespace docket::loadgen {
namespace {

constexpr char kPage[] = R"(# HELP docket_processing_transitions_total Work item transitions.
# TYPE docket_processing_transitions_total counter
docket_processing_transitions_total{kind="data_entry",state="WORK_STATE_QUEUED"} 120
docket_processing_transitions_total{kind="data_entry",state="WORK_STATE_CLAIMED"} 80
docket_processing_transitions_total{kind="shipping_documents",state="WORK_STATE_QUEUED"} 7
docket_processing_transitions_total_created{kind="data_entry",state="WORK_STATE_QUEUED"} 1.7e9
docket_kafka_records_consumed_total{client="docket-metrics-consumer",result="ok",topic="docket.work.v1"} 1.5e+06
docket_kafka_records_consumed_total{client="docket-metrics-consumer",result="ok",topic="docket.compliance.v1"} 25000
docket_kafka_records_consumed_total{client="other",result="ok",topic="docket.work.v1"} 3
odd_label{note="say \"hi\", a\\b",x="1"} 2
plain_gauge 4.5 1700000000000
nan_gauge NaN
)";

TEST(PromTextTest, SumsEverySampleOfTheExactName) {
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions_total"), 207);
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions"), 0) << "a prefix is not a name";
}

TEST(PromTextTest, KeepsOnlySamplesWhoseLabelsMatchEveryPair) {
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions_total", {{"state", "WORK_STATE_QUEUED"}}), 127);
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions_total",
                       {{"kind", "data_entry"}, {"state", "WORK_STATE_QUEUED"}}),
            120);
  EXPECT_EQ(SumSamples(kPage, "docket_kafka_records_consumed_total", {{"client", "docket-metrics-consumer"}}),
            1525000);
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions_total", {{"tenant", "acme"}}), 0)
      << "a label the sample lacks does not match";
}

TEST(PromTextTest, ABangValueMatchesEveryOtherValueAndAMissingLabel) {
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions_total", {{"state", "!WORK_STATE_QUEUED"}}), 80);
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions_total",
                       {{"kind", "data_entry"}, {"state", "!WORK_STATE_CLAIMED"}}),
            120);
  EXPECT_EQ(SumSamples(kPage, "docket_processing_transitions_total", {{"tenant", "!acme"}}), 207)
      << "as in PromQL, a missing label is \"\", which is not acme";
}

TEST(PromTextTest, ReadsEscapedLabelValuesTimestampsAndSkipsNaN) {
  EXPECT_EQ(SumSamples(kPage, "odd_label", {{"note", "say \"hi\", a\\b"}}), 2);
  EXPECT_EQ(SumSamples(kPage, "odd_label", {{"x", "1"}}), 2);
  EXPECT_EQ(SumSamples(kPage, "plain_gauge"), 4.5);
  EXPECT_EQ(SumSamples(kPage, "nan_gauge"), 0);
}

TEST(PromTextTest, EmptyOrMalformedInputSumsToZero) {
  EXPECT_EQ(SumSamples("", "x"), 0);
  EXPECT_EQ(SumSamples("x{a=\"1\" 3\nx{a=1} 4\nx notanumber\n", "x"), 0);
  EXPECT_EQ(SumSamples("x 1\nx{a=\"1\"} 2", "x"), 3) << "the last line needs no newline";
}

}  // namespace
}  // namespace docket::loadgen
