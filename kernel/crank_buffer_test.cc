#include "kernel/crank_buffer.h"

#include <vector>

#include "gtest/gtest.h"
#include "kernel/storage/mem_kv_store.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

std::string Scan(CrankBuffer& b, const std::string& prefix) {
  std::string out;
  for (auto& [k, v] : b.ScanPrefix(prefix)) out += k + "=" + v + ";";
  return out;
}

// The block layer as "key=value/base;" ("-" deleted; base "unknown" when the buffer does not
// know the committed value, "absent" when it knows there is none).
std::string BlockWithBase(const CrankBuffer& b) {
  std::string out;
  b.VisitBlockWithBase([&](std::string_view k, const std::optional<std::string>& v,
                           const std::optional<std::string>* base) {
    out += std::string(k) + "=" + v.value_or("-") + "/" +
           (base ? base->value_or("absent") : "unknown") + ";";
  });
  return out;
}

TEST(CrankBufferTest, LayersReadThroughAndMerge) {
  auto store = NewMemKvStore();
  ASSERT_TRUE(store->Write({{"a.1", "s1"}, {"a.2", "s2"}, {"a.4", "s4"}, {"b", "x"}}, true).ok());
  CrankBuffer b(store.get());
  b.Set("a.3", "c3");
  b.Delete("a.2");
  b.FinishCrank(nullptr);  // now in the block layer
  b.Set("a.4", "c4");
  b.Set("a.0", "c0");
  EXPECT_EQ(Scan(b, "a."), "a.0=c0;a.1=s1;a.3=c3;a.4=c4;");
  EXPECT_EQ(*b.Get("a.4"), "c4");
  EXPECT_FALSE(b.Get("a.2").has_value());
  auto n = b.NextAfter("a.1", "a.");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->first, "a.3");
  n = b.NextAfter("a.4", "a.");
  EXPECT_FALSE(n);
  n = b.NextAfter("", "a.");
  EXPECT_EQ(n->first, "a.0");
}

TEST(CrankBufferTest, SavepointsRollBack) {
  auto store = NewMemKvStore();
  ASSERT_TRUE(store->Write({{"k", "v0"}}, true).ok());
  CrankBuffer b(store.get());
  b.Set("k", "v1");
  size_t mark = b.SavePoint();
  b.Set("k", "v2");
  b.Set("new", "x");
  b.Delete("k");
  b.RollbackTo(mark);
  EXPECT_EQ(*b.Get("k"), "v1");
  EXPECT_FALSE(b.Get("new").has_value());
  b.RollbackTo(0);
  EXPECT_EQ(*b.Get("k"), "v0");
  std::vector<KvWrite> writes;
  b.Set("z", "1");
  b.Set("a", "2");
  b.FinishCrank(&writes);
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[0].key, "a");
  EXPECT_EQ(writes[1].key, "z");
}

TEST(CrankBufferTest, CommitAndAbort) {
  auto store = NewMemKvStore();
  CrankBuffer b(store.get());
  b.Set("x", "1");
  b.FinishCrank(nullptr);
  ASSERT_TRUE(store->Write(b.BlockBatch(), true).ok());
  b.BlockCommitted();
  EXPECT_EQ(*store->Get("x").value(), "1");
  b.Set("x", "2");
  b.FinishCrank(nullptr);
  b.AbortBlock();
  EXPECT_EQ(*b.Get("x"), "1");
}

TEST(CrankBufferTest, BlockBaseIsTheCommittedValueWhenKnown) {
  auto store = NewMemKvStore();
  ASSERT_TRUE(store->Write({{"read", "r0"}, {"blind", "b0"}}, true).ok());
  CrankBuffer b(store.get());
  EXPECT_EQ(*b.Get("read"), "r0");
  b.Set("read", "r1");
  b.Set("blind", "b1");
  b.Set("new", "n1");
  b.FinishCrank(nullptr);
  EXPECT_EQ(*b.Get("read"), "r1");
  b.Set("read", "r2");  // a second write in the block keeps the committed base
  b.FinishCrank(nullptr);
  std::string out = BlockWithBase(b);
  EXPECT_EQ(out, "blind=b1/unknown;new=n1/unknown;read=r2/r0;");
}

TEST(CrankBufferTest, CreatedKeysHaveAKnownAbsentBaseAndTheirDeletesAreDropped) {
  auto store = NewMemKvStore();
  ASSERT_TRUE(store->Write({{"old", "o0"}}, true).ok());
  CrankBuffer b(store.get());
  b.Create("fresh", "f1");
  b.AssumeAbsent("later");
  b.Create("kept", "k1");
  b.FinishCrank(nullptr);
  b.Delete("fresh");   // created and deleted within the block: no store write needed
  b.Set("later", "l1");
  b.Delete("old");
  b.FinishCrank(nullptr);
  std::string out = BlockWithBase(b);
  EXPECT_EQ(out, "fresh=-/absent;kept=k1/absent;later=l1/absent;old=-/unknown;");
  KvBatch batch = b.BlockBatch();
  std::string keys;
  for (const KvWrite& w : batch) keys += w.key + ";";
  EXPECT_EQ(keys, "kept;later;old;");
  ASSERT_TRUE(store->Write(batch, true).ok());
  b.BlockCommitted();
  EXPECT_FALSE(b.Get("fresh").has_value());
  EXPECT_FALSE(b.Get("old").has_value());
  EXPECT_EQ(*b.Get("kept"), "k1");
}

TEST(CrankBufferTest, RolledBackCreateLeavesOnlyTheKnownAbsence) {
  auto store = NewMemKvStore();
  CrankBuffer b(store.get());
  size_t mark = b.SavePoint();
  b.Create("k", "v");
  b.RollbackTo(mark);
  EXPECT_FALSE(b.Get("k").has_value());
  b.FinishCrank(nullptr);
  EXPECT_EQ(b.BlockSize(), 0u);
}

TEST(CrankBufferTest, KeyHandlesFollowErasedAndClearedEntries) {
  auto store = NewMemKvStore();
  CrankBuffer b(store.get());
  CrankBuffer::KeyHandle h("h");
  b.Set(h, "1");
  b.Set("gone", "x");
  b.FinishCrank(nullptr);
  b.Delete("gone");
  b.Delete("h");
  b.FinishCrank(nullptr);
  ASSERT_TRUE(store->Write(b.BlockBatch(), true).ok());
  b.BlockCommitted();  // erases both entries
  EXPECT_EQ(b.Find(h), nullptr);
  b.Set(h, "2");
  b.FinishCrank(nullptr);
  EXPECT_EQ(*b.Get("h"), "2");
  ASSERT_TRUE(store->Write(b.BlockBatch(), true).ok());
  b.BlockCommitted();
  b.Set(h, "3");
  b.FinishCrank(nullptr);
  b.AbortBlock();  // clears every entry
  ASSERT_NE(b.Find(h), nullptr);
  EXPECT_EQ(*b.Find(h), "2");
}

TEST(CrankBufferTest, PrefetcherAsksForEachItemsKeysOnceAndOnlyInRange) {
  auto store = NewMemKvStore();
  CrankBuffer b(store.get());
  for (int i = 0; i < 50; ++i) b.Set(StrCat("key.", i), "v");
  for (size_t n : {0u, 1u, 5u, 12u, 13u, 100u}) {
    std::vector<int> asked(n + 20, 0);
    auto pf = b.MakePrefetcher(n, [&](size_t j, auto&& fn) {
      ++asked.at(j);
      fn(StrCat("key.", j));
      fn(StrCat("absent.", j));
    });
    for (size_t i = 0; i < n; ++i) pf.Step(i);
    for (size_t j = 0; j < asked.size(); ++j) EXPECT_EQ(asked[j], j < n ? 1 : 0) << n << " " << j;
  }
  // Hints only: contents unchanged, nothing new became visible.
  EXPECT_EQ(*b.Get("key.7"), "v");
  EXPECT_FALSE(b.Get("absent.7").has_value());
}

}  // namespace
}  // namespace swingset
