// kernel/json as JavaScript writes and reads JSON (issue 12 items 1 and 13): numbers as
// Number::toString, 64-bit integers as doubles, lone surrogates escaped, invalid bytes refused
// or replaced, duplicate keys, and linear-time parsing of large objects. The differential test
// against SpiderMonkey itself is vats/json_differential_test.cc.

#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "kernel/json.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"

namespace swingset {
namespace {

std::string Num(double d) { return Json(d).Dump(); }

TEST(JsonJsTest, NumbersAreWrittenAsNumberToString) {
  EXPECT_EQ(Num(0.1), "0.1");
  EXPECT_EQ(Num(-0.0), "0");
  EXPECT_EQ(Num(1e21), "1e+21");
  EXPECT_EQ(Num(1e20), "100000000000000000000");
  EXPECT_EQ(Num(1e-7), "1e-7");
  EXPECT_EQ(Num(1.5e-7), "1.5e-7");
  EXPECT_EQ(Num(1e-6), "0.000001");
  EXPECT_EQ(Num(123e-20), "1.23e-18");
  EXPECT_EQ(Num(5e-324), "5e-324");
  EXPECT_EQ(Num(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(Num(-2.5), "-2.5");
  EXPECT_EQ(Num(123456.789), "123456.789");
  EXPECT_EQ(Num(1.0 / 0.0), "null");
  EXPECT_EQ(Num(0.0 / 0.0), "null");
}

TEST(JsonJsTest, SixtyFourBitIntegersBehaveAsJsDoubles) {
  EXPECT_EQ(Json(UINT64_MAX).Dump(), "18446744073709552000");
  EXPECT_GT(Json(UINT64_MAX).as_double(), 0);
  EXPECT_EQ(Json(UINT64_MAX).as_int(), INT64_MAX);  // clamped, never negative
  EXPECT_EQ(Json(uint64_t{42}).Dump(), "42");
  EXPECT_EQ(Json(INT64_MAX).Dump(), "9223372036854776000");
  EXPECT_EQ(Json(int64_t{9007199254740993}).Dump(), "9007199254740992");
  EXPECT_EQ(Json(int64_t{9007199254740992}).Dump(), "9007199254740992");
  EXPECT_EQ(Json::Parse("9007199254740993")->Dump(), "9007199254740992");
  EXPECT_EQ(Json::Parse("-9007199254740993")->Dump(), "-9007199254740992");
  EXPECT_EQ(Json::Parse("18446744073709551615")->Dump(), "18446744073709552000");
  EXPECT_TRUE(Json::Parse("9007199254740992")->is_int());
  EXPECT_FALSE(Json::Parse("9007199254740993")->is_int());
  EXPECT_EQ(Json::Parse("1e400")->Dump(), "null");
  EXPECT_EQ(Json::Parse("-1e-400")->Dump(), "0");
  EXPECT_EQ(Json::Parse("1.0")->Dump(), "1");
  EXPECT_FALSE(Json::Parse("01").ok());
  EXPECT_FALSE(Json::Parse("-01").ok());
}

TEST(JsonJsTest, LoneSurrogatesAreEscapedAndPairsAreCharacters) {
  absl::StatusOr<Json> j = Json::Parse(R"(["a\ud800b","\uDBFF","\ud83d\ude00","\udc00\ud800"])");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->as_array()[0].as_string(), "a\xED\xA0\x80" "b");
  EXPECT_EQ(j->Dump(), "[\"a\\ud800b\",\"\\udbff\",\"\xF0\x9F\x98\x80\",\"\\udc00\\ud800\"]");
  EXPECT_TRUE(IsValidUtf8(j->Dump()));
  // Raw WTF-8 in the input is read as the same string; two raw halves of a pair join.
  absl::StatusOr<Json> raw = Json::Parse("\"\xED\xA0\xBD\xED\xB8\x80\"");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->as_string(), "\xF0\x9F\x98\x80");
  absl::StatusOr<Json> mixed = Json::Parse("\"\\ud83d\xED\xB8\x80\"");
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->as_string(), "\xF0\x9F\x98\x80");
  // Controls as JSON.stringify writes them: short escapes, else \u00xx lowercase; DEL raw.
  EXPECT_EQ(Json(std::string("\x01\x1f\x7f\b", 4)).Dump(), "\"\\u0001\\u001f\x7f\\b\"");
}

TEST(JsonJsTest, InvalidBytesAreRefusedByParseAndReplacedByDump) {
  for (const char* bad : {"\"\xFF\"", "\"\xC0\x80\"", "\"\xE2\x82\"", "\"\x80\"",
                          "\"\xF4\x90\x80\x80\""}) {
    absl::StatusOr<Json> j = Json::Parse(bad);
    ASSERT_FALSE(j.ok()) << bad;
    EXPECT_NE(std::string(j.status().message()).find("invalid UTF-8"), std::string::npos);
  }
  // A string built in C++ from arbitrary bytes still dumps as valid UTF-8.
  EXPECT_EQ(Json(std::string("a\xFF" "b")).Dump(), "\"a\xEF\xBF\xBD" "b\"");
  EXPECT_EQ(Json(std::string("\xED\xA0\xBD\xED\xB8\x80")).Dump(), "\"\xF0\x9F\x98\x80\"");
}

TEST(JsonJsTest, DuplicateKeysTakeTheLastValueAtTheFirstPosition) {
  absl::StatusOr<Json> j = Json::Parse(R"({"a":1,"b":2,"a":3,"c":4,"b":5})");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->Dump(), R"({"a":3,"b":5,"c":4})");
  // The same past the point where the parser switches to a hash index.
  std::string text = "{";
  for (int i = 0; i < 100; ++i) text += StrCat("\"k", i, "\":", i, ",");
  text += "\"k3\":\"last\",\"k99\":\"end\"}";
  j = Json::Parse(text);
  ASSERT_TRUE(j.ok());
  ASSERT_EQ(j->as_object().size(), 100u);
  EXPECT_EQ(j->as_object()[3].first, "k3");
  EXPECT_EQ(j->as_object()[3].second.as_string(), "last");
  EXPECT_EQ(j->as_object()[99].second.as_string(), "end");
  EXPECT_EQ(j->as_object()[50].first, "k50");
  Json::Object members = {{"x", Json(1)}, {"y", Json(2)}, {"x", Json(3)}};
  EXPECT_EQ(Json::MakeObjectDedup(std::move(members)).Dump(), R"({"x":3,"y":2})");
}

// Parsing is linear in the number of members: 200k distinct keys (a quadratic member scan
// needs ~2*10^10 comparisons, minutes) and 200k copies of one key parse within a bound that
// is generous for a loaded machine.
TEST(JsonJsTest, LargeObjectsParseInLinearTime) {
  std::string distinct = "{";
  std::string same = "{";
  for (int i = 0; i < 200000; ++i) {
    if (i) {
      distinct += ',';
      same += ',';
    }
    distinct += StrCat("\"key", i, "\":", i);
    same += StrCat("\"key\":", i);
  }
  distinct += '}';
  same += '}';
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Json> a = Json::Parse(distinct);
  absl::StatusOr<Json> b = Json::Parse(same);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->as_object().size(), 200000u);
  EXPECT_EQ(b->Dump(), "{\"key\":199999}");
  EXPECT_LT(ms, 8000);
}

// Records are encoded with their keys sorted as marshal.js sorts them (Array.prototype.sort:
// UTF-16 code units), not by UTF-8 bytes: U+10000 (D800 DC00) sorts before U+FFFF.
TEST(JsonJsTest, SmallcapsRecordKeysSortInUtf16Order) {
  absl::StatusOr<Json> j = Json::Parse(R"({"\uffff":1,"\ud800\udc00":2,"b":3,"a":4,"a":5})");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(smallcaps::EncodePlain(*j),
            "#{\"a\":5,\"b\":3,\"\xF0\x90\x80\x80\":2,\"\xEF\xBF\xBF\":1}");
}

}  // namespace
}  // namespace swingset
