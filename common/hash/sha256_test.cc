#include "common/hash/sha256.h"

#include <gtest/gtest.h>

namespace docket::hash {
namespace {

TEST(Sha256Test, KnownVectorsInLowercaseHex) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(Hex(bytes, sizeof bytes), "000fa0ff");
}

}  // namespace
}  // namespace docket::hash
