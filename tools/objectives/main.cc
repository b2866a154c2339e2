// docket-objectives: turns objectives.yaml into Prometheus rules.
//
//   docket-objectives render --objectives deploy/config/objectives.yaml --out deploy/prometheus/rules/
//   docket-objectives render --check ...   exit 1 if the committed rules are stale
//   docket-objectives validate --objectives deploy/config/objectives.yaml

#include <filesystem>
#include <iostream>
#include <string>

#include "common/catalog/catalog.h"
#include "tools/objectives/objectives.h"
#include "tools/objectives/rules.h"

namespace {

constexpr char kUsage[] = R"(usage: docket-objectives render|validate --objectives FILE [options]

  render     write the Prometheus rules of FILE's objectives to --out
             (recording rules and multi-window burn-rate alerts)
  validate   only load and check FILE

  --objectives=FILE  objectives.yaml (SMART KPI targets)
  --catalog=FILE     catalog whose tenants, kinds and queues the scopes must
                     name (default: catalog.yaml beside FILE, if there is one;
                     "none" skips the check)
  --out=DIR          render: the rules directory (deploy/prometheus/rules/)
  --check            render: write nothing; exit 1 if DIR is not what render
                     would write (generated files are never edited by hand)
)";

int Fail(const std::string& message, int code = 1) {
  std::cerr << "docket-objectives: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command, objectives_path, catalog_path, out_dir;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--check") {
      check = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!command.empty()) return Fail("unexpected argument \"" + arg + "\"\n\n" + kUsage, 2);
      command = arg;
      continue;
    }
    std::string name = arg, value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Fail(name + " needs a value\n\n" + kUsage, 2);
    }
    if (name == "--objectives") {
      objectives_path = value;
    } else if (name == "--catalog") {
      catalog_path = value;
    } else if (name == "--out") {
      out_dir = value;
    } else {
      return Fail("unknown flag " + name + "\n\n" + kUsage, 2);
    }
  }
  if (command != "render" && command != "validate") {
    return Fail("expected the command render or validate\n\n" + std::string(kUsage), 2);
  }
  if (objectives_path.empty()) return Fail("--objectives is required", 2);
  if (command == "render" && out_dir.empty()) return Fail("render needs --out", 2);

  auto objectives = docket::objectives::LoadObjectives(objectives_path);
  if (!objectives.ok()) return Fail(std::string(objectives.status().message()));

  if (catalog_path.empty()) {
    const auto beside = std::filesystem::path(objectives_path).parent_path() / "catalog.yaml";
    if (std::filesystem::exists(beside)) catalog_path = beside.string();
  }
  if (!catalog_path.empty() && catalog_path != "none") {
    auto catalog = docket::catalog::Catalog::Load(catalog_path);
    if (!catalog.ok()) return Fail(std::string(catalog.status().message()));
    if (auto s = docket::objectives::CheckScopes(*objectives, *catalog); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }

  if (command == "validate") {
    std::cout << objectives_path << ": " << objectives->objectives.size() << " objectives, valid\n";
    return 0;
  }
  if (check) {
    if (auto s = docket::objectives::CheckRules(*objectives, out_dir); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    std::cout << out_dir << " is up to date with " << objectives_path << "\n";
    return 0;
  }
  if (auto s = docket::objectives::WriteRules(*objectives, out_dir); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  std::cout << "wrote " << (std::filesystem::path(out_dir) / docket::objectives::kRulesFileName).string()
            << " (" << objectives->objectives.size() << " objectives)\n";
  return 0;
}
