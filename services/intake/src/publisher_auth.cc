#include "services/intake/src/publisher_auth.h"

#include "absl/strings/str_cat.h"
#include "common/status/macros.h"

namespace docket::intake {

absl::StatusOr<Publisher> PublisherFor(const auth::ApiKey& key) {
  if (!key.HasRole(auth::kRolePublisher)) {
    return absl::PermissionDeniedError(
        absl::StrCat("API key ", key.id, " may not submit work (role publisher required)"));
  }
  return Publisher{key.id, key.tenants, key.kinds};
}

absl::StatusOr<Publisher> AuthenticatePublisher(const auth::ApiKeyAuthenticator& authenticator,
                                                const grpc::ServerContextBase& context) {
  DOCKET_ASSIGN_OR_RETURN(grpcutil::Principal principal, authenticator.Authenticate(context));
  const auth::ApiKey* key = authenticator.KeyFor(principal);
  // Cannot happen with ApiKeyAuthenticator (the principal comes from the same store).
  if (key == nullptr) return absl::UnauthenticatedError("unknown API key");
  return PublisherFor(*key);
}

}  // namespace docket::intake
