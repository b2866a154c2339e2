#pragma once

// A directory laid out as kubelet writes a Secret volume, for tests of code
// that must pick up renewed files: each file is a symlink through `..data`
// to a directory of the contents, and an update writes a new directory and
// swaps `..data` in one rename, so a reader sees all old or all new files.
// The directory is temporary and goes away with the object.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace docket::testing {

class SecretVolume {
 public:
  // UNAVAILABLE if the temporary directory cannot be made.
  static absl::StatusOr<std::unique_ptr<SecretVolume>> Create();
  ~SecretVolume();
  SecretVolume(const SecretVolume&) = delete;
  SecretVolume& operator=(const SecretVolume&) = delete;

  // Replaces the contents: `files` maps a name ("tls.crt") to its bytes.
  // UNAVAILABLE naming the path when a write fails.
  absl::Status Write(const std::map<std::string, std::string>& files);

  // The path a reader opens for `name`.
  std::string File(const std::string& name) const { return (dir_ / name).string(); }

 private:
  explicit SecretVolume(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
  int version_ = 0;
};

}  // namespace docket::testing
