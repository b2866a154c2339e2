#pragma once

// Where docketctl connects and with which API key. Each setting comes from
// its flag, else the process environment, else the env file
// (--env-file, default .docket/local.env, which deploy/local/up.sh writes):
//
//   --intake-addr      DOCKET_INTAKE_ADDR      docket.v1.Intake
//   --work-addr        DOCKET_WORK_ADDR        docket.v1.Work
//   --compliance-addr  DOCKET_COMPLIANCE_ADDR  docket.v1.Compliance
//   --kpi-addr         DOCKET_KPI_ADDR         docket.v1.Kpi
//   --key / --key-file DOCKET_API_KEY          sent as `authorization: Bearer <key>`
//   --tls              DOCKET_TLS=1            TLS, verifying the services with the system's CAs
//   --tls-ca           DOCKET_TLS_CA_FILE      TLS, verifying them with this CA (PEM)
//   --tls-cert/-key    DOCKET_TLS_CLIENT_CERT_FILE / _KEY_FILE   a client certificate (mTLS)
//   --tls-server-name  DOCKET_TLS_SERVER_NAME  the name their certificates must carry, when the
//                                              address does not (a port-forward to 127.0.0.1)
// Any --tls-* setting turns TLS on. Without one, channels are plaintext (the
// local stack; in-cluster without k8s/components/tls).
//
// The key is a secret: nothing in docketctl prints or logs it.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/docketctl/src/args.h"

namespace docket::ctl {

inline constexpr char kDefaultEnvFile[] = ".docket/local.env";

enum class Service { kIntake, kWork, kCompliance, kKpi };

struct ServiceInfo {
  Service service;
  const char* name;         // "processing": what people call it
  const char* flag;         // "work-addr"
  const char* env;          // "DOCKET_WORK_ADDR"
  const char* grpc_service; // "docket.v1.Work"
};
const std::vector<ServiceInfo>& Services();
const ServiceInfo& InfoOf(Service s);

struct TlsSettings {
  bool on = false;
  std::string ca_file;      // "" = the system's CAs
  std::string cert_file;    // with key_file: mutual TLS
  std::string key_file;
  std::string server_name;  // "" = the host of the address
};

struct Settings {
  std::map<Service, std::string> addresses;  // only those that are set
  TlsSettings tls;
  std::string api_key;                       // "" when none is set
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::string env_file;  // the file that was read ("" if none)
};

// The flags every command accepts for Settings.
std::vector<FlagSpec> ConnectionFlags();

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The real process environment (an empty value counts as unset).
EnvLookup ProcessEnv();

// KEY=value lines; blank lines and # comments skipped; an optional "export "
// prefix and one level of matching quotes around the value are removed.
std::map<std::string, std::string> ParseEnvFile(std::string_view text);

// INVALID_ARGUMENT when --env-file names a file that cannot be read (the
// default file may be missing), --key-file cannot be read or is empty,
// --timeout is not a duration, or only one of --tls-cert and --tls-key is
// given. (The TLS files are read by the connector.)
absl::StatusOr<Settings> ResolveSettings(const Args& args, const EnvLookup& env);

// "500ms", "10s", "5m", "24h", "7d", or a plain number of seconds.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace docket::ctl
