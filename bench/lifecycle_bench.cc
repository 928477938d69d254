// lifecycle_bench: block latency through the real swingsetd process (gRPC + LevelDB, synced
// commits), with scripted vats:
//   1. EndBlock with 1,000 call_vat actions (counter.increment)
//   2. EndBlock with one deliver_inbound of 1,000 mailbox messages (echoed back by the handler,
//      which also removes the previous block's acknowledged outbound messages)
//   3. an empty block's round trip: BeginBlock + EndBlock + Commit
// With --js, instead: the demo JavaScript vats (deploy/demo_vats, metered, reap every 1,000
// deliveries as the testnet runs them) and EndBlock with 1,000 call_vat actions in the mix of
// the chain's load generator (`swingload run`: increment, get, echo, store, load, ping, relay,
// chain, makeThing, fail), the sidecar's cost per transaction that the testnet sees.
// Prints one markdown table row per scenario (median, p90, mean in ms).
//
//   lifecycle_bench [--iterations N] [--js [--block TXS]]   (--block: call_vats per block, 1,000)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "kernel/strings.h"
#include "bench/server_bench_util.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace {

using namespace swingset::testing;
using swingset::StrCat;
namespace bench = swingset::bench;

void Report(const std::string& name, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size();
  std::printf("| %s | %zu | %.2f | %.2f | %.2f |\n", name.c_str(), ms.size(), ms[ms.size() / 2],
              ms[ms.size() * 9 / 10], mean);
  std::fflush(stdout);
}

struct Bench {
  std::unique_ptr<ServerProcess> server;
  int64_t height = 0;

  bool work_remains = false;
  // Sums of the blocks' stats_json phases, in microseconds.
  int64_t run_us = 0, hash_us = 0, commit_us = 0;

  // One block; returns {EndBlock ms, whole-block ms}.
  std::pair<double, double> Block(const v1::EndBlockRequest& req) {
    bench::TimedBlock b = bench::RunTimedBlock(server->lifecycle(), ++height, req);
    if (b.end.actions_consumed() != static_cast<uint64_t>(req.actions_size())) {
      std::fprintf(stderr, "block %lld consumed %llu of %d actions\n", static_cast<long long>(height),
                   static_cast<unsigned long long>(b.end.actions_consumed()), req.actions_size());
      bench::ExitKillingServer();
    }
    work_remains = b.end.work_remains();
    run_us += bench::StatsField(b.end.stats_json(), "runMicros");
    hash_us += bench::StatsField(b.end.stats_json(), "hashMicros");
    commit_us += bench::StatsField(b.commit.stats_json(), "commitMicros");
    return {b.end_ms, b.whole_ms};
  }
};

// One call_vat of the load generator's mix (chain/cmd/swingload: randomCall), drawn from `rng`.
v1::Action LoadMixCall(uint64_t id, Rng& rng) {
  std::string key = StrCat("\"k", rng.Below(16), "\"");
  uint64_t n = rng.Below(100);
  if (n < 35) return CallVat(id, "counter", "increment", StrCat("[", 1 + rng.Below(9), "]"));
  if (n < 45) return CallVat(id, "counter", "get", "");
  if (n < 55) {
    return CallVat(id, "counter", "echo",
                   StrCat("[\"a\",", rng.Below(1000), ",{\"b\":[true,null]}]"));
  }
  if (n < 65) return CallVat(id, "counter", "store", StrCat("[", key, ",", rng.Below(1 << 20), "]"));
  if (n < 75) return CallVat(id, "counter", "load", StrCat("[", key, "]"));
  if (n < 82) return CallVat(id, "bootstrap", "ping", "");
  if (n < 88) return CallVat(id, "bootstrap", "relay", "[\"counter\",\"get\",[]]");
  if (n < 92) return CallVat(id, "counter", "chain", StrCat("[", rng.Below(4), "]"));
  if (n < 96) return CallVat(id, "counter", "makeThing", StrCat("[\"t", rng.Below(100), "\"]"));
  return CallVat(id, "counter", "fail", "[\"planned failure\"]");
}

int RunJs(int iterations, int block_txs) {
  std::string dir = MakeTempDir("bench");
  Bench b;
  b.server = bench::StartServerOrExit({.data_dir = dir + "/data"});
  v1::InitResponse init;
  v1::Genesis genesis = JsGenesis(DemoVatsDir());
  genesis.mutable_params()->set_default_reap_interval(1000);
  bench::CheckOrExit(InitWith(b.server->lifecycle(), genesis, &init), "Init");
  b.Block(v1::EndBlockRequest());  // the bootstrap
  b.run_us = b.hash_us = b.commit_us = 0;
  std::printf("| scenario | blocks | median ms | p90 ms | mean ms |\n|---|---|---|---|---|\n");
  Rng rng(1);
  uint64_t id = 0;
  std::vector<double> end_ms;
  double total_end_ms = 0, total_ms = 0;
  for (int i = 0; i < iterations; ++i) {
    v1::EndBlockRequest req;
    for (int a = 0; a < block_txs; ++a) *req.add_actions() = LoadMixCall(++id, rng);
    auto [e, whole] = b.Block(req);
    end_ms.push_back(e);
    total_end_ms += e;
    total_ms += whole;
  }
  // Blocks of more cranks than the block budget (the chain's 10,000) leave work for later
  // blocks: drain it, and count it in the throughput.
  int drain_blocks = 0;
  while (b.work_remains) {
    auto [e, whole] = b.Block(v1::EndBlockRequest());
    total_end_ms += e;
    total_ms += whole;
    ++drain_blocks;
  }
  Report(StrCat("EndBlock, ", block_txs, " call_vat to the JS demo vats (the swingload mix)"),
         end_ms);
  const double txs = static_cast<double>(iterations) * block_txs;
  std::printf("\n%d blocks of %d txs and %d more to finish their work: %.1f us of EndBlock per tx "
              "(%.0f txs/s), %.1f us per tx for whole blocks (BeginBlock + EndBlock + Commit)\n",
              iterations, block_txs, drain_blocks, total_end_ms * 1000 / txs,
              txs / (total_end_ms / 1000), total_ms * 1000 / txs);
  std::printf("phases per tx (the server's stats): kernel run %.1f us, state and activity hash "
              "%.1f us, commit %.1f us\n",
              b.run_us / txs, b.hash_us / txs, b.commit_us / txs);
  b.server->Stop();
  bench::CurrentServer() = nullptr;
  RemoveDir(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20;
  bool js = false;
  int block_txs = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--js") {
      js = true;
    } else if (a == "--block" && i + 1 < argc) {
      block_txs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: lifecycle_bench [--iterations N] [--js [--block TXS]]\n");
      return 64;
    }
  }
  if (js) return RunJs(iterations, block_txs);
  std::string dir = MakeTempDir("bench");
  Bench b;
  b.server = bench::StartServerOrExit({.data_dir = dir + "/data"});
  v1::InitResponse init;
  v1::Genesis genesis = ScriptedGenesis();
  // Scenario 2 holds two blocks' worth of echoes (2,000 messages, ~80 KB) in alice's outbox
  // until the ack arrives: above the default outbox limits.
  genesis.mutable_params()->set_max_outbox_messages(4096);
  genesis.mutable_params()->set_max_outbox_bytes(256 << 10);
  bench::CheckOrExit(InitWith(b.server->lifecycle(), genesis, &init), "Init");
  b.Block(v1::EndBlockRequest());  // the bootstrap

  std::printf("| scenario | blocks | median ms | p90 ms | mean ms |\n|---|---|---|---|---|\n");

  std::vector<double> end_ms, block_ms;
  for (int i = 0; i < iterations; ++i) {
    v1::EndBlockRequest req;
    for (int a = 0; a < 1000; ++a) *req.add_actions() = CallVat(a, "counter", "increment", "[1]");
    auto [e, whole] = b.Block(req);
    end_ms.push_back(e);
  }
  Report("EndBlock, 1,000 call_vat (counter.increment)", end_ms);

  end_ms.clear();
  uint64_t next_in = 1;
  uint64_t out_sent = 0;
  for (int i = 0; i < iterations; ++i) {
    std::vector<uint64_t> nums;
    for (int m = 0; m < 1000; ++m) nums.push_back(next_in++);
    v1::EndBlockRequest req;
    // Acknowledge every outbound message of earlier blocks: the handler removes them.
    *req.add_actions() = Inbound(1, "alice", nums, out_sent);
    out_sent += 1000;
    auto [e, whole] = b.Block(req);
    end_ms.push_back(e);
  }
  Report("EndBlock, 1 deliver_inbound of 1,000 messages (echo + remove acked)", end_ms);

  block_ms.clear();
  for (int i = 0; i < std::max(iterations, 50); ++i) {
    auto [e, whole] = b.Block(v1::EndBlockRequest());
    block_ms.push_back(whole);
  }
  Report("empty block round trip (BeginBlock+EndBlock+Commit)", block_ms);

  b.server->Stop();
  bench::CurrentServer() = nullptr;
  RemoveDir(dir);
  return 0;
}
