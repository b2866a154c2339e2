// docket-keygen: makes a new random API key. Prints the key on stderr (once;
// it is written nowhere) and its entry for the keys file (api-keys.yaml,
// which stores only the key's SHA-256) on stdout.
//
//   docket-keygen --id=acme-erp --roles=publisher --tenants=acme [--kinds=a,b]
//   docket-keygen --id=alice --roles=worker --tenants=acme --worker=alice
//                 --skills=ap-clerk [--wip-limit=5] [--bot=true]

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/auth/api_keys.h"

namespace {

constexpr char kUsage[] = R"(usage: docket-keygen --id=ID --roles=R[,R...] --tenants=T[,T...] [options]

Makes a new random API key ("dk_" + 256 random bits, base64url). Prints the
key on stderr (shown only now) and, on stdout, the entry to add under `keys:`
in api-keys.yaml, which holds only the key's SHA-256:
  docket-keygen --id=acme-erp --roles=publisher --tenants=acme >> api-keys.yaml

  --id=ID            key id shown in logs and errors (A-Z a-z 0-9 . _ -)
  --roles=LIST       publisher, worker, supervisor, operator
  --tenants=LIST     tenant ids, or * for every tenant
  --kinds=LIST       publishers: kinds they may submit (default: every kind)
  --worker=ID        workers/supervisors: their actor id (required for them)
  --skills=LIST      workers/supervisors: queue skills
  --wip-limit=N      workers/supervisors: items they may hold at once
  --bot=true         workers: the key is software's (an RPA bot, a batch job); its
                     work is recorded as a bot's, not a person's
)";

std::vector<std::string> List(const std::string& value) {
  return absl::StrSplit(value, ',', absl::SkipEmpty());
}

}  // namespace

int main(int argc, char** argv) {
  docket::auth::KeySpec spec;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (name == "--help" || name == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (eq == std::string::npos) {
      std::cerr << "docket-keygen: " << arg << " needs a value (" << name << "=...)\n\n" << kUsage;
      return 2;
    }
    if (name == "--id") {
      spec.id = value;
    } else if (name == "--roles") {
      spec.roles = List(value);
    } else if (name == "--tenants") {
      spec.tenants = List(value);
    } else if (name == "--kinds") {
      spec.kinds = List(value);
    } else if (name == "--worker") {
      spec.worker = value;
    } else if (name == "--skills") {
      spec.skills = List(value);
    } else if (name == "--wip-limit") {
      if (!absl::SimpleAtoi(value, &spec.wip_limit)) {
        std::cerr << "docket-keygen: --wip-limit expects a number\n";
        return 2;
      }
    } else if (name == "--bot") {
      if (!absl::SimpleAtob(value, &spec.bot)) {
        std::cerr << "docket-keygen: --bot expects true or false\n";
        return 2;
      }
    } else {
      std::cerr << "docket-keygen: unknown flag " << name << "\n\n" << kUsage;
      return 2;
    }
  }

  const auto key = docket::auth::NewApiKey();
  if (!key.ok()) {
    std::cerr << "docket-keygen: " << key.status().message() << "\n";
    return 1;
  }
  const auto entry = docket::auth::MakeKeyEntry(spec, *key);
  if (!entry.ok()) {
    // The message names the field of the entry, e.g. "keys[0].worker".
    std::cerr << "docket-keygen: " << entry.status().message() << "\n";
    return 2;
  }
  // The key goes to stderr and only the entry to stdout, so
  // `docket-keygen ... >> api-keys.yaml` can never write the secret there.
  std::cerr << "API key " << spec.id
            << " (give it to its owner over a secure channel; it is shown only now):\n"
            << entry->key << "\n";
  std::cout << entry->yaml_entry;
  return 0;
}
