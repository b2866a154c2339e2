#include "common/metrics/process_collector.h"

#include <gtest/gtest.h>

namespace docket::metrics {
namespace {

// Field numbers as in proc(5); the command name holds spaces and parentheses
// on purpose, since a naive split on ' ' or the first ')' misreads every field.
constexpr char kStat[] =
    "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 "
    "123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

TEST(ParseProcStat, ConvertsTicksPagesAndBootTimeToBaseUnits) {
  ProcessStats stats;
  ASSERT_TRUE(ParseProcStat(kStat, /*ticks_per_second=*/100, /*page_size=*/4096,
                            /*boot_time_seconds=*/1700000000, &stats));
  EXPECT_DOUBLE_EQ(*stats.cpu_seconds, 3.0);  // (250 + 50) / 100
  EXPECT_DOUBLE_EQ(*stats.start_time_seconds, 1700000000 + 1234.56);
  EXPECT_DOUBLE_EQ(*stats.virtual_memory_bytes, 104857600);
  EXPECT_DOUBLE_EQ(*stats.resident_memory_bytes, 2560.0 * 4096);
}

TEST(ParseProcStat, RejectsTruncatedOrGarbledText) {
  ProcessStats stats;
  EXPECT_FALSE(ParseProcStat("1234 (x) S 1 2 3", 100, 4096, 0, &stats));
  EXPECT_FALSE(ParseProcStat("no parenthesis at all", 100, 4096, 0, &stats));
  EXPECT_FALSE(ParseProcStat(kStat, 0, 4096, 0, &stats));  // bogus tick rate
  EXPECT_FALSE(stats.cpu_seconds.has_value());
}

TEST(ParseMaxOpenFiles, ReadsTheSoftLimit) {
  constexpr char kLimits[] =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n"
      "Max locked memory         8388608              8388608              bytes     \n";
  EXPECT_EQ(ParseMaxOpenFiles(kLimits), 1024);
  EXPECT_FALSE(ParseMaxOpenFiles("Limit  Soft Limit\n").has_value());
}

TEST(ParseBootTime, ReadsBtime) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1712345678\nprocesses 9\n"), 1712345678);
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\n").has_value());
}

}  // namespace
}  // namespace docket::metrics
