// TlsReloader without a server: which renewed files reach the copy gRPC
// reads, and which are refused. (server_runner_itest.cc serves them.)

#include "common/grpc/tls_reloader.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/secret_volume.h"
#include "common/testing/test_pki.h"

namespace docket::grpcutil::internal {
namespace {

using ::testing::HasSubstr;
using Outcome = TlsReloader::Outcome;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

// Two unrelated PKIs (CA, server and client certificates each) for the suite.
class TlsReloaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (auto** pki : {&a_, &b_}) {
      auto made = testing::TestPki::Create();
      ASSERT_TRUE(made.ok()) << made.status();
      *pki = made->release();
    }
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    a_ = b_ = nullptr;
  }

  void SetUp() override {
    auto volume = testing::SecretVolume::Create();
    ASSERT_TRUE(volume.ok()) << volume.status();
    volume_ = *std::move(volume);
  }

  TlsOptions Options(bool mtls = false) const {
    TlsOptions tls;
    tls.cert_file = volume_->File("tls.crt");
    tls.key_file = volume_->File("tls.key");
    if (mtls) tls.client_ca_file = volume_->File("ca.crt");
    tls.reload_interval = std::chrono::hours(1);  // only CheckNow() checks
    return tls;
  }

  static testing::TestPki* a_;
  static testing::TestPki* b_;
  std::unique_ptr<testing::SecretVolume> volume_;
};
testing::TestPki* TlsReloaderTest::a_ = nullptr;
testing::TestPki* TlsReloaderTest::b_ = nullptr;

TEST_F(TlsReloaderTest, RenewedFilesThatLoadReplaceThePrivateCopyUnderTheSamePaths) {
  ASSERT_TRUE(volume_->Write(a_->ServerSecret(a_)).ok());
  auto reloader = TlsReloader::Create(Options(true), nullptr);
  ASSERT_TRUE(reloader.ok()) << reloader.status();
  const std::string cert = (*reloader)->cert_file(), key = (*reloader)->key_file(),
                    ca = (*reloader)->client_ca_file();
  EXPECT_EQ(ReadFile(cert), ReadFile(a_->File("server.crt")));
  EXPECT_EQ(ReadFile(key), ReadFile(a_->File("server.key")));
  EXPECT_EQ(ReadFile(ca), ReadFile(a_->File("ca.crt")));
  EXPECT_EQ(Stat(key).st_mode & 0777, 0600u) << "the copy of the key is readable by others";
  EXPECT_EQ(Stat(std::filesystem::path(key).parent_path().parent_path().string()).st_mode & 0777, 0700u);
  EXPECT_EQ((*reloader)->CheckNow(), Outcome::kUnchanged);

  ASSERT_TRUE(volume_->Write(b_->ServerSecret(b_)).ok());
  EXPECT_EQ((*reloader)->CheckNow(), Outcome::kReloaded);
  EXPECT_EQ((*reloader)->cert_file(), cert);
  EXPECT_EQ(ReadFile(cert), ReadFile(b_->File("server.crt")));
  EXPECT_EQ(ReadFile(key), ReadFile(b_->File("server.key")));
  EXPECT_EQ(ReadFile(ca), ReadFile(b_->File("ca.crt")));
  EXPECT_EQ((*reloader)->CheckNow(), Outcome::kUnchanged);
}

TEST_F(TlsReloaderTest, AKeyThatIsNotTheCertificatesIsRefusedOnceAndTheLastGoodCopyStays) {
  ASSERT_TRUE(volume_->Write(a_->ServerSecret()).ok());
  auto reloader = TlsReloader::Create(Options(), nullptr);
  ASSERT_TRUE(reloader.ok()) << reloader.status();

  auto mismatched = b_->ServerSecret();
  mismatched["tls.key"] = ReadFile(a_->File("server.key"));
  ASSERT_TRUE(volume_->Write(mismatched).ok());
  EXPECT_EQ((*reloader)->CheckNow(), Outcome::kRefused);
  EXPECT_EQ((*reloader)->CheckNow(), Outcome::kUnchanged) << "the same refusal is not repeated";
  EXPECT_EQ(ReadFile((*reloader)->cert_file()), ReadFile(a_->File("server.crt")));
  EXPECT_EQ(ReadFile((*reloader)->key_file()), ReadFile(a_->File("server.key")));

  ASSERT_TRUE(volume_->Write(b_->ServerSecret()).ok());
  EXPECT_EQ((*reloader)->CheckNow(), Outcome::kReloaded);
  EXPECT_EQ(ReadFile((*reloader)->cert_file()), ReadFile(b_->File("server.crt")));
}

TEST_F(TlsReloaderTest, FilesCutOffMidWriteOrGoneAreRefusedAndTheLastGoodCopyStays) {
  ASSERT_TRUE(volume_->Write(a_->ServerSecret(a_)).ok());
  auto reloader = TlsReloader::Create(Options(true), nullptr);
  ASSERT_TRUE(reloader.ok()) << reloader.status();
  const std::string leaf = ReadFile(b_->File("server.crt"));
  const std::string ca = ReadFile(b_->File("ca.crt"));

  auto cut_chain = b_->ServerSecret(b_);  // a whole leaf, then half of the next certificate
  cut_chain["tls.crt"] = leaf + ca.substr(0, ca.size() / 2);
  auto cut_key = b_->ServerSecret(b_);
  cut_key["tls.key"].resize(cut_key["tls.key"].size() / 2);
  auto cut_ca = b_->ServerSecret(b_);
  cut_ca["ca.crt"] = ca.substr(0, ca.size() - 40);
  auto gone = b_->ServerSecret();  // no ca.crt
  for (const auto& bad : {cut_chain, cut_key, cut_ca, gone}) {
    ASSERT_TRUE(volume_->Write(bad).ok());
    EXPECT_EQ((*reloader)->CheckNow(), Outcome::kRefused);
    EXPECT_EQ(ReadFile((*reloader)->cert_file()), ReadFile(a_->File("server.crt")));
    EXPECT_EQ(ReadFile((*reloader)->key_file()), ReadFile(a_->File("server.key")));
    EXPECT_EQ(ReadFile((*reloader)->client_ca_file()), ReadFile(a_->File("ca.crt")));
  }
  ASSERT_TRUE(volume_->Write(b_->ServerSecret(b_)).ok());
  EXPECT_EQ((*reloader)->CheckNow(), Outcome::kReloaded);
}

// gRPC reads the key and the certificate one after the other and tells a
// copy swapped in between by each file's mtime in whole seconds: two copies
// written within the same second must still differ.
TEST_F(TlsReloaderTest, EachCopyIsAtLeastAWholeSecondNewerThanThePrevious) {
  ASSERT_TRUE(volume_->Write(a_->ServerSecret()).ok());
  auto reloader = TlsReloader::Create(Options(), nullptr);
  ASSERT_TRUE(reloader.ok()) << reloader.status();
  time_t before = Stat((*reloader)->key_file()).st_mtime;
  for (const auto* pki : {b_, a_, b_}) {
    ASSERT_TRUE(volume_->Write(pki->ServerSecret()).ok());
    ASSERT_EQ((*reloader)->CheckNow(), Outcome::kReloaded);
    const time_t key = Stat((*reloader)->key_file()).st_mtime;
    EXPECT_GT(key, before);
    EXPECT_EQ(Stat((*reloader)->cert_file()).st_mtime, key);
    before = key;
  }
}

TEST_F(TlsReloaderTest, AKeyThatIsNotTheCertificatesFailsCreateNamingBothFiles) {
  auto mismatched = a_->ServerSecret();
  mismatched["tls.key"] = ReadFile(b_->File("server.key"));
  ASSERT_TRUE(volume_->Write(mismatched).ok());
  const auto reloader = TlsReloader::Create(Options(), nullptr);
  EXPECT_EQ(reloader.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(reloader.status().message()), HasSubstr(volume_->File("tls.key")));
  EXPECT_THAT(std::string(reloader.status().message()), HasSubstr(volume_->File("tls.crt")));
  EXPECT_THAT(std::string(reloader.status().message()), ::testing::Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(TlsReloaderTest, AReloadIntervalThatIsNotPositiveIsInvalid) {
  ASSERT_TRUE(volume_->Write(a_->ServerSecret()).ok());
  TlsOptions tls = Options();
  tls.reload_interval = std::chrono::milliseconds(0);
  EXPECT_EQ(TlsReloader::Create(tls, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace docket::grpcutil::internal
