// The block budget in computrons and per-vat computron usage, end to end through gRPC against
// the real swingsetd:
//
//   - genesis max_computrons_per_block stops a block's cranks once its deliveries have used that
//     many computrons (the crank that reaches it completes); the rest runs in later blocks, and
//     stats_json reports the block's computrons per vat and in total;
//   - Inspect ListVats reports each vat's computrons since it was created (the sum of every
//     block's stats), kept across a restart; GetStatus reports the budget (65,000,000 when the
//     genesis names none);
//   - a budget beyond 2^53-1 is refused at genesis.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "kernel/json.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

// work(n): n loop iterations (n computrons and a few), then answers n.
constexpr char kSpin[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('spin', {
    work(n) {
      let x = 0;
      for (let i = 0; i < n; i += 1) x += 1;
      return x;
    },
  });
}
)";

constexpr uint64_t kBudget = 50'000;
constexpr int kWork = 20'000;

v1::Genesis SpinGenesis(uint64_t budget) {
  v1::Genesis g;
  g.set_chain_id("computrons");
  v1::VatConfig* v = g.add_vats();
  v->set_name("spin");
  v->set_source(kSpin);
  if (budget != 0) g.mutable_params()->set_max_computrons_per_block(budget);
  return g;
}

std::unique_ptr<ServerProcess> Start(const std::string& dir) {
  auto s = ServerProcess::Start({.data_dir = dir});
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

struct Block {
  v1::EndBlockResponse end;
  uint64_t total = 0;                          // stats computronsTotal
  std::map<std::string, uint64_t> by_vat;  // stats computrons
};

Block RunSpin(ServerProcess* s, int64_t height, const std::vector<v1::Action>& actions) {
  v1::EndBlockRequest req;
  req.set_height(height);
  for (const v1::Action& a : actions) *req.add_actions() = a;
  BlockResult r = RunBlock(s->lifecycle(), req);
  EXPECT_TRUE(r.status.ok()) << height << " " << r.failed_call << ": "
                             << r.status.error_message() << "\n" << s->log();
  Block b;
  b.end = r.end;
  absl::StatusOr<Json> stats = Json::Parse(r.end.stats_json());
  EXPECT_TRUE(stats.ok()) << r.end.stats_json();
  if (!stats.ok()) return b;
  const Json* total = stats->Find("computronsTotal");
  EXPECT_TRUE(total && total->is_int()) << r.end.stats_json();
  if (total && total->is_int()) b.total = static_cast<uint64_t>(total->as_int());
  const Json* per = stats->Find("computrons");
  uint64_t sum = 0;
  if (per && per->is_object()) {
    for (const auto& [vat, n] : per->as_object()) {
      b.by_vat[vat] = static_cast<uint64_t>(n.as_int());
      sum += b.by_vat[vat];
    }
  }
  EXPECT_EQ(sum, b.total) << r.end.stats_json();
  return b;
}

uint64_t ComputronsUsed(ServerProcess* s, const std::string& name) {
  v1::ListVatsRequest req;
  v1::ListVatsResponse resp;
  grpc::Status st = s->inspect()->ListVats(Ctx().get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  for (const v1::VatInfo& v : resp.vats()) {
    if (v.name() == name) return v.computrons_used();
  }
  ADD_FAILURE() << "no vat " << name;
  return 0;
}

TEST(ComputronBudgetTest, ABlockStopsOnceItsComputronsAreSpent) {
  std::string dir = MakeTempDir("computrons");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), SpinGenesis(kBudget), &init).ok());
  v1::GetStatusResponse status;
  ASSERT_TRUE(s->inspect()->GetStatus(Ctx().get(), v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.max_computrons_per_block(), kBudget);

  // Genesis queued the vat's start; whatever of it is left runs in the first blocks.
  std::map<std::string, uint64_t> seen;  // per vat, over every block
  int64_t h = 1;
  Block b = RunSpin(s.get(), h++, {});
  for (const auto& [vat, n] : b.by_vat) seen[vat] += n;
  while (b.end.work_remains()) {
    b = RunSpin(s.get(), h++, {});
    for (const auto& [vat, n] : b.by_vat) seen[vat] += n;
  }

  // Six calls of ~20,000 computrons: the block stops after the third (40k < 50k <= 60k), and
  // the rest settle over the next blocks, in order.
  std::vector<v1::Action> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(CallVat(10 + i, "spin", "work", StrCat("[", kWork, "]")));
  }
  std::vector<int> settled_per_block;
  b = RunSpin(s.get(), h++, calls);
  for (;;) {
    for (const auto& [vat, n] : b.by_vat) seen[vat] += n;
    settled_per_block.push_back(b.end.settled_size());
    for (const v1::PromiseResult& p : b.end.settled()) {
      EXPECT_EQ(p.state(), "fulfilled");
      EXPECT_EQ(p.value_json(), StrCat(kWork));
    }
    if (b.end.work_remains()) {
      // Stopped by the budget: reached it, and the last delivery is what crossed it.
      EXPECT_GE(b.total, kBudget);
      EXPECT_LT(b.total, kBudget + kWork + 1000);
    }
    if (!b.end.work_remains()) break;
    ASSERT_LT(h, 20) << "the calls never finished";
    b = RunSpin(s.get(), h++, {});
  }
  EXPECT_EQ(settled_per_block, (std::vector<int>{3, 3}));

  // Inspect: the vat's computrons since creation are the sum of the blocks' stats, and they
  // survive a restart.
  ASSERT_EQ(seen.size(), 1u);
  const uint64_t used = seen.begin()->second;
  EXPECT_GT(used, 6u * kWork);
  EXPECT_EQ(ComputronsUsed(s.get(), "spin"), used);
  ASSERT_EQ(s->Stop(), 0);
  s = Start(dir + "/data");
  ASSERT_TRUE(s);
  ASSERT_TRUE(InitWith(s->lifecycle(), SpinGenesis(kBudget), &init).ok());
  EXPECT_EQ(ComputronsUsed(s.get(), "spin"), used);
  // Each later block adds what its stats report (GC deliveries and reaps included).
  uint64_t expected = used;
  for (int i = 0; i < 3; ++i) {
    b = RunSpin(s.get(), h++, {CallVat(99 + i, "spin", "work", "[10]")});
    ASSERT_EQ(b.by_vat.size(), 1u);
    expected += b.by_vat.begin()->second;
    EXPECT_EQ(ComputronsUsed(s.get(), "spin"), expected);
  }
  s.reset();
  RemoveDir(dir);
}

TEST(ComputronBudgetTest, TheDefaultBudgetRunsOrdinaryBlocksWhole) {
  std::string dir = MakeTempDir("computrons-default");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), SpinGenesis(0), &init).ok());
  v1::GetStatusResponse status;
  ASSERT_TRUE(s->inspect()->GetStatus(Ctx().get(), v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.max_computrons_per_block(), 65'000'000u);
  RunSpin(s.get(), 1, {});
  std::vector<v1::Action> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(CallVat(10 + i, "spin", "work", StrCat("[", kWork, "]")));
  }
  Block b = RunSpin(s.get(), 2, calls);
  EXPECT_EQ(b.end.settled_size(), 6);
  EXPECT_FALSE(b.end.work_remains());
  s.reset();
  RemoveDir(dir);
}

TEST(ComputronBudgetTest, ABudgetBeyondExactIntegersIsRefused) {
  std::string dir = MakeTempDir("computrons-bad");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  grpc::Status st = InitWith(s->lifecycle(), SpinGenesis(uint64_t{1} << 53), &init);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("max_computrons_per_block"));
  s.reset();
  RemoveDir(dir);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
