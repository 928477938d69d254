// vom_bench: virtual objects and vatstore-backed collections (issue 15) through the real
// swingsetd (gRPC, LevelDB with synced commits, SES vats under the genesis meter), as a chain
// runs them: genesis defaults but the per-vat vatstore cap (raised to 1 GiB for the million
// entries), reaps at the chain default (every 1,000 deliveries) except in the reap phase.
//
// Each phase queues its deliveries (call_vat actions, K operations each) in one block; blocks
// follow, each as full as the block computron budget allows, until every result settled. A
// rate is operations / the phase's whole time (BeginBlock + EndBlock + Commit of its blocks,
// as the client sees it). Phases:
//   create        K x makeThing(i) per delivery (kept nowhere: garbage for a later reap)
//   call          K x thing.inc() on one virtual object per delivery
//   init@1k       fills 20 map stores of 1,000 entries (1,000 inits per delivery)
//   get/set/has@1k  K random-key operations per delivery on a 1,000-entry store
//   init@1M       fills one map store to 1,000,000 entries, K per delivery
//   get/set/has@1M  the same operations on it
//   reap          a second vat ("reaper", a reap after every delivery) holds 100,000 virtual
//                 objects in a map store, then drops the store: the block of that (trivial)
//                 delivery is its reap, which deletes the store and the 100,000 objects; a
//                 block with a trivial delivery and an empty reap is subtracted.
// Keys and values are numbers; random keys come from a fixed LCG (the same every run).
//
//   vom_bench [--k K] [--big N] [--only PHASE]   (K = 20,000, N = 1,000,000)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bench/server_bench_util.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace {

using namespace swingset::testing;
using swingset::StrCat;
namespace bench = swingset::bench;

// The benchmark vat (bench/vom_vat.js, the same file bench/agoric runs under Agoric's SwingSet).
std::string VomVatSource() {
  std::ifstream in(SWINGSET_VOM_VAT_JS, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) {
    std::fprintf(stderr, "vom_bench: cannot read %s\n", SWINGSET_VOM_VAT_JS);
    bench::ExitKillingServer();
  }
  return text;
}

int64_t StatusKb(pid_t pid, const char* field) {
  std::ifstream in(StrCat("/proc/", pid, "/status"));
  std::string line;
  const size_t len = std::string(field).size();
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0) return std::atoll(line.c_str() + len);
  }
  return 0;
}

class Bench {
 public:
  Bench() {
    dir_ = MakeTempDir("vom-bench");
    server_ = bench::StartServerOrExit({.data_dir = dir_ + "/data"});
    v1::Genesis g;
    g.set_chain_id("vom-bench");
    v1::VatConfig* v = g.add_vats();
    v->set_name("vom");
    v->set_source(VomVatSource());
    v1::VatConfig* r = g.add_vats();
    r->set_name("reaper");
    r->set_source(VomVatSource());
    r->set_reap_interval(1);
    g.mutable_params()->set_max_vatstore_bytes(uint64_t{1} << 30);
    v1::InitResponse init;
    bench::CheckOrExit(InitWith(server_->lifecycle(), g, &init), "Init");
    Phase("vom", "ping", {"[]"});
    Phase("reaper", "ping", {"[]"});
    start_rss_kb_ = StatusKb(server_->pid(), "VmRSS:");
  }
  ~Bench() {
    server_->Stop();
    bench::CurrentServer() = nullptr;
    RemoveDir(dir_);
  }

  struct Timing {
    double ms = 0;
    int blocks = 0;
    int64_t computrons = 0;
  };
  // Queues one delivery per entry of `args` in one block, then runs blocks until all settled.
  Timing Phase(const std::string& vat, const std::string& method,
               const std::vector<std::string>& args) {
    v1::EndBlockRequest req;
    for (const std::string& a : args) *req.add_actions() = CallVat(++action_, vat, method, a);
    Timing t;
    size_t settled = 0;
    for (;;) {
      bench::TimedBlock b = bench::RunTimedBlock(server_->lifecycle(), ++height_, req);
      t.ms += b.whole_ms;
      t.blocks += 1;
      t.computrons += bench::StatsField(b.end.stats_json(), "computronsTotal");
      for (const v1::PromiseResult& p : b.end.settled()) {
        if (p.state() != "fulfilled") {
          std::fprintf(stderr, "%s.%s: %s %s\n", vat.c_str(), method.c_str(), p.state().c_str(),
                       p.value_json().c_str());
          bench::ExitKillingServer();
        }
        settled += 1;
      }
      if (settled >= args.size() && !b.end.work_remains()) break;
      req = v1::EndBlockRequest();
    }
    return t;
  }
  void Report(const std::string& what, uint64_t ops, const Timing& t) {
    std::printf("| %s | %llu | %d | %.0f | %.0f | %.0f |\n", what.c_str(),
                static_cast<unsigned long long>(ops), t.blocks, t.ms, ops / (t.ms / 1000),
                static_cast<double>(t.computrons) / ops);
    std::fflush(stdout);
  }
  int64_t start_rss_kb() const { return start_rss_kb_; }
  int64_t peak_rss_kb() { return StatusKb(server_->pid(), "VmHWM:"); }

 private:
  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
  int64_t height_ = 0;
  uint64_t action_ = 0;
  int64_t start_rss_kb_ = 0;
};

std::vector<std::string> Repeat(const std::string& args, int times) {
  return std::vector<std::string>(static_cast<size_t>(times), args);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t k = 20000, big = 1000000;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--k" && i + 1 < argc) {
      k = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (a == "--big" && i + 1 < argc) {
      big = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: vom_bench [--k K] [--big N] [--only create|call|1k|big|reap]\n");
      return 64;
    }
  }
  if (big % k != 0) {
    std::fprintf(stderr, "--big must be a multiple of --k\n");
    return 64;
  }
  Bench b;
  std::printf("| phase | operations | blocks | ms | operations/s | computrons/operation |\n"
              "|---|---|---|---|---|---|\n");
  const std::string ks = StrCat(k);
  if (only.empty() || only == "create") {
    b.Report("create virtual objects", 10 * k, b.Phase("vom", "create", Repeat(StrCat("[", ks, "]"), 10)));
  }
  if (only.empty() || only == "call") {
    b.Report("method calls on one virtual object", 10 * k,
             b.Phase("vom", "call", Repeat(StrCat("[", ks, "]"), 10)));
  }
  if (only.empty() || only == "1k") {
    std::vector<std::string> fills;
    for (int s = 0; s < 20; ++s) fills.push_back(StrCat("[\"small", s, "\",0,1000]"));
    b.Report("init, stores of 1,000", 20 * 1000, b.Phase("vom", "init", fills));
    for (const char* op : {"get", "set", "has"}) {
      b.Report(StrCat(op, " @1,000"), 10 * k,
               b.Phase("vom", op, Repeat(StrCat("[\"small0\",1000,", ks, "]"), 10)));
    }
  }
  if (only.empty() || only == "big") {
    std::vector<std::string> fills;
    for (uint64_t from = 0; from < big; from += k) {
      fills.push_back(StrCat("[\"big\",", from, ",", ks, "]"));
    }
    b.Report(StrCat("init, 0 to ", big), big, b.Phase("vom", "init", fills));
    for (const char* op : {"get", "set", "has"}) {
      b.Report(StrCat(op, " @", big), 10 * k,
               b.Phase("vom", op, Repeat(StrCat("[\"big\",", big, ",", ks, "]"), 10)));
    }
  }
  if (only.empty() || only == "reap") {
    constexpr uint64_t kDie = 100000;
    std::vector<std::string> holds;
    for (uint64_t from = 0; from < kDie; from += k) holds.push_back(StrCat("[", from, ",", ks, "]"));
    b.Phase("reaper", "hold", holds);
    Bench::Timing empty = b.Phase("reaper", "ping", {"[]"});
    Bench::Timing reap = b.Phase("reaper", "drop", {"[]"});
    std::printf("| one reap after %llu virtual objects (and their map store) die | %llu | %d | "
                "%.0f (a block with an empty reap: %.0f) | | |\n",
                static_cast<unsigned long long>(kDie), static_cast<unsigned long long>(kDie),
                reap.blocks, reap.ms - empty.ms, empty.ms);
  }
  std::printf("\nserver RSS: %.1f MB after the vats started, peak %.1f MB\n",
              b.start_rss_kb() / 1024.0, b.peak_rss_kb() / 1024.0);
  return 0;
}
