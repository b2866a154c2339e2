#pragma once

// Structured logging: one JSON object per line on stderr.
//
//   static docket::log::Logger logger("intake");
//   logger.Info("admitted", {{"tenant", tenant}, {"kind", kind}});
//
// The level comes from DOCKET_LOG_LEVEL (debug|info|warn|error, default info).
// Fields whose key names a secret (password, secret, token, authorization,
// api_key, ...) are written as "[redacted]", and URLs have their userinfo
// masked, so a secret handed to the logger by mistake never reaches a log.
// Thread-safe: each line is written with one write(2).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace docket::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using Value = std::variant<std::string, std::int64_t, double, bool>;

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  std::string key;
  Value value;
};

using Fields = std::initializer_list<Field>;

// Parses "debug", "info", "warn"/"warning", "error" (case-insensitive).
// Unknown text yields kInfo and *ok = false.
Level ParseLevel(std::string_view text, bool* ok = nullptr);

// Sets the process-wide minimum level (initially from DOCKET_LOG_LEVEL).
void SetLevel(Level level);
Level CurrentLevel();

// True if a field with this key must never carry its value into a log.
bool IsSecretKey(std::string_view key);

// "redis://:pw@host:6379/0" -> "redis://:***@host:6379/0"; other text unchanged.
std::string RedactUrl(std::string_view url);

// Renders one log line (without the newline). Exposed for tests.
std::string FormatLine(Level level, std::string_view logger, std::string_view msg,
                       Fields fields, std::int64_t unix_micros);

// A named logger. Cheap to copy; usually a static per component.
class Logger {
 public:
  explicit Logger(std::string name) : name_(std::move(name)) {}

  void Debug(std::string_view msg, Fields fields = {}) const { Log(Level::kDebug, msg, fields); }
  void Info(std::string_view msg, Fields fields = {}) const { Log(Level::kInfo, msg, fields); }
  void Warn(std::string_view msg, Fields fields = {}) const { Log(Level::kWarn, msg, fields); }
  void Error(std::string_view msg, Fields fields = {}) const { Log(Level::kError, msg, fields); }
  void Log(Level level, std::string_view msg, Fields fields) const;

 private:
  std::string name_;
};

}  // namespace docket::log
