// The main of every docket_test binary: GoogleTest's, plus one listener.
//
// When a suite's SetUpTestSuite fails (an assertion, or an exception),
// GoogleTest marks each of its tests skipped, and ctest, which reads
// "[  SKIPPED ]" in the output as a skip, would report the broken set-up as
// skipped tests: green. The listener makes each such test fail instead; a
// test that skips itself (GTEST_SKIP) is still a skip.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

class FailTestsOfABrokenSuite : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo&) override {
    const ::testing::TestSuite* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
    if (suite != nullptr && suite->ad_hoc_test_result().Failed()) {
      ADD_FAILURE() << "not run: this test suite's SetUpTestSuite failed (see above)";
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new FailTestsOfABrokenSuite);
  return RUN_ALL_TESTS();
}
