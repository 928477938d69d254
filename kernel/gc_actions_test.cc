#include "kernel/gc_actions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/key_schema.h"
#include "kernel/storage/mem_kv_store.h"

namespace swingset {
namespace {

using ::testing::ElementsAre;

// The crank layer's writes, rendered "key=value;" in key order.
std::string CrankWrites(CrankBuffer& b) {
  std::string out;
  b.VisitCrank([&](std::string_view k, const std::optional<std::string>& v) {
    out += std::string(k) + "=" + (v ? *v : "<deleted>") + ";";
  });
  return out;
}

std::string GroupString(const GcActionSet::Group& g) {
  std::string out = g.vat.ToString() + " " + GcActionTypeName(g.type) + ":";
  for (const Kref& k : g.krefs) out += " " + k.ToString();
  return out;
}

TEST(GcActionSetTest, GroupsComeOutInSelectionOrder) {
  auto store = NewMemKvStore();
  CrankBuffer buf(store.get());
  GcActionSet set(&buf);
  set.Add(VatId(2), GcActionType::kRetireImport, Kref::Object(30));
  set.Add(VatId(2), GcActionType::kDropExport, Kref::Object(21));
  set.Add(VatId(2), GcActionType::kDropExport, Kref::Object(100));
  set.Add(VatId(10), GcActionType::kRetireExport, Kref::Object(5));
  set.Add(VatId(2), GcActionType::kRetireExport, Kref::Object(21));
  set.Add(VatId(2), GcActionType::kDropExport, Kref::Object(21));  // duplicate: no-op
  EXPECT_EQ(set.size(), 5u);
  std::vector<std::string> groups;
  GcActionSet::Group g;
  while (set.TakeFirstGroup(&g)) groups.push_back(GroupString(g));
  // Vats as strings (v10 < v2), then dropExport < retireExport < retireImport, krefs as strings.
  EXPECT_THAT(groups, ElementsAre("v10 retireExport: ko5", "v2 dropExport: ko100 ko21",
                                  "v2 retireExport: ko21", "v2 retireImport: ko30"));
  EXPECT_TRUE(set.empty());
}

TEST(GcActionSetTest, FlushWritesTheSortedArrayOnlyAfterAChange) {
  auto store = NewMemKvStore();
  ASSERT_TRUE(store->Write({{std::string(keys::kGcActions), R"(["v1 dropExport ko22"])"}}, true)
                  .ok());
  CrankBuffer buf(store.get());
  GcActionSet set(&buf);
  EXPECT_THAT(set.List(), ElementsAre("v1 dropExport ko22"));
  set.Add(VatId(1), GcActionType::kDropExport, Kref::Object(22));  // already there
  set.Flush();
  EXPECT_EQ(CrankWrites(buf), "");
  set.Add(VatId(1), GcActionType::kRetireExport, Kref::Object(22));
  set.Add(VatId(1), GcActionType::kDropExport, Kref::Object(100));
  set.Flush();
  EXPECT_EQ(CrankWrites(buf),
            R"(gcActions=["v1 dropExport ko100","v1 dropExport ko22","v1 retireExport ko22"];)");
  // A change that is undone before the flush still writes, as a write-through would have.
  buf.FinishCrank(nullptr);
  GcActionSet::Group g;
  ASSERT_TRUE(set.TakeFirstGroup(&g));
  set.Add(VatId(1), GcActionType::kDropExport, Kref::Object(100));
  set.Add(VatId(1), GcActionType::kDropExport, Kref::Object(22));
  set.Flush();
  EXPECT_EQ(CrankWrites(buf),
            R"(gcActions=["v1 dropExport ko100","v1 dropExport ko22","v1 retireExport ko22"];)");
}

TEST(GcActionSetTest, InvalidateRereadsTheBufferAfterARollback) {
  auto store = NewMemKvStore();
  CrankBuffer buf(store.get());
  buf.Set(keys::kGcActions, "[]");
  GcActionSet set(&buf);
  EXPECT_TRUE(set.empty());
  set.Add(VatId(1), GcActionType::kRetireImport, Kref::Object(40));
  set.Flush();
  size_t mark = buf.SavePoint();
  GcActionSet::Group g;
  ASSERT_TRUE(set.TakeFirstGroup(&g));
  set.Add(VatId(3), GcActionType::kDropExport, Kref::Object(41));
  set.Flush();
  EXPECT_THAT(set.List(), ElementsAre("v3 dropExport ko41"));
  buf.RollbackTo(mark);
  set.Invalidate();
  EXPECT_THAT(set.List(), ElementsAre("v1 retireImport ko40"));
  EXPECT_EQ(*buf.Get(keys::kGcActions), R"(["v1 retireImport ko40"])");
}

}  // namespace
}  // namespace swingset
