#include "kernel/crank_buffer.h"

#include <map>
#include <optional>
#include <random>
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
  // "fresh" changes nothing, so the block layer drops it.
  std::string out = BlockWithBase(b);
  EXPECT_EQ(out, "kept=k1/absent;later=l1/absent;old=-/unknown;");
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

// A key dropped from the block as a no-op comes back when it is written again, can be
// dropped again, and is forgotten once at commit.
TEST(CrankBufferTest, DroppedNoOpKeysComeBackWhenWrittenAgain) {
  auto store = NewMemKvStore();
  CrankBuffer b(store.get());
  b.Create("a", "1");
  b.Create("z", "1");
  b.FinishCrank(nullptr);
  b.Delete("a");
  b.FinishCrank(nullptr);
  EXPECT_EQ(BlockWithBase(b), "z=1/absent;");  // "a" dropped
  EXPECT_EQ(Scan(b, ""), "z=1;");
  b.Set("a", "2");  // written again: back, with its known absent base
  b.FinishCrank(nullptr);
  EXPECT_EQ(*b.Get("a"), "2");
  b.Delete("a");
  b.FinishCrank(nullptr);
  EXPECT_EQ(BlockWithBase(b), "z=1/absent;");  // dropped a second time
  b.Set("b", "1");
  b.FinishCrank(nullptr);
  EXPECT_EQ(BlockWithBase(b), "b=1/unknown;z=1/absent;");
  b.Set("a", "3");  // back again, into the sorted block this time
  b.FinishCrank(nullptr);
  EXPECT_EQ(BlockWithBase(b), "a=3/absent;b=1/unknown;z=1/absent;");
  EXPECT_EQ(Scan(b, ""), "a=3;b=1;z=1;");
  b.Delete("a");
  b.FinishCrank(nullptr);
  // Already merged: it stays in the block as a delete, which the batch leaves out.
  EXPECT_EQ(BlockWithBase(b), "a=-/absent;b=1/unknown;z=1/absent;");
  KvBatch batch = b.BlockBatch();
  std::string keys;
  for (const KvWrite& w : batch) keys += w.key + ";";
  EXPECT_EQ(keys, "b;z;");
  ASSERT_TRUE(store->Write(batch, true).ok());
  b.BlockCommitted();  // "a" is listed twice among the dropped keys and once in the block
  EXPECT_EQ(Scan(b, ""), "b=1;z=1;");
  b.Set("a", "4");
  b.FinishCrank(nullptr);
  EXPECT_EQ(BlockWithBase(b), "a=4/unknown;");
}

TEST(CrankBufferTest, KeyDroppedTwiceIsForgottenOnce) {
  auto store = NewMemKvStore();
  CrankBuffer b(store.get());
  for (int round = 0; round < 2; ++round) {
    if (round == 0) {
      b.Create("a", "1");
    } else {
      b.Set("a", "2");
    }
    b.FinishCrank(nullptr);
    b.Delete("a");
    b.FinishCrank(nullptr);
    EXPECT_EQ(BlockWithBase(b), "") << round;
  }
  EXPECT_TRUE(b.BlockBatch().empty());
  b.BlockCommitted();
  EXPECT_FALSE(b.Get("a").has_value());
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

// Random operations on the buffer against a plain model of its three layers, with keys on both
// sides of the node's inline-key limit and values on both sides of std::string's inline limit.
TEST(CrankBufferTest, RandomOperationsMatchAModelOfTheLayers) {
  using Layer = std::map<std::string, std::optional<std::string>>;  // nullopt: deleted
  const std::vector<std::string> keys = {
      "a.1", "a.2", "a.33", "b.1", "b.2",
      std::string("a.") + std::string(38, 'x'),  // 40 bytes: the longest inline key
      std::string("a.") + std::string(39, 'y'),  // 41: on the heap
      std::string("b.") + std::string(70, 'z'),
  };
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    std::mt19937 rng(seed);
    auto store = NewMemKvStore();
    CrankBuffer b(store.get());
    std::map<std::string, std::string> committed;
    Layer block, crank;
    std::vector<std::pair<size_t, Layer>> marks;  // savepoint and the crank layer then
    int fresh = 0;
    auto value = [&]() {
      std::string v = StrCat("v", rng() % 1000);
      if (rng() % 3 == 0) v += std::string(40, 'L');
      return v;
    };
    auto expected = [&](const std::string& k) -> std::optional<std::string> {
      if (auto it = crank.find(k); it != crank.end()) return it->second;
      if (auto it = block.find(k); it != block.end()) return it->second;
      if (auto it = committed.find(k); it != committed.end()) return it->second;
      return std::nullopt;
    };
    auto fold = [](const Layer& from, Layer* into) {
      for (const auto& [k, v] : from) (*into)[k] = v;
    };
    for (int step = 0; step < 4000; ++step) {
      const std::string& k = keys[rng() % keys.size()];
      switch (rng() % 12) {
        case 0:
        case 1:
        case 2:
          ASSERT_EQ(b.Get(k), expected(k)) << "seed " << seed << " step " << step << " " << k;
          break;
        case 3:
        case 4: {
          std::string v = value();
          b.Set(k, v);
          crank[k] = v;
          break;
        }
        case 5:
          b.Delete(k);
          crank[k] = std::nullopt;
          break;
        case 6: {  // a key nobody has used: Create may assume it absent
          std::string nk = StrCat(rng() % 2 ? "a.new" : "b.new-and-longer-than-forty-bytes-", ++fresh);
          std::string v = value();
          b.Create(nk, v);
          crank[nk] = v;
          break;
        }
        case 7:
          marks.emplace_back(b.SavePoint(), crank);
          break;
        case 8:
          if (!marks.empty()) {
            size_t i = rng() % marks.size();
            b.RollbackTo(marks[i].first);
            crank = marks[i].second;
            marks.resize(i);
          }
          break;
        case 9: {
          std::vector<KvWrite> writes;
          b.FinishCrank(&writes);
          Layer got;
          for (const KvWrite& w : writes) got[w.key] = w.value;
          ASSERT_EQ(got, crank) << "seed " << seed << " step " << step;
          fold(crank, &block);
          crank.clear();
          marks.clear();
          break;
        }
        case 10: {
          if (!crank.empty()) break;  // commit only between cranks
          // Bases, where known, are the committed values.
          b.VisitBlockWithBase([&](std::string_view key, const std::optional<std::string>& v,
                                   const std::optional<std::string>* base) {
            std::string ks(key);
            EXPECT_EQ(v, block.at(ks)) << ks;
            if (base) {
              auto it = committed.find(ks);
              EXPECT_EQ(*base, it == committed.end() ? std::nullopt
                                                     : std::optional<std::string>(it->second))
                  << ks;
            }
          });
          KvBatch batch = b.BlockBatch();
          for (const KvWrite& w : batch) EXPECT_EQ(w.value, block.at(w.key)) << w.key;
          ASSERT_TRUE(store->Write(batch, true).ok());
          b.BlockCommitted();
          for (const auto& [bk, bv] : block) {
            if (bv) {
              committed[bk] = *bv;
            } else {
              committed.erase(bk);
            }
          }
          block.clear();
          // A left-out delete must be of a key the store does not have.
          for (const auto& [ck, cv] : committed) {
            auto got = store->Get(ck);
            ASSERT_TRUE(got.ok() && *got == std::optional<std::string>(cv)) << ck;
          }
          break;
        }
        default: {
          std::string prefix = rng() % 2 ? "a." : "b.";
          std::string want;
          Layer merged;
          for (const auto& [ck, cv] : committed) merged[ck] = cv;
          fold(block, &merged);
          fold(crank, &merged);
          for (const auto& [mk, mv] : merged) {
            if (mv && mk.rfind(prefix, 0) == 0) want += mk + "=" + *mv + ";";
          }
          ASSERT_EQ(Scan(b, prefix), want) << "seed " << seed << " step " << step;
          break;
        }
      }
    }
  }
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

// EntryRefs (and the kernel's memo of them) stay usable exactly while epoch() is unchanged:
// writes, rollbacks and finished cranks keep it; a commit that erases entries and an abort
// change it.
TEST(CrankBufferTest, EpochChangesOnlyWhenEntriesAreErased) {
  auto store = NewMemKvStore();
  CrankBuffer b(store.get());
  const uint64_t e0 = b.epoch();
  CrankBuffer::EntryRef r = b.Ref("k");
  b.Set(r, "1");
  const size_t mark = b.SavePoint();
  b.Delete(r);
  b.RollbackTo(mark);
  b.FinishCrank(nullptr);
  EXPECT_EQ(b.epoch(), e0);
  ASSERT_NE(b.Find(r), nullptr);
  EXPECT_EQ(*b.Find(r), "1");
  ASSERT_TRUE(store->Write(b.BlockBatch(), true).ok());
  b.BlockCommitted();  // "k" has a value: nothing erased
  EXPECT_EQ(b.epoch(), e0);
  EXPECT_EQ(*b.Find(r), "1");
  b.Delete(r);
  b.FinishCrank(nullptr);
  ASSERT_TRUE(store->Write(b.BlockBatch(), true).ok());
  b.BlockCommitted();  // erases "k"
  const uint64_t e1 = b.epoch();
  EXPECT_NE(e1, e0);
  b.Set("k", "2");
  b.FinishCrank(nullptr);
  b.AbortBlock();
  EXPECT_NE(b.epoch(), e1);
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
