#pragma once

// The control protocol of docket-devkafka: one command a line, answered by
// one line, "ok" or "error <reason>". Parsing is pure so it is unit-tested
// without a socket or a cluster.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"

namespace docket::devkafka {

// Broker id meaning "every broker" (the mock's convention).
inline constexpr int32_t kAllBrokers = -1;

struct Ping {};
struct BrokerDown { int32_t broker_id; };
struct BrokerUp { int32_t broker_id; };
struct SetRtt { int32_t broker_id; int rtt_ms; };
struct PushRequestErrors { int16_t api_key; int16_t error_code; int count; };
struct CreateTopic { std::string name; int partitions; };

using Command = std::variant<Ping, BrokerDown, BrokerUp, SetRtt, PushRequestErrors, CreateTopic>;

// Parses one line (without its newline; a trailing '\r' is ignored).
// `broker_count` bounds broker ids to 1..broker_count (or "all"/-1).
// INVALID_ARGUMENT with a reason fit for the "error" answer.
absl::StatusOr<Command> ParseCommand(std::string_view line, int broker_count);

// The answer line for a status, without the newline: "ok" or "error <reason>".
std::string AnswerLine(const absl::Status& status);

}  // namespace docket::devkafka
