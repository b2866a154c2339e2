#include "tools/devkafka/src/options.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace docket::devkafka {
namespace {

constexpr int kMaxBrokers = 64;
constexpr int kMaxPartitions = 10000;

absl::StatusOr<int> ParseInt(const std::string& flag, const std::string& value, int min, int max) {
  int out = 0;
  if (!absl::SimpleAtoi(value, &out) || out < min || out > max) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", value, ": expected an integer in [",
                                                   min, ", ", max, "]"));
  }
  return out;
}

}  // namespace

std::vector<std::string> DefaultTopics(const std::string& prefix) {
  std::vector<std::string> topics;
  for (const char* base : {"intake.v1", "work.v1", "compliance.v1", "audit.v1", "dlq.v1"}) {
    topics.push_back(prefix + base);
  }
  return topics;
}

bool IsValidTopicName(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<TopicSpec> ParseTopicSpec(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--topic=", text, ": expected name:partitions"));
  }
  TopicSpec spec;
  spec.name = text.substr(0, colon);
  if (!IsValidTopicName(spec.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--topic=", text, ": topic names are 1-249 characters of [a-zA-Z0-9._-]"));
  }
  auto partitions = ParseInt("topic", text.substr(colon + 1), 1, kMaxPartitions);
  if (!partitions.ok()) return partitions.status();
  spec.partitions = *partitions;
  return spec;
}

absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name;
    std::string value;
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(2, eq - 2);
      value = arg.substr(eq + 1);
    } else {
      name = arg.substr(2);
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    if (name == "brokers") {
      auto v = ParseInt(name, value, 1, kMaxBrokers);
      if (!v.ok()) return v.status();
      options.brokers = *v;
    } else if (name == "partitions") {
      auto v = ParseInt(name, value, 1, kMaxPartitions);
      if (!v.ok()) return v.status();
      options.partitions = *v;
    } else if (name == "topic-prefix") {
      options.topic_prefix = value;
    } else if (name == "topic") {
      // Repeatable; a comma-separated list works too.
      for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        auto spec = ParseTopicSpec(std::string(part));
        if (!spec.ok()) return spec.status();
        options.extra_topics.push_back(*spec);
      }
    } else if (name == "control-port") {
      auto v = ParseInt(name, value, 0, 65535);
      if (!v.ok()) return v.status();
      options.control_port = *v;
    } else if (name == "env-file") {
      if (value.empty()) return absl::InvalidArgumentError("--env-file needs a path");
      options.env_file = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  for (const std::string& topic : DefaultTopics(options.topic_prefix)) {
    if (!IsValidTopicName(topic)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--topic-prefix=", options.topic_prefix, " makes the invalid topic name '", topic, "'"));
    }
  }
  return options;
}

std::string Usage() {
  return R"(docket-devkafka: librdkafka's mock Kafka cluster in a process, with fault controls.

Usage: docket-devkafka [flags]
  --brokers=N            brokers in the cluster, ids 1..N (default 3)
  --topic-prefix=P       prefix of Docket's topics (default "docket.")
  --partitions=N         partitions of each of Docket's topics (default 4)
  --topic=name:N         an extra topic with N partitions (repeatable)
  --control-port=PORT    control socket port on 127.0.0.1 (default 0: a free port)
  --env-file=PATH        also write the lines printed on stdout to PATH (atomically)

Prints on stdout, once ready:
  DOCKET_KAFKA_BROKERS=<bootstrap servers>
  DEVKAFKA_CONTROL=127.0.0.1:<port>
Control protocol (one command a line, one answer line "ok" or "error <reason>"):
  ping | broker-down <id> | broker-up <id> | rtt <id> <ms>
  request-errors <api_key> <error_code> <count> | create-topic <name> <partitions>
  (<id> may be "all" or -1 for every broker)
Exits 0 on SIGTERM or SIGINT.
)";
}

}  // namespace docket::devkafka
