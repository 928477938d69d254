// Crash recovery (docs/DESIGN.md §2): swingsetd is killed with SIGKILL at random points - inside
// EndBlock, between EndBlock and Commit, just before and just after the commit write, and at
// random moments from outside - then restarted and re-driven from the driver's own view of the
// last committed height, as the Go app would. Every block's state hash must equal the one from an
// uninterrupted run, no committed block may be lost, and a block committed by us but not
// acknowledged to the driver must come back as a replay.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

constexpr uint64_t kSeed = 20240501;
constexpr int64_t kBlocks = 10;
const BlockMix kMix{.max_actions = 10, .inbound = true};

struct Reference {
  std::map<int64_t, std::string> state_hash;
  std::map<int64_t, std::string> mailboxes;
};

Reference RunUninterrupted(const std::string& dir) {
  Reference ref;
  auto server = ServerProcess::Start({.data_dir = dir + "/ref"});
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return ref;
  v1::InitResponse init;
  EXPECT_TRUE(InitWith((*server)->lifecycle(), ScriptedGenesis(), &init).ok());
  ref.state_hash[0] = init.state_hash();
  for (int64_t h = 1; h <= kBlocks; ++h) {
    BlockResult b = RunBlock((*server)->lifecycle(), RandomBlock(kSeed, h, kMix));
    EXPECT_TRUE(b.status.ok()) << b.failed_call << ": " << b.status.error_message();
    ref.state_hash[h] = b.end.state_hash();
    ref.mailboxes[h] = DescribeMailboxes(b.end);
  }
  return ref;
}

enum class Fault {
  kEndBlockMid,
  kEndBlockDone,       // between EndBlock and Commit
  kCommitBeforeWrite,
  kCommitAfterWrite,   // committed, but the driver never hears so
  kExternal,           // SIGKILL from outside at a random moment
};
constexpr int kFaultKinds = 5;

const char* PointName(Fault f) {
  switch (f) {
    case Fault::kEndBlockMid: return "end_block_mid";
    case Fault::kEndBlockDone: return "end_block_done";
    case Fault::kCommitBeforeWrite: return "commit_before_write";
    case Fault::kCommitAfterWrite: return "commit_after_write";
    case Fault::kExternal: return "external";
  }
  return "?";
}

class CrashRecoveryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("crash"));
    ref_ = new Reference(RunUninterrupted(*dir_));
  }
  static void TearDownTestSuite() {
    RemoveDir(*dir_);
    delete dir_;
    delete ref_;
  }
  static std::string* dir_;
  static Reference* ref_;
};
std::string* CrashRecoveryTest::dir_ = nullptr;
Reference* CrashRecoveryTest::ref_ = nullptr;

// One randomized run: up to three faults at random heights, each followed by a restart. Adds
// the number of restarts to *restarts_out.
void CrashRunInto(int run, const Reference& ref, const std::string& base, int* restarts_out);
int CrashRun(int run, const Reference& ref, const std::string& base) {
  int restarts = 0;
  CrashRunInto(run, ref, base, &restarts);
  return restarts;
}
void CrashRunInto(int run, const Reference& ref, const std::string& base, int* restarts_out) {
  std::mt19937_64 rng(1000 + run);
  const std::string data = StrCat(base, "/run", run);
  int faults_left = 1 + static_cast<int>(rng() % 3);
  int64_t driver_committed = -1;  // the driver's view: last height whose Commit returned OK
  int& restarts = *restarts_out;

  while (true) {
    // Arm the next fault (or none).
    std::vector<std::string> extra;
    Fault fault = Fault::kExternal;
    int64_t fault_height = -1;
    if (driver_committed >= kBlocks) {
      // A kill landed after the last block: there is no height left to place a fault at (and
      // the range below would be empty); restart once more and check the final state.
      faults_left = 0;
    }
    if (faults_left > 0) {
      fault = static_cast<Fault>(rng() % kFaultKinds);
      int64_t lo = std::max<int64_t>(1, driver_committed + 1);
      fault_height = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(kBlocks - lo + 1));
      if (fault == Fault::kEndBlockMid && RandomBlock(kSeed, fault_height, kMix).actions_size() < 2) {
        fault = Fault::kEndBlockDone;  // no midpoint in a block with fewer than two actions
      }
      if (fault != Fault::kExternal) {
        extra = {"--crash-at", StrCat(PointName(fault), ":", fault_height)};
      }
    }
    auto started = ServerProcess::Start({.data_dir = data, .extra_args = extra});
    ASSERT_TRUE(started.ok()) << started.status();
    std::unique_ptr<ServerProcess> server = std::move(*started);

    v1::InitResponse init;
    grpc::Status s = InitWith(server->lifecycle(), ScriptedGenesis(), &init);
    ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << server->log();
    int64_t saved = init.saved_height();
    // No committed block is lost, and at most the one the driver did not hear about is ahead.
    if (driver_committed >= 0) {
      ASSERT_GE(saved, driver_committed) << "run " << run << ": committed block lost";
      ASSERT_LE(saved, driver_committed + 1) << "run " << run;
    }
    ASSERT_EQ(init.state_hash(), ref.state_hash.at(saved)) << "run " << run << " height " << saved;
    if (driver_committed < 0) driver_committed = 0;

    std::atomic<bool> stop_killer{false};
    std::atomic<bool> killer_fired{false};
    std::thread killer;
    if (fault == Fault::kExternal && faults_left > 0) {
      // Kill at a random moment within the next few blocks' worth of time.
      int delay_us = static_cast<int>(rng() % 20000);
      pid_t pid = server->pid();
      killer = std::thread([pid, delay_us, &stop_killer, &killer_fired] {
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(delay_us);
        while (std::chrono::steady_clock::now() < until) {
          if (stop_killer) return;
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        killer_fired = true;
        kill(pid, SIGKILL);
      });
    }

    bool died = false;
    for (int64_t h = driver_committed + 1; h <= kBlocks; ++h) {
      BlockResult b = RunBlock(server->lifecycle(), RandomBlock(kSeed, h, kMix));
      if (!b.status.ok()) {
        ASSERT_EQ(b.status.error_code(), grpc::StatusCode::UNAVAILABLE)
            << "run " << run << " height " << h << " " << b.failed_call << ": "
            << b.status.error_message();
        died = true;
        break;
      }
      ASSERT_EQ(b.end.state_hash(), ref.state_hash.at(h)) << "run " << run << " height " << h;
      ASSERT_EQ(DescribeMailboxes(b.end), ref.mailboxes.at(h)) << "run " << run << " height " << h;
      ASSERT_EQ(b.commit.state_hash(), ref.state_hash.at(h));
      if (h == saved) {
        EXPECT_TRUE(b.replay) << "run " << run << ": height " << h << " should replay";
        EXPECT_TRUE(b.end.replayed());
      }
      driver_committed = h;
    }
    stop_killer = true;
    if (killer.joinable()) killer.join();
    // The kill may land after the last block was driven, before the killer saw stop_killer:
    // that is a crash like any other (between blocks), so restart and check again.
    if (killer_fired) died = true;
    if (died) {
      ASSERT_GE(server->WaitForDeath(10000), 0) << "server unreachable but alive";
      --faults_left;
      ++restarts;
      continue;
    }
    if (fault != Fault::kExternal && faults_left > 0) {
      // The armed point lay beyond the last block driven: it never fired.
      ASSERT_TRUE(server->running());
    }
    ASSERT_EQ(driver_committed, kBlocks);
    v1::GetStatusResponse status;
    ASSERT_TRUE(server->inspect()->GetStatus(Ctx().get(), v1::GetStatusRequest(), &status).ok());
    EXPECT_EQ(status.saved_height(), kBlocks);
    EXPECT_EQ(status.state_hash(), ref.state_hash.at(kBlocks));
    server->Kill();
    break;
  }
  RemoveDir(data);
  RemoveDir(data + ".log");
  RemoveDir(data + ".port");
}

// 36 runs in three test cases so CTest can spread them over both cores.
TEST_F(CrashRecoveryTest, RandomKillsPart1) {
  int restarts = 0;
  for (int run = 0; run < 12 && !HasFatalFailure(); ++run) restarts += CrashRun(run, *ref_, *dir_);
  // Every run arms at least one fault; only an external kill may miss (after the last block).
  EXPECT_GE(restarts, 8);
  RecordProperty("restarts", restarts);
}
TEST_F(CrashRecoveryTest, RandomKillsPart2) {
  int restarts = 0;
  for (int run = 12; run < 24 && !HasFatalFailure(); ++run) restarts += CrashRun(run, *ref_, *dir_);
  // Every run arms at least one fault; only an external kill may miss (after the last block).
  EXPECT_GE(restarts, 8);
  RecordProperty("restarts", restarts);
}
TEST_F(CrashRecoveryTest, RandomKillsPart3) {
  int restarts = 0;
  for (int run = 24; run < 36 && !HasFatalFailure(); ++run) restarts += CrashRun(run, *ref_, *dir_);
  // Every run arms at least one fault; only an external kill may miss (after the last block).
  EXPECT_GE(restarts, 8);
  RecordProperty("restarts", restarts);
}

// Each deterministic crash point at least once, at a fixed height, with its specific outcome.
TEST_F(CrashRecoveryTest, EachCrashPointRecovers) {
  for (Fault f : {Fault::kEndBlockMid, Fault::kEndBlockDone, Fault::kCommitBeforeWrite,
                  Fault::kCommitAfterWrite}) {
    const std::string data = StrCat(*dir_, "/point-", PointName(f));
    int64_t h = 4;
    while (f == Fault::kEndBlockMid && RandomBlock(kSeed, h, kMix).actions_size() < 2) ++h;
    auto server = ServerProcess::Start(
        {.data_dir = data, .extra_args = {"--crash-at", StrCat(PointName(f), ":", h)}});
    ASSERT_TRUE(server.ok()) << server.status();
    v1::InitResponse init;
    ASSERT_TRUE(InitWith((*server)->lifecycle(), ScriptedGenesis(), &init).ok());
    int64_t committed = 0;
    for (int64_t i = 1; i <= kBlocks; ++i) {
      BlockResult b = RunBlock((*server)->lifecycle(), RandomBlock(kSeed, i, kMix));
      if (!b.status.ok()) break;
      committed = i;
    }
    EXPECT_EQ(committed, h - 1) << PointName(f);
    EXPECT_EQ((*server)->WaitForDeath(10000), SIGKILL) << PointName(f);
    server->reset();
    auto restarted = ServerProcess::Start({.data_dir = data});
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    ASSERT_TRUE(InitWith((*restarted)->lifecycle(), ScriptedGenesis(), &init).ok());
    EXPECT_EQ(init.saved_height(), f == Fault::kCommitAfterWrite ? h : h - 1) << PointName(f);
    BlockResult again = RunBlock((*restarted)->lifecycle(), RandomBlock(kSeed, h, kMix));
    ASSERT_TRUE(again.status.ok()) << again.status.error_message();
    EXPECT_EQ(again.replay, f == Fault::kCommitAfterWrite) << PointName(f);
    EXPECT_EQ(again.end.state_hash(), ref_->state_hash.at(h)) << PointName(f);
  }
}

}  // namespace
}  // namespace testing
}  // namespace swingset
