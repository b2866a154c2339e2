#pragma once

// Command-line options of docket-devkafka.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace docket::devkafka {

struct TopicSpec {
  std::string name;
  int partitions = 0;
};

struct Options {
  int brokers = 3;
  int partitions = 4;                  // of each default topic
  std::string topic_prefix = "docket.";
  std::vector<TopicSpec> extra_topics;  // --topic=name:partitions (repeatable)
  int control_port = 0;                 // 0 = a free port chosen by the kernel
  std::string env_file;                 // empty = do not write one
  bool help = false;
};

// Docket's default topics, with the prefix applied.
std::vector<std::string> DefaultTopics(const std::string& prefix);

// Parses argv (without argv[0]). Accepts --name=value and --name value.
// INVALID_ARGUMENT names the offending flag.
absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args);

std::string Usage();

// Kafka's rule for topic names: 1..249 chars of [a-zA-Z0-9._-], not "." or "..".
bool IsValidTopicName(const std::string& name);

// Parses "name:partitions".
absl::StatusOr<TopicSpec> ParseTopicSpec(const std::string& text);

}  // namespace docket::devkafka
