// ActivityChain against the chain computed one crank at a time, and a kernel whose Run()
// hashes on the worker against one stepped crank by crank.

#include "kernel/activity_chain.h"

#include <random>
#include <string>
#include <vector>

#include "consensus/sha256.h"
#include "gtest/gtest.h"
#include "kernel/base.h"
#include "kernel/storage/mem_kv_store.h"
#include "kernel/strings.h"
#include "kernel/testing/kernel_harness.h"
#include "kernel/testing/status_macros.h"

namespace swingset {
namespace {

std::string StepByStep(const std::string& start, const std::vector<std::string>& texts) {
  std::unique_ptr<Hasher> h = NewSha256Hasher();
  std::string activity = start;
  for (const std::string& t : texts) {
    if (!t.empty()) ChainActivity(h.get(), t, &activity);
  }
  return activity;
}

TEST(ActivityChainTest, OneStepIsTheSpecifiedText) {
  std::unique_ptr<Hasher> h = NewSha256Hasher();
  std::string activity = "prev";
  ChainActivity(h.get(), "add\nk\nv\n", &activity);
  const std::string crankhash = Sha256Hex("add\nk\nv\n");
  EXPECT_EQ(activity, Sha256Hex("activityhash\nprev\n" + crankhash + "\n"));
}

TEST(CrankTextTest, WritesTheSpecifiedRecords) {
  CrankText t;
  const std::string v = "value";
  t.Add("k1", &v);
  t.Add("k2", nullptr);
  const std::string empty;
  t.Add("k3", &empty);
  EXPECT_EQ(t.view(), "add\nk1\nvalue\ndelete\nk2\nadd\nk3\n\n");
  const size_t at = t.Skip(2);
  t.Put(at, "xy", 2);
  EXPECT_EQ(t.view().substr(at), "xy");
  std::string taken = t.Take(std::string());
  EXPECT_EQ(taken, "add\nk1\nvalue\ndelete\nk2\nadd\nk3\n\nxy");
  EXPECT_EQ(t.size(), 0u);
  t.Add("k", nullptr);
  EXPECT_EQ(t.view(), "delete\nk\n");
}

// A random crank: a few writes, each a delete or an add with a short or (rarely) a value
// larger than a chunk. Returns its text as the specification spells it.
std::string RandomCrank(std::mt19937_64& rng, CrankText* text) {
  std::string expected;
  const uint64_t writes = rng() % 10 < 1 ? 0 : rng() % 25;
  for (uint64_t w = 0; w < writes; ++w) {
    std::string key = StrCat("key", rng() % 1000);
    if (rng() % 4 == 0) {
      text->Add(key, nullptr);
      expected += "delete\n" + key + "\n";
      continue;
    }
    const size_t len = rng() % 500 == 0 ? 70000 + rng() % 70000 : rng() % 60;
    std::string value;
    for (size_t j = 0; j < len; ++j) value.push_back(static_cast<char>('a' + rng() % 26));
    text->Add(key, &value);
    expected += "add\n" + key + "\n" + value + "\n";
  }
  return expected;
}

// Random cranks (empty ones, small ones, ones larger than a chunk), read back at random
// points, over several batches: every value equals the chain computed crank by crank from the
// specified texts, whether the worker or the caller hashed it, and however the cranks fell
// into chunks.
class ActivityChainModes : public ::testing::TestWithParam<ActivityChain::Mode> {};

TEST_P(ActivityChainModes, MatchesTheChainComputedCrankByCrank) {
  std::mt19937_64 rng(7);
  ActivityChain chain(Sha256HasherFactory(), GetParam());
  std::string activity;  // the stored value between batches
  std::vector<std::string> all;
  for (int batch = 0; batch < 6; ++batch) {
    chain.Begin(activity);
    const size_t start = all.size();
    const int cranks = batch == 0 ? 3 : 700 * batch;  // the first never fills a chunk
    uint64_t advanced = 0;
    for (int i = 0; i < cranks; ++i) {
      std::string text = RandomCrank(rng, chain.OpenCrank());
      chain.CloseCrank();
      if (!text.empty()) ++advanced;
      all.push_back(text);
      if (rng() % 500 == 0) {
        std::vector<std::string> so_far(all.begin() + start, all.end());
        ASSERT_EQ(chain.Current(), StepByStep(activity, so_far)) << "batch " << batch << " crank " << i;
      }
    }
    EXPECT_EQ(chain.cranks(), advanced);
    std::vector<std::string> texts(all.begin() + start, all.end());
    const std::string expected = StepByStep(activity, texts);
    EXPECT_EQ(chain.End(), expected) << "batch " << batch;
    EXPECT_FALSE(chain.active());
    activity = expected;
  }
  EXPECT_EQ(activity, StepByStep("", all));
}

INSTANTIATE_TEST_SUITE_P(WorkerAndInline, ActivityChainModes,
                         ::testing::Values(ActivityChain::Mode::kWorker,
                                           ActivityChain::Mode::kInline),
                         [](const ::testing::TestParamInfo<ActivityChain::Mode>& info) {
                           return info.param == ActivityChain::Mode::kWorker ? "Worker"
                                                                             : "Inline";
                         });

TEST(ActivityChainTest, DestroyedWithAWorkerRunning) {
  auto chain = std::make_unique<ActivityChain>(Sha256HasherFactory());
  chain->Begin("");
  for (size_t i = 0; i < 10 * ActivityChain::kChunkCranks; ++i) {
    const std::string v = StrCat("v", i);
    chain->OpenCrank()->Add("k", &v);
    chain->CloseCrank();
  }
  chain.reset();  // joins the worker, whatever it was doing
}

// Ping-pong between two scripted vats, as kernel_bench runs it: one kernel steps crank by
// crank (the activity hash chained on the kernel thread), the other runs in budgeted Run()s
// (chained on the worker). Both must store the same bytes, block after block, and agree on
// the activity hash asked from inside a delivery.
struct PingPong {
  explicit PingPong(uint64_t round_trips) : limit(round_trips) {
    host.log_enabled = false;
    auto ping = [this](VatCtx& c) {
      ++sent;
      std::string p = StrCat("p+", sent);
      c.Send("o-50", "ping", {}, p, "[]");
      c.Subscribe(p);
    };
    host.Register("A", [this, ping](const VatDelivery& d, VatCtx& c) {
      if (d.type == VatDelivery::Type::kMessage) {
        ping(c);
      } else if (d.type == VatDelivery::Type::kNotify && sent < limit) {
        if (sent % 50 == 0) seen.push_back(kernel->ActivityHash());
        ping(c);
      }
    });
    host.Register("B", [](const VatDelivery& d, VatCtx& c) {
      if (d.type == VatDelivery::Type::kMessage && d.result) c.Resolve(*d.result, false, "#\"pong\"");
    });
    kernel = OpenScriptedKernel(store.get(), &host);
    SWINGSET_CHECK_OK(kernel->InitializeGenesis(ScriptedGenesis({"A", "B"}, "A")));
    SWINGSET_CHECK_OK(kernel->CommitBlock({}, true));
  }
  std::vector<std::string> Dump() {
    std::vector<std::string> out;
    auto it = store->NewIterator();
    for (it->Seek(""); it->Valid(); it->Next()) out.push_back(StrCat(it->key(), "=", it->value()));
    return out;
  }

  std::unique_ptr<KvStore> store = NewMemKvStore();
  FakeVatHost host;
  std::unique_ptr<Kernel> kernel;
  uint64_t limit;
  uint64_t sent = 0;
  std::vector<std::string> seen;  // ActivityHash() asked from inside deliveries
};

TEST(ActivityChainTest, RunHashesLikeSteppingCrankByCrank) {
  PingPong stepped(2000), run(2000);
  for (int block = 0; block < 100; ++block) {
    int steps = 0;
    while (steps < 97 && stepped.kernel->Step()) ++steps;
    RunStats s = run.kernel->Run(RunPolicy{97});
    ASSERT_EQ(s.cranks, static_cast<uint64_t>(steps)) << "block " << block;
    ASSERT_EQ(run.kernel->ActivityHash(), stepped.kernel->ActivityHash()) << "block " << block;
    ASSERT_OK(stepped.kernel->CommitBlock({}, true));
    ASSERT_OK(run.kernel->CommitBlock({}, true));
    ASSERT_EQ(run.Dump(), stepped.Dump()) << "block " << block;
  }
  // Then the rest in one long run (many chunks for the worker).
  while (stepped.kernel->Step()) {
  }
  run.kernel->Run(RunPolicy{0});
  EXPECT_EQ(run.sent, 2000u);
  EXPECT_EQ(run.kernel->ActivityHash(), stepped.kernel->ActivityHash());
  ASSERT_OK(stepped.kernel->CommitBlock({}, true));
  ASSERT_OK(run.kernel->CommitBlock({}, true));
  EXPECT_EQ(run.Dump(), stepped.Dump());
  EXPECT_EQ(run.seen, stepped.seen);
  EXPECT_EQ(run.seen.size(), 39u);  // sent = 50, 100, ..., 1950
}

}  // namespace
}  // namespace swingset
