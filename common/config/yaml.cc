#include "common/config/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace docket::config {

struct YamlNode::Impl {
  std::shared_ptr<const std::string> file;
  YAML::Node node;  // may be undefined/null
  int line = 0;     // of this node, or of the nearest parent for absent keys
};

namespace {

std::string Describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return absl::StrCat("\"", n.Scalar(), "\"");
  if (n.IsSequence()) return "a list";
  return "a map";
}

int LineOf(const YAML::Node& n, int fallback) {
  if (!n.IsDefined()) return fallback;
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : fallback;
}

}  // namespace

YamlNode::YamlNode(std::shared_ptr<const Impl> impl, std::string path)
    : impl_(std::move(impl)), path_(std::move(path)) {}

const std::string& YamlNode::file() const { return *impl_->file; }
int YamlNode::line() const { return impl_->line; }
bool YamlNode::IsMap() const { return impl_->node.IsDefined() && impl_->node.IsMap(); }
bool YamlNode::IsList() const { return impl_->node.IsDefined() && impl_->node.IsSequence(); }
bool YamlNode::IsScalar() const { return impl_->node.IsDefined() && impl_->node.IsScalar(); }
bool YamlNode::IsNull() const { return !impl_->node.IsDefined() || impl_->node.IsNull(); }

bool YamlNode::Has(const std::string& key) const {
  if (!IsMap()) return false;
  const YAML::Node c = impl_->node[key];
  return c.IsDefined() && !c.IsNull();
}

absl::Status YamlNode::Error(const std::string& message) const {
  std::string where = absl::StrCat(*impl_->file, ":", impl_->line);
  if (!path_.empty()) absl::StrAppend(&where, ": ", path_);
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", message));
}

YamlNode YamlNode::Child(const std::string& key) const {
  auto impl = std::make_shared<Impl>();
  impl->file = impl_->file;
  if (IsMap()) {
    const YAML::Node child = impl_->node[key];  // invalid (not just undefined) if absent
    if (child.IsDefined()) impl->node.reset(child);
  }
  impl->line = LineOf(impl->node, impl_->line);
  return YamlNode(std::move(impl), path_.empty() ? key : absl::StrCat(path_, ".", key));
}

absl::StatusOr<std::vector<YamlNode>> YamlNode::Items() const {
  if (IsNull()) return std::vector<YamlNode>{};
  if (!IsList()) return Error(absl::StrCat("expected a list, got ", Describe(impl_->node)));
  std::vector<YamlNode> out;
  for (std::size_t i = 0; i < impl_->node.size(); ++i) {
    auto impl = std::make_shared<Impl>();
    impl->file = impl_->file;
    impl->node.reset(impl_->node[i]);
    impl->line = LineOf(impl->node, impl_->line);
    out.emplace_back(std::move(impl), absl::StrCat(path_, "[", i, "]"));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, YamlNode>>> YamlNode::Entries() const {
  if (IsNull()) return std::vector<std::pair<std::string, YamlNode>>{};
  if (!IsMap()) return Error(absl::StrCat("expected a map, got ", Describe(impl_->node)));
  std::vector<std::pair<std::string, YamlNode>> out;
  for (const auto& kv : impl_->node) {
    const std::string key = kv.first.as<std::string>();
    auto impl = std::make_shared<Impl>();
    impl->file = impl_->file;
    impl->node = kv.second;
    impl->line = LineOf(kv.second, LineOf(kv.first, impl_->line));
    out.emplace_back(key, YamlNode(std::move(impl), path_.empty() ? key : absl::StrCat(path_, ".", key)));
  }
  return out;
}

absl::StatusOr<std::string> YamlNode::AsString() const {
  if (IsNull()) return Error("is required");
  if (!IsScalar()) return Error(absl::StrCat("expected a string, got ", Describe(impl_->node)));
  return impl_->node.Scalar();
}

absl::StatusOr<std::int64_t> YamlNode::AsInt() const {
  auto s = AsString();
  if (!s.ok()) return s.status();
  try {
    std::size_t used = 0;
    long long v = std::stoll(*s, &used, 10);
    if (used == s->size()) return static_cast<std::int64_t>(v);
  } catch (const std::exception&) {
  }
  return Error(absl::StrCat("expected an integer, got \"", *s, "\""));
}

absl::StatusOr<double> YamlNode::AsDouble() const {
  auto s = AsString();
  if (!s.ok()) return s.status();
  try {
    std::size_t used = 0;
    double v = std::stod(*s, &used);
    if (used == s->size()) return v;
  } catch (const std::exception&) {
  }
  return Error(absl::StrCat("expected a number, got \"", *s, "\""));
}

absl::StatusOr<bool> YamlNode::AsBool() const {
  auto s = AsString();
  if (!s.ok()) return s.status();
  if (*s == "true" || *s == "yes" || *s == "on") return true;
  if (*s == "false" || *s == "no" || *s == "off") return false;
  return Error(absl::StrCat("expected true or false, got \"", *s, "\""));
}

absl::StatusOr<std::chrono::milliseconds> YamlNode::AsDuration() const {
  auto s = AsString();
  if (!s.ok()) return s.status();
  auto d = ParseDuration(*s);
  if (!d.ok()) {
    return Error(absl::StrCat("expected a duration like \"4h\" or \"90s\", got \"", *s, "\""));
  }
  return d;
}

absl::StatusOr<std::vector<std::string>> YamlNode::AsStringList() const {
  auto items = Items();
  if (!items.ok()) return items.status();
  std::vector<std::string> out;
  for (const YamlNode& n : *items) {
    auto s = n.AsString();
    if (!s.ok()) return s.status();
    out.push_back(*s);
  }
  return out;
}

absl::StatusOr<std::string> YamlNode::String(const std::string& key, const std::string& def) const {
  return Has(key) ? Child(key).AsString() : def;
}
absl::StatusOr<std::int64_t> YamlNode::Int(const std::string& key, std::int64_t def) const {
  return Has(key) ? Child(key).AsInt() : def;
}
absl::StatusOr<double> YamlNode::Double(const std::string& key, double def) const {
  return Has(key) ? Child(key).AsDouble() : def;
}
absl::StatusOr<bool> YamlNode::Bool(const std::string& key, bool def) const {
  return Has(key) ? Child(key).AsBool() : def;
}

absl::Status YamlNode::CheckKeys(const std::set<std::string>& allowed) const {
  if (!IsMap()) return absl::OkStatus();
  for (const auto& kv : impl_->node) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.contains(key)) {
      std::string known;
      for (const auto& a : allowed) absl::StrAppend(&known, known.empty() ? "" : ", ", a);
      YamlNode child = Child(key);
      return child.Error(absl::StrCat("unknown field (expected one of: ", known, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<YamlNode> ParseYaml(const std::string& text, const std::string& name) {
  auto impl = std::make_shared<YamlNode::Impl>();
  impl->file = std::make_shared<const std::string>(name);
  try {
    impl->node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  impl->line = 1;
  return YamlNode(std::move(impl), "");
}

absl::StatusOr<YamlNode> LoadYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read file"));
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseYaml(buf.str(), path);
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty duration");
  std::chrono::milliseconds total{0};
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return absl::InvalidArgumentError(absl::StrCat("bad duration \"", std::string(text), "\""));
    double value = std::stod(std::string(text.substr(start, i - start)));
    std::size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    double ms_per;
    if (unit == "ms") ms_per = 1;
    else if (unit == "s") ms_per = 1000;
    else if (unit == "m") ms_per = 60'000;
    else if (unit == "h") ms_per = 3'600'000;
    else if (unit == "d") ms_per = 86'400'000;
    else return absl::InvalidArgumentError(absl::StrCat("bad duration unit in \"", std::string(text), "\""));
    total += std::chrono::milliseconds(static_cast<std::int64_t>(value * ms_per));
  }
  return total;
}

}  // namespace docket::config
