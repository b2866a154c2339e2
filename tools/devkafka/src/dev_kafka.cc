#include "tools/devkafka/src/dev_kafka.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "tools/devkafka/src/control_command.h"
#include "tools/devkafka/src/control_server.h"
#include "tools/devkafka/src/mock_cluster.h"

namespace docket::devkafka {
namespace {

const docket::log::Logger& Log() {
  static const docket::log::Logger logger("devkafka");
  return logger;
}

absl::Status WriteAll(int fd, const std::string& content) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(std::strerror(errno));
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> ShutdownSignalFd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) {
    return absl::InternalError("pthread_sigmask failed");
  }
  // The control socket writes with MSG_NOSIGNAL; stdout may be a closed pipe.
  ::signal(SIGPIPE, SIG_IGN);
  const int fd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("signalfd: ", std::strerror(errno)));
  return fd;
}

std::string EnvLines(const std::string& bootstrap, int control_port) {
  return absl::StrCat("DOCKET_KAFKA_BROKERS=", bootstrap, "\nDEVKAFKA_CONTROL=127.0.0.1:",
                      control_port, "\n");
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("open ", tmp, ": ", std::strerror(errno)));
  }
  absl::Status written = WriteAll(fd, content);
  if (::close(fd) != 0 && written.ok()) written = absl::InternalError(std::strerror(errno));
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return absl::FailedPreconditionError(absl::StrCat("write ", tmp, ": ", written.message()));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::FailedPreconditionError(
        absl::StrCat("rename ", tmp, " to ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status Run(const Options& options, int signal_fd) {
  auto cluster = MockCluster::Create(options.brokers);
  if (!cluster.ok()) return cluster.status();

  std::vector<TopicSpec> topics;
  for (const std::string& name : DefaultTopics(options.topic_prefix)) {
    topics.push_back({name, options.partitions});
  }
  topics.insert(topics.end(), options.extra_topics.begin(), options.extra_topics.end());
  for (const TopicSpec& topic : topics) {
    absl::Status created = (*cluster)->CreateTopic(topic.name, topic.partitions);
    // A repeated --topic is not worth failing the start for.
    if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
    Log().Info("topic", {{"topic", topic.name}, {"partitions", topic.partitions}});
  }

  auto control = ControlServer::Listen(options.control_port);
  if (!control.ok()) return control.status();

  const std::string env = EnvLines((*cluster)->bootstrap(), (*control)->port());
  if (!options.env_file.empty()) {
    if (absl::Status s = WriteFileAtomically(options.env_file, env); !s.ok()) return s;
  }
  std::fputs(env.c_str(), stdout);
  std::fflush(stdout);
  Log().Info("ready", {{"bootstrap", (*cluster)->bootstrap()},
                       {"control", absl::StrCat("127.0.0.1:", (*control)->port())}});

  MockCluster& mock = **cluster;
  absl::Status served = (*control)->Serve(signal_fd, [&](std::string_view line) {
    auto command = ParseCommand(line, mock.broker_count());
    absl::Status result = command.ok() ? mock.Apply(*command) : command.status();
    Log().Info("control", {{"command", std::string(line.substr(0, 200))},
                           {"answer", AnswerLine(result)}});
    return AnswerLine(result);
  });

  signalfd_siginfo info{};
  if (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    Log().Info("stopping", {{"signal", strsignal(static_cast<int>(info.ssi_signo))}});
  }
  // The endpoints die with this process: never leave a file that points at them.
  if (!options.env_file.empty()) ::unlink(options.env_file.c_str());
  control->reset();
  cluster->reset();
  return served;
}

}  // namespace docket::devkafka
