// Argument parsing and endpoint/key resolution: flags in both spellings,
// clear errors for bad words, and flag > environment > env file.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "tools/docketctl/src/args.h"
#include "tools/docketctl/src/connector.h"
#include "tools/docketctl/src/settings.h"

namespace docket::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

const std::vector<FlagSpec> kSpec = {
    {"tenant"}, {"attr", true, true}, {"json", false}, {"intake-addr"}, {"work-addr"}};

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string TempFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ParseArgsTest, AcceptsEqualsAndSpaceFormsRepeatsAndPositionals) {
  auto args = ParseArgs({"ITEM-1", "--tenant=acme", "--attr", "a=1", "--attr=b=2", "--json"}, kSpec);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->positional, ElementsAre("ITEM-1"));
  EXPECT_EQ(args->Get("tenant"), "acme");
  EXPECT_THAT(args->GetAll("attr"), ElementsAre("a=1", "b=2"));
  EXPECT_TRUE(args->Has("json"));
  EXPECT_FALSE(args->Has("work-addr"));
}

TEST(ParseArgsTest, UnknownFlagIsNamed) {
  auto args = ParseArgs({"--tenat=acme"}, kSpec);
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().message(), "unknown flag --tenat");
  EXPECT_EQ(ParseArgs({"-x"}, kSpec).status().message(), "unknown flag -x");
}

TEST(ParseArgsTest, MissingValueSwitchWithValueAndSecondNonRepeatableAreErrors) {
  EXPECT_EQ(ParseArgs({"--tenant"}, kSpec).status().message(), "--tenant needs a value");
  EXPECT_EQ(ParseArgs({"--json=yes"}, kSpec).status().message(), "--json takes no value");
  EXPECT_EQ(ParseArgs({"--tenant=a", "--tenant=b"}, kSpec).status().message(),
            "--tenant is given more than once");
}

TEST(ParseArgsTest, LegacyEnvironmentSpellingOfAddressFlagsStillWorks) {
  // deploy/docker/compose.yaml health checks use this form.
  auto args = ParseArgs({"--DOCKET_WORK_ADDR=127.0.0.1:7002"}, kSpec);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Get("work-addr"), "127.0.0.1:7002");
}

TEST(ParseArgsTest, DoubleDashEndsFlagsAndHelpIsASwitch) {
  auto args = ParseArgs({"--help", "--", "--not-a-flag"}, kSpec);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->help);
  EXPECT_THAT(args->positional, ElementsAre("--not-a-flag"));
}

TEST(SplitNameValueTest, NeedsANameAndAnEqualsSign) {
  EXPECT_THAT(*SplitNameValue("amount=a=b", "--attr"), Pair("amount", "a=b"));
  EXPECT_EQ(SplitNameValue("amount", "--attr").status().message(), "--attr \"amount\": expected name=value");
  EXPECT_FALSE(SplitNameValue("=3", "--attr").ok());
}

TEST(EnvFileTest, ReadsKeyValueLinesSkippingCommentsExportAndQuotes) {
  auto vars = ParseEnvFile("# written by up.sh\nDOCKET_INTAKE_ADDR=127.0.0.1:1\n\n"
                           "export DOCKET_WORK_ADDR=\"127.0.0.1:2\"\r\nnot a line\nDOCKET_API_KEY='k'\n");
  EXPECT_THAT(vars, ElementsAre(Pair("DOCKET_API_KEY", "k"), Pair("DOCKET_INTAKE_ADDR", "127.0.0.1:1"),
                                Pair("DOCKET_WORK_ADDR", "127.0.0.1:2")));
}

TEST(ResolveSettingsTest, FlagBeatsEnvironmentWhichBeatsTheEnvFile) {
  const std::string file = TempFile("precedence.env",
                                    "DOCKET_INTAKE_ADDR=file:1\nDOCKET_WORK_ADDR=file:2\n"
                                    "DOCKET_COMPLIANCE_ADDR=file:3\nDOCKET_API_KEY=file-key\n");
  auto args = ParseArgs({"--env-file=" + file, "--intake-addr=flag:1"}, ConnectionFlags());
  ASSERT_TRUE(args.ok());
  auto s = ResolveSettings(*args, FakeEnv({{"DOCKET_INTAKE_ADDR", "env:1"}, {"DOCKET_WORK_ADDR", "env:2"}}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->addresses.at(Service::kIntake), "flag:1");
  EXPECT_EQ(s->addresses.at(Service::kWork), "env:2");
  EXPECT_EQ(s->addresses.at(Service::kCompliance), "file:3");
  EXPECT_FALSE(s->addresses.contains(Service::kKpi));
  EXPECT_EQ(s->api_key, "file-key");
}

TEST(ResolveSettingsTest, KeyFromFlagThenKeyFileThenEnvironment) {
  const std::string key_file = TempFile("key", "from-file\n");
  auto env = FakeEnv({{"DOCKET_API_KEY", "from-env"}});
  auto none = ParseArgs({"--env-file=/dev/null"}, ConnectionFlags());
  EXPECT_EQ(ResolveSettings(*none, env)->api_key, "from-env");
  auto by_file = ParseArgs({"--env-file=/dev/null", "--key-file=" + key_file}, ConnectionFlags());
  EXPECT_EQ(ResolveSettings(*by_file, env)->api_key, "from-file");
  auto by_flag = ParseArgs({"--env-file=/dev/null", "--key-file=" + key_file, "--key=from-flag"}, ConnectionFlags());
  EXPECT_EQ(ResolveSettings(*by_flag, env)->api_key, "from-flag");
}

TEST(ResolveSettingsTest, UnreadableFilesNamedButAMissingDefaultEnvFileIsFine) {
  auto env_file = ParseArgs({"--env-file=/nonexistent/local.env"}, ConnectionFlags());
  EXPECT_EQ(ResolveSettings(*env_file, FakeEnv({})).status().message(),
            "--env-file /nonexistent/local.env: cannot be read");
  auto key_file = ParseArgs({"--env-file=/dev/null", "--key-file=/nonexistent/key"}, ConnectionFlags());
  EXPECT_THAT(ResolveSettings(*key_file, FakeEnv({})).status().message(), HasSubstr("--key-file"));
  auto defaults = ParseArgs({}, ConnectionFlags());
  // The test runs outside a checkout with .docket/: the default file is absent.
  EXPECT_TRUE(ResolveSettings(*defaults, FakeEnv({})).ok());
}

TEST(ResolveSettingsTest, TimeoutIsADuration) {
  auto args = ParseArgs({"--env-file=/dev/null", "--timeout=1500ms"}, ConnectionFlags());
  EXPECT_EQ(ResolveSettings(*args, FakeEnv({}))->timeout, std::chrono::milliseconds(1500));
  auto bad = ParseArgs({"--env-file=/dev/null", "--timeout=soon"}, ConnectionFlags());
  EXPECT_THAT(ResolveSettings(*bad, FakeEnv({})).status().message(), HasSubstr("--timeout: \"soon\" is not a duration"));
}

TEST(ResolveSettingsTest, TlsIsOffByDefaultOnWithAnyTlsSettingAndACertNeedsItsKey) {
  auto plain = ParseArgs({"--env-file=/dev/null"}, ConnectionFlags());
  EXPECT_FALSE(ResolveSettings(*plain, FakeEnv({}))->tls.on);

  auto system_roots = ParseArgs({"--env-file=/dev/null", "--tls"}, ConnectionFlags());
  auto s = ResolveSettings(*system_roots, FakeEnv({}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->tls.on);
  EXPECT_EQ(s->tls.ca_file, "");

  auto mtls = ParseArgs({"--env-file=/dev/null", "--tls-server-name=docket-compliance.docket.svc"},
                        ConnectionFlags());
  s = ResolveSettings(*mtls, FakeEnv({{"DOCKET_TLS_CA_FILE", "/etc/ca.crt"},
                                      {"DOCKET_TLS_CLIENT_CERT_FILE", "/etc/me.crt"},
                                      {"DOCKET_TLS_CLIENT_KEY_FILE", "/etc/me.key"}}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->tls.on);
  EXPECT_EQ(s->tls.ca_file, "/etc/ca.crt");
  EXPECT_EQ(s->tls.cert_file, "/etc/me.crt");
  EXPECT_EQ(s->tls.key_file, "/etc/me.key");
  EXPECT_EQ(s->tls.server_name, "docket-compliance.docket.svc");

  EXPECT_TRUE(ResolveSettings(*plain, FakeEnv({{"DOCKET_TLS", "1"}}))->tls.on);

  auto half = ParseArgs({"--env-file=/dev/null", "--tls-cert=/etc/me.crt"}, ConnectionFlags());
  EXPECT_THAT(ResolveSettings(*half, FakeEnv({})).status().message(),
              HasSubstr("--tls-cert and --tls-key"));
}

TEST(GrpcConnectorTest, UnreadableOrNonPemTlsFilesAreNamed) {
  TlsSettings tls;
  tls.on = true;
  tls.ca_file = "/nonexistent/ca.crt";
  absl::Status s = NewGrpcConnector()->UseTls(tls);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--tls-ca /nonexistent/ca.crt: cannot be read");
  const std::string not_pem = ::testing::TempDir() + "docketctl-not-pem.crt";
  std::ofstream(not_pem) << "not a certificate\n";
  tls.ca_file = not_pem;
  EXPECT_EQ(NewGrpcConnector()->UseTls(tls).message(), "--tls-ca " + not_pem + ": is not PEM");
  std::remove(not_pem.c_str());
  EXPECT_TRUE(NewGrpcConnector()->UseTls(TlsSettings{}).ok()) << "plaintext needs no file";
}

TEST(ParseDurationTest, UnitsFromMillisecondsToDays) {
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("30"), std::chrono::seconds(30));
  EXPECT_EQ(*ParseDuration("15m"), std::chrono::minutes(15));
  EXPECT_EQ(*ParseDuration("24h"), std::chrono::hours(24));
  EXPECT_EQ(*ParseDuration("1.5d"), std::chrono::hours(36));
  EXPECT_FALSE(ParseDuration("-1h").ok());
  EXPECT_FALSE(ParseDuration("3 weeks").ok());
  EXPECT_FALSE(ParseDuration("").ok());
}

}  // namespace
}  // namespace docket::ctl
