#include "common/testing/fixtures.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log/log.h"

extern char** environ;

namespace docket::testing {
namespace {

namespace fs = std::filesystem;

const docket::log::Logger& Log() {
  static const docket::log::Logger logger("testing");
  return logger;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string ErrnoText(const std::string& what) {
  return absl::StrCat(what, ": ", std::strerror(errno));
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// The last `lines` lines of a file, for failure output.
std::string Tail(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& l : last) absl::StrAppend(&out, l, "\n");
  return out;
}

// Prints a process log when the running test has failed, so the reason a
// fixture misbehaved is in the ctest output.
void PrintLogIfTestFailed(const std::string& what, const std::string& path) {
  if (path.empty() || !::testing::Test::HasFailure()) return;
  std::cerr << "---- last lines of " << what << " log " << path << " ----\n"
            << Tail(path, 60) << "---- end of " << what << " log ----\n";
}

absl::StatusOr<int> ConnectLoopback(int port, std::chrono::milliseconds io_timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(ErrnoText("socket"));
  timeval tv{};
  tv.tv_sec = io_timeout.count() / 1000;
  tv.tv_usec = (io_timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string err = ErrnoText(absl::StrCat("connect 127.0.0.1:", port));
    ::close(fd);
    return absl::UnavailableError(err);
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads up to and excluding the first '\n' ('\r' dropped).
absl::StatusOr<std::string> ReadLine(int fd) {
  std::string line;
  for (;;) {
    char c;
    ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(ErrnoText("recv"));
    if (n == 0) return absl::UnavailableError("connection closed before a full line");
    if (c == '\n') break;
    line.push_back(c);
    if (line.size() > 64 * 1024) return absl::InternalError("answer line too long");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

bool RedisAnswersPing(int port) {
  auto fd = ConnectLoopback(port, std::chrono::milliseconds(500));
  if (!fd.ok()) return false;
  bool pong = false;
  if (SendAll(*fd, "PING\r\n")) {
    auto line = ReadLine(*fd);
    pong = line.ok() && *line == "+PONG";
  }
  ::close(*fd);
  return pong;
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address) {
  const auto colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("not host:port: '", address, "'"));
  }
  return std::make_pair(address.substr(0, colon), port);
}

std::string Sanitize(std::string s) {
  for (char& c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
  }
  return s;
}

}  // namespace

// ------------------------------------------------------------------ helpers

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool WaitFor(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
}

std::string BuildDir() {
  std::string dir = Env("DOCKET_BUILD_DIR");
  if (!dir.empty()) return dir;
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  for (p = p.parent_path(); !ec && !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (fs::exists(p / "CMakeCache.txt", ec)) return p.string();
  }
  return fs::current_path(ec).string();
}

std::string Binary(const std::string& name) {
  const fs::path build = BuildDir();
  std::string stem = name;
  if (absl::StartsWith(stem, "docket-")) stem = stem.substr(7);
  for (const fs::path& candidate :
       {build / "tools" / stem / name, build / "services" / stem / name, build / "tools" / name,
        build / name}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  // Anywhere else in the build tree (a binary that moved).
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(build, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() == "CMakeFiles") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->path().filename() == name && it->is_regular_file(ec)) return it->path().string();
  }
  return (build / "tools" / stem / name).string();  // the usual place, for the error message
}

std::string LogPath(const std::string& what) {
  static std::atomic<int> counter{0};
  fs::path dir = BuildDir();
  dir /= "test-logs";
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string test = "no-test";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    test = absl::StrCat(info->test_suite_name(), ".", info->name());
  }
  // test-logs outlives the run: a pid of an earlier run may come again, and
  // a directory made under its name (a service's config dir) is still there.
  for (;;) {
    fs::path path = dir / Sanitize(absl::StrCat(test, ".", what, ".", ::getpid(), ".", counter++, ".log"));
    if (!fs::exists(path, ec)) return path.string();
  }
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  return absl::StrCat(prefix, "-", ::getpid(), "-", absl::Hex(salt), "-", counter++);
}

// ------------------------------------------------------------------ ChildProcess

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::string& log_path,
    const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");

  // The environment: ours, with extra_env's keys replaced or added.
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const std::string& extra : extra_env) {
      if (extra.substr(0, extra.find('=')) == key) overridden = true;
    }
    if (!overridden) env.push_back(entry);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argvp;
  for (std::string& a : args) argvp.push_back(a.data());
  argvp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);

  // Own process group (so Stop reaches its children too), default signal
  // handling and no blocked signals whatever the test process did.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argvp[0], &actions, &attr, argvp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", argv[0], ": ", std::strerror(rc)));
  }
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->pid_ = pid;
  child->log_path_ = log_path;
  Log().Debug("spawned", {{"argv0", argv[0]}, {"pid", pid}, {"log", log_path}});
  return child;
}

ChildProcess::~ChildProcess() {
  if (Running()) Stop(std::chrono::seconds(5));
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exit_code_ >= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = r == pid_ ? ExitCodeOf(status) : 255;  // 255: lost track (already reaped)
  return false;
}

int ChildProcess::Stop(std::chrono::milliseconds timeout) {
  if (!Running()) return exit_code_;
  ::kill(-pid_, SIGTERM);
  if (!WaitFor([this] { return !Running(); }, timeout)) Kill();
  return exit_code_;
}

void ChildProcess::Kill() {
  if (!Running()) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  exit_code_ = r == pid_ ? ExitCodeOf(status) : 255;
}

// ------------------------------------------------------------------ RedisServer

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(std::optional<Tls> tls) {
  auto server = std::unique_ptr<RedisServer>(new RedisServer());
  server->tls_ = std::move(tls);
  absl::Status last;
  // A free port can be taken before redis binds it: then try another.
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    if (server->tls_) server->tls_port_ = FreePort();
    last = server->Launch();
    if (last.ok()) return server;
  }
  return last;
}

absl::Status RedisServer::Launch() {
  log_path_ = LogPath("redis");
  std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--daemonize", "no"};
  if (tls_) {
    args.insert(args.end(), {"--tls-port", std::to_string(tls_port_), "--tls-cert-file", tls_->cert_file,
                             "--tls-key-file", tls_->key_file, "--tls-ca-cert-file", tls_->ca_file,
                             "--tls-auth-clients", tls_->require_client_cert ? "yes" : "no"});
  }
  auto process = ChildProcess::Spawn(args, log_path_);
  if (!process.ok()) return process.status();
  process_ = std::move(*process);
  bool exited = false;
  const bool up = WaitFor(
      [&] {
        if (!process_->Running()) {
          exited = true;
          return true;
        }
        return RedisAnswersPing(port_);
      },
      std::chrono::seconds(15));
  if (up && !exited) return absl::OkStatus();
  process_->Stop();
  return absl::UnavailableError(absl::StrCat(
      "redis-server on 127.0.0.1:", port_, exited ? " exited at start" : " did not answer PING",
      "; log ", log_path_, ":\n", Tail(log_path_, 20)));
}

RedisServer::~RedisServer() {
  PrintLogIfTestFailed("redis-server", log_path_);
  if (process_) process_->Stop();
}

std::string RedisServer::url() const { return absl::StrCat("redis://127.0.0.1:", port_, "/0"); }

absl::Status RedisServer::Stop() {
  if (!process_) return absl::OkStatus();
  const int code = process_->Stop();
  process_.reset();
  // redis-server exits 0 on SIGTERM; anything else is worth knowing.
  if (code != 0) {
    return absl::InternalError(absl::StrCat("redis-server exited with ", code, "; log ", log_path_));
  }
  return absl::OkStatus();
}

absl::Status RedisServer::Restart() {
  if (absl::Status s = Stop(); !s.ok()) return s;
  return Launch();
}

// ------------------------------------------------------------------ DevKafka

absl::StatusOr<std::unique_ptr<DevKafka>> DevKafka::Start(int brokers, int partitions,
                                                          const std::string& topic_prefix) {
  auto dk = std::unique_ptr<DevKafka>(new DevKafka());
  dk->log_path_ = LogPath("devkafka");
  dk->env_file_ = dk->log_path_ + ".env";
  std::error_code ec;
  fs::remove(dk->env_file_, ec);
  const std::string binary = Binary("docket-devkafka");
  auto process = ChildProcess::Spawn(
      {binary, absl::StrCat("--brokers=", brokers), absl::StrCat("--partitions=", partitions),
       absl::StrCat("--topic-prefix=", topic_prefix), "--control-port=0",
       absl::StrCat("--env-file=", dk->env_file_)},
      dk->log_path_);
  if (!process.ok()) return process.status();
  dk->process_ = std::move(*process);

  // devkafka writes the env file atomically once everything listens.
  bool exited = false;
  const bool ready = WaitFor(
      [&] {
        if (!dk->process_->Running()) {
          exited = true;
          return true;
        }
        return fs::exists(dk->env_file_, ec);
      },
      std::chrono::seconds(30));
  if (!ready || exited) {
    dk->process_->Stop();
    return absl::UnavailableError(absl::StrCat(
        binary, exited ? " exited at start" : " did not write its env file in 30 s", "; log ",
        dk->log_path_, ":\n", Tail(dk->log_path_, 20)));
  }
  std::ifstream in(dk->env_file_);
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest(line);
    if (absl::ConsumePrefix(&rest, "DOCKET_KAFKA_BROKERS=")) dk->bootstrap_ = std::string(rest);
    if (absl::ConsumePrefix(&rest, "DEVKAFKA_CONTROL=")) dk->control_address_ = std::string(rest);
  }
  if (dk->bootstrap_.empty() || dk->control_address_.empty()) {
    return absl::InternalError(absl::StrCat("incomplete env file ", dk->env_file_));
  }
  return dk;
}

DevKafka::~DevKafka() {
  PrintLogIfTestFailed("docket-devkafka", log_path_);
  if (process_) process_->Stop();
}

absl::StatusOr<std::string> DevKafka::ControlRaw(const std::string& line) {
  auto address = SplitHostPort(control_address_);
  if (!address.ok()) return address.status();
  auto fd = ConnectLoopback(address->second, std::chrono::seconds(10));
  if (!fd.ok()) return fd.status();
  absl::StatusOr<std::string> answer = absl::UnavailableError("send to devkafka control failed");
  if (SendAll(*fd, line + "\n")) answer = ReadLine(*fd);
  ::close(*fd);
  return answer;
}

absl::Status DevKafka::Control(const std::string& line) {
  auto answer = ControlRaw(line);
  if (!answer.ok()) return answer.status();
  if (*answer == "ok") return absl::OkStatus();
  absl::string_view reason(*answer);
  absl::ConsumePrefix(&reason, "error ");
  return absl::FailedPreconditionError(absl::StrCat("devkafka '", line, "': ", reason));
}

absl::Status DevKafka::BrokerDown(int broker_id) {
  return Control(absl::StrCat("broker-down ", broker_id));
}

absl::Status DevKafka::BrokerUp(int broker_id) {
  return Control(absl::StrCat("broker-up ", broker_id));
}

absl::Status DevKafka::SetRtt(int broker_id, std::chrono::milliseconds rtt) {
  return Control(absl::StrCat("rtt ", broker_id, " ", rtt.count()));
}

absl::Status DevKafka::PushRequestErrors(int api_key, int error_code, int count) {
  return Control(absl::StrCat("request-errors ", api_key, " ", error_code, " ", count));
}

absl::Status DevKafka::CreateTopic(const std::string& topic, int partitions) {
  return Control(absl::StrCat("create-topic ", topic, " ", partitions));
}

absl::Status DevKafka::Stop() {
  if (!process_) return absl::OkStatus();
  const int code = process_->Stop();
  process_.reset();
  if (code != 0) {
    return absl::InternalError(
        absl::StrCat("docket-devkafka exited with ", code, "; log ", log_path_));
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------ Apache Kafka

absl::StatusOr<std::string> ApacheKafkaBootstrap() {
  std::string bootstrap = Env("DOCKET_TEST_KAFKA_BROKERS");
  if (!bootstrap.empty()) return bootstrap;
  const fs::path file = fs::path(BuildDir()) / "test-kafka" / "bootstrap";
  std::ifstream in(file);
  std::getline(in, bootstrap);
  bootstrap = std::string(absl::StripAsciiWhitespace(bootstrap));
  if (bootstrap.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no Apache Kafka broker: set DOCKET_TEST_KAFKA_BROKERS or run the ctest fixture "
        "apache_kafka (it writes ",
        file.string(), ")"));
  }
  return bootstrap;
}

namespace {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using RdKafkaPtr = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

absl::StatusOr<RdKafkaPtr> NewAdminClient(const std::string& bootstrap) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(errstr);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("rd_kafka_new: ", errstr));
  }
  return RdKafkaPtr(rk);
}

// True once every topic is known with partitions that all have a leader.
absl::Status TopicsUsable(rd_kafka_t* rk, const std::vector<std::string>& topics) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, 5000);
  if (err) return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
  absl::Status status;
  for (const std::string& topic : topics) {
    bool usable = false;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (topic != t.topic || t.err || t.partition_cnt == 0) continue;
      usable = true;
      for (int p = 0; p < t.partition_cnt; ++p) {
        if (t.partitions[p].err || t.partitions[p].leader < 0) usable = false;
      }
    }
    if (!usable) {
      status = absl::UnavailableError(absl::StrCat("topic ", topic, " not usable yet"));
      break;
    }
  }
  rd_kafka_metadata_destroy(md);
  return status;
}

}  // namespace

absl::Status CreateTopics(const std::string& bootstrap, const std::vector<std::string>& topics,
                          int partitions) {
  if (topics.empty()) return absl::OkStatus();
  auto rk = NewAdminClient(bootstrap);
  if (!rk.ok()) return rk.status();

  std::vector<rd_kafka_NewTopic_t*> new_topics;
  char errstr[512];
  for (const std::string& topic : topics) {
    // Replication -1: the broker's default.replication.factor.
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, errstr, sizeof errstr);
    if (!nt) {
      rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
      return absl::InvalidArgumentError(absl::StrCat("topic ", topic, ": ", errstr));
    }
    new_topics.push_back(nt);
  }
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(rk->get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, 30000, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_request_timeout(options, 30000, errstr, sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk->get());
  rd_kafka_CreateTopics(rk->get(), new_topics.data(), new_topics.size(), options, queue);
  rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
  rd_kafka_AdminOptions_destroy(options);

  absl::Status status;
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 60000);
  if (!event) {
    status = absl::DeadlineExceededError("CreateTopics: no answer in 60 s");
  } else if (rd_kafka_event_error(event)) {
    status = absl::UnavailableError(
        absl::StrCat("CreateTopics: ", rd_kafka_event_error_string(event)));
  } else {
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
    for (size_t i = 0; i < count && status.ok(); ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* msg = rd_kafka_topic_result_error_string(results[i]);
        status = absl::FailedPreconditionError(absl::StrCat(
            "CreateTopics ", rd_kafka_topic_result_name(results[i]), ": ", rd_kafka_err2name(err),
            " ", msg ? msg : ""));
      }
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  if (!status.ok()) return status;

  // Created is not yet usable: wait until every partition has a leader.
  absl::Status usable;
  const bool ok = WaitFor(
      [&] {
        usable = TopicsUsable(rk->get(), topics);
        return usable.ok();
      },
      std::chrono::seconds(30));
  return ok ? absl::OkStatus() : usable;
}

absl::StatusOr<ItestKafka> StartItestKafka(bool apache, const std::string& name,
                                           const std::vector<std::string>& families, int dev_brokers,
                                           int partitions) {
  ItestKafka k;
  if (!apache) {
    auto dev = DevKafka::Start(dev_brokers, partitions);
    if (!dev.ok()) return dev.status();
    k.dev = std::move(*dev);
    k.bootstrap = k.dev->bootstrap();
    k.prefix = "docket.";
    return k;
  }
  auto bootstrap = ApacheKafkaBootstrap();
  if (!bootstrap.ok()) return bootstrap.status();
  k.bootstrap = *bootstrap;
  const std::string unique = UniqueName(name);
  k.prefix = unique + ".";
  std::vector<std::string> topics;
  for (const auto& f : families) topics.push_back(k.prefix + f);
  if (absl::Status s = CreateTopics(k.bootstrap, topics, partitions); !s.ok()) return s;
  k.env = {"DOCKET_TOPIC_PREFIX=" + k.prefix, "DOCKET_CONSUMER_GROUP=" + unique};
  return k;
}

}  // namespace docket::testing
