#include "kernel/ids.h"

#include "gtest/gtest.h"

namespace swingset {
namespace {

TEST(IdsTest, Krefs) {
  EXPECT_EQ(Kref::Parse("ko20")->ToString(), "ko20");
  EXPECT_TRUE(Kref::Parse("kp40")->is_promise());
  EXPECT_TRUE(Kref::Parse("kd30")->is_device());
  EXPECT_FALSE(Kref::Parse("kx1").ok());
  EXPECT_FALSE(Kref::Parse("ko").ok());
  EXPECT_FALSE(Kref::Parse("ko01").ok());
  EXPECT_FALSE(Kref::Parse("ko-1").ok());
  EXPECT_NE(Kref::Object(5), Kref::Promise(5));
  EXPECT_TRUE(KrefStringLess(Kref::Object(100), Kref::Object(21)));
}

TEST(IdsTest, VatIds) {
  EXPECT_EQ(VatId::Parse("v10")->n(), 10u);
  EXPECT_FALSE(VatId::Parse("v0").ok());
  EXPECT_FALSE(VatId::Parse("x1").ok());
  EXPECT_TRUE(VatIdStringLess(VatId(10), VatId(2)));
}

TEST(IdsTest, Vrefs) {
  auto o = VatRef::Parse("o+5");
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->is_export());
  EXPECT_TRUE(o->is_object());
  EXPECT_FALSE(VatRef::Parse("p-60")->is_export());
  EXPECT_TRUE(VatRef::Parse("o+v3/7").ok());
  EXPECT_TRUE(VatRef::Parse("o+d3/7:1").ok());
  EXPECT_FALSE(VatRef::Parse("o-v3/7").ok());
  EXPECT_FALSE(VatRef::Parse("p+v3/7").ok());
  EXPECT_FALSE(VatRef::Parse("o+3:1").ok());
  EXPECT_FALSE(VatRef::Parse("q+1").ok());
  EXPECT_FALSE(VatRef::Parse("o*1").ok());
  EXPECT_FALSE(VatRef::Parse("o+").ok());
  EXPECT_EQ(VatRef::Import(VrefType::kPromise, 60).str(), "p-60");
}

}  // namespace
}  // namespace swingset
