#pragma once

// From an authenticated API key to the Admission's Publisher: the gRPC
// adapter's only auth step besides calling the authenticator.

#include "absl/status/statusor.h"
#include "common/auth/api_keys.h"
#include "services/intake/src/admission.h"

namespace grpc {
class ServerContextBase;
}

namespace docket::intake {

// The tenants and kinds `key` may submit for (kinds empty = every kind).
// PERMISSION_DENIED "API key <id> may not submit work (role publisher
// required)" for a key without the publisher role.
absl::StatusOr<Publisher> PublisherFor(const auth::ApiKey& key);

// Authenticates the call (`authorization: Bearer <key>`) and maps the key:
// UNAUTHENTICATED for a missing, malformed or unknown key (never echoing
// it), PERMISSION_DENIED for a key that is not a publisher. Thread-safe.
absl::StatusOr<Publisher> AuthenticatePublisher(const auth::ApiKeyAuthenticator& authenticator,
                                                const grpc::ServerContextBase& context);

}  // namespace docket::intake
