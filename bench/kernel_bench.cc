// kernel_bench: ping-pong between two scripted vats (issue "Kernel core", benchmark).
//
// A sends B "ping" with a fresh result promise and subscribes to it; B resolves it; A's notify
// sends the next ping. One round trip is four cranks (routing + delivery of the send, routing +
// delivery of the notify). Runs on the in-memory store and on LevelDB with a block commit every
// 1,000 cranks. Prints cranks/s (wall clock), the process's CPU time, and the kernel thread's
// CPU time alone (the activity hash is chained on a worker thread: on a machine whose second
// core is busy, wall time approaches the process's CPU time instead of the kernel thread's).
//
// Usage: kernel_bench [round_trips=100000] [leveldb_dir=/tmp/kernel_bench_db] [stores=both]
// where stores is both, memory or leveldb.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench/bench_util.h"
#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/kernel.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/storage/mem_kv_store.h"
#include "kernel/strings.h"
#include "kernel/testing/fake_vat_host.h"
#include "kernel/testing/kernel_harness.h"

namespace swingset {
namespace {

struct Result {
  uint64_t cranks = 0;
  double seconds = 0;
  double cpu_seconds = 0;     // the whole process: kernel thread and activity-hash worker
  double kernel_seconds = 0;  // the kernel thread's CPU alone
};

Result RunPingPong(KvStore* store, uint64_t round_trips, uint64_t commit_every) {
  FakeVatHost host;
  host.log_enabled = false;
  uint64_t sent = 0;
  auto ping = [&](VatCtx& c) {
    ++sent;
    std::string p = StrCat("p+", sent);
    c.Send("o-50", "ping", {}, p, "[]");
    c.Subscribe(p);
  };
  host.Register("A", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage) {
      ping(c);  // bootstrap(vats, devices): B's root arrives as o-50 and starts the game
    } else if (d.type == VatDelivery::Type::kNotify && sent < round_trips) {
      ping(c);
    }
  });
  host.Register("B", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && d.result) {
      c.Resolve(*d.result, false, "#\"pong\"");
    }
  });
  std::unique_ptr<Kernel> kernel = OpenScriptedKernel(store, &host);
  GenesisConfig g = ScriptedGenesis({"A", "B"}, "A");
  SWINGSET_CHECK_OK(kernel->InitializeGenesis(g));
  SWINGSET_CHECK_OK(kernel->CommitBlock({}, true));
  Kernel* impl = kernel.get();
  uint64_t start_crank = impl->CrankNumber();
  auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = ProcessCpuSeconds(), kernel0 = ThreadCpuSeconds();
  uint64_t cranks = 0;
  while (true) {
    RunStats s = impl->Run(RunPolicy{commit_every});
    cranks += s.cranks;
    if (commit_every) SWINGSET_CHECK_OK(impl->CommitBlock({}, true));
    if (!s.work_remains) break;
  }
  auto t1 = std::chrono::steady_clock::now();
  Result r;
  r.cranks = impl->CrankNumber() - start_crank;
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.cpu_seconds = ProcessCpuSeconds() - cpu0;
  r.kernel_seconds = ThreadCpuSeconds() - kernel0;
  SWINGSET_CHECK(sent == round_trips) << "only " << sent << " pings";
  return r;
}

void Print(const char* store, uint64_t n, const Result& r, const char* note) {
  std::printf("kernel_bench %s: %llu round trips, %llu cranks in %.3f s = %.0f cranks/s; "
              "cpu %.3f s (kernel thread %.3f s, %.2f us/crank)%s\n",
              store, (unsigned long long)n, (unsigned long long)r.cranks, r.seconds,
              r.cranks / r.seconds, r.cpu_seconds, r.kernel_seconds,
              r.kernel_seconds * 1e6 / r.cranks, note);
}

}  // namespace
}  // namespace swingset

int main(int argc, char** argv) {
  using namespace swingset;
  uint64_t n = argc > 1 ? std::stoull(argv[1]) : 100000;
  std::string dir = argc > 2 ? argv[2] : "/tmp/kernel_bench_db";
  std::string stores = argc > 3 ? argv[3] : "both";
  if (stores != "leveldb") {
    auto store = NewMemKvStore();
    Print("memory ", n, RunPingPong(store.get(), n, 1000), "");
  }
  if (stores != "memory") {
    std::filesystem::remove_all(dir);
    auto store = OpenLevelDbKvStore(dir);
    SWINGSET_CHECK_OK(store.status());
    Print("leveldb", n, RunPingPong(store->get(), n, 1000), " (commit every 1000 cranks, sync)");
    std::filesystem::remove_all(dir);
  }
  return 0;
}
