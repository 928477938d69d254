// e2e_bench: the JavaScript kernel benchmarks' workloads through the real swingsetd process
// (gRPC, LevelDB with synced commits, SES vats under the genesis meter), as a chain runs them.
//
// Two vats written as Agoric vats are (`buildRootObject`, `Far`, `E`): "driver" (the bootstrap
// vat) and "target". One call_vat asks the driver to run a workload of N steps against the
// target; blocks follow until the workload's result settles. Workloads:
//   ping       N sequential `await E(target).ping(i)`
//   pipelined  N sends to the result of the previous send, none awaited until the end
//   churn      N sequential `await E(target).take(Far(...))`: a new exported object each time,
//              dropped by the target and collected through reaps (the chain default, every
//              1,000 deliveries)
//   fanout     N sends at once, then `Promise.all`
//   chain      a chain of N promises: each step a send to the other vat, whose result the
//              sender resolves to the next step's result
// Each runs in one block (a crank budget above the workload) and split over blocks of 1,000
// cranks (the server's budget), each on a fresh server. Reports cranks (the blocks'
// stats_json: every crank the kernel counts, routing cranks from the acceptance queue included)
// and deliveries, cranks per second of EndBlock, EndBlock p50 / p99 over the blocks, the whole run's
// time (BeginBlock + EndBlock + Commit per block, as the client sees it) and the server's RSS
// after the bootstrap and its peak during the workload (VmHWM, reset after the bootstrap).
//
//   e2e_bench [--n N] [--only WORKLOAD] [--split-only|--one-block-only]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench/server_bench_util.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace {

using namespace swingset::testing;
using swingset::StrCat;

constexpr char kDriver[] = R"(
import { Far, E } from '@endo/far';

export function buildRootObject() {
  let target;
  // The other end of the promise chain: each step is a send to the other vat, whose result
  // the sender resolves to.
  const peer = Far('peer', {
    chain(n) {
      return n === 0 ? 0 : E(target).chain(n - 1, peer);
    },
  });
  return Far('driver', {
    bootstrap(vats) {
      target = vats.target;
      return 'ready';
    },
    async ping(n) {
      for (let i = 0; i < n; i += 1) await E(target).ping(i);
      return n;
    },
    async pipelined(n) {
      let p = E(target).self();
      for (let i = 0; i < n; i += 1) p = E(p).self();
      await p;
      return n;
    },
    async churn(n) {
      for (let i = 0; i < n; i += 1) await E(target).take(Far('thing', { id: () => i }));
      return n;
    },
    async fanout(n) {
      const all = [];
      for (let i = 0; i < n; i += 1) all.push(E(target).ping(i));
      await Promise.all(all);
      return n;
    },
    async chain(n) {
      await E(target).chain(n, peer);
      return n;
    },
  });
}
)";

constexpr char kTarget[] = R"(
import { Far, E } from '@endo/far';

export function buildRootObject() {
  const target = Far('target', {
    ping(i) {
      return i;
    },
    self() {
      return target;
    },
    take(_thing) {
      return undefined;
    },
    chain(n, peer) {
      return n === 0 ? 0 : E(peer).chain(n - 1);
    },
  });
  return target;
}
)";

// A field of /proc/PID/status in KB ("VmHWM:" the peak resident set, "VmRSS:" the current one).
int64_t StatusKb(pid_t pid, const char* field) {
  std::ifstream in(StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + std::strlen(field));
  }
  return -1;
}

// Resets the peak resident set to the current one (Linux: clear_refs 5).
void ResetPeakRss(pid_t pid) {
  std::ofstream out(StrCat("/proc/", pid, "/clear_refs"));
  out << "5\n";
}

struct Result {
  int64_t cranks = 0;
  int64_t deliveries = 0;
  int blocks = 0;
  double end_ms = 0;    // sum of EndBlock
  double whole_ms = 0;  // sum of BeginBlock + EndBlock + Commit
  std::vector<double> per_block;
  int64_t start_rss_kb = 0;  // after the bootstrap
  int64_t peak_rss_kb = 0;   // during the workload
};

Result Run(const std::string& workload, int n, uint64_t crank_budget) {
  std::string dir = MakeTempDir("e2e");
  std::unique_ptr<ServerProcess> server =
      swingset::bench::StartServerOrExit({.data_dir = dir + "/data"});
  v1::Genesis g;
  g.set_chain_id("e2e-bench");
  v1::VatConfig* driver = g.add_vats();
  driver->set_name("driver");
  driver->set_source(kDriver);
  v1::VatConfig* target = g.add_vats();
  target->set_name("target");
  target->set_source(kTarget);
  g.set_bootstrap_vat("driver");
  g.mutable_params()->set_max_cranks_per_block(crank_budget);
  // pipelined and fanout queue N sends in one delivery: above the default cap of 10,000 a
  // delivery may queue (the vat would be terminated).
  g.mutable_params()->set_max_enqueued_per_delivery(static_cast<uint64_t>(n) + 1000);
  v1::InitResponse init;
  swingset::bench::CheckOrExit(InitWith(server->lifecycle(), g, &init), "Init");

  int64_t height = 0;
  Result r;
  auto block = [&](const v1::EndBlockRequest& req, bool count) {
    swingset::bench::TimedBlock b =
        swingset::bench::RunTimedBlock(server->lifecycle(), ++height, req);
    if (count) {
      r.cranks += swingset::bench::StatsField(b.end.stats_json(), "cranks");
      r.deliveries += swingset::bench::StatsField(b.end.stats_json(), "deliveries");
      r.blocks += 1;
      r.end_ms += b.end_ms;
      r.whole_ms += b.whole_ms;
      r.per_block.push_back(b.end_ms);
    }
    return b.end;
  };
  // The bootstrap, until it is done.
  while (block(v1::EndBlockRequest(), false).work_remains()) {
  }
  // The peak of the workload alone: starting the vats (SES, instrumenting its sources) peaks
  // higher than many workloads do.
  r.start_rss_kb = StatusKb(server->pid(), "VmRSS:");
  ResetPeakRss(server->pid());
  v1::EndBlockRequest req;
  *req.add_actions() = CallVat(1, "driver", workload, StrCat("[", n, "]"));
  bool settled = false;
  v1::EndBlockResponse end = block(req, true);
  for (;;) {
    for (const v1::PromiseResult& p : end.settled()) {
      if (p.state() != "fulfilled") {
        std::fprintf(stderr, "%s: the workload's result was %s: %s\n", workload.c_str(),
                     p.state().c_str(), p.value_json().c_str());
        swingset::bench::ExitKillingServer();
      }
      settled = true;
    }
    if (settled && !end.work_remains()) break;
    if (r.blocks > 100000) {
      std::fprintf(stderr, "%s: no result after %d blocks\n", workload.c_str(), r.blocks);
      swingset::bench::ExitKillingServer();
    }
    end = block(v1::EndBlockRequest(), true);
  }
  r.peak_rss_kb = StatusKb(server->pid(), "VmHWM:");
  server->Stop();
  swingset::bench::CurrentServer() = nullptr;
  RemoveDir(dir);
  return r;
}

void Report(const std::string& workload, const char* how, const Result& r) {
  std::vector<double> b = r.per_block;
  std::sort(b.begin(), b.end());
  std::printf("| %s | %s | %lld | %lld | %d | %.0f | %.2f / %.2f | %.0f | %.1f / %.1f |\n",
              workload.c_str(), how, static_cast<long long>(r.cranks),
              static_cast<long long>(r.deliveries), r.blocks, r.cranks / (r.end_ms / 1000),
              b[b.size() / 2], b[std::min(b.size() - 1, b.size() * 99 / 100)], r.whole_ms,
              r.start_rss_kb / 1024.0, r.peak_rss_kb / 1024.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 10000;
  std::string only;
  bool one_block = true, split = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--n" && i + 1 < argc) {
      n = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--split-only") {
      one_block = false;
    } else if (a == "--one-block-only") {
      split = false;
    } else {
      std::fprintf(stderr,
                   "usage: e2e_bench [--n N] [--only ping|pipelined|churn|fanout|chain] "
                   "[--split-only|--one-block-only]\n");
      return 64;
    }
  }
  std::printf("| workload | blocks of | cranks | deliveries | blocks | cranks/s (EndBlock) | "
              "EndBlock p50 / p99 ms | whole run ms | RSS MB at start / peak |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  for (const char* w : {"ping", "pipelined", "churn", "fanout", "chain"}) {
    if (!only.empty() && only != w) continue;
    if (one_block) Report(w, "one block", Run(w, n, 100'000'000));
    if (split) Report(w, "1,000 cranks", Run(w, n, 1000));
  }
  return 0;
}
