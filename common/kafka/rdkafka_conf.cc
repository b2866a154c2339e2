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

// librdkafka logs with syslog levels.
void OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  log::Level l = level <= 3 ? log::Level::kError
                 : level == 4 ? log::Level::kWarn
                 : level <= 6 ? log::Level::kInfo
                              : log::Level::kDebug;
  Logger().Log(l, buf, {{"client", rd_kafka_name(rk)}, {"facility", fac}});
}

}  // namespace

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
  rd_kafka_conf_set_log_cb(conf, &OnLog);
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

}  // namespace docket::kafka::internal
