#include "services/intake/src/intake_settings.h"

#include <filesystem>

#include "common/config/yaml.h"
#include "common/status/macros.h"

namespace docket::intake {
namespace {

absl::StatusOr<std::int64_t> Positive(const config::YamlNode& node, const std::string& key,
                                      std::int64_t def) {
  DOCKET_ASSIGN_OR_RETURN(std::int64_t v, node.Int(key, def));
  if (v <= 0) return node.Child(key).Error("must be a positive number");
  return v;
}

absl::StatusOr<std::chrono::milliseconds> PositiveDuration(const config::YamlNode& node,
                                                           const std::string& key,
                                                           std::chrono::milliseconds def) {
  if (node.Child(key).IsNull()) return def;
  DOCKET_ASSIGN_OR_RETURN(std::chrono::milliseconds v, node.Duration(key));
  if (v.count() <= 0) return node.Child(key).Error("must be a positive duration");
  return v;
}

absl::StatusOr<IntakeSettings> FromYaml(const config::YamlNode& root) {
  IntakeSettings s;
  if (root.IsNull()) return s;
  DOCKET_RETURN_IF_ERROR(root.CheckKeys({"idempotency", "admission", "rate_limits"}));
  const auto idem = root.Child("idempotency");
  if (!idem.IsNull()) {
    DOCKET_RETURN_IF_ERROR(idem.CheckKeys({"ttl", "lease"}));
    DOCKET_ASSIGN_OR_RETURN(s.idempotency.ttl, PositiveDuration(idem, "ttl", s.idempotency.ttl));
    DOCKET_ASSIGN_OR_RETURN(s.idempotency.lease, PositiveDuration(idem, "lease", s.idempotency.lease));
  }
  const auto adm = root.Child("admission");
  if (!adm.IsNull()) {
    DOCKET_RETURN_IF_ERROR(
        adm.CheckKeys({"max_in_flight", "max_batch", "stream_window", "publish_wait", "submit_admitters"}));
    DOCKET_ASSIGN_OR_RETURN(s.admission.publish_wait,
                            PositiveDuration(adm, "publish_wait", s.admission.publish_wait));
    DOCKET_ASSIGN_OR_RETURN(s.admission.max_in_flight,
                  Positive(adm, "max_in_flight", static_cast<std::int64_t>(s.admission.max_in_flight)));
    DOCKET_ASSIGN_OR_RETURN(s.service.max_batch,
                  Positive(adm, "max_batch", static_cast<std::int64_t>(s.service.max_batch)));
    DOCKET_ASSIGN_OR_RETURN(s.service.stream_window,
                  Positive(adm, "stream_window", static_cast<std::int64_t>(s.service.stream_window)));
    DOCKET_ASSIGN_OR_RETURN(const std::int64_t admitters,
                            Positive(adm, "submit_admitters", s.service.submit.threads));
    if (admitters > 64) return adm.Child("submit_admitters").Error("at most 64");
    s.service.submit.threads = static_cast<int>(admitters);
  }
  const auto limits = root.Child("rate_limits");
  if (!limits.IsNull()) {
    DOCKET_ASSIGN_OR_RETURN(auto entries, limits.Entries());
    for (const auto& [tenant, node] : entries) {
      DOCKET_RETURN_IF_ERROR(node.CheckKeys({"per_second", "burst"}));
      RateLimit rl;
      DOCKET_ASSIGN_OR_RETURN(rl.per_second, node.Child("per_second").AsDouble());
      if (rl.per_second <= 0) return node.Child("per_second").Error("must be positive");
      DOCKET_ASSIGN_OR_RETURN(rl.burst, node.Double("burst", rl.per_second));
      if (rl.burst < 1) return node.Child("burst").Error("must be at least 1");
      s.rate_limits[tenant] = rl;
    }
  }
  return s;
}

}  // namespace

absl::StatusOr<IntakeSettings> ParseIntakeSettings(const std::string& yaml, const std::string& name) {
  DOCKET_ASSIGN_OR_RETURN(config::YamlNode root, config::ParseYaml(yaml, name));
  return FromYaml(root);
}

absl::StatusOr<IntakeSettings> LoadIntakeSettings(const std::string& path) {
  if (!std::filesystem::exists(path)) return IntakeSettings{};
  DOCKET_ASSIGN_OR_RETURN(config::YamlNode root, config::LoadYamlFile(path));
  return FromYaml(root);
}

}  // namespace docket::intake
