#include "common/kafka/event_consumer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace docket::kafka {

namespace {

// Which records a decoding handler acts on (see DecodingHandler).
class PayloadFilter {
 public:
  explicit PayloadFilter(const std::vector<docket::v1::Event::PayloadCase>& handled) : handled_(handled) {
    for (auto payload : handled) types_.push_back(EventType(payload));
  }
  // False when the ce_type header names a type outside the handled ones.
  bool MayHandle(const Record& record) const {
    if (handled_.empty()) return true;
    const std::string* type = record.FindHeader("ce_type");
    return !type || std::find(types_.begin(), types_.end(), *type) != types_.end();
  }
  bool Handles(const docket::v1::Event& event) const {
    return handled_.empty() ||
           std::find(handled_.begin(), handled_.end(), event.payload_case()) != handled_.end();
  }

 private:
  std::vector<docket::v1::Event::PayloadCase> handled_;
  std::vector<std::string> types_;
};

// Poison: the consumer sends it to the DLQ with this message as the reason.
absl::Status Decode(const Record& record, docket::v1::Event& event) {
  if (absl::Status s = DecodeEventInto(record, event); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("undecodable record: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

RecordHandler DecodingHandler(EventHandler handler,
                              const std::vector<docket::v1::Event::PayloadCase>& handled) {
  return [handler = std::move(handler), filter = PayloadFilter(handled)](const Record& record) -> absl::Status {
    if (!filter.MayHandle(record)) return absl::OkStatus();
    thread_local docket::v1::Event event;
    if (absl::Status s = Decode(record, event); !s.ok()) return s;
    if (!filter.Handles(event)) return absl::OkStatus();
    return handler(event, record);
  };
}

BatchHandler DecodingBatchHandler(EventBatchHandler handler,
                                  const std::vector<docket::v1::Event::PayloadCase>& handled) {
  return [handler = std::move(handler),
          filter = PayloadFilter(handled)](const std::vector<const Record*>& records) {
    thread_local std::vector<docket::v1::Event> events;  // reused: no allocation per batch
    if (events.size() < records.size()) events.resize(records.size());
    std::vector<absl::Status> statuses(records.size());
    std::vector<const docket::v1::Event*> in;
    std::vector<const Record*> from;  // the record of each of `in`
    std::vector<std::size_t> at;      // index into records of each of `in`
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (!filter.MayHandle(*records[i])) continue;
      if (absl::Status s = Decode(*records[i], events[i]); !s.ok()) {
        statuses[i] = std::move(s);
        continue;
      }
      if (!filter.Handles(events[i])) continue;
      in.push_back(&events[i]);
      from.push_back(records[i]);
      at.push_back(i);
    }
    if (in.empty()) return statuses;
    std::vector<absl::Status> out = handler(in, from);
    if (out.size() != in.size()) {
      const absl::Status bad = absl::InternalError(
          absl::StrCat("batch handler returned ", out.size(), " statuses for ", in.size(), " events"));
      for (std::size_t i : at) statuses[i] = bad;
      return statuses;
    }
    for (std::size_t j = 0; j < in.size(); ++j) statuses[at[j]] = std::move(out[j]);
    return statuses;
  };
}

}  // namespace docket::kafka
