#include "tools/devkafka/src/mock_cluster.h"

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace docket::devkafka {
namespace {

const docket::log::Logger& Log() {
  static const docket::log::Logger logger("devkafka");
  return logger;
}

// librdkafka logs (syslog levels) through Docket's logger, from its threads.
void LogFromRdkafka(const rd_kafka_t*, int level, const char* facility, const char* message) {
  docket::log::Level docket_level = docket::log::Level::kDebug;
  if (level <= 3) {
    docket_level = docket::log::Level::kError;
  } else if (level == 4) {
    docket_level = docket::log::Level::kWarn;
  } else if (level <= 6) {
    docket_level = docket::log::Level::kInfo;
  }
  // The hosting handle has no bootstrap.servers on purpose.
  if (std::string_view(facility) == "CONFWARN" &&
      std::string_view(message).find("bootstrap.servers") != std::string_view::npos) {
    docket_level = docket::log::Level::kDebug;
  }
  Log().Log(docket_level, message, {{"facility", facility}, {"source", "librdkafka"}});
}

absl::Status FromKafka(rd_kafka_resp_err_t err, const std::string& what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  const std::string reason = absl::StrCat(what, ": ", rd_kafka_err2str(err));
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return absl::AlreadyExistsError(reason);
  return absl::FailedPreconditionError(reason);
}

}  // namespace

struct MockCluster::Handles {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mcluster = nullptr;
  ~Handles() {
    if (mcluster) rd_kafka_mock_cluster_destroy(mcluster);
    if (rk) rd_kafka_destroy(rk);
  }
};

absl::StatusOr<std::unique_ptr<MockCluster>> MockCluster::Create(int brokers) {
  if (brokers < 1) return absl::InvalidArgumentError("a mock cluster needs at least one broker");
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &LogFromRdkafka);
  // The handle only hosts the mock cluster; it never talks to a broker.
  if (rd_kafka_conf_set(conf, "client.id", "docket-devkafka", errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(errstr);
  }
  auto handles = std::make_unique<Handles>();
  handles->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!handles->rk) {
    rd_kafka_conf_destroy(conf);  // not owned by librdkafka when rd_kafka_new fails
    return absl::InternalError(absl::StrCat("rd_kafka_new: ", errstr));
  }
  handles->mcluster = rd_kafka_mock_cluster_new(handles->rk, brokers);
  if (!handles->mcluster) {
    return absl::InternalError("rd_kafka_mock_cluster_new failed (see the librdkafka log above)");
  }
  auto cluster = std::unique_ptr<MockCluster>(new MockCluster(std::move(handles), brokers));
  Log().Info("mock cluster up", {{"brokers", brokers}, {"bootstrap", cluster->bootstrap()}});
  return cluster;
}

MockCluster::MockCluster(std::unique_ptr<Handles> handles, int broker_count)
    : handles_(std::move(handles)),
      broker_count_(broker_count),
      bootstrap_(rd_kafka_mock_cluster_bootstraps(handles_->mcluster)) {}

MockCluster::~MockCluster() = default;

absl::Status MockCluster::CreateTopic(const std::string& name, int partitions) {
  const int replication = std::min(3, broker_count_);
  return FromKafka(
      rd_kafka_mock_topic_create(handles_->mcluster, name.c_str(), partitions, replication),
      absl::StrCat("create-topic ", name));
}

absl::Status MockCluster::Apply(const Command& command) {
  rd_kafka_mock_cluster_t* mc = handles_->mcluster;
  struct Visitor {
    MockCluster* self;
    rd_kafka_mock_cluster_t* mc;
    absl::Status operator()(const Ping&) const { return absl::OkStatus(); }
    absl::Status operator()(const BrokerDown& c) const {
      return FromKafka(rd_kafka_mock_broker_set_down(mc, c.broker_id), "broker-down");
    }
    absl::Status operator()(const BrokerUp& c) const {
      return FromKafka(rd_kafka_mock_broker_set_up(mc, c.broker_id), "broker-up");
    }
    absl::Status operator()(const SetRtt& c) const {
      return FromKafka(rd_kafka_mock_broker_set_rtt(mc, c.broker_id, c.rtt_ms), "rtt");
    }
    absl::Status operator()(const PushRequestErrors& c) const {
      // The variadic rd_kafka_mock_push_request_errors() wants the codes as
      // arguments; the array form takes any count.
      std::vector<rd_kafka_resp_err_t> errors(static_cast<std::size_t>(c.count),
                                              static_cast<rd_kafka_resp_err_t>(c.error_code));
      rd_kafka_mock_push_request_errors_array(mc, c.api_key, errors.size(), errors.data());
      return absl::OkStatus();
    }
    absl::Status operator()(const devkafka::CreateTopic& c) const {
      return self->CreateTopic(c.name, c.partitions);
    }
  };
  return std::visit(Visitor{this, mc}, command);
}

}  // namespace docket::devkafka
