#include "common/grpc/tls_reloader.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/status/macros.h"

namespace docket::grpcutil::internal {
namespace {

namespace fs = std::filesystem;

const log::Logger& Logger() {
  static const log::Logger logger("grpc");
  return logger;
}

constexpr char kKeyFile[] = "tls.key";
constexpr char kCertFile[] = "tls.crt";
constexpr char kClientCaFile[] = "ca.crt";
constexpr char kCurrent[] = "current";  // -> the directory of the latest copy

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::StatusOr<std::string> ReadTlsFile(const std::string& field, const std::string& path) {
  if (path.empty()) return absl::FailedPreconditionError(absl::StrCat("TLS ", field, " is not set"));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read TLS ", field, " ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read TLS ", field, " ", path));
  }
  return text.str();
}

absl::Status Unusable(const std::string& field, const std::string& path, const char* why) {
  return absl::FailedPreconditionError(absl::StrCat("TLS ", field, " ", path, " ", why));
}

absl::StatusOr<BioPtr> MemoryBio(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory reading PEM");
  return bio;
}

// The first certificate of `pem`, once every PEM certificate in it has
// parsed: a chain cut off mid-write must not pass for its first certificate.
// (gRPC would only say "failed to add port" for a bad PEM; name the file.)
absl::StatusOr<X509Ptr> FirstCertificate(const std::string& field, const std::string& path,
                                         const std::string& pem) {
  DOCKET_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(pem));
  ERR_clear_error();
  X509Ptr first;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (first == nullptr) {
      first.reset(cert);
    } else {
      X509_free(cert);
    }
  }
  // Reading stops at the end of the text ("no start line") or at a bad block.
  const unsigned long stop = ERR_peek_last_error();
  ERR_clear_error();
  if (first == nullptr) return Unusable(field, path, "holds no PEM certificate");
  if (ERR_GET_LIB(stop) != ERR_LIB_PEM || ERR_GET_REASON(stop) != PEM_R_NO_START_LINE) {
    return Unusable(field, path, "holds a PEM certificate that does not parse (cut off?)");
  }
  return first;
}

// The certificate's notAfter as Unix time, or 0.
std::time_t NotAfter(const std::string& cert_chain) {
  auto bio = MemoryBio(cert_chain);
  if (!bio.ok()) return 0;
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  std::tm tm{};
  if (cert == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) return 0;
  return timegm(&tm);
}

std::string Rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Which of the files differ, e.g. "cert_file,key_file".
std::string Changed(const TlsFiles& before, const TlsFiles& after) {
  std::vector<std::string> changed;
  if (before.cert_chain != after.cert_chain) changed.push_back("cert_file");
  if (before.private_key != after.private_key) changed.push_back("key_file");
  if (before.client_ca != after.client_ca) changed.push_back("client_ca_file");
  return absl::StrJoin(changed, ",");
}

// A directory only this user can enter, in memory where there is one.
absl::StatusOr<fs::path> MakePrivateDir() {
  std::error_code ignored;
  const fs::path tmp = fs::temp_directory_path(ignored);
  std::string error;
  for (const fs::path& parent : {fs::path("/dev/shm"), tmp.empty() ? fs::path("/tmp") : tmp}) {
    std::string pattern = (parent / "docket-grpc-tls-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) return fs::path(pattern);  // mode 0700
    absl::StrAppend(&error, error.empty() ? "" : "; ", parent.string(), ": ", std::strerror(errno));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot make a directory for the copy of the TLS files: ", error));
}

absl::Status CannotWrite(const fs::path& path, int error) {
  return absl::UnavailableError(absl::StrCat("cannot write ", path.string(), ": ", std::strerror(error)));
}

// A new file that only this user can read, holding `text`, modified at `mtime`.
absl::Status WriteNewFile(const fs::path& path, const std::string& text, std::time_t mtime) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return CannotWrite(path, errno);
  std::size_t done = 0;
  int error = 0;
  while (done < text.size() && error == 0) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
    } else if (errno != EINTR) {
      error = errno;
    }
  }
  const timespec times[2] = {{mtime, 0}, {mtime, 0}};
  if (error == 0 && ::futimens(fd, times) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  return error == 0 ? absl::OkStatus() : CannotWrite(path, error);
}

}  // namespace

absl::StatusOr<TlsFiles> ReadTlsFiles(const TlsOptions& tls) {
  TlsFiles files;
  DOCKET_ASSIGN_OR_RETURN(files.cert_chain, ReadTlsFile("cert_file", tls.cert_file));
  DOCKET_ASSIGN_OR_RETURN(files.private_key, ReadTlsFile("key_file", tls.key_file));
  if (!tls.client_ca_file.empty()) {
    DOCKET_ASSIGN_OR_RETURN(files.client_ca, ReadTlsFile("client_ca_file", tls.client_ca_file));
  }
  return files;
}

absl::Status CheckTlsFiles(const TlsOptions& tls, const TlsFiles& files) {
  DOCKET_ASSIGN_OR_RETURN(X509Ptr cert, FirstCertificate("cert_file", tls.cert_file, files.cert_chain));
  DOCKET_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(files.private_key));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) return Unusable("key_file", tls.key_file, "holds no PEM private key");
  const bool matches = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::FailedPreconditionError(absl::StrCat("TLS key_file ", tls.key_file,
                                                      " is not the key of the certificate in cert_file ",
                                                      tls.cert_file));
  }
  if (!tls.client_ca_file.empty()) {
    DOCKET_RETURN_IF_ERROR(
        FirstCertificate("client_ca_file", tls.client_ca_file, files.client_ca).status());
  }
  return absl::OkStatus();
}

struct TlsReloader::Metrics {
  explicit Metrics(metrics::MetricsRegistry& registry)
      : reloads(prometheus::BuildCounter()
                    .Name("docket_grpc_server_tls_reloads_total")
                    .Help("Renewed gRPC server TLS files: served (reloaded) or refused, the last "
                          "good ones kept (refused)")
                    .Register(registry.registry())),
        reloaded(reloads.Add({{"outcome", "reloaded"}})),
        refused(reloads.Add({{"outcome", "refused"}})),
        expiry(prometheus::BuildGauge()
                   .Name("docket_grpc_server_tls_certificate_expiry_timestamp_seconds")
                   .Help("notAfter of the gRPC server certificate served to new connections")
                   .Register(registry.registry())
                   .Add({})),
        refusing(prometheus::BuildGauge()
                     .Name("docket_grpc_server_tls_files_refused")
                     .Help("1 while the TLS files on disk have changed and do not load (the last good "
                           "ones are served), else 0")
                     .Register(registry.registry())
                     .Add({})) {}
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Counter& reloaded;
  prometheus::Counter& refused;
  prometheus::Gauge& expiry;
  prometheus::Gauge& refusing;
};

TlsReloader::TlsReloader(TlsOptions tls, fs::path dir, metrics::MetricsRegistry* metrics)
    : tls_(std::move(tls)),
      dir_(std::move(dir)),
      metrics_(metrics == nullptr ? nullptr : std::make_unique<Metrics>(*metrics)) {}

absl::StatusOr<std::unique_ptr<TlsReloader>> TlsReloader::Create(TlsOptions tls,
                                                                 metrics::MetricsRegistry* metrics) {
  if (tls.reload_interval.count() <= 0) {
    return absl::InvalidArgumentError("TLS reload_interval must be positive");
  }
  DOCKET_ASSIGN_OR_RETURN(TlsFiles files, ReadTlsFiles(tls));
  DOCKET_RETURN_IF_ERROR(CheckTlsFiles(tls, files));
  DOCKET_ASSIGN_OR_RETURN(fs::path dir, MakePrivateDir());
  std::unique_ptr<TlsReloader> reloader(new TlsReloader(std::move(tls), std::move(dir), metrics));
  std::lock_guard lock(reloader->mu_);
  DOCKET_RETURN_IF_ERROR(reloader->Publish(files));
  reloader->Served(files);
  return reloader;
}

TlsReloader::~TlsReloader() {
  Stop();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string TlsReloader::key_file() const { return (dir_ / kCurrent / kKeyFile).string(); }
std::string TlsReloader::cert_file() const { return (dir_ / kCurrent / kCertFile).string(); }
std::string TlsReloader::client_ca_file() const {
  return tls_.client_ca_file.empty() ? std::string() : (dir_ / kCurrent / kClientCaFile).string();
}

void TlsReloader::Start() {
  std::lock_guard lock(stop_mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, tls_.reload_interval, [this] { return stopping_; })) {
      lock.unlock();
      CheckNow();
      lock.lock();
    }
  });
}

void TlsReloader::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  stop_cv_.notify_all();
  if (thread.joinable()) thread.join();
}

TlsReloader::Outcome TlsReloader::CheckNow() {
  std::lock_guard lock(mu_);
  absl::StatusOr<TlsFiles> files = ReadTlsFiles(tls_);
  if (files.ok() && *files == published_) {
    refused_.reset();  // the same bad files again later are a new event
    if (metrics_ != nullptr) metrics_->refusing.Set(0);
    return Outcome::kUnchanged;
  }
  if (refused_ == files) return Outcome::kUnchanged;  // warned about already
  absl::Status status = files.ok() ? CheckTlsFiles(tls_, *files) : files.status();
  if (!status.ok()) {
    refused_ = std::move(files);
    if (metrics_ != nullptr) {
      metrics_->refused.Increment();
      metrics_->refusing.Set(1);
    }
    Logger().Warn("gRPC TLS files changed but do not load; new connections keep the previous ones",
                  {{"error", std::string(status.message())}});
    return Outcome::kRefused;
  }
  if (status = Publish(*files); !status.ok()) {
    if (metrics_ != nullptr) {
      metrics_->refused.Increment();
      metrics_->refusing.Set(1);
    }
    Logger().Error("gRPC TLS files changed but their copy cannot be written; new connections keep "
                   "the previous ones, tried again in reload_interval",
                   {{"error", std::string(status.message())}});
    return Outcome::kRefused;
  }
  const std::time_t not_after = NotAfter(files->cert_chain);
  Logger().Info("gRPC TLS files changed; new connections use them",
                {{"changed", Changed(published_, *files)},
                 {"cert_file", tls_.cert_file},
                 {"not_after", Rfc3339(not_after)}});
  Served(*files);
  if (metrics_ != nullptr) metrics_->reloaded.Increment();
  return Outcome::kReloaded;
}

void TlsReloader::Served(const TlsFiles& files) {
  published_ = files;
  refused_.reset();
  if (metrics_ != nullptr) {
    metrics_->expiry.Set(static_cast<double>(NotAfter(files.cert_chain)));
    metrics_->refusing.Set(0);
  }
}

// Each copy is a new directory and `current` is swapped to it in one rename,
// so gRPC, which reads the key and the certificate one after the other,
// never reads one from each copy unnoticed: it compares each file's mtime in
// whole seconds before and after reading, so each copy's files are given an
// mtime one second past the previous copy's at least.
absl::Status TlsReloader::Publish(const TlsFiles& files) {
  const std::string name = absl::StrCat("copy-", generation_ + 1);
  const fs::path next = dir_ / name;
  const std::time_t mtime = std::max(std::time(nullptr), mtime_ + 1);
  std::error_code error;
  fs::remove_all(next, error);  // left by a write that failed
  if (::mkdir(next.c_str(), 0700) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot make ", next.string(), ": ", std::strerror(errno)));
  }
  absl::Status status = WriteNewFile(next / kKeyFile, files.private_key, mtime);
  if (status.ok()) status = WriteNewFile(next / kCertFile, files.cert_chain, mtime);
  if (status.ok() && !tls_.client_ca_file.empty()) {
    status = WriteNewFile(next / kClientCaFile, files.client_ca, mtime);
  }
  const fs::path link = dir_ / "current.next";
  fs::remove(link, error);
  if (status.ok()) {
    fs::create_directory_symlink(name, link, error);
    if (!error) fs::rename(link, dir_ / kCurrent, error);
    if (error) {
      status = absl::UnavailableError(absl::StrCat("cannot point ", (dir_ / kCurrent).string(), " to ",
                                                   next.string(), ": ", error.message()));
    }
  }
  if (!status.ok()) {
    fs::remove_all(next, error);
    return status;
  }
  if (generation_ > 0) fs::remove_all(dir_ / absl::StrCat("copy-", generation_), error);
  ++generation_;
  mtime_ = mtime;
  return absl::OkStatus();
}

}  // namespace docket::grpcutil::internal
