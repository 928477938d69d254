// Storage failures (docs/DESIGN.md §7): swingsetd runs on a store that fails one chosen call
// (--store-faults: the N-th read, iterator step or write once serving, or every one from then
// on) as a broken disk would. The process must stop with the storage-failure status (74) and a
// message naming the failed call, without committing the block it was in; restarted on the
// healthy store it must be at its last commit, and re-driven from there every block's state
// hash must equal an undisturbed run's.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "kernel/base.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

constexpr uint64_t kSeed = 20261207;
constexpr int64_t kBlocks = 8;
const BlockMix kMix{.max_actions = 12, .inbound = true};

class StoreFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("store-fault"));
    ref_ = new std::map<int64_t, std::string>;
    auto server = ServerProcess::Start({.data_dir = *dir_ + "/ref"});
    ASSERT_TRUE(server.ok()) << server.status();
    v1::InitResponse init;
    ASSERT_TRUE(InitWith((*server)->lifecycle(), ScriptedGenesis(), &init).ok());
    (*ref_)[0] = init.state_hash();
    for (int64_t h = 1; h <= kBlocks; ++h) {
      BlockResult b = RunBlock((*server)->lifecycle(), RandomBlock(kSeed, h, kMix));
      ASSERT_TRUE(b.status.ok()) << b.failed_call << ": " << b.status.error_message();
      (*ref_)[h] = b.end.state_hash();
    }
  }
  static void TearDownTestSuite() {
    RemoveDir(*dir_);
    delete dir_;
    delete ref_;
  }

  // Runs the chain on a store failing as `spec` says, until the server stops; checks how it
  // stopped, restarts it on the healthy store and re-drives the rest. Returns the height of the
  // block the fault hit (0: in Init).
  int64_t FailAndRecover(const std::string& spec) {
    const std::string data = StrCat(*dir_, "/", spec);
    auto started = ServerProcess::Start({.data_dir = data, .extra_args = {"--store-faults", spec}});
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return -1;
    std::unique_ptr<ServerProcess> server = std::move(*started);
    int64_t committed = -1;  // the driver's view
    int64_t failed_at = -1;
    v1::InitResponse init;
    if (InitWith(server->lifecycle(), ScriptedGenesis(), &init).ok()) {
      committed = 0;
      for (int64_t h = 1; h <= kBlocks; ++h) {
        BlockResult b = RunBlock(server->lifecycle(), RandomBlock(kSeed, h, kMix));
        if (!b.status.ok()) {
          EXPECT_EQ(b.status.error_code(), grpc::StatusCode::UNAVAILABLE)
              << spec << ": " << b.failed_call << " at height " << h << ": "
              << b.status.error_message();
          failed_at = h;
          break;
        }
        EXPECT_EQ(b.end.state_hash(), ref_->at(h)) << spec << " height " << h;
        committed = h;
      }
    } else {
      failed_at = 0;
    }
    EXPECT_NE(failed_at, -1) << spec << ": the fault never fired in " << kBlocks << " blocks";
    if (failed_at == -1) return -1;
    // It stopped by itself, with the storage-failure status and a message naming the call.
    EXPECT_EQ(server->WaitForDeath(20000), 0) << spec << ": killed by a signal or still running";
    EXPECT_EQ(server->Stop(), kExitStorageFailure) << spec << "\n" << server->log();
    const std::string log = server->log();
    EXPECT_NE(log.find("storage failure"), std::string::npos) << spec << "\n" << log;
    EXPECT_NE(log.find("injected storage fault"), std::string::npos) << spec << "\n" << log;
    server.reset();

    // Restarted on the healthy store: at its last commit, then the rest of the chain as before.
    auto restarted = ServerProcess::Start({.data_dir = data});
    EXPECT_TRUE(restarted.ok()) << restarted.status();
    if (!restarted.ok()) return failed_at;
    grpc::Status s = InitWith((*restarted)->lifecycle(), ScriptedGenesis(), &init);
    EXPECT_TRUE(s.ok()) << spec << ": " << s.error_message();
    const int64_t saved = init.saved_height();
    // The block the fault hit was not committed (a failed commit write leaves the store as it
    // was), and nothing committed was lost.
    EXPECT_EQ(saved, std::max<int64_t>(committed, 0)) << spec;
    EXPECT_EQ(init.state_hash(), ref_->at(saved)) << spec;
    for (int64_t h = saved + 1; h <= kBlocks; ++h) {
      BlockResult b = RunBlock((*restarted)->lifecycle(), RandomBlock(kSeed, h, kMix));
      EXPECT_TRUE(b.status.ok()) << spec << " height " << h << ": " << b.status.error_message();
      if (!b.status.ok()) break;
      EXPECT_FALSE(b.replay) << spec << " height " << h;
      EXPECT_EQ(b.end.state_hash(), ref_->at(h)) << spec << " height " << h;
    }
    (*restarted)->Stop();
    return failed_at;
  }

  static std::string* dir_;
  static std::map<int64_t, std::string>* ref_;
};
std::string* StoreFaultTest::dir_ = nullptr;
std::map<int64_t, std::string>* StoreFaultTest::ref_ = nullptr;

// A block's commit (one synced write batch) fails: the first, and one a few blocks in.
TEST_F(StoreFaultTest, AFailedCommitStopsTheNodeUncommitted) {
  EXPECT_EQ(FailAndRecover("write:1"), 0);  // genesis' own commit, in Init
  EXPECT_GT(FailAndRecover("write:4"), 1);
}

// A read fails inside Init or a block (the kernel's reads through its crank buffer, host keys,
// the state hash's committed values, the mailbox state).
TEST_F(StoreFaultTest, AFailedReadStopsTheNode) {
  EXPECT_EQ(FailAndRecover("get:1"), 0);
  EXPECT_GT(FailAndRecover("get:100"), 0);
  EXPECT_GT(FailAndRecover("get:200"), 1);
  EXPECT_GT(FailAndRecover("get:60,sticky"), 0);
}

// An iterator step fails (the kernel's prefix scans).
TEST_F(StoreFaultTest, AFailedScanStopsTheNode) {
  EXPECT_GT(FailAndRecover("iterate:1"), 0);
  EXPECT_GT(FailAndRecover("iterate:20"), 1);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
