#include "common/hash/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace docket::hash {
namespace {

TEST(Sha256Test, KnownVectorsInLowercaseHex) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(Hex(bytes, sizeof bytes), "000fa0ff");
}

// Each thread reuses one digest context: a digest must never carry state
// from the one before it, on any thread.
TEST(Sha256Test, RepeatedDigestsOnSeveralThreadsEachMatchTheKnownVector) {
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&wrong, t] {
      for (int i = 0; i < 2000; ++i) {
        const bool empty = (i + t) % 2 == 0;
        const std::string got = Sha256Hex(empty ? "" : "abc");
        if (got != (empty ? "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                          : "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")) {
          ++wrong[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace docket::hash
