// StateCommitment: the per-block state hash is the consensus LtHash of the committed store plus
// the block's writes, computed without scanning the store (no iterator is ever opened), and it
// agrees with the consensus full recompute after every commit.

#include "server/state_commitment.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "consensus/state_hash.h"
#include "kernel/storage/mem_kv_store.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

// A KvStore that counts reads and iterators, around an in-memory store.
class CountingStore : public KvStore {
 public:
  CountingStore() : inner_(NewMemKvStore()) {}
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    ++gets;
    return inner_->Get(key);
  }
  std::unique_ptr<KvIterator> NewIterator() const override {
    ++iterators;
    return inner_->NewIterator();
  }
  absl::Status Write(const KvBatch& batch, bool sync) override {
    return inner_->Write(batch, sync);
  }
  std::unique_ptr<KvSnapshot> GetSnapshot() const override { return inner_->GetSnapshot(); }

  mutable int gets = 0;
  mutable int iterators = 0;

 private:
  std::unique_ptr<KvStore> inner_;
};

// One block: `writes` (sorted by key) hashed, then committed with the host writes. With
// `pass_base`, each write carries the key's committed value (as the kernel passes the values it
// has read), so no store read is needed.
std::string CommitBlock(CountingStore* store, StateCommitment* sc,
                        const std::map<std::string, std::optional<std::string>>& writes,
                        bool pass_base = false) {
  KvBatch host;
  absl::StatusOr<std::string> digest = sc->Prepare(
      [&](const StateWriteWithBaseVisitor& fn) {
        for (const auto& [k, v] : writes) {
          if (!pass_base) {
            fn(k, v, nullptr);
            continue;
          }
          absl::StatusOr<std::optional<std::string>> base = store->Get(k);
          --store->gets;  // the test's own read, not the commitment's
          fn(k, v, &*base);
        }
      },
      &host);
  EXPECT_TRUE(digest.ok()) << digest.status();
  KvBatch batch;
  for (const auto& [k, v] : writes) batch.push_back(KvWrite{k, v});
  for (KvWrite& w : host) batch.push_back(std::move(w));
  EXPECT_TRUE(store->Write(batch, true).ok());
  sc->Committed();
  return *digest;
}

std::string FullRecompute(const KvStore& store) {
  absl::StatusOr<LtHash16> h = ComputeStateHash(*store.GetSnapshot());
  EXPECT_TRUE(h.ok());
  return h->DigestHex();
}

TEST(StateCommitmentTest, PerBlockHashIsIncrementalAndMatchesFullRecompute) {
  CountingStore store;
  StateCommitment sc(&store);
  ASSERT_TRUE(sc.Load().ok());
  EXPECT_EQ(sc.committed_digest(), LtHash16().DigestHex());

  // Block 1 fills 2,000 keys; later blocks touch a few keys on top of them.
  std::map<std::string, std::optional<std::string>> fill;
  for (int i = 0; i < 2000; ++i) fill[StrCat("ko", 1000 + i, ".owner")] = StrCat("v", i % 7);
  fill["local.stats"] = "not hashed";
  std::string h1 = CommitBlock(&store, &sc, fill);
  EXPECT_EQ(h1, FullRecompute(store));

  store.gets = 0;
  store.iterators = 0;
  std::string h2 = CommitBlock(&store, &sc,
                               {{"ko1005.owner", std::string("v9")},  // overwrite
                                {"ko1006.owner", std::nullopt},       // delete
                                {"ko9999.owner", std::string("v1")},  // insert
                                {"local.x", std::string("y")}});      // not consensus
  EXPECT_EQ(store.iterators, 0) << "the per-block hash must not scan the store";
  EXPECT_EQ(store.gets, 3) << "one read of the old value per consensus write";
  EXPECT_NE(h2, h1);
  EXPECT_EQ(h2, FullRecompute(store));
  EXPECT_EQ(sc.committed_digest(), h2);

  // Undoing the block's changes brings the earlier hash back (it depends on state only); with
  // the committed values passed along, the store is not read at all.
  store.gets = 0;
  std::string h3 = CommitBlock(&store, &sc,
                               {{"ko1005.owner", std::string("v5")},
                                {"ko1006.owner", std::string("v6")},
                                {"ko9999.owner", std::nullopt}},
                               /*pass_base=*/true);
  EXPECT_EQ(h3, h1);
  EXPECT_EQ(store.gets, 0);
  EXPECT_EQ(store.iterators, 0);

  // A restart reads the committed lanes back.
  StateCommitment reopened(&store);
  ASSERT_TRUE(reopened.Load().ok());
  EXPECT_EQ(reopened.committed_digest(), h3);
  bool matches = false;
  std::ostringstream out;
  ASSERT_TRUE(VerifyState(store, out, &matches).ok());
  EXPECT_TRUE(matches) << out.str();
}

TEST(StateCommitmentTest, AbandonedBlockLeavesTheCommittedHash) {
  CountingStore store;
  StateCommitment sc(&store);
  ASSERT_TRUE(sc.Load().ok());
  std::string h1 = CommitBlock(&store, &sc, {{"a", std::string("1")}});
  KvBatch host;
  ASSERT_TRUE(
      sc.Prepare([](const StateWriteWithBaseVisitor& fn) { fn("b", std::string("2"), nullptr); },
                 &host)
          .ok());
  ASSERT_EQ(host.size(), 2u);
  sc.Abandon();
  EXPECT_EQ(sc.committed_digest(), h1);
  // Unsorted writes are refused and leave nothing prepared.
  KvBatch host2;
  EXPECT_FALSE(sc.Prepare(
                     [](const StateWriteWithBaseVisitor& fn) {
                       fn("b", std::string("2"), nullptr);
                       fn("a", std::string("2"), nullptr);
                     },
                     &host2)
                   .ok());
  EXPECT_EQ(sc.committed_digest(), h1);
}

TEST(StateCommitmentTest, InconsistentStoredHashIsDataLoss) {
  CountingStore store;
  ASSERT_TRUE(store.Write({KvWrite{std::string(kStateHashKey), std::string(64, '0')}}, true).ok());
  StateCommitment sc(&store);
  EXPECT_EQ(sc.Load().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace swingset
