#pragma once

// Item files for `docketctl submit --file`: each item becomes a JSON
// submission object (see submission.h), read one at a time so a large file
// streams.
//
// JSONL (.jsonl, .ndjson): one JSON submission object per line, exactly as
// on Kafka; blank lines are skipped.
//
// CSV (.csv, RFC 4180: quoted fields, "" for a quote, newlines inside
// quotes): a header row, then one item per row. Columns tenant, kind,
// idempotency_key, priority and external_ref are those fields; every other
// column is an attribute. A header may give the attribute's type as
// name:TYPE, with TYPE one of string, enum, number, bool, money ("12.50 EUR"),
// date ("2026-11-23"); an untyped cell reads as an --attr value does. An
// empty cell leaves the field or attribute out.

#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace docket::ctl {

enum class FileFormat { kJsonl, kCsv };

// From --format (jsonl|csv) when given, else from the file name's extension.
absl::StatusOr<FileFormat> FormatFor(const std::string& path, const std::optional<std::string>& format);

struct FileItem {
  int line = 0;  // first line of the item in the file (1-based)
  // The submission object, or why this item cannot be read (the message
  // names the column or JSON path; the caller adds the line).
  absl::StatusOr<nlohmann::json> object;
};

class ItemReader {
 public:
  virtual ~ItemReader() = default;
  // The next item; nullopt at the end. A CSV header error is reported once,
  // as the status of the first item, and ends the file.
  virtual std::optional<FileItem> Next() = 0;
};

// Reads from `in`, which must outlive the reader.
std::unique_ptr<ItemReader> NewItemReader(std::istream& in, FileFormat format);

// One CSV record (may span lines); false at the end of input. `line` is
// advanced past the lines read. INVALID_ARGUMENT for an unterminated quote
// or a stray quote inside an unquoted field.
absl::StatusOr<bool> ReadCsvRecord(std::istream& in, int& line, std::vector<std::string>& fields);

// A CSV cell of a column typed `type` ("" = untyped) into its JSON form.
absl::StatusOr<nlohmann::json> CsvCellToJson(const std::string& cell, const std::string& type);

}  // namespace docket::ctl
