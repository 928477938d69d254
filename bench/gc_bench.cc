// gc_bench: vat A exports N fresh objects to vat B; B drops and retires them all in one crank;
// the kernel runs to quiescence (dropExports + retireExports to A, deletions). Reports the time
// of that GC phase and the time per object, first on an otherwise empty kernel and then with
// M unrelated live objects (exported by A, held by vat C), to show the cost is O(garbage), not
// O(state). Issue "Reference-counting GC", benchmark.
//
// Usage: gc_bench [objects=100000] [unrelated=1000000]

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/kernel.h"
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

Timing RunGc(uint64_t objects, uint64_t unrelated, uint64_t* cranks_out) {
  auto store = NewMemKvStore();
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
      send_objects(c, "o-50", objects);    // to B
    }
  });
  host.Register("B", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type != VatDelivery::Type::kMessage) return;
    if (d.methargs.body.rfind("#[\"take\"", 0) == 0) {
      held_by_b.insert(held_by_b.end(), d.methargs.slots.begin(), d.methargs.slots.end());
    } else if (d.methargs.body.rfind("#[\"dropAll\"", 0) == 0) {
      c.Gc(VatSyscall::Type::kDropImports, held_by_b);
      c.Gc(VatSyscall::Type::kRetireImports, held_by_b);
      if (d.result) c.Resolve(*d.result, false, "#\"#undefined\"");
    }
  });
  host.Register("C", [](const VatDelivery&, VatCtx&) {});
  std::unique_ptr<Kernel> kernel = OpenScriptedKernel(store.get(), &host);
  GenesisConfig g = ScriptedGenesis({"A", "B", "C"}, "A");
  Kernel* k = kernel.get();
  CHECK_OK(k->InitializeGenesis(g));
  while (k->Run(RunPolicy{20000}).work_remains) CHECK_OK(k->CommitBlock({}, false));
  CHECK_OK(k->CommitBlock({}, false));
  CHECK(held_by_b.size() == objects) << held_by_b.size();
  KernelCounts before = k->Counts();
  CHECK(before.objects >= objects + unrelated);

  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = ThreadCpuSeconds();
  uint64_t start = k->CrankNumber();
  CHECK(k->QueueToVatRoot("B", "dropAll", CapData{"#[]", {}}).ok());
  while (k->Run(RunPolicy{20000}).work_remains) CHECK_OK(k->CommitBlock({}, false));
  CHECK_OK(k->CommitBlock({}, false));
  auto t1 = std::chrono::steady_clock::now();
  double cpu1 = ThreadCpuSeconds();
  *cranks_out = k->CrankNumber() - start;
  KernelCounts after = k->Counts();
  CHECK(after.objects + objects == before.objects)
      << "objects before " << before.objects << " after " << after.objects;
  return Timing{std::chrono::duration<double>(t1 - t0).count(), cpu1 - cpu0};
}

}  // namespace
}  // namespace swingset

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? std::stoull(argv[1]) : 100000;
  uint64_t m = argc > 2 ? std::stoull(argv[2]) : 1000000;
  uint64_t cranks = 0;
  swingset::Timing empty = swingset::RunGc(n, 0, &cranks);
  std::printf("gc_bench: %llu objects dropped+retired, empty kernel: %.3f s (%llu cranks), "
              "%.2f us/object, %.1f ms per 10,000 (cpu %.1f ms per 10,000)\n",
              (unsigned long long)n, empty.wall, (unsigned long long)cranks,
              empty.wall * 1e6 / n, empty.wall * 1e3 * 10000 / n, empty.cpu * 1e3 * 10000 / n);
  swingset::Timing loaded = swingset::RunGc(n, m, &cranks);
  std::printf("gc_bench: %llu objects dropped+retired, %llu unrelated live objects: %.3f s "
              "(%llu cranks), %.2f us/object, %.1f ms per 10,000 (cpu %.1f ms per 10,000)\n",
              (unsigned long long)n, (unsigned long long)m, loaded.wall,
              (unsigned long long)cranks, loaded.wall * 1e6 / n, loaded.wall * 1e3 * 10000 / n,
              loaded.cpu * 1e3 * 10000 / n);
  std::printf("gc_bench: per-object ratio loaded/empty = %.2f (cpu %.2f)\n",
              loaded.wall / empty.wall, loaded.cpu / empty.cpu);
  return 0;
}
