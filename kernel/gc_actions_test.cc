#include "kernel/gc_actions.h"

#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/json.h"
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

// The plain string order the comparison must reproduce.
int StringCompare(uint64_t a, uint64_t b) {
  int c = std::to_string(a).compare(std::to_string(b));
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

int Sign(int c) { return c < 0 ? -1 : c > 0 ? 1 : 0; }

TEST(CompareDecimalStringsTest, EdgeCases) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_LT(CompareDecimalStrings(1, 10), 0);  // a prefix sorts first
  EXPECT_GT(CompareDecimalStrings(10, 1), 0);
  EXPECT_LT(CompareDecimalStrings(10, 9), 0);
  EXPECT_GT(CompareDecimalStrings(9, 10), 0);
  EXPECT_LT(CompareDecimalStrings(19, 2), 0);
  EXPECT_LT(CompareDecimalStrings(2, 20), 0);
  EXPECT_GT(CompareDecimalStrings(3, 29), 0);
  EXPECT_LT(CompareDecimalStrings(0, 1), 0);
  EXPECT_LT(CompareDecimalStrings(0, 10), 0);
  EXPECT_GT(CompareDecimalStrings(1, 0), 0);
  EXPECT_EQ(CompareDecimalStrings(0, 0), 0);
  EXPECT_EQ(CompareDecimalStrings(kMax, kMax), 0);
  EXPECT_LT(CompareDecimalStrings(1, kMax), 0);                     // "1" < "18446..."
  EXPECT_GT(CompareDecimalStrings(2, kMax), 0);                     // "2" > "18446..."
  EXPECT_LT(CompareDecimalStrings(1844674407370955161u, kMax), 0);  // its 19-digit prefix
  EXPECT_GT(CompareDecimalStrings(1844674407370955162u, kMax), 0);
  EXPECT_LT(CompareDecimalStrings(kMax, 9), 0);
  EXPECT_GT(CompareDecimalStrings(9999999999999999999u, kMax), 0);
  EXPECT_LT(CompareDecimalStrings(10000000000000000000u, kMax), 0);
  EXPECT_LT(CompareDecimalStrings(1000000000000000000u, 10000000000000000000u), 0);
}

TEST(CompareDecimalStringsTest, MatchesStringOrder) {
  // Every power of ten and its neighbours, a few prefixes of the largest value, and random
  // numbers of every length, compared pairwise.
  std::vector<uint64_t> v = {0, std::numeric_limits<uint64_t>::max(),
                             std::numeric_limits<uint64_t>::max() - 1, 18, 184, 1844, 185, 19};
  for (uint64_t p = 1;; p *= 10) {
    v.insert(v.end(), {p - 1, p, p + 1, 2 * p - 1, 2 * p});
    if (p > std::numeric_limits<uint64_t>::max() / 10) break;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) v.push_back(rng() >> (rng() % 64));
  for (uint64_t a : v) {
    EXPECT_EQ(DecimalDigits(a), std::to_string(a).size()) << a;
    for (uint64_t b : v) {
      ASSERT_EQ(Sign(CompareDecimalStrings(a, b)), StringCompare(a, b)) << a << " vs " << b;
    }
  }
}

struct RandomAction {
  VatId vat;
  GcActionType type;
  Kref kref;
  std::string text;
};

TEST(GcActionSetTest, RandomActionsKeepPlainStringOrder) {
  std::mt19937_64 rng(12345);
  const uint64_t kVats[] = {1, 2, 9, 10, 11, 100, 123456, 12, 21, 1234567};
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  auto random_number = [&]() -> uint64_t {
    switch (rng() % 4) {
      case 0: {  // a power of ten or a neighbour
        uint64_t p = 1;
        for (int d = rng() % 20; d > 0; --d) p *= 10;
        int delta = static_cast<int>(rng() % 3) - 1;
        return delta < 0 && p == 1 ? 0 : p + delta;
      }
      case 1: {  // small
        return rng() % 40;
      }
      case 2: {  // an edge of the range
        const uint64_t edges[] = {0, 1, kMax, kMax - 1, 1844674407370955161u, 9999999999999999999u};
        return edges[rng() % 6];
      }
      default:  // any length
        return rng() >> (rng() % 64);
    }
  };
  auto store = NewMemKvStore();
  CrankBuffer buf(store.get());
  GcActionSet set(&buf);
  std::set<std::string> want;
  std::vector<RandomAction> added;
  for (int i = 0; i < 5000; ++i) {
    RandomAction a;
    a.vat = VatId(rng() % 4 == 0 ? 1 + rng() % 1000 : kVats[rng() % std::size(kVats)]);
    a.type = static_cast<GcActionType>(rng() % 3);
    const KrefKind kinds[] = {KrefKind::kObject, KrefKind::kPromise, KrefKind::kDevice};
    a.kref = Kref(kinds[rng() % 3], random_number());
    a.text = a.vat.ToString() + " " + GcActionTypeName(a.type) + " " + a.kref.ToString();
    set.Add(a.vat, a.type, a.kref);
    want.insert(a.text);
    added.push_back(a);
    if (i % 7 == 0) {  // some duplicates
      set.Add(a.vat, a.type, a.kref);
    }
  }
  const std::vector<std::string> want_list(want.begin(), want.end());
  ASSERT_EQ(set.size(), want.size());
  ASSERT_EQ(set.List(), want_list);

  Json array = Json::MakeArray();
  for (const std::string& s : want) array.Push(Json(s));
  const std::string want_json = array.Dump();
  set.Flush();
  const std::string* stored = buf.Find(keys::kGcActions);
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(*stored, want_json);

  // Reading a stored value back gives the same set. ParseNat takes at most 19 digits, so the
  // actions with 20-digit kref numbers are left out of this part.
  {
    std::vector<std::string> parseable;
    Json stored_array = Json::MakeArray();
    for (const std::string& s : want_list) {
      if (Kref::Parse(s.substr(s.rfind(' ') + 1)).ok()) {
        parseable.push_back(s);
        stored_array.Push(Json(s));
      }
    }
    ASSERT_GT(parseable.size(), want_list.size() / 2);
    auto store2 = NewMemKvStore();
    CrankBuffer buf2(store2.get());
    buf2.Set(keys::kGcActions, stored_array.Dump());
    GcActionSet reloaded(&buf2);
    EXPECT_EQ(reloaded.List(), parseable);
    EXPECT_EQ(reloaded.size(), parseable.size());
  }

  // The groups come out in order, each the run of actions sharing its "<vat> <type> " prefix.
  std::vector<std::string> got;
  GcActionSet::Group g;
  while (set.TakeFirstGroup(&g)) {
    ASSERT_FALSE(g.krefs.empty());
    for (const Kref& k : g.krefs) {
      got.push_back(g.vat.ToString() + " " + GcActionTypeName(g.type) + " " + k.ToString());
    }
  }
  EXPECT_EQ(got, want_list);
  set.Flush();
  EXPECT_EQ(*buf.Find(keys::kGcActions), "[]");
}

TEST(GcActionSetDeathTest, CorruptStoredActionsCheck) {
  for (const char* bad : {R"(["v1 dropExport"])", R"(["v01 dropExport ko1"])",
                          R"(["v1 dropExport ko01"])", R"(["v1 dropImport ko1"])",
                          R"(["v0 dropExport ko1"])", R"(["v1 dropExport ko1 "])", R"([1])",
                          R"({})"}) {
    auto store = NewMemKvStore();
    CrankBuffer buf(store.get());
    buf.Set(keys::kGcActions, bad);
    GcActionSet set(&buf);
    EXPECT_DEATH(set.List(), "corrupt") << bad;
  }
}

}  // namespace
}  // namespace swingset
