#include "consensus/state_hash.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernel/key_schema.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/storage/mem_kv_store.h"

namespace swingset {
namespace {

using Model = std::map<std::string, std::string>;

constexpr char kEmptyDigest[] = "e5a00aa9991ac8a5ee3109844d84a55583bd20572ad3ffcd42792f3c36b183ad";
// LtHash16 of the five entries in lthash_test.cc's GoldenEntries.
constexpr char kGoldenDigest[] = "65a3fad8fb71bb9f6eb03c71bb17d1aad9782cf63fc6a1052a8c4ee7046b0847";

// Delegates to a store, counting Gets and failing those of one key.
class TestingKvStore : public KvStore {
 public:
  explicit TestingKvStore(KvStore* inner) : inner_(inner) {}
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    ++gets_;
    if (key == fail_key_) return absl::UnavailableError("injected read error");
    return inner_->Get(key);
  }
  std::unique_ptr<KvIterator> NewIterator() const override { return inner_->NewIterator(); }
  absl::Status Write(const KvBatch& batch, bool sync) override {
    return inner_->Write(batch, sync);
  }
  std::unique_ptr<KvSnapshot> GetSnapshot() const override { return inner_->GetSnapshot(); }

  mutable int gets_ = 0;
  std::string fail_key_ = "\xff-never";

 private:
  KvStore* inner_;
};

enum class StoreKind { kMemory, kLevelDb };

class StateHashTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void Open() {
    if (GetParam() == StoreKind::kMemory) {
      store_ = NewMemKvStore();
      return;
    }
    if (dir_.empty()) {
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      dir_ = ::testing::TempDir() + "/state_hash_test-" + std::to_string(::getpid()) + "-" +
             std::to_string(reinterpret_cast<uintptr_t>(info));
      std::filesystem::remove_all(dir_);
    }
    absl::StatusOr<std::unique_ptr<KvStore>> s = OpenLevelDbKvStore(dir_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  // Closes and reopens the store; only meaningful for LevelDB (memory stores start empty).
  void Reopen() {
    store_.reset();
    Open();
  }

  void Put(std::string_view k, std::string_view v) {
    ASSERT_TRUE(store_->Write({{std::string(k), std::string(v)}}, false).ok());
  }

  LtHash16 FullHash() {
    absl::StatusOr<LtHash16> h = ComputeStateHash(*store_->GetSnapshot());
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? *h : LtHash16();
  }

  // Applies writes through the state hash, then commits them with the new hash.
  void Commit(const KvBatch& writes, LtHash16* hash) {
    ASSERT_TRUE(ApplyWrites(*store_, writes, hash).ok());
    KvBatch all = writes;
    for (KvWrite& w : StateHashHostWrites(*hash)) all.push_back(std::move(w));
    ASSERT_TRUE(store_->Write(all, true).ok());
  }

  std::unique_ptr<KvStore> store_;
  std::string dir_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StateHashTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kLevelDb),
                         [](const ::testing::TestParamInfo<StoreKind>& p) {
                           return p.param == StoreKind::kMemory ? "Memory" : "LevelDb";
                         });

TEST_P(StateHashTest, EmptyAndGoldenStore) {
  EXPECT_EQ(FullHash().DigestHex(), kEmptyDigest);
  Put("v1.c.ko20", "R o+0");
  Put("ko20.owner", "v1");
  Put("ko20.refCount", "1,1");
  Put("kp40.state", "unresolved");
  Put("runQueue.1", R"({"type":"send"})");
  // Outside the hash:
  Put("local.kernelStats", "{}");
  Put("host.height", "12");
  EXPECT_EQ(FullHash().DigestHex(), kGoldenDigest);
}

TEST_P(StateHashTest, OnlyConsensusKeysAreHashed) {
  // Keys next to the local./host. ranges are consensus keys; the ranges themselves are not.
  const std::vector<std::string> consensus = {"a",      "host",    "host-",  "host/",
                                              "hostx",  "local",   "local-", "local/",
                                              "localx", "v1.vs.x", "\xff"};
  const std::vector<std::string> excluded = {
      "host.",  "host.a",     "host.stateHash",   "host.zzzzzz",
      "local.", "local.\xff", "local.kernelStats"};
  LtHash16 expected;
  for (const std::string& k : consensus) {
    Put(k, "v-" + k);
    expected.Add(k, "v-" + k);
  }
  EXPECT_EQ(FullHash(), expected);
  for (const std::string& k : excluded) Put(k, "x");
  EXPECT_EQ(FullHash(), expected);

  // ApplyWrites ignores them too, without reading them.
  TestingKvStore counting(store_.get());
  LtHash16 h = expected;
  KvBatch writes;
  for (const std::string& k : excluded) writes.push_back({k, std::string("changed")});
  std::sort(writes.begin(), writes.end(),
            [](const KvWrite& a, const KvWrite& b) { return a.key < b.key; });
  ASSERT_TRUE(ApplyWrites(counting, writes, &h).ok());
  EXPECT_EQ(h, expected);
  EXPECT_EQ(counting.gets_, 0);
}

TEST_P(StateHashTest, IncrementalEqualsFullRecompute) {
  std::mt19937_64 rng(20240601);
  std::vector<std::string> pool;
  for (int i = 0; i < 120; ++i)
    pool.push_back("v" + std::to_string(i % 7) + ".c.o+" + std::to_string(i));
  for (int i = 0; i < 60; ++i) pool.push_back("ko" + std::to_string(20 + i) + ".refCount");
  for (int i = 0; i < 30; ++i) pool.push_back("local.stat" + std::to_string(i));
  for (int i = 0; i < 30; ++i) pool.push_back("host.h" + std::to_string(i));
  for (const char* k : {"host", "host/", "local", "local/", ""}) pool.push_back(k);

  Model model;  // the consensus entries, maintained independently of the hash code
  LtHash16 hash;
  int inserts = 0, overwrites = 0, same_value = 0, deletes = 0, absent_deletes = 0;
  for (int block = 0; block < 60; ++block) {
    // Net writes in key order, as the kernel's block buffer yields them.
    std::map<std::string, std::optional<std::string>> writes;
    int n = 1 + static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) {
      const std::string& k = pool[rng() % pool.size()];
      auto current = model.find(k);
      uint64_t r = rng() % 100;
      if (r < 20) {
        writes[k] = std::nullopt;
      } else if (r < 30 && current != model.end()) {
        writes[k] = current->second;
      } else {
        std::string v(rng() % 40, '\0');
        for (char& c : v) c = static_cast<char>('a' + rng() % 26);
        writes[k] = v;
      }
    }
    LtHash16 before = hash;
    if (block % 2 == 0) {
      KvBatch batch;
      for (const auto& [k, v] : writes) batch.push_back({k, v});
      ASSERT_TRUE(ApplyWrites(*store_, batch, &hash).ok());
    } else {
      ASSERT_TRUE(ApplyWrites(
                      *store_,
                      [&writes](const StateWriteVisitor& fn) {
                        for (const auto& [k, v] : writes) fn(k, v);
                      },
                      &hash)
                      .ok());
    }
    KvBatch batch;
    for (const auto& [k, v] : writes) {
      batch.push_back({k, v});
      if (!keys::IsConsensusKey(k)) continue;
      auto it = model.find(k);
      if (!v) {
        ++(it == model.end() ? absent_deletes : deletes);
        if (it != model.end()) model.erase(it);
      } else if (it == model.end()) {
        ++inserts;
        model[k] = *v;
      } else {
        ++(it->second == *v ? same_value : overwrites);
        it->second = *v;
      }
    }
    ASSERT_TRUE(store_->Write(batch, false).ok());

    LtHash16 from_model;
    for (const auto& [k, v] : model) from_model.Add(k, v);
    ASSERT_EQ(hash, FullHash()) << "block " << block;
    ASSERT_EQ(hash, from_model) << "block " << block;
    if (block == 0) {
      EXPECT_NE(hash, before);
    }
  }
  // The random mix really covered every kind of write.
  EXPECT_GT(inserts, 50);
  EXPECT_GT(overwrites, 50);
  EXPECT_GT(same_value, 10);
  EXPECT_GT(deletes, 50);
  EXPECT_GT(absent_deletes, 10);
}

TEST_P(StateHashTest, ApplyWritesReadsOncePerConsensusWrite) {
  Put("a", "1");
  Put("b", "2");
  LtHash16 h = FullHash();
  TestingKvStore counting(store_.get());
  KvBatch writes = {{"a", std::string("1")},  // unchanged: no hash work
                    {"b", std::nullopt},      // delete
                    {"c", std::string("3")},  // insert
                    {"d", std::nullopt},      // delete of an absent key
                    {"local.x", std::string("y")}};
  ASSERT_TRUE(ApplyWrites(counting, writes, &h).ok());
  EXPECT_EQ(counting.gets_, 4);
  LtHash16 expected;
  expected.Add("a", "1");
  expected.Add("c", "3");
  EXPECT_EQ(h, expected);
}

TEST_P(StateHashTest, ApplyWritesRejectsUnsortedOrRepeatedKeys) {
  Put("a", "1");
  const LtHash16 start = FullHash();
  for (const KvBatch& bad : {KvBatch{{"b", std::string("x")}, {"a", std::string("y")}},
                             KvBatch{{"a", std::string("x")}, {"a", std::nullopt}},
                             KvBatch{{"local.z", std::string("x")}, {"local.a", std::nullopt}}}) {
    LtHash16 h = start;
    absl::Status s = ApplyWrites(*store_, bad, &h);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(h, start);  // untouched, even though the first write was valid
  }
}

TEST_P(StateHashTest, ApplyWritesLeavesHashUnchangedOnReadError) {
  Put("a", "1");
  const LtHash16 start = FullHash();
  TestingKvStore failing(store_.get());
  failing.fail_key_ = "m";
  LtHash16 h = start;
  absl::Status s = ApplyWrites(failing, {{"a", std::string("2")}, {"m", std::string("3")}}, &h);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(h, start);
}

TEST_P(StateHashTest, ApplyWritesAgainstSnapshot) {
  Put("a", "1");
  LtHash16 h = FullHash();
  std::unique_ptr<KvSnapshot> snap = store_->GetSnapshot();
  Put("a", "changed-after-snapshot");
  ASSERT_TRUE(ApplyWrites(
                  *snap, [](const StateWriteVisitor& fn) { fn("a", std::string("2")); }, &h)
                  .ok());
  LtHash16 expected;
  expected.Add("a", "2");
  EXPECT_EQ(h, expected);
}

TEST_P(StateHashTest, ProgressIsReported) {
  Put("a", "1");
  Put("local.a", "1");
  Put("b", "2");
  std::vector<uint64_t> calls;
  absl::StatusOr<LtHash16> h =
      ComputeStateHash(*store_->GetSnapshot(), [&](uint64_t n) { calls.push_back(n); });
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(calls, std::vector<uint64_t>{2});
}

TEST(ComputeStateHashTest, ProgressEveryInterval) {
  std::unique_ptr<KvStore> store = NewMemKvStore();
  KvBatch batch;
  for (uint64_t i = 0; i < kStateHashProgressInterval + 5; ++i) {
    batch.push_back({"k" + std::to_string(i), std::string("v")});
  }
  batch.push_back({"host.x", std::string("v")});
  ASSERT_TRUE(store->Write(batch, false).ok());
  std::vector<uint64_t> calls;
  ASSERT_TRUE(
      ComputeStateHash(*store->GetSnapshot(), [&](uint64_t n) { calls.push_back(n); }).ok());
  EXPECT_EQ(calls,
            (std::vector<uint64_t>{kStateHashProgressInterval, kStateHashProgressInterval + 5}));
}

TEST_P(StateHashTest, StoredHashRoundTripsAndSurvivesReopen) {
  std::unique_ptr<KvSnapshot> empty_snap = store_->GetSnapshot();
  absl::StatusOr<std::optional<LtHash16>> none = ReadStoredStateHash(*empty_snap);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  empty_snap.reset();

  LtHash16 h;
  Commit({{"ko20.owner", std::string("v1")}, {"v1.c.ko20", std::string("R o+0")}}, &h);
  EXPECT_EQ(*store_->Get(kStateHashKey).value(), h.DigestHex());
  EXPECT_EQ(*store_->Get(kStateHashLanesKey).value(), h.Serialize());
  if (GetParam() == StoreKind::kLevelDb) Reopen();
  absl::StatusOr<std::optional<LtHash16>> stored = ReadStoredStateHash(*store_->GetSnapshot());
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ(**stored, h);
  EXPECT_EQ(**stored, FullHash());
}

TEST_P(StateHashTest, ReadStoredStateHashDetectsDamage) {
  LtHash16 h;
  Commit({{"a", std::string("1")}}, &h);
  Put(kStateHashKey, LtHash16().DigestHex());  // digest no longer matches the lanes
  EXPECT_EQ(ReadStoredStateHash(*store_->GetSnapshot()).status().code(),
            absl::StatusCode::kDataLoss);
  ASSERT_TRUE(store_->Write({{std::string(kStateHashKey), std::nullopt}}, false).ok());
  EXPECT_EQ(ReadStoredStateHash(*store_->GetSnapshot()).status().code(),
            absl::StatusCode::kDataLoss);
  Put(kStateHashKey, h.DigestHex());
  Put(kStateHashLanesKey, "short");
  EXPECT_EQ(ReadStoredStateHash(*store_->GetSnapshot()).status().code(),
            absl::StatusCode::kDataLoss);
}

class VerifyStateTest : public StateHashTest {
 protected:
  // Commits a small kernel-like state through the incremental path.
  void BuildState() {
    LtHash16 h;
    Commit({{"ko20.owner", std::string("v1")},
            {"ko20.refCount", std::string("1,1")},
            {"local.kernelStats", std::string("{}")},
            {"v1.c.ko20", std::string("R o+0")},
            {"v1.c.o+0", std::string("ko20")}},
           &h);
    Commit({{"ko20.refCount", std::string("2,2")},
            {"kp40.state", std::string("unresolved")},
            {"v1.c.o+0", std::nullopt}},
           &h);
  }

  bool Verify(std::string* out = nullptr) {
    std::ostringstream os;
    bool matches = true;
    absl::Status s = VerifyState(*store_, os, &matches);
    EXPECT_TRUE(s.ok()) << s;
    if (out != nullptr) *out = os.str();
    return matches;
  }

  // Flips the lowest bit of byte `i` of the stored value of `key`, bypassing the hash.
  void FlipByte(std::string_view key, size_t i) {
    std::optional<std::string> v = store_->Get(key).value();
    ASSERT_TRUE(v.has_value()) << key;
    ASSERT_LT(i, v->size());
    (*v)[i] ^= 0x01;
    Put(key, *v);
  }
};

INSTANTIATE_TEST_SUITE_P(Stores, VerifyStateTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kLevelDb),
                         [](const ::testing::TestParamInfo<StoreKind>& p) {
                           return p.param == StoreKind::kMemory ? "Memory" : "LevelDb";
                         });

TEST_P(VerifyStateTest, MatchesAfterIncrementalCommits) {
  BuildState();
  if (GetParam() == StoreKind::kLevelDb) Reopen();
  std::string out;
  EXPECT_TRUE(Verify(&out));
  EXPECT_NE(out.find("verify-state: hashed 4 consensus keys"), std::string::npos) << out;
  EXPECT_NE(out.find("verify-state: OK"), std::string::npos) << out;
  EXPECT_NE(out.find(FullHash().DigestHex()), std::string::npos) << out;
}

TEST_P(VerifyStateTest, FlippedConsensusByteIsAMismatch) {
  BuildState();
  ASSERT_TRUE(Verify());
  FlipByte("ko20.refCount", 0);
  std::string out;
  EXPECT_FALSE(Verify(&out));
  EXPECT_NE(out.find("verify-state: MISMATCH"), std::string::npos) << out;
  FlipByte("ko20.refCount", 0);  // flip it back
  EXPECT_TRUE(Verify());
}

TEST_P(VerifyStateTest, ExtraOrMissingConsensusKeyIsAMismatch) {
  BuildState();
  Put("v1.c.o+9", "ko99");
  EXPECT_FALSE(Verify());
  ASSERT_TRUE(store_->Write({{"v1.c.o+9", std::nullopt}}, false).ok());
  EXPECT_TRUE(Verify());
  ASSERT_TRUE(store_->Write({{"kp40.state", std::nullopt}}, false).ok());
  EXPECT_FALSE(Verify());
}

TEST_P(VerifyStateTest, FlippedStoredLanesOrDigestIsAMismatch) {
  BuildState();
  FlipByte(kStateHashLanesKey, 1500);
  EXPECT_FALSE(Verify());
  FlipByte(kStateHashLanesKey, 1500);
  EXPECT_TRUE(Verify());
  FlipByte(kStateHashKey, 63);
  EXPECT_FALSE(Verify());
}

TEST_P(VerifyStateTest, NonConsensusChangesStillMatch) {
  BuildState();
  FlipByte("local.kernelStats", 0);
  Put("host.height", "99");
  Put("local.new", "x");
  EXPECT_TRUE(Verify());
}

TEST_P(VerifyStateTest, MissingOrMalformedStoredHashIsAnError) {
  Put("a", "1");
  std::ostringstream os;
  bool matches = true;
  absl::Status s = VerifyState(*store_, os, &matches);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_FALSE(matches);

  BuildState();
  Put(kStateHashLanesKey, std::string(2047, '\0'));
  matches = true;
  s = VerifyState(*store_, os, &matches);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_FALSE(matches);
}

TEST(StateHashWithBaseTest, KnownCommittedValuesSkipReadsAndGiveTheSameHash) {
  auto store = NewMemKvStore();
  KvBatch init = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  ASSERT_TRUE(store->Write(init, true).ok());
  LtHash16 base;
  ASSERT_TRUE(ApplyWrites(*NewMemKvStore(), init, &base).ok());
  KvBatch writes = {{"a", "10"}, {"b", std::nullopt}, {"d", "4"}};
  LtHash16 plain = base, with_base = base;
  ASSERT_TRUE(ApplyWrites(*store, writes, &plain).ok());
  std::optional<std::string> a_committed = "1";
  ASSERT_TRUE(ApplyWritesWithBase(
                  *store,
                  [&](const StateWriteWithBaseVisitor& fn) {
                    fn("a", writes[0].value, &a_committed);  // known: no read
                    fn("b", writes[1].value, nullptr);       // unknown: read
                    fn("d", writes[2].value, nullptr);
                  },
                  &with_base)
                  .ok());
  EXPECT_EQ(plain.DigestHex(), with_base.DigestHex());
  // A wrong committed value changes the result: the base really is used.
  std::optional<std::string> wrong = "999";
  LtHash16 bad = base;
  ASSERT_TRUE(ApplyWritesWithBase(
                  *store, [&](const StateWriteWithBaseVisitor& fn) { fn("a", writes[0].value, &wrong); },
                  &bad)
                  .ok());
  LtHash16 good = base;
  ASSERT_TRUE(ApplyWrites(*store, KvBatch{writes[0]}, &good).ok());
  EXPECT_NE(bad.DigestHex(), good.DigestHex());
}

}  // namespace
}  // namespace swingset
