#include "consensus/sha256.h"

#include <string>

#include "gtest/gtest.h"

namespace swingset {
namespace {

// FIPS 180-2 examples.
TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::unique_ptr<Hasher> h = NewSha256Hasher();
  h->Update("a");
  h->Update("bc");
  EXPECT_EQ(h->FinishHex(), Sha256Hex("abc"));
  h->Update("");  // the hasher starts over after FinishHex
  EXPECT_EQ(h->FinishHex(), Sha256Hex(""));
}

TEST(Sha256Test, HexEncodesEveryByteValue) {
  std::string bytes, expected;
  const char* digits = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    bytes.push_back(static_cast<char>(b));
    expected.push_back(digits[b / 16]);
    expected.push_back(digits[b % 16]);
  }
  EXPECT_EQ(HexEncode(bytes), expected);
  EXPECT_EQ(HexEncode(""), "");
}

}  // namespace
}  // namespace swingset
