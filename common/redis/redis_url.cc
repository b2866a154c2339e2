// ParseRedisUrl: redis[s]://[[user]:password@]host[:port][/db].
//
// Error messages quote the scheme, host, port and db when they are wrong, but
// never the userinfo: it holds the password.

#include <cctype>
#include <climits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_client.h"

namespace docket::redis {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes. `what` names the part for the error, which must not
// quote the text (it may be a password).
absl::StatusOr<std::string> PercentDecode(absl::string_view text, absl::string_view what) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "redis url: the ", what, " has an invalid percent-escape at offset ", i,
          " (use %XX with two hex digits; a literal '%' is %25)"));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<RedisOptions> ParseRedisUrl(std::string_view url_text) {
  // Debian's abseil has its own string_view, distinct from std::string_view.
  const absl::string_view url(url_text.data(), url_text.size());
  RedisOptions options;
  const auto scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "redis url: missing scheme; expected redis[s]://[[user]:password@]host[:port][/db]");
  }
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  options.tls = scheme == "rediss";
  if (scheme != "redis" && scheme != "rediss") {
    // Quote the scheme only if it looks like one: text before a "://" that
    // is inside a password must not be echoed.
    bool looks_like_scheme = !scheme.empty() && scheme.size() <= 16;
    for (char c : scheme) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' &&
          c != '.') {
        looks_like_scheme = false;
      }
    }
    return absl::InvalidArgumentError(
        looks_like_scheme
            ? absl::StrCat("redis url: unsupported scheme '", scheme, "'; expected redis:// or rediss://")
            : std::string("redis url: invalid scheme; expected redis:// or rediss://"));
  }
  absl::string_view rest = url.substr(scheme_end + 3);

  // The last '@' ends the userinfo, so a password with an unescaped '@', ':'
  // or '/' still parses and never leaks into the host/port/db messages.
  const auto at = rest.rfind('@');
  if (at != absl::string_view::npos) {
    const absl::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "redis url: the userinfo before '@' has no ':'; write redis://:password@host "
          "or redis://user:password@host");
    }
    auto user = PercentDecode(userinfo.substr(0, colon), "user");
    if (!user.ok()) return user.status();
    auto password = PercentDecode(userinfo.substr(colon + 1), "password");
    if (!password.ok()) return password.status();
    if (!user->empty() && password->empty()) {
      return absl::InvalidArgumentError(
          "redis url: a user is given but the password is empty; Redis ACL users log in "
          "with user:password");
    }
    options.username = *std::move(user);
    options.password = *std::move(password);
  }

  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "redis url: query parameters and fragments are not supported");
  }
  absl::string_view hostport = rest;
  absl::string_view db_text;
  bool has_db_part = false;
  if (const auto slash = rest.find('/'); slash != absl::string_view::npos) {
    hostport = rest.substr(0, slash);
    db_text = rest.substr(slash + 1);
    has_db_part = true;
  }

  absl::string_view host;
  absl::string_view port_text;
  bool has_port = false;
  if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
    const auto close = hostport.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("redis url: host '", hostport, "' has '[' without ']'"));
    }
    host = hostport.substr(1, close - 1);
    const absl::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("redis url: unexpected '", after, "' after the IPv6 host"));
      }
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = hostport.rfind(':');
    if (colon != absl::string_view::npos) {
      if (hostport.find(':') != colon) {
        return absl::InvalidArgumentError(absl::StrCat(
            "redis url: host '", hostport, "' has several ':'; put an IPv6 address in [brackets]"));
      }
      host = hostport.substr(0, colon);
      port_text = hostport.substr(colon + 1);
      has_port = true;
    } else {
      host = hostport;
    }
  }
  if (host.empty()) {
    return absl::InvalidArgumentError("redis url: missing host");
  }
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u) || std::iscntrl(u) || c == '%' || c == '[' || c == ']') {
      return absl::InvalidArgumentError(
          absl::StrCat("redis url: invalid character in host '", absl::CEscape(host), "'"));
    }
  }
  options.host = std::string(host);

  if (has_port) {
    int port = 0;
    if (!AllDigits(port_text) || !absl::SimpleAtoi(port_text, &port) || port < 1 ||
        port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "redis url: invalid port '", absl::CEscape(port_text), "'; expected 1..65535"));
    }
    options.port = port;
  }

  if (has_db_part && !db_text.empty()) {
    int db = 0;
    if (!AllDigits(db_text) || !absl::SimpleAtoi(db_text, &db)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "redis url: invalid db '", absl::CEscape(db_text), "'; expected a number >= 0"));
    }
    options.db = db;
  }
  return options;
}

}  // namespace docket::redis
