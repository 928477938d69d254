#include "kernel/key_index.h"

#include <map>
#include <random>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

// Few distinct hashes: long probe runs, runs that wrap around the table's end, and many equal
// stored hashes that only the key comparison tells apart.
struct CollidingHash {
  uint64_t operator()(std::string_view key) const { return KeyHash{}(key) % 7; }
};

template <typename Index>
void CheckAgainstReference(uint32_t seed) {
  Index index;
  std::map<std::string, typename Index::Node*> ref;
  std::mt19937 rng(seed);
  for (int step = 0; step < 20000; ++step) {
    std::string key = StrCat("k", rng() % 600);
    const uint64_t h = Index::HashOf(key);
    switch (rng() % 3) {
      case 0: {  // insert or find
        typename Index::Node* n = index.FindOrInsert(key, h);
        ASSERT_EQ(n->key(), key);
        auto [it, inserted] = ref.emplace(key, n);
        if (inserted) {
          n->second = step;
        } else {
          ASSERT_EQ(it->second, n) << "node moved or duplicated for " << key;
        }
        break;
      }
      case 1: {  // erase
        auto it = ref.find(key);
        if (it == ref.end()) break;
        index.Erase(it->second);
        ref.erase(it);
        break;
      }
      default:
        break;
    }
    ASSERT_EQ(index.size(), ref.size());
    if (step % 500 == 0) {
      for (int k = 0; k < 600; ++k) {
        std::string probe = StrCat("k", k);
        auto it = ref.find(probe);
        typename Index::Node* found = index.Find(probe, Index::HashOf(probe));
        ASSERT_EQ(found, it == ref.end() ? nullptr : it->second) << probe;
        if (found) {
          index.PrefetchSlot(Index::HashOf(probe));  // hints: no effect
          index.PrefetchNode(Index::HashOf(probe));
          index.PrefetchKeyChars(Index::HashOf(probe));
        }
      }
    }
  }
  index.Clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.Find("k1", Index::HashOf("k1")), nullptr);
}

TEST(KeyIndexTest, KeyHashMixesEveryByteAndTheLength) {
  // For every length up to 80 (the short-key paths and several 16-byte blocks), the key and
  // each variant with one byte changed hash differently: a byte the hash skipped would give
  // equal hashes. Keys that differ only in length (a zero byte appended) too.
  KeyHash hash;
  std::set<uint64_t> seen;
  size_t keys = 0;
  for (size_t len = 0; len <= 80; ++len) {
    std::string base(len, '\0');
    for (size_t i = 0; i < len; ++i) base[i] = static_cast<char>('a' + i % 26);
    EXPECT_EQ(hash(base), hash(std::string(base))) << "not a function of the bytes";
    seen.insert(hash(base));
    ++keys;
    for (size_t i = 0; i < len; ++i) {
      std::string k = base;
      k[i] = static_cast<char>(k[i] ^ 0x01);
      seen.insert(hash(k));
      ++keys;
    }
  }
  std::set<uint64_t> zeros;
  for (size_t len = 0; len <= 80; ++len) zeros.insert(hash(std::string(len, '\0')));
  EXPECT_EQ(seen.size(), keys);
  EXPECT_EQ(zeros.size(), 81u);
}

TEST(KeyIndexTest, MatchesAReferenceMapUnderRandomInsertsAndErases) {
  for (uint32_t seed : {1u, 2u, 3u}) CheckAgainstReference<KeyIndex<int>>(seed);
}

TEST(KeyIndexTest, CollidingHashesKeepEveryKeyReachableAcrossErases) {
  for (uint32_t seed : {4u, 5u}) CheckAgainstReference<KeyIndex<int, CollidingHash>>(seed);
}

TEST(KeyIndexTest, InlineAndHeapKeysAndNodeStabilityAcrossGrowthAndErase) {
  // 37 characters plus 1 to 4 digits: keys on both sides of the inline limit.
  static_assert(KeyNode<std::string>::kInlineKey == 40);
  KeyIndex<std::string> index;
  std::vector<KeyIndex<std::string>::Node*> nodes;
  for (int i = 0; i < 5000; ++i) {
    std::string key = StrCat("a-key-longer-than-fifteen-characters.", i);
    nodes.push_back(index.FindOrInsert(key, index.HashOf(key)));
    nodes.back()->second = key;
    EXPECT_EQ(nodes.back()->KeyInline(), key.size() <= 40) << key;
  }
  // Erasing every other node frees cells that new nodes reuse; the others stay put.
  for (int i = 0; i < 5000; i += 2) index.Erase(nodes[i]);
  for (int i = 0; i < 2500; ++i) {
    std::string key = StrCat("new.", i);
    index.FindOrInsert(key, index.HashOf(key))->second = key;
  }
  EXPECT_EQ(index.size(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    std::string key = StrCat("a-key-longer-than-fifteen-characters.", i);
    if (i % 2 == 0) {
      EXPECT_EQ(index.Find(key, index.HashOf(key)), nullptr);
      continue;
    }
    EXPECT_EQ(index.Find(key, index.HashOf(key)), nodes[i]);
    EXPECT_EQ(nodes[i]->key(), key);
    EXPECT_EQ(nodes[i]->second, key);
  }
  for (int i = 0; i < 2500; ++i) {
    std::string key = StrCat("new.", i);
    ASSERT_NE(index.Find(key, index.HashOf(key)), nullptr);
    EXPECT_EQ(index.Find(key, index.HashOf(key))->second, key);
  }
}

}  // namespace
}  // namespace swingset
