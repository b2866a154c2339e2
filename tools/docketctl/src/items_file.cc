#include "tools/docketctl/src/items_file.h"

#include <charconv>
#include <set>

#include "absl/strings/str_cat.h"
#include "tools/docketctl/src/submission.h"

namespace docket::ctl {
namespace {

using nlohmann::json;

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Shown(const std::string& s) { return s.size() > 64 ? s.substr(0, 64) + "..." : s; }

class JsonlReader : public ItemReader {
 public:
  explicit JsonlReader(std::istream& in) : in_(in) {}

  std::optional<FileItem> Next() override {
    std::string text;
    while (std::getline(in_, text)) {
      ++line_;
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.find_first_not_of(" \t") == std::string::npos) continue;
      FileItem item;
      item.line = line_;
      json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        item.object = absl::InvalidArgumentError("is not valid JSON");
      } else if (!parsed.is_object()) {
        item.object = absl::InvalidArgumentError("expected a JSON submission object");
      } else {
        item.object = std::move(parsed);
      }
      return item;
    }
    return std::nullopt;
  }

 private:
  std::istream& in_;
  int line_ = 0;
};

const std::set<std::string>& FieldColumns() {
  static const auto* columns =
      new std::set<std::string>{"tenant", "kind", "idempotency_key", "priority", "external_ref"};
  return *columns;
}

class CsvReader : public ItemReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  std::optional<FileItem> Next() override {
    if (done_) return std::nullopt;
    if (!header_read_) {
      header_read_ = true;
      if (absl::Status s = ReadHeader(); !s.ok()) {
        done_ = true;
        return FileItem{1, s};
      }
    }
    std::vector<std::string> fields;
    while (true) {
      const int first_line = line_ + 1;
      auto more = ReadCsvRecord(in_, line_, fields);
      if (!more.ok()) {
        done_ = true;
        return FileItem{first_line, more.status()};
      }
      if (!*more) return std::nullopt;
      if (fields.size() == 1 && fields[0].empty()) continue;  // a blank line
      return FileItem{first_line, RowToJson(fields)};
    }
  }

 private:
  struct Column {
    std::string name;
    std::string type;  // "" = untyped
    bool field = false;
  };

  absl::Status ReadHeader() {
    std::vector<std::string> names;
    auto more = ReadCsvRecord(in_, line_, names);
    if (!more.ok()) return more.status();
    if (!*more) return absl::InvalidArgumentError("the file is empty (expected a header row)");
    std::set<std::string> seen;
    for (std::string name : names) {
      Column c;
      if (const auto colon = name.find(':'); colon != std::string::npos) {
        c.type = name.substr(colon + 1);
        name.resize(colon);
        static const std::set<std::string> kTypes = {"string", "enum", "number", "bool", "money", "date"};
        if (!kTypes.contains(c.type)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "header column \"", Shown(name), "\": unknown type \"", Shown(c.type),
              "\" (expected string, enum, number, bool, money or date)"));
        }
      }
      if (name.empty()) return absl::InvalidArgumentError("header: a column has no name");
      if (!seen.insert(name).second) {
        return absl::InvalidArgumentError(absl::StrCat("header: column \"", Shown(name), "\" appears twice"));
      }
      c.field = FieldColumns().contains(name);
      if (c.field && !c.type.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("header column \"", name, "\" is a submission field and takes no type"));
      }
      c.name = std::move(name);
      columns_.push_back(std::move(c));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<json> RowToJson(const std::vector<std::string>& fields) const {
    if (fields.size() != columns_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("has ", fields.size(), " fields; the header has ", columns_.size()));
    }
    json object = json::object();
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const Column& c = columns_[i];
      if (fields[i].empty()) continue;
      if (c.field) {
        object[c.name] = fields[i];
        continue;
      }
      auto value = CsvCellToJson(fields[i], c.type);
      if (!value.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("column ", c.name, ": ", value.status().message()));
      }
      object["attributes"][c.name] = *std::move(value);
    }
    return object;
  }

  std::istream& in_;
  int line_ = 0;
  bool header_read_ = false;
  bool done_ = false;
  std::vector<Column> columns_;
};

}  // namespace

absl::StatusOr<FileFormat> FormatFor(const std::string& path, const std::optional<std::string>& format) {
  if (format) {
    if (*format == "jsonl") return FileFormat::kJsonl;
    if (*format == "csv") return FileFormat::kCsv;
    return absl::InvalidArgumentError(absl::StrCat("--file-format \"", Shown(*format), "\": expected jsonl or csv"));
  }
  if (EndsWith(path, ".jsonl") || EndsWith(path, ".ndjson") || EndsWith(path, ".json")) return FileFormat::kJsonl;
  if (EndsWith(path, ".csv")) return FileFormat::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("--file ", path, ": cannot tell the format from the name (use .jsonl or .csv, or --file-format)"));
}

std::unique_ptr<ItemReader> NewItemReader(std::istream& in, FileFormat format) {
  if (format == FileFormat::kCsv) return std::make_unique<CsvReader>(in);
  return std::make_unique<JsonlReader>(in);
}

absl::StatusOr<bool> ReadCsvRecord(std::istream& in, int& line, std::vector<std::string>& fields) {
  fields.clear();
  if (in.peek() == std::char_traits<char>::eof()) return false;
  std::string field;
  bool quoted = false;     // inside a quoted field
  bool was_quoted = false; // the current field was quoted (only a separator may follow)
  int c;
  while ((c = in.get()) != std::char_traits<char>::eof()) {
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          in.get();
          field.push_back('"');
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(static_cast<char>(c));
      }
      continue;
    }
    if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n') {
      ++line;
      fields.push_back(std::move(field));
      return true;
    } else if (c == '\r' && in.peek() == '\n') {
      continue;
    } else if (c == '"') {
      if (!field.empty() || was_quoted) {
        return absl::InvalidArgumentError(
            "a quote inside an unquoted field (quote the whole field)");
      }
      quoted = was_quoted = true;
    } else {
      if (was_quoted) {
        return absl::InvalidArgumentError(
            "text after a closing quote (expected , or end of line)");
      }
      field.push_back(static_cast<char>(c));
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError("a quoted field is never closed");
  }
  ++line;  // the last line had no newline
  fields.push_back(std::move(field));
  return true;
}

absl::StatusOr<json> CsvCellToJson(const std::string& cell, const std::string& type) {
  if (type.empty()) return ValueToJson(cell);
  if (type == "string" || type == "enum") return json(cell);
  if (type == "bool") {
    if (cell == "true") return json(true);
    if (cell == "false") return json(false);
    return absl::InvalidArgumentError("expected true or false");
  }
  if (type == "number") {
    double v = 0;
    const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
    if (ec != std::errc() || end != cell.data() + cell.size()) {
      return absl::InvalidArgumentError("expected a number");
    }
    return json(v);
  }
  if (type == "date") return json{{"date", cell}};
  // money: "12.50 EUR" (or "EUR 12.50")
  const auto space = cell.find(' ');
  if (space == std::string::npos) {
    return absl::InvalidArgumentError("expected an amount and a currency, like \"12.50 EUR\"");
  }
  std::string a = cell.substr(0, space), b = cell.substr(space + 1);
  const bool a_is_currency = !a.empty() && a.find_first_of("0123456789") == std::string::npos;
  if (a_is_currency) std::swap(a, b);
  return json{{"amount", a}, {"currency", b}};
}

}  // namespace docket::ctl
