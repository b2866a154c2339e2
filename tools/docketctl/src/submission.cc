#include "tools/docketctl/src/submission.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"
#include "common/kafka/record.h"
#include "services/intake/src/cloudevents.h"
#include "tools/docketctl/src/args.h"

namespace docket::ctl {
namespace {

using nlohmann::json;

}  // namespace

absl::StatusOr<json> ValueToJson(std::string_view text) {
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded()) {
    if (parsed.is_null()) return absl::InvalidArgumentError("null is not a value (leave the attribute out)");
    if (parsed.is_array()) return absl::InvalidArgumentError("a list is not a value");
    return parsed;
  }
  const std::string_view trimmed = text.substr(std::min(text.find_first_not_of(" \t"), text.size()));
  if (!trimmed.empty() && (trimmed.front() == '{' || trimmed.front() == '[' || trimmed.front() == '"')) {
    return absl::InvalidArgumentError(R"(looks like JSON but does not parse (e.g. {"amount":"12.50","currency":"EUR"}))");
  }
  return json(std::string(text));  // plain text is a string
}

absl::StatusOr<std::pair<std::string, json>> ParseAttributeFlag(std::string_view text, std::string_view flag) {
  auto nv = SplitNameValue(text, flag);
  if (!nv.ok()) return nv.status();
  auto value = ValueToJson(nv->second);
  if (!value.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(flag), " ", nv->first, ": ", value.status().message()));
  }
  // The decoder checks the value's shape (money, date) now, before any call.
  auto checked = AttributesFromJson(json{{nv->first, *value}});
  if (!checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(flag), " ", checked.status().message()));
  }
  return std::make_pair(nv->first, *std::move(value));
}

absl::StatusOr<docket::v1::WorkSubmission> SubmissionFromJson(const json& object) {
  kafka::Record record;
  record.value = object.dump();
  record.headers = {{"ce_specversion", "1.0"},
                    {"ce_id", "docketctl"},
                    {"ce_source", "docketctl"},
                    {"ce_type", std::string(intake::kSubmitEventType)},
                    {"content-type", "application/json"}};
  auto decoded = intake::DecodeIntakeRecord(record);
  if (!decoded.ok()) {
    std::string message(decoded.status().message());
    if (message.rfind("data.", 0) == 0) message.erase(0, 5);
    if (message.rfind("data: ", 0) == 0) message.erase(0, 6);
    return absl::InvalidArgumentError(message);
  }
  return std::move(decoded->submission);
}

absl::StatusOr<google::protobuf::Map<std::string, docket::v1::AttributeValue>> AttributesFromJson(
    const json& attributes) {
  auto submission = SubmissionFromJson(json{{"attributes", attributes}});
  if (!submission.ok()) {
    std::string message(submission.status().message());
    if (message.rfind("attributes.", 0) == 0) message.erase(0, 11);
    return absl::InvalidArgumentError(message);
  }
  return submission->attributes();
}

std::string ContentKey(const json& object) {
  json content = object;
  content.erase("idempotency_key");
  const std::string canonical = content.dump();  // nlohmann sorts object keys
  return "docketctl-sha256:" + hash::Sha256Hex(canonical);
}

std::string RandomKey() {
  std::random_device rd;
  unsigned char bytes[16];
  for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd() & 0xff);
  return "docketctl-" + hash::Hex(bytes, sizeof(bytes));
}

}  // namespace docket::ctl
