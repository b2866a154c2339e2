#pragma once

// Internal to docket_grpc: the server's TLS files, checked, and a copy of
// them that gRPC watches, so renewed files are served without a restart.
//
// Why a copy: gRPC 1.51's FileWatcherCertificateProvider re-reads its files
// but does not check them, and a key that is not the certificate's or a file
// cut off mid-write makes the server drop its handshaker and refuse every
// TLS handshake until the files are fixed (tls_security_connector.cc
// "Update handshaker factory failed"). So the provider watches a private
// copy that only ever holds files that passed CheckTlsFiles(); the files
// named in TlsOptions are checked on a thread of the reloader's own.

#include <ctime>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/grpc/server_runner.h"

namespace docket::grpcutil::internal {

// The contents of a server's TLS files, read at one moment.
struct TlsFiles {
  std::string cert_chain;
  std::string private_key;
  std::string client_ca;  // empty without mTLS
  bool operator==(const TlsFiles&) const = default;
};

// FAILED_PRECONDITION naming the field and the file when a file is not set
// or cannot be read.
absl::StatusOr<TlsFiles> ReadTlsFiles(const TlsOptions& tls);

// FAILED_PRECONDITION naming the file when it holds no PEM certificate
// (private key), when a PEM block in it does not parse (a file cut off
// mid-write), or when the key is not the one of the chain's first
// certificate (naming both files). Nothing of a key ever goes into an error.
absl::Status CheckTlsFiles(const TlsOptions& tls, const TlsFiles& files);

// Thread-safety: CheckNow(), Start() and Stop() from any thread.
class TlsReloader {
 public:
  enum class Outcome { kUnchanged, kReloaded, kRefused };

  // Reads and checks the files (the errors above) and writes the first copy:
  // in /dev/shm when the system has it (memory, as a Secret volume is: the
  // copy puts no key on a disk), else in the temporary directory.
  // INVALID_ARGUMENT if tls.reload_interval is not positive; UNAVAILABLE if
  // the copy cannot be written. `metrics` (may be null) must outlive it.
  static absl::StatusOr<std::unique_ptr<TlsReloader>> Create(TlsOptions tls,
                                                             metrics::MetricsRegistry* metrics);
  // Stops and removes the copy: destroy it after the server that reads it.
  ~TlsReloader();
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  // Where the checked copy is; the same paths for the reloader's life.
  // client_ca_file() is empty without mTLS.
  std::string key_file() const;
  std::string cert_file() const;
  std::string client_ca_file() const;

  // Calls CheckNow() every tls.reload_interval until Stop().
  void Start();
  // Idempotent; returns once the thread has ended.
  void Stop();

  // Reads the files; when they differ from the copy and pass CheckTlsFiles(),
  // replaces the copy (kReloaded). Files that do not load leave the copy as
  // it is (kRefused), with one warning: the same files read again are
  // kUnchanged until they change. A copy that cannot be written is kRefused
  // and tried again at the next check.
  Outcome CheckNow();

 private:
  struct Metrics;
  TlsReloader(TlsOptions tls, std::filesystem::path dir, metrics::MetricsRegistry* metrics);
  absl::Status Publish(const TlsFiles& files);  // requires mu_
  void Served(const TlsFiles& files);           // requires mu_

  const TlsOptions tls_;
  const std::filesystem::path dir_;
  std::unique_ptr<Metrics> metrics_;

  std::mutex mu_;  // guards the fields below
  TlsFiles published_;
  std::optional<absl::StatusOr<TlsFiles>> refused_;  // what was last refused, as read
  int generation_ = 0;
  std::time_t mtime_ = 0;  // of the copy's files

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace docket::grpcutil::internal
