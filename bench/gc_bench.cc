// gc_bench: vat A exports N fresh objects to vat B; B drops and retires them all in one crank;
// the kernel runs to quiescence (dropExports + retireExports to A, deletions). Reports the time
// of that GC phase and the time per object, first on an otherwise empty kernel and then with
// M unrelated live objects (exported by A, held by vat C), to show the cost is O(garbage), not
// O(state). Issue "Reference-counting GC", benchmark.
//
// One timed GC phase takes tens of milliseconds, so on a shared machine a single one is mostly
// noise: each kernel runs R rounds (A sends B N more fresh objects, untimed; then the timed GC
// phase), and the median round is reported beside every round's time.
//
// The store is in memory (the kernel's cost alone) or LevelDB under /tmp/gc_bench_db (adds the
// block's write to LevelDB, not synced, to each timed phase).
//
// Usage: gc_bench [objects=100000] [unrelated=1000000] [rounds=5] [memory|leveldb]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

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

constexpr int kPerMessage = 1000;

struct Timing {
  double wall = 0;
  double cpu = 0;
};

// The GC phases of `rounds` rounds on one kernel; *cranks_out is the last round's crank count.
constexpr const char* kLevelDbDir = "/tmp/gc_bench_db";

std::vector<Timing> RunGc(uint64_t objects, uint64_t unrelated, int rounds, bool leveldb,
                          uint64_t* cranks_out) {
  std::unique_ptr<KvStore> store;
  if (leveldb) {
    std::filesystem::remove_all(kLevelDbDir);
    auto opened = OpenLevelDbKvStore(kLevelDbDir);
    SWINGSET_CHECK_OK(opened.status());
    store = *std::move(opened);
  } else {
    store = NewMemKvStore();
  }
  FakeVatHost host;
  host.log_enabled = false;
  uint64_t next_export = 0;
  auto send_objects = [&](VatCtx& c, const std::string& to, uint64_t n) {
    while (n > 0) {
      uint64_t k = std::min<uint64_t>(n, kPerMessage);
      std::vector<std::string> slots;
      std::string args = "[";
      for (uint64_t i = 0; i < k; ++i) {
        slots.push_back(StrCat("o+", ++next_export));
        StrAppend(&args, i ? "," : "", "\"$", i, ".Alleged: x\"");
      }
      args += "]";
      c.Send(to, "take", std::move(slots), std::nullopt, args);
      n -= k;
    }
  };
  std::vector<std::string> held_by_b;
  host.Register("A", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type != VatDelivery::Type::kMessage) return;
    if (d.methargs.body.rfind("#[\"bootstrap\"", 0) == 0) {
      send_objects(c, "o-51", unrelated);  // to C
    } else if (d.methargs.body.rfind("#[\"more\"", 0) == 0) {
      send_objects(c, "o-50", objects);  // to B (its root, from the bootstrap message)
    }
  });
  host.Register("B", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type != VatDelivery::Type::kMessage) return;
    if (d.methargs.body.rfind("#[\"take\"", 0) == 0) {
      held_by_b.insert(held_by_b.end(), d.methargs.slots.begin(), d.methargs.slots.end());
    } else if (d.methargs.body.rfind("#[\"dropAll\"", 0) == 0) {
      c.Gc(VatSyscall::Type::kDropImports, held_by_b);
      c.Gc(VatSyscall::Type::kRetireImports, held_by_b);
      held_by_b.clear();
      if (d.result) c.Resolve(*d.result, false, "#\"#undefined\"");
    }
  });
  host.Register("C", [](const VatDelivery&, VatCtx&) {});
  std::unique_ptr<Kernel> kernel = OpenScriptedKernel(store.get(), &host);
  GenesisConfig g = ScriptedGenesis({"A", "B", "C"}, "A");
  Kernel* k = kernel.get();
  SWINGSET_CHECK_OK(k->InitializeGenesis(g));
  auto run_to_quiescence = [&]() {
    while (k->Run(RunPolicy{20000}).work_remains) SWINGSET_CHECK_OK(k->CommitBlock({}, false));
    SWINGSET_CHECK_OK(k->CommitBlock({}, false));
  };
  run_to_quiescence();
  std::vector<Timing> out;
  for (int round = 0; round < rounds; ++round) {
    SWINGSET_CHECK(k->QueueToVatRoot("A", "more", CapData{"#[]", {}}).ok());
    run_to_quiescence();
    SWINGSET_CHECK(held_by_b.size() == objects) << held_by_b.size();
    KernelCounts before = k->Counts();
    SWINGSET_CHECK(before.objects >= objects + unrelated);

    auto t0 = std::chrono::steady_clock::now();
    double cpu0 = ProcessCpuSeconds();
    uint64_t start = k->CrankNumber();
    SWINGSET_CHECK(k->QueueToVatRoot("B", "dropAll", CapData{"#[]", {}}).ok());
    run_to_quiescence();
    auto t1 = std::chrono::steady_clock::now();
    double cpu1 = ProcessCpuSeconds();
    *cranks_out = k->CrankNumber() - start;
    KernelCounts after = k->Counts();
    SWINGSET_CHECK(after.objects + objects == before.objects)
        << "objects before " << before.objects << " after " << after.objects;
    out.push_back(Timing{std::chrono::duration<double>(t1 - t0).count(), cpu1 - cpu0});
  }
  return out;
}

Timing Median(std::vector<Timing> t) {
  std::sort(t.begin(), t.end(), [](const Timing& a, const Timing& b) { return a.cpu < b.cpu; });
  return t[(t.size() - 1) / 2];
}

void Report(const char* what, uint64_t n, uint64_t cranks, const std::vector<Timing>& rounds,
            const Timing& med) {
  std::printf("gc_bench: %llu objects dropped+retired, %s: median of %zu rounds %.1f ms per "
              "10,000 cpu (wall %.1f ms), %.2f us/object, %llu cranks; rounds cpu ms per 10,000:",
              (unsigned long long)n, what, rounds.size(), med.cpu * 1e3 * 10000 / n,
              med.wall * 1e3 * 10000 / n, med.cpu * 1e6 / n, (unsigned long long)cranks);
  for (const Timing& t : rounds) std::printf(" %.1f", t.cpu * 1e3 * 10000 / n);
  std::printf("\n");
}

}  // namespace
}  // namespace swingset

int main(int argc, char** argv) {
  using namespace swingset;
  uint64_t n = argc > 1 ? std::stoull(argv[1]) : 100000;
  uint64_t m = argc > 2 ? std::stoull(argv[2]) : 1000000;
  int rounds = argc > 3 ? std::stoi(argv[3]) : 5;
  std::string store = argc > 4 ? argv[4] : "memory";
  SWINGSET_CHECK(n > 0 && rounds > 0 && (store == "memory" || store == "leveldb"))
      << "usage: gc_bench [objects>0] [unrelated] [rounds>0] [memory|leveldb]";
  const bool leveldb = store == "leveldb";
  std::printf("gc_bench: store %s\n", store.c_str());
  uint64_t cranks = 0;
  std::vector<Timing> empty = RunGc(n, 0, rounds, leveldb, &cranks);
  Timing e = Median(empty);
  Report("empty kernel", n, cranks, empty, e);
  std::vector<Timing> loaded = RunGc(n, m, rounds, leveldb, &cranks);
  Timing l = Median(loaded);
  std::string what = StrCat(m, " unrelated live objects");
  Report(what.c_str(), n, cranks, loaded, l);
  std::printf("gc_bench: per-object ratio loaded/empty (medians) = %.2f cpu (wall %.2f)\n",
              l.cpu / e.cpu, l.wall / e.wall);
  if (leveldb) std::filesystem::remove_all(kLevelDbDir);
  return 0;
}
