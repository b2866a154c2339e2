#include "common/auth/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/config/yaml.h"
#include "common/status/macros.h"

namespace docket::auth {
namespace {

using config::YamlNode;

constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxNameBytes = 128;  // worker ids, tenants, kinds, skills
constexpr int kMaxWipLimit = 1000;
constexpr std::string_view kKeyPrefix = "dk_";

const std::set<std::string, std::less<>>& KnownRoles() {
  static const std::set<std::string, std::less<>> kRoles = {
      std::string(kRolePublisher), std::string(kRoleWorker), std::string(kRoleSupervisor),
      std::string(kRoleOperator)};
  return kRoles;
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint64_t Prefix(const Sha256Digest& d) {
  std::uint64_t p = 0;
  std::memcpy(&p, d.data(), sizeof(p));
  return p;
}

absl::StatusOr<Sha256Digest> ParseHexDigest(const YamlNode& node) {
  DOCKET_ASSIGN_OR_RETURN(std::string hex, node.AsString());
  Sha256Digest d{};
  bool ok = hex.size() == 2 * d.size();
  for (std::size_t i = 0; ok && i < d.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    if (ok) d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  // The value is a hash, not a secret, but there is no need to echo it.
  if (!ok) return node.Error("expected 64 hex digits (the SHA-256 of the key; see docket-keygen)");
  return d;
}

// A list of non-empty names of bounded length; `required` = must be present
// and non-empty.
absl::StatusOr<std::vector<std::string>> NameList(const YamlNode& node, bool required) {
  if (node.IsNull()) {
    if (required) return node.Error("is required");
    return std::vector<std::string>{};
  }
  DOCKET_ASSIGN_OR_RETURN(std::vector<std::string> names, node.AsStringList());
  if (names.empty()) {
    return node.Error(required ? "must not be empty" : "must not be empty (omit it instead)");
  }
  for (const auto& n : names) {
    if (n.empty() || n.size() > kMaxNameBytes) {
      return node.Error(absl::StrCat("entries must be 1 to ", kMaxNameBytes, " bytes"));
    }
  }
  return names;
}

absl::StatusOr<ApiKey> ParseKey(const YamlNode& n) {
  DOCKET_RETURN_IF_ERROR(
      n.CheckKeys({"id", "sha256", "roles", "tenants", "kinds", "worker", "skills", "wip_limit", "bot"}));
  if (!n.IsMap()) return n.Error("expected a map with id, sha256, roles and tenants");
  ApiKey k;
  k.line = n.line();
  DOCKET_ASSIGN_OR_RETURN(k.id, n.String("id"));
  if (k.id.empty() || k.id.size() > kMaxIdBytes ||
      !std::all_of(k.id.begin(), k.id.end(), IsIdChar)) {
    return n.Child("id").Error(
        absl::StrCat("must be 1 to ", kMaxIdBytes, " characters of A-Z a-z 0-9 . _ -"));
  }
  DOCKET_ASSIGN_OR_RETURN(k.sha256, ParseHexDigest(n.Child("sha256")));

  DOCKET_ASSIGN_OR_RETURN(k.roles, NameList(n.Child("roles"), /*required=*/true));
  for (const auto& r : k.roles) {
    if (!KnownRoles().contains(r)) {
      return n.Child("roles").Error(absl::StrCat(
          "unknown role \"", r.substr(0, 64), "\" (expected publisher, worker, supervisor or operator)"));
    }
    if (std::count(k.roles.begin(), k.roles.end(), r) > 1) {
      return n.Child("roles").Error(absl::StrCat("lists \"", r, "\" twice"));
    }
  }
  DOCKET_ASSIGN_OR_RETURN(k.tenants, NameList(n.Child("tenants"), /*required=*/true));

  const bool publisher = k.HasRole(kRolePublisher);
  const bool person = k.HasRole(kRoleWorker) || k.HasRole(kRoleSupervisor);
  if (n.Has("kinds") && !publisher) {
    return n.Child("kinds").Error("only publisher keys have kinds");
  }
  DOCKET_ASSIGN_OR_RETURN(k.kinds, NameList(n.Child("kinds"), /*required=*/false));

  if (person) {
    if (!n.Has("worker")) return n.Child("worker").Error("is required for worker and supervisor keys");
    DOCKET_ASSIGN_OR_RETURN(k.worker, n.String("worker"));
    if (k.worker.empty() || k.worker.size() > kMaxNameBytes) {
      return n.Child("worker").Error(absl::StrCat("must be 1 to ", kMaxNameBytes, " bytes"));
    }
    DOCKET_ASSIGN_OR_RETURN(k.skills, NameList(n.Child("skills"), /*required=*/false));
    DOCKET_ASSIGN_OR_RETURN(std::int64_t wip, n.Int("wip_limit", 0));
    if (n.Has("wip_limit") && (wip < 1 || wip > kMaxWipLimit)) {
      return n.Child("wip_limit").Error(absl::StrCat("must be between 1 and ", kMaxWipLimit));
    }
    k.wip_limit = static_cast<int>(wip);
    DOCKET_ASSIGN_OR_RETURN(k.bot, n.Bool("bot", false));
    // A release is the four-eyes check of a person's work: never a bot's.
    if (k.bot && (k.HasRole(kRoleSupervisor) || !k.HasRole(kRoleWorker))) {
      return n.Child("bot").Error("only worker keys without the supervisor role can be bots");
    }
  } else {
    for (const char* field : {"worker", "skills", "wip_limit", "bot"}) {
      if (n.Has(field)) return n.Child(field).Error("only worker and supervisor keys have it");
    }
  }
  return k;
}

}  // namespace

bool ApiKey::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

grpcutil::Principal ApiKey::ToPrincipal() const { return grpcutil::Principal{id, tenants, roles}; }

absl::StatusOr<ApiKeyStore> ApiKeyStore::Load(const std::string& path) {
  DOCKET_ASSIGN_OR_RETURN(YamlNode root, config::LoadYamlFile(path));
  return FromYaml(root);
}

absl::StatusOr<ApiKeyStore> ApiKeyStore::Parse(const std::string& yaml, const std::string& name) {
  DOCKET_ASSIGN_OR_RETURN(YamlNode root, config::ParseYaml(yaml, name));
  return FromYaml(root);
}

absl::StatusOr<ApiKeyStore> ApiKeyStore::FromYaml(const YamlNode& root) {
  if (!root.IsMap() || !root.Has("keys")) return root.Error("expected a map with `keys:` (a list)");
  DOCKET_RETURN_IF_ERROR(root.CheckKeys({"keys"}));
  DOCKET_ASSIGN_OR_RETURN(std::vector<YamlNode> items, root.Child("keys").Items());
  ApiKeyStore store;
  for (const YamlNode& item : items) {
    DOCKET_ASSIGN_OR_RETURN(ApiKey key, ParseKey(item));
    if (auto it = store.by_id_.find(key.id); it != store.by_id_.end()) {
      return item.Child("id").Error(absl::StrCat("duplicate id \"", key.id, "\" (also at line ",
                                                  store.keys_[it->second].line, ")"));
    }
    for (const ApiKey& other : store.keys_) {
      if (CRYPTO_memcmp(other.sha256.data(), key.sha256.data(), key.sha256.size()) == 0) {
        return item.Child("sha256").Error(absl::StrCat(
            "same hash as key \"", other.id, "\" (line ", other.line,
            "); every key needs its own secret"));
      }
    }
    const std::size_t index = store.keys_.size();
    store.by_id_.emplace(key.id, index);
    store.by_prefix_.emplace(Prefix(key.sha256), index);
    store.keys_.push_back(std::move(key));
  }
  return store;
}

const ApiKey* ApiKeyStore::Lookup(std::string_view token) const {
  const Sha256Digest d = hash::Sha256(token);
  const auto [begin, end] = by_prefix_.equal_range(Prefix(d));
  const ApiKey* found = nullptr;
  for (auto it = begin; it != end; ++it) {
    const ApiKey& k = keys_[it->second];
    if (CRYPTO_memcmp(k.sha256.data(), d.data(), d.size()) == 0) found = &k;
  }
  return found;
}

const ApiKey* ApiKeyStore::Find(std::string_view id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &keys_[it->second];
}

absl::StatusOr<grpcutil::Principal> ApiKeyAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  absl::StatusOr<std::string> token = grpcutil::BearerToken(context);
  if (!token.ok()) {
    // BearerToken's messages never hold the header value.
    return absl::UnauthenticatedError(absl::StrCat("missing bearer token: ", token.status().message()));
  }
  return AuthenticateToken(*token);
}

absl::StatusOr<grpcutil::Principal> ApiKeyAuthenticator::AuthenticateToken(
    std::string_view token) const {
  if (token.empty()) return absl::UnauthenticatedError("missing bearer token");
  const ApiKey* key = store_.Lookup(token);
  if (key == nullptr) return absl::UnauthenticatedError("unknown API key");
  return key->ToPrincipal();
}

// ---- Key generation ----

namespace {

// A YAML scalar for `s`: plain when that cannot be misread, else double-quoted.
std::string YamlScalar(const std::string& s) {
  static const std::set<std::string> kSpecial = {"null", "Null", "NULL", "~",   "true", "True",
                                                 "TRUE", "false", "False", "FALSE", "yes", "no",
                                                 "on",   "off",  "y",     "n"};
  const bool plain = !s.empty() && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) &&
                     std::all_of(s.begin(), s.end(), IsIdChar) && !kSpecial.contains(s);
  if (plain) return s;
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string YamlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", YamlScalar(items[i]));
  }
  out += "]";
  return out;
}

}  // namespace

absl::StatusOr<std::string> NewApiKey() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("the random number generator failed");
  }
  const std::string raw(reinterpret_cast<const char*>(bytes), sizeof(bytes));
  OPENSSL_cleanse(bytes, sizeof(bytes));
  // WebSafeBase64Escape is base64url without padding: 43 characters.
  return std::string(kKeyPrefix) + absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<GeneratedKey> MakeKeyEntry(const KeySpec& spec, const std::string& key) {
  if (key.empty()) return absl::InvalidArgumentError("the key must not be empty");
  GeneratedKey out;
  out.key = key;
  out.sha256_hex = hash::Sha256Hex(key);
  std::string& y = out.yaml_entry;
  absl::StrAppend(&y, "  - id: ", YamlScalar(spec.id), "\n");
  absl::StrAppend(&y, "    sha256: ", out.sha256_hex, "\n");
  absl::StrAppend(&y, "    roles: ", YamlList(spec.roles), "\n");
  absl::StrAppend(&y, "    tenants: ", YamlList(spec.tenants), "\n");
  if (!spec.kinds.empty()) absl::StrAppend(&y, "    kinds: ", YamlList(spec.kinds), "\n");
  if (!spec.worker.empty()) absl::StrAppend(&y, "    worker: ", YamlScalar(spec.worker), "\n");
  if (!spec.skills.empty()) absl::StrAppend(&y, "    skills: ", YamlList(spec.skills), "\n");
  if (spec.wip_limit != 0) absl::StrAppend(&y, "    wip_limit: ", spec.wip_limit, "\n");
  if (spec.bot) absl::StrAppend(&y, "    bot: true\n");

  // Prove the entry loads and the key finds it, exactly as the service will.
  DOCKET_ASSIGN_OR_RETURN(ApiKeyStore store, ApiKeyStore::Parse("keys:\n" + y, "new entry"));
  if (store.Lookup(key) == nullptr) return absl::InternalError("the new entry does not match its key");
  return out;
}

}  // namespace docket::auth
