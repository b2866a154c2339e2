#include "tools/docketctl/src/settings.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace docket::ctl {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

const std::vector<ServiceInfo>& Services() {
  static const auto* services = new std::vector<ServiceInfo>{
      {Service::kIntake, "intake", "intake-addr", "DOCKET_INTAKE_ADDR", "docket.v1.Intake"},
      {Service::kWork, "processing", "work-addr", "DOCKET_WORK_ADDR", "docket.v1.Work"},
      {Service::kCompliance, "compliance", "compliance-addr", "DOCKET_COMPLIANCE_ADDR",
       "docket.v1.Compliance"},
      {Service::kKpi, "metrics", "kpi-addr", "DOCKET_KPI_ADDR", "docket.v1.Kpi"},
  };
  return *services;
}

const ServiceInfo& InfoOf(Service s) {
  for (const ServiceInfo& info : Services()) {
    if (info.service == s) return info;
  }
  return Services().front();  // unreachable: every Service is listed
}

std::vector<FlagSpec> ConnectionFlags() {
  std::vector<FlagSpec> flags = {{"env-file"}, {"key"},          {"key-file"},       {"timeout"},
                                 {"tls", false}, {"tls-ca"},     {"tls-cert"},       {"tls-key"},
                                 {"tls-server-name"}};
  for (const ServiceInfo& s : Services()) flags.push_back({s.flag});
  return flags;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

std::map<std::string, std::string> ParseEnvFile(std::string_view text) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t nl = text.find('\n', pos);
    std::string_view line = Trim(text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (line.empty() || line.front() == '#') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[std::string(Trim(line.substr(0, eq)))] = std::string(value);
  }
  return out;
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("\"", std::string(text.substr(0, 32)),
                                                   "\" is not a duration (e.g. 30s, 15m, 24h, 7d)"));
  };
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || number < 0) return bad();
  const std::string_view unit(end, text.data() + text.size() - end);
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "m") {
    ms_per_unit = 60e3;
  } else if (unit == "h") {
    ms_per_unit = 3600e3;
  } else if (unit == "d") {
    ms_per_unit = 86400e3;
  } else {
    return bad();
  }
  const double ms = number * ms_per_unit;
  if (ms > 1e15) return bad();
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

absl::StatusOr<Settings> ResolveSettings(const Args& args, const EnvLookup& env) {
  Settings out;
  std::map<std::string, std::string> file;
  const std::optional<std::string> env_file_flag = args.Get("env-file");
  const std::string env_file = env_file_flag.value_or(kDefaultEnvFile);
  if (auto text = ReadWholeFile(env_file)) {
    file = ParseEnvFile(*text);
    out.env_file = env_file;
  } else if (env_file_flag) {
    return absl::InvalidArgumentError(absl::StrCat("--env-file ", env_file, ": cannot be read"));
  }
  const auto lookup = [&](const std::string& flag, const std::string& var) -> std::optional<std::string> {
    if (auto v = args.Get(flag)) return v;
    if (auto v = env(var)) return v;
    if (auto it = file.find(var); it != file.end() && !it->second.empty()) return it->second;
    return std::nullopt;
  };
  for (const ServiceInfo& s : Services()) {
    if (auto addr = lookup(s.flag, s.env); addr && !addr->empty()) out.addresses[s.service] = *addr;
  }
  if (auto key_file = args.Get("key-file"); key_file && !args.Has("key")) {
    auto text = ReadWholeFile(*key_file);
    if (!text) return absl::InvalidArgumentError(absl::StrCat("--key-file ", *key_file, ": cannot be read"));
    out.api_key = std::string(Trim(*text));
    if (out.api_key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--key-file ", *key_file, ": is empty"));
    }
  } else if (auto key = lookup("key", "DOCKET_API_KEY")) {
    out.api_key = *key;
  }
  TlsSettings& tls = out.tls;
  tls.ca_file = lookup("tls-ca", "DOCKET_TLS_CA_FILE").value_or("");
  tls.cert_file = lookup("tls-cert", "DOCKET_TLS_CLIENT_CERT_FILE").value_or("");
  tls.key_file = lookup("tls-key", "DOCKET_TLS_CLIENT_KEY_FILE").value_or("");
  tls.server_name = lookup("tls-server-name", "DOCKET_TLS_SERVER_NAME").value_or("");
  std::string tls_env = env("DOCKET_TLS").value_or("");  // a switch: no flag value to prefer
  if (auto it = file.find("DOCKET_TLS"); tls_env.empty() && it != file.end()) tls_env = it->second;
  tls.on = args.Has("tls") || tls_env == "1" || tls_env == "true" || !tls.ca_file.empty() ||
           !tls.cert_file.empty() || !tls.key_file.empty() || !tls.server_name.empty();
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key (DOCKET_TLS_CLIENT_CERT_FILE, DOCKET_TLS_CLIENT_KEY_FILE) go together: "
        "a client certificate needs its key");
  }
  if (auto t = args.Get("timeout")) {
    auto timeout = ParseDuration(*t);
    if (!timeout.ok()) return absl::InvalidArgumentError(absl::StrCat("--timeout: ", timeout.status().message()));
    if (timeout->count() == 0) return absl::InvalidArgumentError("--timeout: must be more than 0");
    out.timeout = *timeout;
  }
  return out;
}

}  // namespace docket::ctl
