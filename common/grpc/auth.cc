#include <grpcpp/server_context.h>

#include <algorithm>

#include "common/grpc/server_runner.h"

namespace docket::grpcutil {
namespace {

// Debian's Abseil has its own string_view type, so these stay local.
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

bool StartsWithIgnoreCase(std::string_view text, std::string_view lower_prefix) {
  if (text.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    const char c = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
    if (c != lower_prefix[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

bool Principal::MayActFor(std::string_view tenant) const {
  if (tenant.empty()) return false;
  return std::any_of(tenants.begin(), tenants.end(),
                     [&](const std::string& t) { return t == "*" || t == tenant; });
}

bool Principal::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

absl::StatusOr<std::string> BearerToken(const grpc::ServerContextBase& context) {
  // gRPC lower-cases metadata keys on the wire.
  const auto [begin, end] = context.client_metadata().equal_range("authorization");
  if (begin == end) return absl::UnauthenticatedError("missing authorization metadata");
  if (std::next(begin) != end) {
    return absl::UnauthenticatedError("more than one authorization metadata value");
  }
  const std::string_view value(begin->second.data(), begin->second.size());
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !StartsWithIgnoreCase(value, kScheme) ||
      !IsSpace(value[kScheme.size()])) {
    return absl::UnauthenticatedError("authorization is not a Bearer token");
  }
  const std::string_view token = Trim(value.substr(kScheme.size()));
  if (token.empty()) return absl::UnauthenticatedError("empty Bearer token");
  if (std::any_of(token.begin(), token.end(),
                  [](char c) { return IsSpace(c) || c == '\r' || c == '\n'; })) {
    return absl::UnauthenticatedError("malformed Bearer token");
  }
  return std::string(token);
}

}  // namespace docket::grpcutil
