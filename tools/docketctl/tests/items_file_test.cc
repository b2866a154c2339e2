// Item files for submit --file: JSONL lines and RFC 4180 CSV become JSON
// submission objects, and every bad item is reported with its line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tools/docketctl/src/items_file.h"

namespace docket::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::json;

std::vector<FileItem> ReadAll(const std::string& text, FileFormat format) {
  std::istringstream in(text);
  auto reader = NewItemReader(in, format);
  std::vector<FileItem> out;
  while (auto item = reader->Next()) out.push_back(*std::move(item));
  return out;
}

TEST(FormatForTest, ExtensionOrExplicitFormat) {
  EXPECT_EQ(*FormatFor("items.jsonl", std::nullopt), FileFormat::kJsonl);
  EXPECT_EQ(*FormatFor("items.csv", std::nullopt), FileFormat::kCsv);
  EXPECT_EQ(*FormatFor("-", std::string("csv")), FileFormat::kCsv);
  EXPECT_THAT(FormatFor("items.txt", std::nullopt).status().message(), HasSubstr("cannot tell the format"));
  EXPECT_FALSE(FormatFor("x", std::string("xml")).ok());
}

TEST(JsonlReaderTest, OneObjectPerLineBlankLinesSkippedBadLinesReportedWithTheirNumber) {
  auto items = ReadAll("{\"kind\":\"data_entry\"}\n\n{broken\n[1]\r\n{\"kind\":\"x\"}", FileFormat::kJsonl);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].line, 1);
  EXPECT_EQ((*items[0].object)["kind"], "data_entry");
  EXPECT_EQ(items[1].line, 3);
  EXPECT_EQ(items[1].object.status().message(), "is not valid JSON");
  EXPECT_EQ(items[2].line, 4);
  EXPECT_EQ(items[2].object.status().message(), "expected a JSON submission object");
  EXPECT_EQ(items[3].line, 5);
  EXPECT_TRUE(items[3].object.ok());
}

TEST(ReadCsvRecordTest, QuotedFieldsWithCommasQuotesAndNewlines) {
  std::istringstream in("a,\"b,1\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",,x\n");
  int line = 0;
  std::vector<std::string> fields;
  ASSERT_TRUE(*ReadCsvRecord(in, line, fields));
  EXPECT_THAT(fields, ElementsAre("a", "b,1", "say \"hi\""));
  EXPECT_EQ(line, 1);
  ASSERT_TRUE(*ReadCsvRecord(in, line, fields));
  EXPECT_THAT(fields, ElementsAre("two\nlines", "", "x"));
  EXPECT_EQ(line, 3);
  EXPECT_FALSE(*ReadCsvRecord(in, line, fields));
}

TEST(ReadCsvRecordTest, MalformedQuotingIsAnError) {
  int line = 0;
  std::vector<std::string> fields;
  std::istringstream unterminated("a,\"never closed\n");
  EXPECT_EQ(ReadCsvRecord(unterminated, line, fields).status().message(), "a quoted field is never closed");
  std::istringstream stray("ab\"c\n");
  EXPECT_THAT(ReadCsvRecord(stray, line, fields).status().message(), HasSubstr("a quote inside an unquoted field"));
  std::istringstream after("\"ab\"c\n");
  EXPECT_THAT(ReadCsvRecord(after, line, fields).status().message(), HasSubstr("text after a closing quote"));
}

TEST(CsvReaderTest, FieldColumnsTypedAndUntypedAttributesAndEmptyCellsLeftOut) {
  auto items = ReadAll(
      "tenant,kind,idempotency_key,document_id:string,pages,amount:money,due:date,ok:bool,note\n"
      "acme,data_entry,k1,0042,3,12.50 EUR,2026-11-23,true,\n",
      FileFormat::kCsv);
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].object.ok()) << items[0].object.status();
  EXPECT_EQ(items[0].line, 2);
  const json& o = *items[0].object;
  EXPECT_EQ(o["tenant"], "acme");
  EXPECT_EQ(o["idempotency_key"], "k1");
  EXPECT_EQ(o["attributes"]["document_id"], "0042") << "a :string column keeps digits text";
  EXPECT_EQ(o["attributes"]["pages"], 3) << "an untyped cell reads as --attr does";
  EXPECT_EQ(o["attributes"]["amount"], (json{{"amount", "12.50"}, {"currency", "EUR"}}));
  EXPECT_EQ(o["attributes"]["due"], (json{{"date", "2026-11-23"}}));
  EXPECT_EQ(o["attributes"]["ok"], true);
  EXPECT_FALSE(o["attributes"].contains("note")) << "an empty cell is left out";
}

TEST(CsvReaderTest, RowErrorsNameTheColumnAndLine) {
  auto items = ReadAll("kind,pages:number,flag:bool\ndata_entry,three,true\ndata_entry,1\ndata_entry,1,yes\n",
                       FileFormat::kCsv);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].line, 2);
  EXPECT_EQ(items[0].object.status().message(), "column pages: expected a number");
  EXPECT_EQ(items[1].line, 3);
  EXPECT_EQ(items[1].object.status().message(), "has 2 fields; the header has 3");
  EXPECT_EQ(items[2].object.status().message(), "column flag: expected true or false");
}

TEST(CsvReaderTest, BadHeaderIsOneErrorAndEndsTheFile) {
  auto items = ReadAll("kind,amount:currency\ndata_entry,1\n", FileFormat::kCsv);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_THAT(items[0].object.status().message(), HasSubstr("unknown type \"currency\""));
  auto twice = ReadAll("kind,kind\nx,y\n", FileFormat::kCsv);
  EXPECT_THAT(twice[0].object.status().message(), HasSubstr("appears twice"));
  auto empty = ReadAll("", FileFormat::kCsv);
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_THAT(empty[0].object.status().message(), HasSubstr("expected a header row"));
}

TEST(CsvCellToJsonTest, MoneyEitherWayRound) {
  EXPECT_EQ(*CsvCellToJson("EUR 12.50", "money"), (json{{"amount", "12.50"}, {"currency", "EUR"}}));
  EXPECT_FALSE(CsvCellToJson("12.50", "money").ok());
}

}  // namespace
}  // namespace docket::ctl
