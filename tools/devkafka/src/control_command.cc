#include "tools/devkafka/src/control_command.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tools/devkafka/src/options.h"

namespace docket::devkafka {
namespace {

constexpr int kMaxRttMs = 3'600'000;
constexpr int kMaxErrorCount = 1'000'000;
constexpr int kMaxPartitions = 10'000;

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<int64_t> Number(absl::string_view name, absl::string_view text, int64_t min,
                               int64_t max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < min || v > max) {
    return Invalid(absl::StrCat(name, " must be an integer in [", min, ", ", max, "], got '", text,
                                "'"));
  }
  return v;
}

absl::StatusOr<int32_t> BrokerId(absl::string_view text, int broker_count) {
  if (text == "all" || text == "-1") return kAllBrokers;
  int32_t id = 0;
  if (!absl::SimpleAtoi(text, &id) || id < 1 || id > broker_count) {
    return Invalid(absl::StrCat("broker id must be 1..", broker_count, " or all, got '", text, "'"));
  }
  return id;
}

absl::Status Arity(absl::string_view usage, const std::vector<absl::string_view>& words,
                   std::size_t args) {
  if (words.size() != args + 1) return Invalid(absl::StrCat("usage: ", usage));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Command> ParseCommand(std::string_view raw_line, int broker_count) {
  const absl::string_view line =
      absl::StripAsciiWhitespace(absl::string_view(raw_line.data(), raw_line.size()));
  std::vector<absl::string_view> words =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.empty()) return Invalid("empty command");
  const absl::string_view verb = words[0];

  if (verb == "ping") {
    if (auto s = Arity("ping", words, 0); !s.ok()) return s;
    return Ping{};
  }
  if (verb == "broker-down" || verb == "broker-up") {
    if (auto s = Arity(absl::StrCat(verb, " <id>"), words, 1); !s.ok()) return s;
    auto id = BrokerId(words[1], broker_count);
    if (!id.ok()) return id.status();
    if (verb == "broker-down") return BrokerDown{*id};
    return BrokerUp{*id};
  }
  if (verb == "rtt") {
    if (auto s = Arity("rtt <id> <ms>", words, 2); !s.ok()) return s;
    auto id = BrokerId(words[1], broker_count);
    if (!id.ok()) return id.status();
    auto ms = Number("ms", words[2], 0, kMaxRttMs);
    if (!ms.ok()) return ms.status();
    return SetRtt{*id, static_cast<int>(*ms)};
  }
  if (verb == "request-errors") {
    if (auto s = Arity("request-errors <api_key> <error_code> <count>", words, 3); !s.ok()) {
      return s;
    }
    auto api_key = Number("api_key", words[1], 0, INT16_MAX);
    if (!api_key.ok()) return api_key.status();
    // Kafka error codes are int16; -1 is UNKNOWN_SERVER_ERROR.
    auto error_code = Number("error_code", words[2], -1, INT16_MAX);
    if (!error_code.ok()) return error_code.status();
    auto count = Number("count", words[3], 1, kMaxErrorCount);
    if (!count.ok()) return count.status();
    return PushRequestErrors{static_cast<int16_t>(*api_key), static_cast<int16_t>(*error_code),
                             static_cast<int>(*count)};
  }
  if (verb == "create-topic") {
    if (auto s = Arity("create-topic <name> <partitions>", words, 2); !s.ok()) return s;
    const std::string name(words[1]);
    if (!IsValidTopicName(name)) {
      return Invalid("topic names are 1-249 characters of [a-zA-Z0-9._-]");
    }
    auto partitions = Number("partitions", words[2], 1, kMaxPartitions);
    if (!partitions.ok()) return partitions.status();
    return CreateTopic{name, static_cast<int>(*partitions)};
  }
  std::string shown(verb.substr(0, 64));
  return Invalid(absl::StrCat(
      "unknown command '", absl::CHexEscape(shown),
      "' (ping, broker-down, broker-up, rtt, request-errors, create-topic)"));
}

std::string AnswerLine(const absl::Status& status) {
  if (status.ok()) return "ok";
  // One line, whatever the reason says.
  std::string reason = absl::StrReplaceAll(status.message(), {{"\r", " "}, {"\n", " "}});
  if (reason.empty()) reason = absl::StatusCodeToString(status.code());
  return absl::StrCat("error ", reason);
}

}  // namespace docket::devkafka
