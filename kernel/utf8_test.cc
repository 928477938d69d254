#include "kernel/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace swingset {
namespace {

TEST(Utf8Test, DecodeAcceptsWtf8AndRejectsEverythingElse) {
  uint32_t cp = 0;
  EXPECT_EQ(DecodeWtf8("\xED\xA0\x80", 0, &cp), 3u);  // lone high surrogate
  EXPECT_EQ(cp, 0xD800u);
  EXPECT_EQ(DecodeWtf8("\xF4\x8F\xBF\xBF", 0, &cp), 4u);
  EXPECT_EQ(cp, 0x10FFFFu);
  for (const char* bad : {"\xC0\x80", "\xE0\x80\x80", "\xF0\x80\x80\x80", "\xF4\x90\x80\x80",
                          "\x80", "\xBF", "\xE2\x82", "\xF5\x80\x80\x80", "\xFF"}) {
    EXPECT_EQ(DecodeWtf8(bad, 0, &cp), 0u) << bad;
  }
}

TEST(Utf8Test, StrictUtf8RefusesSurrogates) {
  EXPECT_TRUE(IsValidUtf8("plain \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("a\xED\xA0\x80" "b"));
  EXPECT_FALSE(IsValidUtf8("a\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
}

TEST(Utf8Test, ReplacementAndJsonEscapes) {
  EXPECT_EQ(ToValidUtf8("a\xED\xA0\x80" "b\xFF"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(JsonTextToUtf8("#\"a\xED\xB0\x80" "b\""), "#\"a\\udc00b\"");
  EXPECT_EQ(JsonTextToUtf8("#\"\xC3\xA9\""), "#\"\xC3\xA9\"");
}

TEST(Utf8Test, AppendJoinsAHighAndALowSurrogateIntoOnePair) {
  std::string s;
  AppendWtf8(0xD83D, &s);
  EXPECT_EQ(s, "\xED\xA0\xBD");
  AppendWtf8(0xDE00, &s);
  EXPECT_EQ(s, "\xF0\x9F\x98\x80");
  AppendWtf8(0xDC00, &s);  // after a full pair: stays lone
  EXPECT_EQ(s, "\xF0\x9F\x98\x80\xED\xB0\x80");
}

TEST(Utf8Test, Utf16RoundTripKeepsLoneSurrogates) {
  const std::u16string units = {u'a', 0xD800, u'b', 0xDC00, 0xD800, 0xD83D, 0xDE00, 0xDFFF};
  const std::string w = Utf16ToWtf8(units);
  EXPECT_EQ(Wtf8ToUtf16(w), units);
  EXPECT_EQ(Wtf8ToUtf16("\xFF"), std::u16string(1, 0xFFFD));
}

}  // namespace
}  // namespace swingset
