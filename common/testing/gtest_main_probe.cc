// Run by ctest through common/testing/CMakeLists.txt, not as a docket_test:
// one suite whose SetUpTestSuite fails, one test that skips itself. What
// docket_gtest_main must make of each is checked on the output there.

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

class BrokenSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { throw std::runtime_error("the fixture's server did not start"); }
};

TEST_F(BrokenSuite, NeverRuns) { SUCCEED(); }

TEST(SkippingSuite, SkipsOnPurpose) { GTEST_SKIP() << "nothing to do here"; }

}  // namespace
