// lifecycle_bench: block latency through the real swingsetd process (gRPC + LevelDB, synced
// commits), with scripted vats:
//   1. EndBlock with 1,000 call_vat actions (counter.increment)
//   2. EndBlock with one deliver_inbound of 1,000 mailbox messages (echoed back by the handler,
//      which also removes the previous block's acknowledged outbound messages)
//   3. an empty block's round trip: BeginBlock + EndBlock + Commit
// Prints one markdown table row per scenario (median, p90, mean in ms).
//
//   lifecycle_bench [--iterations N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace {

using namespace swingset::testing;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

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

  // One block; returns {EndBlock ms, whole-block ms}.
  std::pair<double, double> Block(v1::EndBlockRequest req) {
    req.set_height(++height);
    auto t0 = Clock::now();
    v1::BeginBlockRequest begin;
    begin.set_height(height);
    v1::BeginBlockResponse begin_resp;
    Check(server->lifecycle()->BeginBlock(Ctx().get(), begin, &begin_resp), "BeginBlock");
    auto t1 = Clock::now();
    v1::EndBlockResponse end;
    Check(server->lifecycle()->EndBlock(Ctx().get(), req, &end), "EndBlock");
    auto t2 = Clock::now();
    if (end.actions_consumed() != static_cast<uint64_t>(req.actions_size())) {
      std::fprintf(stderr, "block %lld consumed %llu of %d actions\n", static_cast<long long>(height),
                   static_cast<unsigned long long>(end.actions_consumed()), req.actions_size());
      std::exit(1);
    }
    v1::CommitRequest commit;
    commit.set_height(height);
    v1::CommitResponse commit_resp;
    Check(server->lifecycle()->Commit(Ctx().get(), commit, &commit_resp), "Commit");
    auto t3 = Clock::now();
    return {Ms(t2 - t1), Ms(t3 - t0)};
  }

  static void Check(const grpc::Status& s, const char* what) {
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", what, s.error_message().c_str());
      std::exit(1);
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: lifecycle_bench [--iterations N]\n");
      return 64;
    }
  }
  std::string dir = MakeTempDir("bench");
  auto started = ServerProcess::Start({.data_dir = dir + "/data"});
  if (!started.ok()) {
    std::fprintf(stderr, "%s\n", std::string(started.status().message()).c_str());
    return 1;
  }
  Bench b;
  b.server = std::move(*started);
  v1::InitResponse init;
  v1::Genesis genesis = ScriptedGenesis();
  // Scenario 2 holds two blocks' worth of echoes (2,000 messages, ~80 KB) in alice's outbox
  // until the ack arrives: above the default outbox limits.
  genesis.mutable_params()->set_max_outbox_messages(4096);
  genesis.mutable_params()->set_max_outbox_bytes(256 << 10);
  Bench::Check(InitWith(b.server->lifecycle(), genesis, &init), "Init");
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
  RemoveDir(dir);
  return 0;
}
