#pragma once

// API keys: the bearer tokens publishers, workers, supervisors and operators
// present as `authorization: Bearer <key>`. The keys file (YAML, e.g.
// deploy/config/api-keys.yaml) holds only the SHA-256 of each key, never the
// key itself, bound to roles, tenants and, per role, allowed kinds, the
// worker's id, skills and WIP limit:
//
//   keys:
//     - id: acme-demo          # shown in logs and errors; never the secret
//       sha256: <64 hex>       # sha256 of the whole presented token
//       roles: [publisher]     # publisher | worker | supervisor | operator
//       tenants: [acme]        # or ["*"]
//       kinds: ["*"]           # publishers only; omitted = every kind
//       worker: alice          # workers/supervisors: the person/bot id (four-eyes)
//       skills: [ap-clerk]     # workers/supervisors: queue skills
//       wip_limit: 5           # workers/supervisors; omitted = the service default
//
// `docket-keygen` makes a new key and its entry, so nobody hashes by hand.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/server_runner.h"
#include "common/hash/sha256.h"

namespace docket::config {
class YamlNode;
}

namespace docket::auth {

inline constexpr std::string_view kRolePublisher = "publisher";
inline constexpr std::string_view kRoleWorker = "worker";
inline constexpr std::string_view kRoleSupervisor = "supervisor";
inline constexpr std::string_view kRoleOperator = "operator";

using hash::Sha256Digest;

struct ApiKey {
  std::string id;                    // safe to log: [A-Za-z0-9._-], at most 64 bytes
  Sha256Digest sha256{};             // of the whole token, e.g. "dk_..."
  std::vector<std::string> roles;    // each one of the kRole* names
  std::vector<std::string> tenants;  // "*" = any tenant; never empty
  std::vector<std::string> kinds;    // publishers: empty = every kind ("*" also means any)
  std::string worker;                // workers/supervisors: the actor id; "" otherwise
  std::vector<std::string> skills;   // workers/supervisors
  int wip_limit = 0;                 // 0 = the service's default
  // A worker key used by software (an RPA bot, a batch job): its work is
  // recorded as a bot's (Actor.TYPE_BOT), not a person's.
  bool bot = false;
  int line = 0;                      // where the entry starts in the keys file

  bool HasRole(std::string_view role) const;
  // The principal an authenticated call runs as.
  grpcutil::Principal ToPrincipal() const;
};


// The parsed keys file. Immutable after Load/Parse, so it is safe to share
// between threads without locking.
class ApiKeyStore {
 public:
  // Errors name file:line: field, e.g.
  //   api-keys.yaml:7: keys[1].sha256: expected 64 hex digits (the SHA-256 of the key)
  // NOT_FOUND if the file cannot be read; INVALID_ARGUMENT for a bad entry:
  // bad hex, duplicate id or hash, unknown role, unknown field, a field that
  // does not apply to the key's roles, a worker/supervisor without `worker`.
  static absl::StatusOr<ApiKeyStore> Load(const std::string& path);
  // `name` stands for the file in messages.
  static absl::StatusOr<ApiKeyStore> Parse(const std::string& yaml, const std::string& name);

  // The key whose hash is SHA-256(token), or nullptr. The digest is compared
  // in constant time (CRYPTO_memcmp); the token is never stored or logged.
  const ApiKey* Lookup(std::string_view token) const;
  // The key with this id (e.g. Principal::id), or nullptr.
  const ApiKey* Find(std::string_view id) const;

  const std::vector<ApiKey>& keys() const { return keys_; }

 private:
  static absl::StatusOr<ApiKeyStore> FromYaml(const config::YamlNode& root);

  std::vector<ApiKey> keys_;
  // First 8 bytes of the digest -> indexes into keys_. Only this prefix of a
  // digest of the caller's token is compared in variable time; the full
  // digest is then compared in constant time.
  std::multimap<std::uint64_t, std::size_t> by_prefix_;
  std::map<std::string, std::size_t, std::less<>> by_id_;
};

// Authenticates gRPC calls with `authorization: Bearer <key>` against a store
// that must outlive it. UNAUTHENTICATED "missing bearer token: ..." when the
// header is absent or malformed (another scheme, empty, sent twice), and
// "unknown API key" when no key matches; the message never holds the token.
// Thread-safe.
class ApiKeyAuthenticator : public grpcutil::Authenticator {
 public:
  explicit ApiKeyAuthenticator(const ApiKeyStore& store) : store_(store) {}

  absl::StatusOr<grpcutil::Principal> Authenticate(
      const grpc::ServerContextBase& context) const override;
  // The same decision for an already extracted token (e.g. from a CLI flag).
  absl::StatusOr<grpcutil::Principal> AuthenticateToken(std::string_view token) const;
  // The full key (kinds, worker, skills, WIP limit) behind a principal this
  // authenticator returned; nullptr if the id is unknown.
  const ApiKey* KeyFor(const grpcutil::Principal& principal) const {
    return store_.Find(principal.id);
  }

 private:
  const ApiKeyStore& store_;
};

// ---- Key generation (docket-keygen) ----

// What a new key is for; the fields of its entry in the keys file.
struct KeySpec {
  std::string id;
  std::vector<std::string> roles;
  std::vector<std::string> tenants;
  std::vector<std::string> kinds;   // empty = omit (every kind)
  std::string worker;
  std::vector<std::string> skills;
  int wip_limit = 0;                // 0 = omit
  bool bot = false;                 // false = omit
};

struct GeneratedKey {
  std::string key;         // the secret: "dk_" + base64url(32 random bytes), no padding
  std::string sha256_hex;  // what the keys file stores
  std::string yaml_entry;  // a "  - id: ..." list item to paste under `keys:`
};

// A fresh random key: "dk_" followed by 43 base64url characters (256 bits
// from OpenSSL's CSPRNG). INTERNAL if the CSPRNG fails.
absl::StatusOr<std::string> NewApiKey();

// The keys-file entry for `key` and `spec`, checked by parsing it back with
// ApiKeyStore::Parse, so an entry this returns always loads. INVALID_ARGUMENT
// (naming the field) if the spec would not load.
absl::StatusOr<GeneratedKey> MakeKeyEntry(const KeySpec& spec, const std::string& key);

}  // namespace docket::auth
