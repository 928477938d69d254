#include "consensus/lthash.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace swingset {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

LtHash16 HashOf(const Entries& entries) {
  LtHash16 h;
  for (const auto& [k, v] : entries) h.Add(k, v);
  return h;
}

// The golden vectors below were computed once with this implementation and cross-checked with
// an independent Python implementation of docs/STATE_HASH.md (hashlib.shake_256 / sha256).
// They pin the encoding: if one changes, the state hash of every chain changes.
constexpr char kEmptyDigest[] = "e5a00aa9991ac8a5ee3109844d84a55583bd20572ad3ffcd42792f3c36b183ad";

const Entries& GoldenEntries() {
  static const Entries* entries = new Entries{
      {"v1.c.ko20", "R o+0"},
      {"ko20.owner", "v1"},
      {"ko20.refCount", "1,1"},
      {"kp40.state", "unresolved"},
      {"runQueue.1", R"({"type":"send"})"},
  };
  return *entries;
}

TEST(LtHashTest, EntryBytesAreLengthPrefixedLittleEndian) {
  using namespace std::string_literals;
  EXPECT_EQ(LtHashEntryBytes("ab", "c"), "\x02\0\0\0\0\0\0\0ab\x01\0\0\0\0\0\0\0c"s);
  EXPECT_EQ(LtHashEntryBytes("", ""), std::string(16, '\0'));
  std::string k(258, 'k');
  std::string bytes = LtHashEntryBytes(k, "");
  ASSERT_EQ(bytes.size(), 8 + 258 + 8u);
  EXPECT_EQ(bytes.substr(0, 8), "\x02\x01\0\0\0\0\0\0"s);
}

TEST(LtHashTest, EmptySet) {
  LtHash16 h;
  EXPECT_TRUE(h.IsEmpty());
  EXPECT_EQ(h.Serialize(), std::string(LtHash16::kSerializedSize, '\0'));
  EXPECT_EQ(h.DigestHex(), kEmptyDigest);
}

TEST(LtHashTest, GoldenVectors) {
  LtHash16 one;
  one.Add("a", "1");
  EXPECT_EQ(one.DigestHex(), "b15b47713a08711d21b616e7da5e0e99f8e9a702c89e2164a896fccef2ce93e5");
  EXPECT_EQ(one.lane(0), 55619);
  EXPECT_EQ(one.lane(1), 40589);
  EXPECT_EQ(one.lane(2), 47379);
  EXPECT_EQ(one.lane(3), 51759);

  LtHash16 empty_entry;
  empty_entry.Add("", "");
  EXPECT_EQ(empty_entry.DigestHex(),
            "f281a9d279deca9ebfef8cb6b790bf394c0c2affd025bde5297afd22a9b96125");

  LtHash16 five = HashOf(GoldenEntries());
  EXPECT_EQ(five.DigestHex(), "65a3fad8fb71bb9f6eb03c71bb17d1aad9782cf63fc6a1052a8c4ee7046b0847");
  EXPECT_EQ(five.lane(0), 35844);
  EXPECT_EQ(five.lane(1), 4885);
  EXPECT_EQ(five.lane(2), 63523);
  EXPECT_EQ(five.lane(3), 19672);
  EXPECT_EQ(five.lane(1022), 42631);
  EXPECT_EQ(five.lane(1023), 6644);
}

TEST(LtHashTest, LengthFramingSeparatesKeyFromValue) {
  LtHash16 a, b;
  a.Add("ab", "c");
  b.Add("a", "bc");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.DigestHex(), "55cabaf7e84ec3872ec598f51a6e0f11e199c2437bb828d7d9296e5920359216");
  EXPECT_EQ(b.DigestHex(), "be7f6ea6521f26b05853c6e2b9787b6c38ae85ec3c5c6673f0de14ad4f098271");
}

Entries RandomEntries(std::mt19937_64& rng, int n) {
  Entries out;
  for (int i = 0; i < n; ++i) {
    std::string k = "key" + std::to_string(rng() % 100000);
    std::string v(rng() % 300, '\0');
    for (char& c : v) c = static_cast<char>(rng());
    out.emplace_back(std::move(k), std::move(v));
  }
  return out;
}

TEST(LtHashTest, OrderIndependent) {
  std::mt19937_64 rng(7);
  Entries entries = RandomEntries(rng, 200);
  LtHash16 base = HashOf(entries);
  EXPECT_FALSE(base.IsEmpty());
  for (int round = 0; round < 5; ++round) {
    std::shuffle(entries.begin(), entries.end(), rng);
    EXPECT_EQ(HashOf(entries), base);
  }
  // Interleaving removes with adds does not matter either.
  LtHash16 h = base;
  h.Remove(entries[3].first, entries[3].second);
  h.Add("extra", "x");
  h.Remove(entries[10].first, entries[10].second);
  h.Add(entries[3].first, entries[3].second);
  h.Remove("extra", "x");
  h.Add(entries[10].first, entries[10].second);
  EXPECT_EQ(h, base);
}

TEST(LtHashTest, AddThenRemoveIsIdentity) {
  std::mt19937_64 rng(11);
  Entries entries = RandomEntries(rng, 100);
  LtHash16 h;
  for (const auto& [k, v] : entries) h.Add(k, v);
  EXPECT_FALSE(h.IsEmpty());
  std::shuffle(entries.begin(), entries.end(), rng);
  for (const auto& [k, v] : entries) h.Remove(k, v);
  EXPECT_TRUE(h.IsEmpty());
  EXPECT_EQ(h.DigestHex(), kEmptyDigest);

  // Remove before Add also cancels (lanes wrap below zero and back).
  LtHash16 g;
  g.Remove("k", "v");
  EXPECT_FALSE(g.IsEmpty());
  g.Add("k", "v");
  EXPECT_TRUE(g.IsEmpty());
}

TEST(LtHashTest, IsAMultisetHash) {
  LtHash16 once, twice;
  once.Add("k", "v");
  twice.Add("k", "v");
  twice.Add("k", "v");
  EXPECT_NE(once, twice);
  twice.Remove("k", "v");
  EXPECT_EQ(once, twice);

  LtHash16 other_value;
  other_value.Add("k", "w");
  EXPECT_NE(once, other_value);
}

TEST(LtHashTest, LanesWrapModulo65536) {
  // Adding the same element 2^16 times multiplies every lane by 2^16, i.e. 0 mod 2^16.
  LtHash16 h;
  for (int i = 0; i < 65535; ++i) h.Add("k", "v");
  EXPECT_FALSE(h.IsEmpty());
  LtHash16 minus_one;
  minus_one.Remove("k", "v");
  EXPECT_EQ(h, minus_one);
  h.Add("k", "v");
  EXPECT_TRUE(h.IsEmpty());
}

TEST(LtHashTest, SerializeRoundTripsAndIsLittleEndian) {
  LtHash16 h = HashOf(GoldenEntries());
  std::string bytes = h.Serialize();
  ASSERT_EQ(bytes.size(), LtHash16::kSerializedSize);
  for (size_t i = 0; i < LtHash16::kLanes; ++i) {
    ASSERT_EQ(static_cast<unsigned char>(bytes[2 * i]), h.lane(i) & 0xff) << i;
    ASSERT_EQ(static_cast<unsigned char>(bytes[2 * i + 1]), h.lane(i) >> 8) << i;
  }
  absl::StatusOr<LtHash16> back = LtHash16::Deserialize(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, h);
  EXPECT_EQ(back->DigestHex(), h.DigestHex());

  // One flipped byte is a different hash.
  bytes[777] ^= 0x01;
  absl::StatusOr<LtHash16> flipped = LtHash16::Deserialize(bytes);
  ASSERT_TRUE(flipped.ok());
  EXPECT_NE(*flipped, h);
  EXPECT_NE(flipped->DigestHex(), h.DigestHex());
}

TEST(LtHashTest, DeserializeRejectsWrongSize) {
  for (size_t n : {size_t{0}, size_t{2047}, size_t{2049}, size_t{4096}}) {
    absl::StatusOr<LtHash16> h = LtHash16::Deserialize(std::string(n, 'x'));
    ASSERT_FALSE(h.ok()) << n;
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(LtHashTest, BinaryAndLargeEntries) {
  using namespace std::string_literals;
  LtHash16 a, b;
  a.Add("k\0x"s, "v");
  b.Add("k"s, "v");
  EXPECT_NE(a, b);
  std::string big(1 << 20, 'z');
  LtHash16 c;
  c.Add("big", big);
  big.back() = 'y';
  LtHash16 d;
  d.Add("big", big);
  EXPECT_NE(c, d);
}

TEST(LtHashTest, SameResultOnEveryThread) {
  std::mt19937_64 rng(3);
  Entries entries = RandomEntries(rng, 300);
  LtHash16 expected = HashOf(entries);
  LtHash16 r1, r2;
  std::thread t1([&] { r1 = HashOf(entries); });
  std::thread t2([&] { r2 = HashOf(entries); });
  t1.join();
  t2.join();
  EXPECT_EQ(r1, expected);
  EXPECT_EQ(r2, expected);
}

// Entries whose canonical bytes (16 + key + value) fall on both sides of the SHAKE256 block
// boundaries (135, 271, ... bytes with the padding) and of the eight-way path's limit (eight
// blocks: 1,087 bytes), binary bytes and empty parts included.
Entries EntriesAroundOneBlock(std::mt19937_64& rng, int n) {
  Entries out;
  for (int i = 0; i < n; ++i) {
    size_t total = rng() % 4 == 0 ? rng() % 1200 : rng() % 160;  // key + value bytes
    size_t key_len = total == 0 ? 0 : rng() % (total + 1);
    std::string k(key_len, '\0'), v(total - key_len, '\0');
    for (char& c : k) c = static_cast<char>(rng());
    for (char& c : v) c = static_cast<char>(rng());
    out.emplace_back(std::move(k), std::move(v));
  }
  out.emplace_back("", "");
  out.emplace_back(std::string(119, 'k'), "");   // 135 bytes: the most one block holds
  out.emplace_back(std::string(120, 'k'), "");   // 136: two blocks
  out.emplace_back(std::string(1071, 'k'), "");  // 1,087: eight blocks, the eight-way limit
  out.emplace_back(std::string(1072, 'k'), "");  // 1,088: one at a time
  return out;
}

TEST(LtHashBatchTest, EqualsOneAtATimeOnBothPaths) {
  if (!LtHashBatch::SimdAvailable()) {
    std::printf("this CPU has no AVX-512F/BW: only the one-at-a-time path is compared\n");
  }
  std::mt19937_64 rng(7);
  for (int n : {0, 1, 7, 8, 9, 16, 100, 1001}) {
    Entries adds = EntriesAroundOneBlock(rng, n);
    Entries removes = EntriesAroundOneBlock(rng, n / 2);
    LtHash16 expected = HashOf(GoldenEntries());
    for (const auto& [k, v] : adds) expected.Add(k, v);
    for (const auto& [k, v] : removes) expected.Remove(k, v);
    for (bool simd : {true, false}) {
      LtHash16 got = HashOf(GoldenEntries());
      LtHashBatch batch(simd);
      // Interleaved, as a block's writes come: the order must not matter.
      size_t r = 0;
      for (size_t a = 0; a < adds.size(); ++a) {
        batch.Add(adds[a].first, adds[a].second);
        if (a % 2 == 1 && r < removes.size()) {
          batch.Remove(removes[r].first, removes[r].second);
          ++r;
        }
      }
      for (; r < removes.size(); ++r) batch.Remove(removes[r].first, removes[r].second);
      batch.ApplyTo(&got);
      EXPECT_EQ(got, expected) << "n=" << n << " simd=" << simd;
    }
  }
}

TEST(LtHashBatchTest, ApplyToEmptiesTheBatch) {
  for (bool simd : {true, false}) {
    LtHashBatch batch(simd);
    for (const auto& [k, v] : GoldenEntries()) batch.Add(k, v);
    LtHash16 first;
    batch.ApplyTo(&first);
    EXPECT_EQ(first, HashOf(GoldenEntries()));
    LtHash16 second;
    batch.ApplyTo(&second);  // nothing left
    EXPECT_TRUE(second.IsEmpty()) << "simd=" << simd;
    // And it keeps working after an ApplyTo: remove everything again.
    for (const auto& [k, v] : GoldenEntries()) batch.Remove(k, v);
    batch.ApplyTo(&first);
    EXPECT_TRUE(first.IsEmpty()) << "simd=" << simd;
    EXPECT_EQ(first.DigestHex(), kEmptyDigest);
  }
}

TEST(LtHashBatchTest, GoldenDigestThroughTheBatch) {
  // Every golden entry fits one block, so with AVX-512 this is the eight-way path alone.
  LtHash16 h;
  LtHashBatch batch;
  for (const auto& [k, v] : GoldenEntries()) batch.Add(k, v);
  batch.ApplyTo(&h);
  EXPECT_EQ(h, HashOf(GoldenEntries()));
}

}  // namespace
}  // namespace swingset
