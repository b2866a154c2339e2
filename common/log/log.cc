#include "common/log/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>

#include <nlohmann/json.hpp>

namespace docket::log {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Level InitialLevel() {
  const char* env = std::getenv("DOCKET_LOG_LEVEL");
  return env ? ParseLevel(env) : Level::kInfo;
}

std::atomic<int>& LevelSlot() {
  static std::atomic<int> level{static_cast<int>(InitialLevel())};
  return level;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::string FormatTime(std::int64_t unix_micros) {
  std::time_t secs = static_cast<std::time_t>(unix_micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ",
                static_cast<long long>(unix_micros % 1000000));
  return buf;
}

}  // namespace

Level ParseLevel(std::string_view text, bool* ok) {
  const std::string t = Lower(text);
  if (ok) *ok = true;
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  if (ok) *ok = false;
  return Level::kInfo;
}

void SetLevel(Level level) { LevelSlot().store(static_cast<int>(level)); }
Level CurrentLevel() { return static_cast<Level>(LevelSlot().load()); }

bool IsSecretKey(std::string_view key) {
  static constexpr std::string_view kMarkers[] = {
      "password", "passwd", "secret", "token", "authorization", "api_key",
      "apikey", "credential", "private_key", "hmac_key", "bearer"};
  const std::string k = Lower(key);
  for (auto m : kMarkers) {
    if (k.find(m) != std::string::npos) return true;
  }
  return false;
}

std::string RedactUrl(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto host_start = scheme + 3;
  const auto at = url.find('@', host_start);
  const auto slash = url.find('/', host_start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && at > slash)) {
    return std::string(url);
  }
  std::string_view userinfo = url.substr(host_start, at - host_start);
  const auto colon = userinfo.find(':');
  std::string out(url.substr(0, host_start));
  if (colon == std::string_view::npos) {
    out += "***";  // a bare token as userinfo is a secret too
  } else {
    out += userinfo.substr(0, colon);
    out += ":***";
  }
  out += url.substr(at);
  return out;
}

std::string FormatLine(Level level, std::string_view logger, std::string_view msg,
                       Fields fields, std::int64_t unix_micros) {
  nlohmann::ordered_json line;
  line["ts"] = FormatTime(unix_micros);
  line["level"] = LevelName(level);
  line["logger"] = std::string(logger);
  line["msg"] = std::string(msg);
  for (const Field& f : fields) {
    if (f.key == "ts" || f.key == "level" || f.key == "logger" || f.key == "msg") continue;
    if (IsSecretKey(f.key)) {
      line[f.key] = "[redacted]";
      continue;
    }
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            line[f.key] = RedactUrl(v);
          } else {
            line[f.key] = v;
          }
        },
        f.value);
  }
  // Replace invalid UTF-8 instead of throwing: a log line must never crash.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Logger::Log(Level level, std::string_view msg, Fields fields) const {
  if (static_cast<int>(level) < LevelSlot().load(std::memory_order_relaxed)) return;
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string out = FormatLine(level, name_, msg, fields, now);
  out.push_back('\n');
  // One write per line keeps lines whole across threads.
  const char* p = out.data();
  std::size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace docket::log
