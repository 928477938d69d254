// Determinism (docs/DESIGN.md §5): two swingsetd processes on separate data dirs, fed identical
// blocks, return identical hashes, mailboxes, results and settlements every block, and end with
// identical consensus state.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/key_schema.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

// The consensus-relevant part of an EndBlock response (stats_json holds wall time).
std::string Consensus(v1::EndBlockResponse r) {
  r.clear_stats_json();
  std::string out;
  r.SerializeToString(&out);
  return out;
}

// Every consensus key and value, read through Inspect.ScanKV.
std::string ConsensusDump(ServerProcess* s) {
  std::string out;
  v1::ScanKVRequest req;
  req.set_page_size(1000);
  for (;;) {
    v1::ScanKVResponse resp;
    grpc::Status st = s->inspect()->ScanKV(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    for (const v1::KVEntry& e : resp.entries()) {
      if (keys::IsConsensusKey(e.key())) out += e.key() + "=" + e.value() + "\n";
    }
    if (!st.ok() || resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

struct PairOptions {
  bool js = false;                      // the demo's JavaScript vats instead of scripted ones
  std::vector<std::string> b_args = {};  // extra swingsetd flags for server b
};

void RunPair(uint64_t seed, uint64_t max_cranks, int64_t blocks, const PairOptions& opt = {}) {
  std::string dir = MakeTempDir("determinism");
  auto a = ServerProcess::Start({.data_dir = dir + "/a"});
  auto b = ServerProcess::Start({.data_dir = dir + "/b", .extra_args = opt.b_args});
  ASSERT_TRUE(a.ok() && b.ok());
  v1::Genesis genesis =
      opt.js ? JsGenesis(DemoVatsDir(), max_cranks) : ScriptedGenesis(max_cranks);
  v1::InitResponse ia, ib;
  ASSERT_TRUE(InitWith((*a)->lifecycle(), genesis, &ia).ok());
  ASSERT_TRUE(InitWith((*b)->lifecycle(), genesis, &ib).ok());
  ASSERT_EQ(ia.state_hash(), ib.state_hash());
  int mailbox_blocks = 0, settled = 0;
  for (int64_t h = 1; h <= blocks; ++h) {
    v1::EndBlockRequest req = RandomBlock(seed, h, {.max_actions = 12, .inbound = true});
    BlockResult ra = RunBlock((*a)->lifecycle(), req);
    BlockResult rb = RunBlock((*b)->lifecycle(), req);
    ASSERT_TRUE(ra.status.ok()) << ra.failed_call << ": " << ra.status.error_message();
    ASSERT_TRUE(rb.status.ok()) << rb.failed_call << ": " << rb.status.error_message();
    EXPECT_EQ(ra.end.state_hash(), rb.end.state_hash()) << "height " << h;
    EXPECT_EQ(ra.end.activity_hash(), rb.end.activity_hash()) << "height " << h;
    EXPECT_EQ(DescribeMailboxes(ra.end), DescribeMailboxes(rb.end)) << "height " << h;
    EXPECT_EQ(Consensus(ra.end), Consensus(rb.end)) << "height " << h;
    EXPECT_EQ(ra.commit.state_hash(), rb.commit.state_hash());
    if (ra.end.mailboxes_size() > 0) ++mailbox_blocks;
    settled += ra.end.settled_size();
  }
  // The blocks did exercise mailboxes and host results.
  EXPECT_GT(mailbox_blocks, blocks / 4);
  EXPECT_GT(settled, blocks);
  EXPECT_EQ(ConsensusDump(a->get()), ConsensusDump(b->get()));
  a->reset();
  b->reset();
  RemoveDir(dir);
}

TEST(DeterminismTest, TwoServersSameBlocksSameHashesAndMailboxes) { RunPair(5, 0, 30); }

TEST(DeterminismTest, TwoServersAgreeUnderACrankBudget) { RunPair(6, 7, 30); }

// The demo's JS vats (SpiderMonkey), with server b forcing GCs before every delivery under a
// small heap: GC is only observed at bringOutYourDead, so nothing may differ.
TEST(DeterminismTest, JsVatsAgreeUnderForcedGCs) {
  RunPair(7, 0, 16,
          {.js = true,
           .b_args = {"--js-heap-limit-mib", "64", "--testing-extra-gcs-per-delivery", "2"}});
}

TEST(DeterminismTest, DifferentBlocksGiveDifferentHashes) {
  // The comparison above can fail: a different block stream changes the hash.
  std::string dir = MakeTempDir("determinism-neg");
  auto a = ServerProcess::Start({.data_dir = dir + "/a"});
  auto b = ServerProcess::Start({.data_dir = dir + "/b"});
  ASSERT_TRUE(a.ok() && b.ok());
  v1::InitResponse init;
  ASSERT_TRUE(InitWith((*a)->lifecycle(), ScriptedGenesis(), &init).ok());
  ASSERT_TRUE(InitWith((*b)->lifecycle(), ScriptedGenesis(), &init).ok());
  v1::EndBlockRequest r1;
  r1.set_height(1);
  *r1.add_actions() = CallVat(1, "counter", "increment", "[1]");
  v1::EndBlockRequest r2 = r1;
  r2.mutable_actions(0)->mutable_call_vat()->set_args_json("[2]");
  BlockResult ra = RunBlock((*a)->lifecycle(), r1);
  BlockResult rb = RunBlock((*b)->lifecycle(), r2);
  ASSERT_TRUE(ra.status.ok() && rb.status.ok());
  EXPECT_NE(ra.end.state_hash(), rb.end.state_hash());
  a->reset();
  b->reset();
  RemoveDir(dir);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
