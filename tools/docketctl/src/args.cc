#include "tools/docketctl/src/args.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"

namespace docket::ctl {
namespace {

// The environment-variable spellings the first docketctl accepted (and
// deploy/docker/compose.yaml still uses), mapped to today's flags.
const std::map<std::string, std::string, std::less<>>& LegacyNames() {
  static const auto* names = new std::map<std::string, std::string, std::less<>>{
      {"DOCKET_INTAKE_ADDR", "intake-addr"},
      {"DOCKET_WORK_ADDR", "work-addr"},
      {"DOCKET_COMPLIANCE_ADDR", "compliance-addr"},
      {"DOCKET_KPI_ADDR", "kpi-addr"},
  };
  return *names;
}

const FlagSpec* Find(const std::vector<FlagSpec>& spec, std::string_view name) {
  for (const FlagSpec& f : spec) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

bool Args::Has(std::string_view name) const {
  return std::any_of(flags.begin(), flags.end(), [&](const auto& f) { return f.first == name; });
}

std::optional<std::string> Args::Get(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& [key, value] : flags) {
    if (key == name) out = value;
  }
  return out;
}

std::string Args::GetOr(std::string_view name, std::string fallback) const {
  auto v = Get(name);
  return v ? *std::move(v) : std::move(fallback);
}

std::vector<std::string> Args::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [key, value] : flags) {
    if (key == name) out.push_back(value);
  }
  return out;
}

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv, const std::vector<FlagSpec>& spec) {
  Args args;
  bool flags_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (flags_done || word.size() < 2 || word.rfind("--", 0) != 0) {
      if (!flags_done && word.size() > 1 && word[0] == '-' && word != "-h") {
        return absl::InvalidArgumentError(absl::StrCat("unknown flag ", word));
      }
      if (word == "-h" && !flags_done) {
        args.help = true;
        continue;
      }
      args.positional.push_back(word);
      continue;
    }
    if (word == "--") {
      flags_done = true;
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help") {
      args.help = true;
      continue;
    }
    if (auto legacy = LegacyNames().find(name); legacy != LegacyNames().end()) name = legacy->second;
    const FlagSpec* f = Find(spec, name);
    if (!f) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!f->takes_value) {
      if (value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      value = "";
    } else if (!value) {
      if (i + 1 >= argv.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    if (!f->repeated && args.Has(name)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is given more than once"));
    }
    args.flags.emplace_back(name, *std::move(value));
  }
  return args;
}

absl::StatusOr<std::pair<std::string, std::string>> SplitNameValue(std::string_view text,
                                                                   std::string_view what) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), " \"", std::string(text.substr(0, 64)), "\": expected name=value"));
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

}  // namespace docket::ctl
