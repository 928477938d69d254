#include "kernel/smallcaps.h"

#include <gtest/gtest.h>

namespace swingset {
namespace {

TEST(SmallcapsTest, EncodesPlainDataWithEscapesAndSortedRecords) {
  auto j = Json::Parse(R"(["#x","!y","plain","-3",{"b":1,"#a":[true,null,1.5]}])");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(smallcaps::EncodePlain(*j),
            R"(#["!#x","!!y","plain","!-3",{"!#a":[true,null,1.5],"b":1}])");
}

TEST(SmallcapsTest, ArgsFromJson) {
  EXPECT_EQ(smallcaps::ArgsFromJson("")->body, "#[]");
  EXPECT_EQ(smallcaps::ArgsFromJson("[1,\"a\"]")->body, "#[1,\"a\"]");
  EXPECT_FALSE(smallcaps::ArgsFromJson("{}").ok());
  EXPECT_FALSE(smallcaps::ArgsFromJson("[1,").ok());
}

TEST(SmallcapsTest, DecodesSpecialsAndSlots) {
  CapData c{R"(#["$0.Alleged: thing","&1","#undefined","+12","!!bang",{"#error":"boom","name":"TypeError"}])",
            {"ko21", "kp40"}};
  auto v = smallcaps::Decode(c);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Dump(),
            R"([{"@slot":"ko21","iface":"Alleged: thing"},{"@promise":"kp40"},{"@undefined":true},)"
            R"({"@bigint":"12"},"!bang",{"@error":"boom","name":"TypeError"}])");
  EXPECT_FALSE(smallcaps::Decode(CapData{"#\"$2.x\"", {"ko1"}}).ok());  // slot out of range
  EXPECT_FALSE(smallcaps::Decode(CapData{"{}", {}}).ok());             // not smallcaps
  // Round trip of escaped plain data.
  auto plain = Json::Parse(R"({"%k":["&v","$w"]})");
  auto back = smallcaps::Decode(CapData{smallcaps::EncodePlain(*plain), {}});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Dump(), plain->Dump());
}

TEST(SmallcapsTest, StringsAndErrorsAreEscapedAndDecodeBack) {
  EXPECT_EQ(smallcaps::EncodeString("get"), R"("get")");
  EXPECT_EQ(smallcaps::EncodeString("#get"), R"("!#get")");
  EXPECT_EQ(smallcaps::ErrorBody("boom"), R"(#{"#error":"boom","name":"Error"})");
  EXPECT_EQ(smallcaps::ErrorBody("$0 is gone"), R"(#{"#error":"!$0 is gone","name":"Error"})");
  auto e = smallcaps::Decode(smallcaps::ErrorData("$0 is gone"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->Dump(), R"({"@error":"$0 is gone","name":"Error"})");
  EXPECT_TRUE(smallcaps::ErrorData("x").slots.empty());
}

TEST(SmallcapsTest, PeeksAtSingleSlotBodiesAndMethodNames) {
  EXPECT_TRUE(smallcaps::IsSingleSlotBody(R"(#"$0")"));
  EXPECT_TRUE(smallcaps::IsSingleSlotBody(R"(#"$0.Alleged: thing")"));
  EXPECT_TRUE(smallcaps::IsSingleSlotBody(R"(#"&0")"));
  EXPECT_FALSE(smallcaps::IsSingleSlotBody(R"(#"$1")"));
  EXPECT_FALSE(smallcaps::IsSingleSlotBody(R"(#"$01")"));
  EXPECT_FALSE(smallcaps::IsSingleSlotBody(R"(#"&0x")"));
  EXPECT_FALSE(smallcaps::IsSingleSlotBody(R"(#["$0"])"));
  EXPECT_FALSE(smallcaps::IsSingleSlotBody(R"(#"!$0")"));

  EXPECT_EQ(smallcaps::MethodNameOf(CapData{R"(#["increment",[1]])", {}}), "increment");
  EXPECT_EQ(smallcaps::MethodNameOf(CapData{R"(#["!#weird",[]])", {}}), "#weird");
  EXPECT_EQ(smallcaps::MethodNameOf(CapData{R"(#[1,[]])", {}}), "?");
  EXPECT_EQ(smallcaps::MethodNameOf(CapData{R"(["x",[]])", {}}), "?");
  // A host send's methargs, built the way the kernel builds them, names its method back.
  CapData methargs{"#[" + smallcaps::EncodeString("-neg") + ",[]]", {}};
  EXPECT_EQ(smallcaps::MethodNameOf(methargs), "-neg");
}

}  // namespace
}  // namespace swingset
