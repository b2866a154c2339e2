#include "common/testing/secret_volume.h"

#include <stdlib.h>

#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace docket::testing {
namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<SecretVolume>> SecretVolume::Create() {
  char pattern[] = "/tmp/docket_secret_XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::UnavailableError("mkdtemp failed");
  return std::unique_ptr<SecretVolume>(new SecretVolume(pattern));
}

SecretVolume::~SecretVolume() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

absl::Status SecretVolume::Write(const std::map<std::string, std::string>& files) {
  const std::string old_name = absl::StrCat("..", version_);
  const std::string name = absl::StrCat("..", ++version_);
  std::error_code error;
  fs::create_directory(dir_ / name, error);
  for (const auto& [file, text] : files) {
    std::ofstream out(dir_ / name / file, std::ios::binary);
    out << text;
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", (dir_ / name / file).string()));
  }
  // The swap: one rename moves every file to the new contents.
  fs::create_directory_symlink(name, dir_ / "..data_tmp", error);
  if (!error) fs::rename(dir_ / "..data_tmp", dir_ / "..data", error);
  for (const auto& [file, text] : files) {
    if (!error && !fs::is_symlink(fs::symlink_status(dir_ / file))) {
      fs::create_symlink(fs::path("..data") / file, dir_ / file, error);
    }
  }
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot update ", dir_.string(), ": ", error.message()));
  }
  fs::remove_all(dir_ / old_name, error);
  return absl::OkStatus();
}

}  // namespace docket::testing
