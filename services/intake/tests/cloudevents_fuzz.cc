// libFuzzer target: DecodeIntakeRecord must return a status for any record,
// never crash, hang or throw. Input layout (easy for the fuzzer to reach
// both modes): header lines "key=value\n" up to the first empty line, then
// the record value, e.g.
//   ce_specversion=1.0\nce_id=1\nce_source=s\nce_type=docket.work.submit.v1\n
//   content-type=application/json\n\n{"kind":"x"}
// Build with clang (see services/intake/CMakeLists.txt) and run:
//   cloudevents_fuzz -max_len=65536

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "google/protobuf/stubs/logging.h"
#include "services/intake/src/cloudevents.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 in protobuf strings logs
    return true;
  }();
  (void)quiet;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  docket::kafka::Record record;
  record.topic = "docket.intake.v1";
  while (true) {
    const std::size_t nl = in.find('\n');
    if (nl == std::string_view::npos) break;
    const std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl + 1);
    if (line.empty()) break;
    const std::size_t eq = line.find('=');
    record.headers.push_back({std::string(line.substr(0, eq)),
                              eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1))});
  }
  record.value = std::string(in);
  const auto decoded = docket::intake::DecodeIntakeRecord(record);
  if (!decoded.ok() && decoded.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
  return 0;
}
