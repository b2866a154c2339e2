#pragma once

// A throwaway PKI for TLS tests: a CA, a server certificate for
// localhost / 127.0.0.1 and a client certificate (for mTLS), all signed by
// the CA and made with the openssl CLI in a fresh temporary directory that
// goes away with the object. Files: ca.crt, server.crt, server.key,
// client.crt, client.key.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace docket::testing {

class TestPki {
 public:
  // UNAVAILABLE with openssl's output when a step fails.
  static absl::StatusOr<std::unique_ptr<TestPki>> Create();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string File(const std::string& name) const { return (dir_ / name).string(); }

  // The server certificate and key as a kubernetes.io/tls Secret holds them
  // (name -> contents: tls.crt, tls.key) and, given `client_ca`, that PKI's
  // CA as ca.crt, the CA of client certificates (mTLS).
  std::map<std::string, std::string> ServerSecret(const TestPki* client_ca = nullptr) const;

 private:
  explicit TestPki(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace docket::testing
