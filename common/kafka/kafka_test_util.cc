#include "common/kafka/kafka_test_util.h"

#include <algorithm>

#include "common/testing/fixtures.h"

namespace docket::kafka::testutil {

docket::v1::Event TestEvent(const std::string& id, const std::string& subject) {
  docket::v1::Event e;
  e.set_id(id);
  e.set_source("//docket/kafka-test");
  e.set_subject(subject);
  e.set_tenant("acme");
  e.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  e.mutable_time()->set_seconds(1714564800);
  e.mutable_time()->set_nanos(123456789);
  auto* s = e.mutable_submitted();
  s->set_channel("kafka");
  s->mutable_submission()->set_tenant("acme");
  s->mutable_submission()->set_kind("invoice_approval");
  s->mutable_submission()->set_idempotency_key(id);
  return e;
}

KafkaConfig TestConfig(const std::string& brokers, const std::string& client_id) {
  KafkaConfig c;
  c.brokers = brokers;
  c.client_id = client_id;
  c.delivery_timeout_ms = 60000;
  return c;
}

KafkaConfig TestConsumerConfig(const std::string& brokers, const std::string& client_id) {
  KafkaConfig c = TestConfig(brokers, client_id);
  c.extra = {
      {"fetch.wait.max.ms", "50"},
      {"heartbeat.interval.ms", "500"},
      {"session.timeout.ms", "6000"},
      {"topic.metadata.refresh.interval.ms", "1000"},
  };
  return c;
}

absl::StatusOr<std::unique_ptr<RunningConsumer>> RunningConsumer::Start(
    ConsumerOptions options, EventPublisher& dlq, metrics::MetricsRegistry* metrics) {
  std::unique_ptr<RunningConsumer> rc(new RunningConsumer());
  RunningConsumer* self = rc.get();
  if (options.batch_handler) {
    BatchHandler inner = std::move(options.batch_handler);
    options.batch_handler = [self, inner](const std::vector<const Record*>& records) {
      std::vector<absl::Status> statuses = inner(records);
      std::lock_guard<std::mutex> lock(self->mu_);
      self->batches_.push_back(static_cast<int>(records.size()));
      for (std::size_t i = 0; i < records.size() && i < statuses.size(); ++i) {
        self->calls_.push_back({*records[i], statuses[i]});
      }
      return statuses;
    };
  } else if (options.handler) {
    RecordHandler inner = std::move(options.handler);
    options.handler = [self, inner](const Record& r) {
      absl::Status s = inner(r);
      std::lock_guard<std::mutex> lock(self->mu_);
      self->calls_.push_back({r, s});
      return s;
    };
  }
  auto user_assigned = std::move(options.on_assigned);
  options.on_assigned = [self, user_assigned](const std::vector<TopicPartition>& tps) {
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      ++self->rebalances_;
      for (const auto& tp : tps) self->assignment_.push_back(tp);
    }
    return user_assigned ? user_assigned(tps)
                         : std::vector<std::pair<TopicPartition, std::int64_t>>{};
  };
  auto user_revoked = std::move(options.on_revoked);
  options.on_revoked = [self, user_revoked](const std::vector<TopicPartition>& tps) {
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      ++self->rebalances_;
      auto& a = self->assignment_;
      a.erase(std::remove_if(a.begin(), a.end(),
                             [&](const TopicPartition& tp) {
                               return std::find(tps.begin(), tps.end(), tp) != tps.end();
                             }),
              a.end());
    }
    if (user_revoked) user_revoked(tps);
  };
  auto consumer = MakeKafkaConsumer(std::move(options), dlq, metrics);
  if (!consumer.ok()) return consumer.status();
  rc->consumer_ = std::move(*consumer);
  rc->thread_ = std::thread([self] {
    absl::Status s = self->consumer_->Run();
    std::lock_guard<std::mutex> lock(self->mu_);
    self->run_status_ = s;
  });
  return rc;
}

RunningConsumer::~RunningConsumer() { (void)Stop(); }

absl::Status RunningConsumer::Stop() {
  if (!stopped_) {
    stopped_ = true;
    consumer_->Stop();
    thread_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  return run_status_;
}

std::vector<RunningConsumer::Call> RunningConsumer::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<Record> RunningConsumer::succeeded() const {
  std::vector<Record> out;
  for (const auto& c : calls()) {
    if (c.status.ok()) out.push_back(c.record);
  }
  return out;
}

std::vector<TopicPartition> RunningConsumer::assignment() const {
  std::lock_guard<std::mutex> lock(mu_);
  return assignment_;
}

std::vector<int> RunningConsumer::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

int RunningConsumer::rebalances() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rebalances_;
}

bool RunningConsumer::WaitUntil(const std::function<bool(const std::vector<Call>&)>& pred,
                                std::chrono::milliseconds timeout) const {
  return docket::testing::WaitFor([&] { return pred(calls()); }, timeout);
}

}  // namespace docket::kafka::testutil
