#include "common/kafka/rdkafka_conf.h"

#include <librdkafka/rdkafka.h>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace docket::kafka::internal {
namespace {

const log::Logger& Logger() {
  static const log::Logger logger("kafka");
  return logger;
}

}  // namespace

// librdkafka logs with syslog levels.
void LogLine(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  log::Level l = level <= 3 ? log::Level::kError
                 : level == 4 ? log::Level::kWarn
                 : level <= 6 ? log::Level::kInfo
                              : log::Level::kDebug;
  Logger().Log(l, line, {{"client", rd_kafka_name(rk)}, {"facility", facility}});
}

absl::StatusOr<rd_kafka_conf_t*> NewConf(const Properties& props,
                                         const std::map<std::string, std::string>& extra) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  for (const auto& [key, value] : props) {
    const rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr);
    if (res == RD_KAFKA_CONF_OK) continue;
    rd_kafka_conf_destroy(conf);
    const bool from_extra = extra.count(key) > 0 || extra.count("producer." + key) > 0 ||
                            extra.count("consumer." + key) > 0;
    const char* what = res == RD_KAFKA_CONF_UNKNOWN ? "unknown kafka property " : "invalid value for kafka property ";
    return absl::InvalidArgumentError(
        from_extra ? absl::StrCat(what, key, " (value not shown: it may be a secret)")
                   : absl::StrCat(what, key, ": ", errstr));
  }
  rd_kafka_conf_set_log_cb(conf, &LogLine);
  return conf;
}

bool LogClientError(rd_kafka_t* rk, int err, const char* reason) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    Logger().Error("fatal kafka client error",
                   {{"client", rd_kafka_name(rk)}, {"error", rd_kafka_err2name(orig)},
                    {"reason", buf}});
    return true;
  }
  // Connection failures are already in librdkafka's own log lines (OnLog);
  // they are routine while a broker restarts and librdkafka reconnects.
  if (code == RD_KAFKA_RESP_ERR__TRANSPORT) return false;
  Logger().Warn("kafka client error", {{"client", rd_kafka_name(rk)},
                                       {"error", rd_kafka_err2name(code)},
                                       {"reason", reason ? reason : ""}});
  return false;
}

// Fills `r` from the message, reusing the memory its strings already hold:
// the consumer keeps one Record and refills it for every message.
void ToRecord(const rd_kafka_message_t* msg, Record& r) {
  r.topic.assign(rd_kafka_topic_name(msg->rkt));
  r.partition = msg->partition;
  r.offset = msg->offset;
  if (msg->key != nullptr) {
    r.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  } else {
    r.key.clear();
  }
  if (msg->payload != nullptr) {
    r.value.assign(static_cast<const char*>(msg->payload), msg->len);
  } else {
    r.value.clear();
  }
  rd_kafka_timestamp_type_t type;
  const std::int64_t ts = rd_kafka_message_timestamp(msg, &type);
  r.timestamp_ms = ts >= 0 ? ts : 0;
  std::size_t n = 0;
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (; rd_kafka_header_get_all(headers, n, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++n) {
      if (n == r.headers.size()) r.headers.emplace_back();
      r.headers[n].key.assign(name);
      if (value != nullptr) {
        r.headers[n].value.assign(static_cast<const char*>(value), size);
      } else {
        r.headers[n].value.clear();
      }
    }
  }
  r.headers.resize(n);
}

}  // namespace docket::kafka::internal
