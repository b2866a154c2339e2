#include "common/testing/test_pki.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace docket::testing {
namespace {

// Runs argv (no shell), output appended to `log`; true on exit status 0.
bool RunCommand(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = std::fopen(log.c_str(), "a");
    if (out != nullptr) {
      dup2(fileno(out), STDOUT_FILENO);
      dup2(fileno(out), STDERR_FILENO);
    }
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestPki>> TestPki::Create() {
  char pattern[] = "/tmp/docket_tls_XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::UnavailableError("mkdtemp failed");
  std::unique_ptr<TestPki> pki(new TestPki(pattern));
  const std::string log = pki->File("openssl.log");
  std::ofstream(pki->File("server.ext")) << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                            "extendedKeyUsage=serverAuth\n";
  std::ofstream(pki->File("client.ext")) << "extendedKeyUsage=clientAuth\n";
  auto req = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"openssl", "req", "-newkey", "ec", "-pkeyopt",
                                     "ec_paramgen_curve:prime256v1", "-nodes"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, log);
  };
  bool ok = req({"-x509", "-days", "2", "-subj", "/CN=docket-test-ca", "-keyout", pki->File("ca.key"), "-out",
                 pki->File("ca.crt")});
  for (const std::string who : {"server", "client"}) {
    ok = ok && req({"-subj", "/CN=docket-test-" + who, "-keyout", pki->File(who + ".key"), "-out",
                    pki->File(who + ".csr")});
    ok = ok && RunCommand({"openssl", "x509", "-req", "-days", "2", "-in", pki->File(who + ".csr"), "-CA",
                           pki->File("ca.crt"), "-CAkey", pki->File("ca.key"), "-CAcreateserial", "-extfile",
                           pki->File(who + ".ext"), "-out", pki->File(who + ".crt")},
                          log);
  }
  if (!ok) return absl::UnavailableError(absl::StrCat("openssl failed:\n", ReadFile(log)));
  return pki;
}

std::map<std::string, std::string> TestPki::ServerSecret(const TestPki* client_ca) const {
  std::map<std::string, std::string> files = {{"tls.crt", ReadFile(File("server.crt"))},
                                              {"tls.key", ReadFile(File("server.key"))}};
  if (client_ca != nullptr) files["ca.crt"] = ReadFile(client_ca->File("ca.crt"));
  return files;
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace docket::testing
