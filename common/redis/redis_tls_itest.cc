// RedisClient over TLS (rediss://) against a real redis-server with a TLS
// port and a throwaway PKI (docket::testing::TestPki): the server is
// verified, mutual TLS works, and each refusal says why in one line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/redis/redis_client.h"
#include "common/redis/redis_test_util.h"
#include "common/testing/fixtures.h"
#include "common/testing/test_pki.h"

namespace docket::redis {
namespace {

using ::testing::HasSubstr;

class RedisTlsItest : public ::testing::Test {
 protected:
  void Start(bool require_client_cert) {
    auto pki = testing::TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *std::move(pki);
    auto server = testing::RedisServer::Start(testing::RedisServer::Tls{
        pki_->File("server.crt"), pki_->File("server.key"), pki_->File("ca.crt"), require_client_cert});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // rediss:// to the TLS port, trusting the test CA.
  RedisOptions TlsOptions() const {
    auto options = ParseRedisUrl(absl::StrCat("rediss://127.0.0.1:", server_->tls_port(), "/0"));
    EXPECT_TRUE(options.ok()) << options.status();
    options->tls_ca_file = pki_->File("ca.crt");
    options->backoff_initial = std::chrono::milliseconds(1);
    options->backoff_max = std::chrono::milliseconds(1);
    return *options;
  }

  static absl::Status FirstCallStatus(const RedisOptions& options) {
    auto client = MakeRedisClient(options, nullptr);
    if (!client.ok()) return client.status();
    return (*client)->Command({"PING"}).status();
  }

  std::unique_ptr<testing::TestPki> pki_;
  std::unique_ptr<testing::RedisServer> server_;
};

TEST_F(RedisTlsItest, ARedissClientVerifiesTheServerAndRunsCommandsPipelinesAndScripts) {
  ASSERT_NO_FATAL_FAILURE(Start(false));
  auto client = MakeRedisClient(TlsOptions(), nullptr);
  ASSERT_TRUE(client.ok()) << client.status();
  // Larger than one TLS record and one read, with NULs in it.
  std::string value("a\0b", 3);
  value += std::string(1 << 20, 'x');
  ASSERT_TRUE((*client)->Command({"SET", "big", value}).ok());
  auto got = (*client)->Command({"GET", "big"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->str, value);

  std::vector<std::vector<std::string>> pipeline;
  for (int i = 0; i < 1000; ++i) pipeline.push_back({"INCR", "n"});
  auto replies = (*client)->Pipeline(pipeline);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 1000u);
  EXPECT_EQ(replies->back().integer, 1000);

  const Script script("return redis.call('GET', KEYS[1])");
  auto eval = (*client)->Eval(script, {"n"}, {});
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->str, "1000");
}

TEST_F(RedisTlsItest, AServerCertificateFromAnotherCaOrForAnotherNameIsRefusedWithTheReason) {
  ASSERT_NO_FATAL_FAILURE(Start(false));
  auto other = testing::TestPki::Create();
  ASSERT_TRUE(other.ok()) << other.status();
  RedisOptions foreign = TlsOptions();
  foreign.tls_ca_file = (*other)->File("ca.crt");
  const absl::Status untrusted = FirstCallStatus(foreign);
  EXPECT_EQ(untrusted.code(), absl::StatusCode::kUnavailable) << untrusted;
  EXPECT_THAT(std::string(untrusted.message()), HasSubstr("TLS handshake failed: certificate verify failed ("));

  RedisOptions renamed = TlsOptions();
  renamed.tls_server_name = "redis.elsewhere.example";
  const absl::Status wrong_name = FirstCallStatus(renamed);
  EXPECT_EQ(wrong_name.code(), absl::StatusCode::kUnavailable) << wrong_name;
  EXPECT_THAT(std::string(wrong_name.message()), HasSubstr("for redis.elsewhere.example"));

  RedisOptions by_name = TlsOptions();
  by_name.tls_server_name = "localhost";  // in the certificate's names
  EXPECT_TRUE(FirstCallStatus(by_name).ok()) << FirstCallStatus(by_name);
}

TEST_F(RedisTlsItest, ARedisThatRequiresClientCertificatesServesOnlyAClientThatHasOne) {
  ASSERT_NO_FATAL_FAILURE(Start(true));
  const absl::Status without = FirstCallStatus(TlsOptions());
  EXPECT_EQ(without.code(), absl::StatusCode::kUnavailable) << without;
  EXPECT_THAT(std::string(without.message()), HasSubstr("does Redis require a client certificate"));

  RedisOptions with = TlsOptions();
  with.tls_cert_file = pki_->File("client.crt");
  with.tls_key_file = pki_->File("client.key");
  EXPECT_TRUE(FirstCallStatus(with).ok()) << FirstCallStatus(with);
}

TEST_F(RedisTlsItest, TlsToAPlaintextPortAndPlaintextToATlsPortFailInsteadOfHanging) {
  ASSERT_NO_FATAL_FAILURE(Start(false));
  RedisOptions tls_to_plain = TlsOptions();
  tls_to_plain.port = server_->port();
  const absl::Status a = FirstCallStatus(tls_to_plain);
  EXPECT_EQ(a.code(), absl::StatusCode::kUnavailable) << a;
  EXPECT_THAT(std::string(a.message()), HasSubstr("TLS handshake failed"));
  EXPECT_THAT(std::string(a.message()), HasSubstr("is this port plaintext?"));

  auto plain_to_tls = ParseRedisUrl(absl::StrCat("redis://127.0.0.1:", server_->tls_port(), "/0"));
  ASSERT_TRUE(plain_to_tls.ok());
  const absl::Status b = FirstCallStatus(*plain_to_tls);
  EXPECT_FALSE(b.ok());
  EXPECT_TRUE(b.code() == absl::StatusCode::kUnavailable || b.code() == absl::StatusCode::kDeadlineExceeded) << b;
}

// A rotation as a Secret volume does it: the CA and the server certificate
// are replaced under the same paths and Redis restarts with them. The same
// client reconnects with the new CA, without being made again.
TEST_F(RedisTlsItest, ARotatedCaAndCertificateAreUsedByTheNextConnectionOfTheSameClient) {
  auto old_pki = testing::TestPki::Create();
  auto new_pki = testing::TestPki::Create();
  ASSERT_TRUE(old_pki.ok() && new_pki.ok());
  const std::filesystem::path dir = testing::LogPath("redis-tls-files");
  std::filesystem::create_directories(dir);
  const auto install = [&](const testing::TestPki& pki) {
    for (const char* f : {"ca.crt", "server.crt", "server.key"}) {
      std::filesystem::copy_file(pki.File(f), dir / f, std::filesystem::copy_options::overwrite_existing);
    }
  };
  install(**old_pki);
  auto server = testing::RedisServer::Start(testing::RedisServer::Tls{
      (dir / "server.crt").string(), (dir / "server.key").string(), (dir / "ca.crt").string(), false});
  ASSERT_TRUE(server.ok()) << server.status();
  auto options = ParseRedisUrl(absl::StrCat("rediss://127.0.0.1:", (*server)->tls_port(), "/0"));
  ASSERT_TRUE(options.ok());
  options->tls_ca_file = (dir / "ca.crt").string();
  options->tls_reload_interval = std::chrono::milliseconds(1);
  options->backoff_initial = options->backoff_max = std::chrono::milliseconds(1);
  auto client = MakeRedisClient(*options, nullptr);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Command({"PING"}).ok());

  install(**new_pki);
  ASSERT_TRUE((*server)->Restart().ok());
  // The first call meets the connection the restart broke; the next ones
  // connect anew, and must verify the new certificate with the new CA.
  absl::Status last;
  const bool answered = testing::WaitFor(
      [&] {
        last = (*client)->Command({"PING"}).status();
        return last.ok();
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(answered) << "still refused after the rotation: " << last;
}

// OpenSSL writes with write(2): a peer gone mid-write must give UNAVAILABLE,
// not a SIGPIPE that kills the process.
TEST_F(RedisTlsItest, ALargeWriteOverTlsToARedisThatWentAwayIsUnavailableNotSigpipe) {
  ASSERT_NO_FATAL_FAILURE(Start(false));
  RedisOptions options = TlsOptions();
  options.pool_size = 1;
  auto client = MakeRedisClient(options, nullptr);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Command({"PING"}).ok());
  ASSERT_TRUE(server_->Stop().ok());
  testutil::ExpectABigWriteToAGoneRedisIsUnavailableNotSigpipe(**client);
}

TEST_F(RedisTlsItest, TlsSettingsThatCannotWorkAreRefusedWhenTheClientIsMade) {
  ASSERT_NO_FATAL_FAILURE(Start(false));
  RedisOptions missing_ca = TlsOptions();
  missing_ca.tls_ca_file = "/nonexistent/redis-ca.pem";
  auto a = MakeRedisClient(missing_ca, nullptr);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("cannot load the CA file /nonexistent/redis-ca.pem"));

  RedisOptions cert_only = TlsOptions();
  cert_only.tls_cert_file = pki_->File("client.crt");
  EXPECT_EQ(MakeRedisClient(cert_only, nullptr).status().code(), absl::StatusCode::kInvalidArgument);

  RedisOptions mismatched = TlsOptions();
  mismatched.tls_cert_file = pki_->File("client.crt");
  mismatched.tls_key_file = pki_->File("server.key");
  auto m = MakeRedisClient(mismatched, nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("cannot use the client key"));

  RedisOptions plaintext = TlsOptions();
  plaintext.tls = false;
  auto p = MakeRedisClient(plaintext, nullptr);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("use rediss://"));
}

}  // namespace
}  // namespace docket::redis
