#include "kernel/json.h"

#include "gtest/gtest.h"

namespace swingset {
namespace {

TEST(JsonTest, RoundTripKeepsMemberOrder) {
  auto j = Json::Parse(R"({"type":"send","target":"ko21","msg":{"methargs":{"body":"#[]","slots":[]},"result":null}})");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->Dump(),
            R"({"type":"send","target":"ko21","msg":{"methargs":{"body":"#[]","slots":[]},"result":null}})");
}

TEST(JsonTest, EscapesLikeJsonStringify) {
  Json j("a\"b\\c\n\x01");
  EXPECT_EQ(j.Dump(), R"("a\"b\\c\n\u0001")");
  auto back = Json::Parse(j.Dump());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->as_string(), "a\"b\\c\n\x01");
}

TEST(JsonTest, NumbersAndUnicode) {
  auto j = Json::Parse(R"([1,-2,3.5,1e3,"\u00e9\ud83d\ude00",true,false,null])");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->as_array()[0].as_int(), 1);
  EXPECT_EQ(j->as_array()[1].as_int(), -2);
  EXPECT_DOUBLE_EQ(j->as_array()[2].as_double(), 3.5);
  EXPECT_EQ(j->as_array()[4].as_string(), "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(JsonTest, RejectsMalformedInput) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"unterminated", "tru", "[1] x", "01x"}) {
    EXPECT_FALSE(Json::Parse(bad).ok()) << bad;
  }
  std::string deep(10000, '[');
  EXPECT_FALSE(Json::Parse(deep).ok());
}

TEST(JsonTest, SetReplacesInPlace) {
  Json o = Json::MakeObject();
  o.Set("a", 1);
  o.Set("b", 2);
  o.Set("a", 3);
  EXPECT_EQ(o.Dump(), R"({"a":3,"b":2})");
  o.Erase("a");
  EXPECT_EQ(o.Dump(), R"({"b":2})");
}

}  // namespace
}  // namespace swingset
