#pragma once

// Typed, checked access to a YAML file. Every error names the file, the line
// and the field path, e.g.
//   deploy/config/catalog.yaml:12: kinds[2].sla: expected a duration like "4h", got "soon"
// so a bad config stops start-up with a message an operator can act on.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace docket::config {

class YamlNode {
 public:
  // Field path from the document root, e.g. "kinds[2].sla" ("" for the root).
  const std::string& path() const { return path_; }
  const std::string& file() const;
  int line() const;  // 1-based; 0 when unknown

  bool IsMap() const;
  bool IsList() const;
  bool IsScalar() const;
  bool IsNull() const;  // absent or explicit null
  bool Has(const std::string& key) const;

  // A child of a map (absent children are null nodes with the child's path).
  YamlNode Child(const std::string& key) const;
  // Elements of a list; INVALID_ARGUMENT if this is not a list.
  absl::StatusOr<std::vector<YamlNode>> Items() const;
  // Entries of a map in file order; INVALID_ARGUMENT if this is not a map.
  absl::StatusOr<std::vector<std::pair<std::string, YamlNode>>> Entries() const;

  // Scalars of this node. "required": null is an error naming the field.
  absl::StatusOr<std::string> AsString() const;
  absl::StatusOr<std::int64_t> AsInt() const;
  absl::StatusOr<double> AsDouble() const;
  absl::StatusOr<bool> AsBool() const;
  // "90s", "15m", "4h", "2d", "250ms", or combinations like "1h30m".
  absl::StatusOr<std::chrono::milliseconds> AsDuration() const;
  absl::StatusOr<std::vector<std::string>> AsStringList() const;

  // Child scalars with a default when the key is absent.
  absl::StatusOr<std::string> String(const std::string& key) const { return Child(key).AsString(); }
  absl::StatusOr<std::string> String(const std::string& key, const std::string& def) const;
  absl::StatusOr<std::int64_t> Int(const std::string& key) const { return Child(key).AsInt(); }
  absl::StatusOr<std::int64_t> Int(const std::string& key, std::int64_t def) const;
  absl::StatusOr<double> Double(const std::string& key, double def) const;
  absl::StatusOr<bool> Bool(const std::string& key, bool def) const;
  absl::StatusOr<std::chrono::milliseconds> Duration(const std::string& key) const {
    return Child(key).AsDuration();
  }

  // INVALID_ARGUMENT naming the first key not in `allowed` (catches typos).
  absl::Status CheckKeys(const std::set<std::string>& allowed) const;

  // An INVALID_ARGUMENT status "file:line: path: message".
  absl::Status Error(const std::string& message) const;

  struct Impl;
  YamlNode(std::shared_ptr<const Impl> impl, std::string path);

 private:
  std::shared_ptr<const Impl> impl_;
  std::string path_;
};

// Parses a YAML file. NOT_FOUND if it cannot be read; INVALID_ARGUMENT with
// file:line for a syntax error.
absl::StatusOr<YamlNode> LoadYamlFile(const std::string& path);
// Parses YAML text; `name` stands for the file in messages.
absl::StatusOr<YamlNode> ParseYaml(const std::string& text, const std::string& name);

// Parses a duration like "4h30m" (units ms, s, m, h, d).
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace docket::config
