// js_bench: JavaScript vats on the real kernel (issue 5, benchmarks).
//
//   pingpong  vat A awaits N sequential `await E(b).ping(i)`; ~4 cranks per round trip
//             (send routing + delivery, notify routing + delivery). Reaping off, and again with
//             the kernel default (bringOutYourDead after every delivery).
//   churn     A awaits N sequential `E(b).take(Far(...))` with a fresh Far each time; B drops it.
//             Run twice: with the reap schedule a chain uses (genesis default reap interval,
//             --reap-interval, default 1,000 deliveries, plus the kernel's gcKrefs threshold of
//             20), and with the kernel default (bringOutYourDead after every delivery, what the
//             Agoric figures use). Reported as cranks/s to quiescence, plus how many objects
//             were still unreaped at quiescence (the interval run).
//   reap      A sends B one message carrying N fresh Far objects; B drops them; the time of the
//             one bringOutYourDead crank that finds all N dead (vat GC + dropImports +
//             retireImports) and of the kernel GC deliveries that follow.
//   idle      M idle JS vats loaded and started directly on a JsVatHost: RSS delta per vat and
//             start time (LoadVat + startVat).
//
// The kernel runs on the in-memory store with a block commit every 1,000 cranks (no sync), or
// on LevelDB (synced commit every 1,000 cranks) with --leveldb DIR.
//
// Usage: js_bench [--n N] [--vats M] [--leveldb DIR] [--only pingpong|churn|reap|idle]
//                 [--reap never|1|both]   (pingpong only) [--no-jit]
//                 [--churn-reap interval|1|both] [--reap-interval D]

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "bench/bench_util.h"
#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/kernel.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/storage/mem_kv_store.h"
#include "kernel/strings.h"
#include "vats/js_engine.h"
#include "vats/js_vat_host.h"

namespace swingset {
namespace {

using Clock = std::chrono::steady_clock;
bool g_jit = true;
bool g_lite_lockdown = false;  // --lite-lockdown: js/lite_lockdown.js instead of SES
bool g_ses_bundle = false;     // --ses-bundle: SES from ses.umd.js, not its ES modules
int g_extra_vats = 0;
bool g_metered = false;         // --metered: every vat metered (1e8 computrons / depth 1000)
int g_meter_version = kMeterVersion;  // --meter-version: the meter version of metered vats
// --delivery-timeout-seconds: the host's wall-clock watchdog (default 30 s); raise it to run
// under valgrind (bench/ir_per_crank.sh), where loading a metered vat takes minutes.
int g_delivery_timeout_seconds = 30;

// A genesis vat, metered when the command line asks for it.
VatConfig BenchVat(std::string name, std::string source) {
  VatConfig v{std::move(name), std::move(source)};
  if (g_metered) {
    v.meter = Json::MakeObject();
    v.meter.Set("version", g_meter_version);
    v.meter.Set("computrons", int64_t{100'000'000});
    v.meter.Set("maxDepth", 1000);
  }
  return v;
}

// The host options the command line chose.
JsVatHostOptions HostOptions() {
  JsVatHostOptions ho;
  ho.jit = g_jit;
  ho.lite_lockdown = g_lite_lockdown;
  ho.ses_bundle = g_ses_bundle;
  ho.delivery_timeout = std::chrono::seconds(g_delivery_timeout_seconds);
  return ho;
}

double Secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
// CPU seconds of the whole process (all threads): less sensitive to other load than wall time.
constexpr char kVatA[] = R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  let b;
  return Far('root', {
    bootstrap(vats) { b = vats.b; },
    async pingpong(n) {
      let sum = 0;
      for (let i = 0; i < n; i += 1) sum += await E(b).ping(i);
      return sum;
    },
    async churn(n) {
      for (let i = 0; i < n; i += 1) await E(b).take(Far('thing', { get: () => i }));
      return n;
    },
    async churnSame(n) {
      const thing = Far('thing', { get: () => 0 });
      for (let i = 0; i < n; i += 1) await E(b).take(thing);
      return n;
    },
    async churnNoSend(n) {
      for (let i = 0; i < n; i += 1) { Far('thing', { get: () => i }); await E(b).ping(i); }
      return n;
    },
    async bulk(n) {
      const things = [];
      for (let i = 0; i < n; i += 1) things.push(Far('thing', { get: () => i }));
      await E(b).takeAll(harden(things));
      return n;
    },
  });
}
)";

constexpr char kVatB[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  let taken = 0;
  return Far('root', {
    ping(i) { return i; },
    take(thing) { taken += 1; },
    takeAll(things) { taken += things.length; },
  });
}
)";

constexpr char kIdleVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('root', { hello: () => 'hi' });
}
)";

// Times the kernel's handling of a delivery's syscalls.
class TimingSyscalls : public SyscallHandler {
 public:
  explicit TimingSyscalls(SyscallHandler* inner) : inner_(inner) {}
  SyscallResult Syscall(const VatSyscall& s) override {
    auto t0 = Clock::now();
    SyscallResult r = inner_->Syscall(s);
    seconds += Secs(t0, Clock::now());
    ++count;
    return r;
  }
  double seconds = 0;
  uint64_t count = 0;

 private:
  SyscallHandler* inner_;
};

// Times deliveries by type (and the kernel's part of them, its syscall handling), and the
// slowest bringOutYourDead of one vat.
class TimingHost : public VatHost {
 public:
  explicit TimingHost(VatHost* inner) : inner_(inner) {}
  absl::Status LoadVat(const VatSpec& spec) override { return inner_->LoadVat(spec); }
  DeliveryResult Deliver(VatId vat, const VatDelivery& d, SyscallHandler* h) override {
    TimingSyscalls sh(h);
    auto t0 = Clock::now();
    double c0 = ThreadCpuSeconds();
    DeliveryResult r = inner_->Deliver(vat, d, &sh);
    double s = Secs(t0, Clock::now());
    double cpu = ThreadCpuSeconds() - c0;
    Stat& st = by_type[static_cast<int>(d.type)];
    st.n += 1;
    st.seconds += s;
    st.cpu_seconds += cpu;
    st.syscall_seconds += sh.seconds;
    st.syscalls += sh.count;
    if (d.type == VatDelivery::Type::kBringOutYourDead && watch_ && vat == *watch_ &&
        s > max_reap_s) {
      max_reap_s = s;
      max_reap_syscall_s = sh.seconds;
      max_reap_cpu_s = cpu;
    }
    return r;
  }
  void PrintByType() {
    for (const auto& [t, st] : by_type) {
      std::printf("    %-18s %7llu deliveries, %8.1f us each (%5.1f us in %.1f syscalls), "
                  "thread CPU %8.1f us\n",
                  DeliveryTypeName(static_cast<VatDelivery::Type>(t)),
                  (unsigned long long)st.n, st.seconds * 1e6 / st.n,
                  st.syscall_seconds * 1e6 / st.n, static_cast<double>(st.syscalls) / st.n,
                  st.cpu_seconds * 1e6 / st.n);
    }
  }
  struct Stat {
    uint64_t n = 0;
    double seconds = 0;
    double cpu_seconds = 0;  // thread CPU time
    double syscall_seconds = 0;
    uint64_t syscalls = 0;
  };
  std::map<int, Stat> by_type;
  void StopVat(VatId vat) override { inner_->StopVat(vat); }
  void DiscardUncommitted() override { inner_->DiscardUncommitted(); }
  void Watch(VatId v) { watch_ = v; }

  double max_reap_s = 0;
  double max_reap_syscall_s = 0;  // the kernel's part of it
  double max_reap_cpu_s = 0;      // its thread CPU time

 private:
  VatHost* inner_;
  std::optional<VatId> watch_;
};

struct World {
  std::unique_ptr<JsVatHost> js;
  std::unique_ptr<TimingHost> timing;
  std::unique_ptr<KvStore> store;
  std::unique_ptr<Kernel> kernel;
  bool sync = false;
};

// Reap schedule: 0 = never, 1 = the kernel default (every delivery), D = every D deliveries
// (a genesis default_reap_interval: {"deliveries": D, "gcKrefs": 20, "computrons": "never"}).
World Boot(const std::string& leveldb_dir, uint32_t reap_every) {
  World w;
  JsVatHostOptions ho = HostOptions();
  ho.console_to_stderr = true;
  w.js = JsVatHost::Create(ho);
  w.timing = std::make_unique<TimingHost>(w.js.get());
  if (leveldb_dir.empty()) {
    w.store = NewMemKvStore();
  } else {
    std::filesystem::remove_all(leveldb_dir);
    auto s = OpenLevelDbKvStore(leveldb_dir);
    SWINGSET_CHECK_OK(s.status());
    w.store = std::move(*s);
    w.sync = true;
  }
  KernelOptions o;
  o.store = w.store.get();
  o.vat_host = w.timing.get();
  o.hasher_factory = Sha256HasherFactory();
  auto k = Kernel::Open(std::move(o));
  SWINGSET_CHECK_OK(k.status());
  w.kernel = std::move(*k);
  GenesisConfig g;
  g.vats.push_back(BenchVat("a", kVatA));
  g.vats.push_back(BenchVat("b", kVatB));
  // Idle bystanders (--extra-vats): what per-delivery costs grow with the number of vats.
  for (int i = 0; i < g_extra_vats; ++i) g.vats.push_back(BenchVat(StrCat("idle", i), kIdleVat));
  g.bootstrap_vat = "a";
  if (reap_every == 0) {
    Json never = Json::MakeObject();
    never.Set("never", true);
    g.default_reap_dirt_threshold = never;
  } else if (reap_every > 1) {
    Json t = Json::MakeObject();
    t.Set("deliveries", static_cast<int64_t>(reap_every));
    t.Set("gcKrefs", 20);
    t.Set("computrons", "never");
    g.default_reap_dirt_threshold = t;
  }
  SWINGSET_CHECK_OK(w.kernel->InitializeGenesis(g));
  w.kernel->Run(RunPolicy{});
  SWINGSET_CHECK_OK(w.kernel->CommitBlock({}, w.sync));
  w.timing->Watch(*w.kernel->VatIdByName("b"));
  return w;
}

struct RunResult {
  uint64_t cranks = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  double thread_cpu_seconds = 0;  // the kernel thread only (no JS helper threads)
  std::string outcome;
  uint64_t major_gcs = 0;  // including the reaps' zone GCs
  uint64_t minor_gcs = 0;
};

RunResult CallAndRun(World& w, const std::string& method, uint64_t n) {
  Kernel* k = w.kernel.get();
  auto gc0 = w.js->TEST_GcCounts();
  uint64_t c0 = k->CrankNumber();
  auto t0 = Clock::now();
  double cpu0 = ProcessCpuSeconds();
  double tcpu0 = ThreadCpuSeconds();
  auto kp = k->QueueToVatRoot("a", method, CapData{StrCat("#[", n, "]"), {}});
  SWINGSET_CHECK_OK(kp.status());
  while (true) {
    RunStats s = k->Run(RunPolicy{1000});
    SWINGSET_CHECK_OK(k->CommitBlock({}, w.sync));
    if (!s.work_remains) break;
  }
  RunResult r;
  r.seconds = Secs(t0, Clock::now());
  r.cpu_seconds = ProcessCpuSeconds() - cpu0;
  r.thread_cpu_seconds = ThreadCpuSeconds() - tcpu0;
  r.cranks = k->CrankNumber() - c0;
  PromiseStatus ps = k->GetPromiseStatus(*kp);
  r.outcome = ps.state + " " + ps.data.body;
  auto gc1 = w.js->TEST_GcCounts();
  r.major_gcs = gc1.first - gc0.first;
  r.minor_gcs = gc1.second - gc0.second;
  SWINGSET_CHECK_OK(k->ReleaseHostPromise(*kp));
  return r;
}

void Report(const char* what, const RunResult& r) {
  std::printf("%-34s %7llu cranks in %7.3f s = %8.0f cranks/s (per CPU s: %.0f; per kernel "
              "thread CPU s: %.0f)   (%s)\n",
              what, (unsigned long long)r.cranks, r.seconds, r.cranks / r.seconds,
              r.cranks / r.cpu_seconds, r.cranks / r.thread_cpu_seconds, r.outcome.c_str());
  std::printf("    GCs: %llu major (incl. reaps), %llu minor\n", (unsigned long long)r.major_gcs,
              (unsigned long long)r.minor_gcs);
  std::fflush(stdout);
}

std::string StoreName(const std::string& dir) { return dir.empty() ? "memory" : "leveldb"; }

std::string g_reap = "both";        // never | 1 | both
std::string g_churn_reap = "both";  // interval | 1 | both
uint32_t g_reap_interval = 1000;

void PingPong(uint64_t n, const std::string& dir) {
  for (bool never : {true, false}) {
    if ((never && g_reap == "1") || (!never && g_reap == "never")) continue;
    World w = Boot(dir, never ? 0 : 1);
    RunResult r = CallAndRun(w, "pingpong", n);
    std::string what = StrCat("pingpong ", StoreName(dir), never ? " reap=never" : " reap=1");
    Report(what.c_str(), r);
    w.timing->PrintByType();
    std::printf("    zone heap a %.2f MB b %.2f MB\n",
                w.js->TEST_ZoneHeapBytes(*w.kernel->VatIdByName("a")) / 1048576.0,
                w.js->TEST_ZoneHeapBytes(*w.kernel->VatIdByName("b")) / 1048576.0);
  }
}

void Churn(uint64_t n, const std::string& dir) {
  for (uint32_t every : {g_reap_interval, 1u}) {
    if ((every == 1 && g_churn_reap == "interval") || (every != 1 && g_churn_reap == "1")) {
      continue;
    }
    World w = Boot(dir, every);
    uint64_t objects_before = w.kernel->Counts().objects;
    RunResult r = CallAndRun(w, "churn", n);
    std::string what = StrCat("churn ", StoreName(dir), " reap=", every);
    Report(what.c_str(), r);
    w.timing->PrintByType();
    KernelCounts c = w.kernel->Counts();
    std::printf("  kernel objects before %llu, at quiescence %llu (not yet reaped), "
                "c-list entries %llu\n",
                (unsigned long long)objects_before, (unsigned long long)c.objects,
                (unsigned long long)c.clist_entries);
  }
}

void Reap(uint64_t n, const std::string& dir) {
  World w = Boot(dir, 1);
  uint64_t objects_before = w.kernel->Counts().objects;
  RunResult r = CallAndRun(w, "bulk", n);
  std::string what = StrCat("bulk send+drop ", StoreName(dir));
  Report(what.c_str(), r);
  std::printf("  one bringOutYourDead of %llu objects in b: %.2f ms (delivery incl. syscalls; "
              "%.2f ms of it in the kernel's syscall handling); thread CPU %.2f ms\n",
              (unsigned long long)n, w.timing->max_reap_s * 1e3,
              w.timing->max_reap_syscall_s * 1e3, w.timing->max_reap_cpu_s * 1e3);
  w.timing->PrintByType();
  KernelCounts c = w.kernel->Counts();
  std::printf("  kernel objects before %llu after %llu, c-list entries %llu\n",
              (unsigned long long)objects_before, (unsigned long long)c.objects,
              (unsigned long long)c.clist_entries);
}

uint64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

void PrintMallocInUse() {
  struct mallinfo2 mi = mallinfo2();
  std::printf("malloc in use %.1f MB\n", mi.uordblks / 1048576.0);
}

class OkHandler : public SyscallHandler {
 public:
  SyscallResult Syscall(const VatSyscall&) override { return SyscallResult{}; }
};

void Idle(int vats) {
  auto host = JsVatHost::Create(HostOptions());
  OkHandler handler;
  auto start = [&](uint64_t i) {
    VatSpec spec;
    spec.vat_id = VatId(i);
    spec.name = StrCat("idle", i);
    spec.source = kIdleVat;
    SWINGSET_CHECK_OK(host->LoadVat(spec));
    VatDelivery d;
    d.type = VatDelivery::Type::kStartVat;
    d.vat_parameters = CapData{"#{}", {}};
    DeliveryResult r = host->Deliver(VatId(i), d, &handler);
    SWINGSET_CHECK(r.ok) << r.error;
  };
  auto t_first = Clock::now();
  start(1);  // the first vat pays for one-time engine set-up
  double first = Secs(t_first, Clock::now());
  host->TEST_ForceGC();
  uint64_t rss0 = RssBytes();
  PrintMallocInUse();
  auto t0 = Clock::now();
  double c0 = ThreadCpuSeconds();
  for (int i = 0; i < vats; ++i) start(2 + i);
  double secs = Secs(t0, Clock::now());
  double cpu = ThreadCpuSeconds() - c0;
  host->TEST_ForceGC();
  uint64_t rss1 = RssBytes();
  PrintMallocInUse();
  {
    auto g0 = Clock::now();
    for (int i = 0; i < 100; ++i) host->TEST_ZoneGC(VatId(2));
    std::printf("idle vat zone GC: %.1f us (zone heap %.2f MB)\n",
                Secs(g0, Clock::now()) * 1e4, host->TEST_ZoneHeapBytes(VatId(2)) / 1048576.0);
    g0 = Clock::now();
    for (int i = 0; i < 10; ++i) host->TEST_ForceGC();
    std::printf("full GC with %d vats: %.1f us\n", vats + 1, Secs(g0, Clock::now()) * 1e5);
  }
  std::printf("idle vats: first vat %.1f ms; %d more in %.3f s = %.2f ms/vat "
              "(kernel thread CPU %.2f ms/vat); RSS +%.1f MB = %.0f KB/vat\n",
              first * 1e3, vats, secs, secs * 1e3 / vats, cpu * 1e3 / vats,
              (rss1 - rss0) / 1048576.0, (rss1 - rss0) / 1024.0 / vats);
}

// Micro-benchmarks of the pieces of a delivery, run inside one idle vat's realm (TEST_Eval),
// timed from C++: for profiling the JS path.
constexpr char kComputeVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  const fib = n => (n < 2 ? n : fib(n - 1) + fib(n - 2));
  return Far('compute', {
    loop(n) { let s = 0; for (let i = 0; i < n; i += 1) s = (s + i * 7) % 1000003; return s; },
    matmul(n) {
      const a = []; const b = []; const c = [];
      for (let i = 0; i < n * n; i += 1) { a[i] = i % 7; b[i] = i % 5; c[i] = 0; }
      for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) {
        let s = 0; for (let k = 0; k < n; k += 1) s += a[i * n + k] * b[k * n + j]; c[i * n + j] = s;
      }
      return c[n * n - 1];
    },
    fib(n) { return fib(n); },
    regex(n) {
      const r = /^(\w+)@(\w+)\.com$/;
      let hits = 0;
      for (let i = 0; i < n; i += 1) if (r.test(`user${i % 100}@example.com`)) hits += 1;
      return hits;
    },
    objects(n) {
      let t = 0;
      for (let i = 0; i < n; i += 1) { const o = { x: i, y: [i, i + 1] }; t += o.y.map(v => v * 2).reduce((p, q) => p + q, 0); }
      return t;
    },
  });
}
)";

// Compute-heavy vat code, unmetered and metered in turn: the time of one delivery of each
// kernel (best of 5), and its computrons when metered.
void Compute() {
  const std::pair<const char*, const char*> cases[] = {
      {"loop", "[10000000]"}, {"matmul", "[120]"}, {"fib", "[27]"}, {"objects", "[300000]"},
      {"regex", "[100000]"}};
  for (bool metered : {false, true}) {
    auto host = JsVatHost::Create(HostOptions());
    OkHandler handler;
    VatSpec spec;
    spec.vat_id = VatId(1);
    spec.name = "compute";
    spec.source = kComputeVat;
    if (metered) spec.options_json = StrCat(R"({"meter":{"version":)", g_meter_version,
                                          R"(,"computrons":10000000000,"maxDepth":1000}})");
    SWINGSET_CHECK_OK(host->LoadVat(spec));
    VatDelivery d;
    d.type = VatDelivery::Type::kStartVat;
    d.vat_parameters = CapData{"#{}", {}};
    SWINGSET_CHECK(host->Deliver(VatId(1), d, &handler).ok);
    int p = 60;
    for (const auto& [method, args] : cases) {
      double best = 1e9;
      uint64_t computrons = 0;
      for (int rep = 0; rep < 5; ++rep) {
        VatDelivery m;
        m.type = VatDelivery::Type::kMessage;
        m.target = "o+0";
        m.methargs = CapData{StrCat("#[\"", method, "\",", args, "]"), {}};
        m.result = StrCat("p-", p++);
        auto t0 = Clock::now();
        DeliveryResult r = host->Deliver(VatId(1), m, &handler);
        double secs = Secs(t0, Clock::now());
        SWINGSET_CHECK(r.ok) << r.error;
        if (secs < best) best = secs;
        computrons = r.computrons.value_or(0);
      }
      std::printf("compute %-8s %-9s %8.1f ms  %12llu computrons\n", method,
                  metered ? "metered" : "unmetered", best * 1e3,
                  static_cast<unsigned long long>(computrons));
    }
  }
}

void Micro(uint64_t n) {
  auto host = JsVatHost::Create(HostOptions());
  OkHandler handler;
  VatSpec spec;
  spec.vat_id = VatId(1);
  spec.name = "micro";
  spec.source = kIdleVat;
  if (g_metered) spec.options_json = StrCat(R"({"meter":{"version":)", g_meter_version,
                                            R"(,"computrons":1000000000000,"maxDepth":1000}})");
  SWINGSET_CHECK_OK(host->LoadVat(spec));
  VatDelivery d;
  d.type = VatDelivery::Type::kStartVat;
  d.vat_parameters = CapData{"#{}", {}};
  SWINGSET_CHECK(host->Deliver(VatId(1), d, &handler).ok);
  const std::pair<const char*, const char*> cases[] = {
      {"empty loop", "ns => { for (let i = 0; i < N; i += 1) {} }"},
      {"harden({})", "ns => { for (let i = 0; i < N; i += 1) harden({}); }"},
      {"harden([m,[i]])", "ns => { for (let i = 0; i < N; i += 1) harden(['ping', [i]]); }"},
      {"harden(hardened)", "ns => { const o = harden({}); for (let i = 0; i < N; i += 1) harden(o); }"},
      {"new Set+add", "ns => { for (let i = 0; i < N; i += 1) { const s = new Set(); s.add({}); } }"},
      {"getOwnPropDescs({})", "ns => { const g = Object.getOwnPropertyDescriptors; for (let i = 0; i < N; i += 1) g({}); }"},
      {"TA toStringTag get", "ns => { const g = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get; "
                             "for (let i = 0; i < N; i += 1) Reflect.apply(g, {}, []); }"},
      {"Object.freeze({})", "ns => { for (let i = 0; i < N; i += 1) Object.freeze({}); }"},
      {"Far(...)", "ns => { const F = ns.passStyle.Far; for (let i = 0; i < N; i += 1) "
                   "F('thing', { get: () => i }); }"},
      {"makePresence", "ns => { const f = ns.passStyle.makePresence; "
                       "for (let i = 0; i < N; i += 1) f('Alleged: thing'); }"},
      {"passStyleOf(record)", "ns => { const p = ns.passStyle.passStyleOf; const r = harden({ a: 1, b: 2 }); "
                              "for (let i = 0; i < N; i += 1) p(r); }"},
      {"serialize [m,[i]]", "ns => { const m = ns.liveslotsInstance.marshal; "
                            "for (let i = 0; i < N; i += 1) m.serialize(harden(['ping', [i]])); }"},
      {"unserialize [m,[i]]", "ns => { const m = ns.liveslotsInstance.marshal; "
                              "const c = { body: '#[\"ping\",[1]]', slots: [] }; "
                              "for (let i = 0; i < N; i += 1) m.unserialize(c); }"},
      {"unserialize w/ slot", "ns => { const pr = ns.passStyle.makePresence('Alleged: thing'); "
                              "const m = ns.marshal.makeMarshal(v => 'o-1', s => pr); "
                              "const c = { body: '#[\"take\",[\"$0.Alleged: thing\"]]', slots: ['o-5'] }; "
                              "for (let i = 0; i < N; i += 1) m.unserialize(c); }"},
      {"serialize w/ slot", "ns => { const pr = ns.passStyle.makePresence('Alleged: thing'); "
                            "const m = ns.marshal.makeMarshal(v => 'o-1', s => pr); "
                            "for (let i = 0; i < N; i += 1) m.serialize(harden(['take', [pr]])); }"},
      {"regex test", "ns => { for (let i = 0; i < N; i += 1) /^(0|[1-9][0-9]*)$/.test('12'); }"},
      {"JSON.parse delivery", "ns => { const t = JSON.stringify(['message', 'o+0', "
                              "{ methargs: { body: '#[\"ping\",[1]]', slots: [] }, "
                              "result: 'p-60' }]); for (let i = 0; i < N; i += 1) JSON.parse(t); }"},
      {"JSON.stringify sc", "ns => { const v = ['send', 'o-50', { methargs: { body: "
                            "'#[\"ping\",[1]]', slots: [] }, result: 'p+5' }]; "
                            "for (let i = 0; i < N; i += 1) JSON.stringify(v); }"},
      {"destructure [a,b]=arr", "ns => { const arr = ['a', 'b']; let x = 0; for (let i = 0; i < N; i += 1) { "
                                "const [a, b] = arr; x += a.length; } return x; }"},
      {"index a=arr[0],b=arr[1]", "ns => { const arr = ['a', 'b']; let x = 0; for (let i = 0; i < N; i += 1) { "
                                  "const a = arr[0]; const b = arr[1]; x += a.length; } return x; }"},
      {"for-of 3-elem array", "ns => { const arr = ['a', 'b', 'c']; let x = 0; for (let i = 0; i < N; i += 1) { "
                              "for (const a of arr) x += a.length; } return x; }"},
      {"arr.push x3", "ns => { for (let i = 0; i < N; i += 1) { const a = []; a.push(1); a.push(2); a.push(3); } }"},
      {"arr[len]= x3", "ns => { for (let i = 0; i < N; i += 1) { const a = []; a[a.length] = 1; "
                       "a[a.length] = 2; a[a.length] = 3; } }"},
      {"await-like then(p)", "ns => { const p = Promise.resolve(1); for (let i = 0; i < N; i += 1) p.then(); }"},
      {"Promise.resolve(p)", "ns => { const p = Promise.resolve(1); for (let i = 0; i < N; i += 1) Promise.resolve(p); }"},
      {"WeakMap.set fresh obj", "ns => { const w = new WeakMap(); for (let i = 0; i < N; i += 1) w.set({}, 'o+1'); }"},
      {"private stamp fresh obj", "ns => { class B { constructor(o) { return o; } } "
                                  "class S extends B { #v; constructor(o, v) { super(o); this.#v = v; } } "
                                  "for (let i = 0; i < N; i += 1) new S({}, 'o+1'); }"},
      {"private stamp frozen obj", "ns => { class B { constructor(o) { return o; } } "
                                  "class S extends B { #v; constructor(o, v) { super(o); this.#v = v; } } "
                                  "for (let i = 0; i < N; i += 1) new S(Object.freeze({}), 'o+1'); }"},
      {"WeakMap.set frozen obj", "ns => { const w = new WeakMap(); for (let i = 0; i < N; i += 1) w.set(Object.freeze({}), 'o+1'); }"},
      {"WeakMap.get miss", "ns => { const w = new WeakMap(); const o = {}; for (let i = 0; i < N; i += 1) w.get(o); }"},
      {"promise kit+then", "ns => { for (let i = 0; i < N; i += 1) { let r; "
                           "const p = new Promise(res => { r = res; }); p.then(x => x); r(i); } }"},
  };
  for (const auto& [name, body] : cases) {
    std::string src = StrCat("(ns => { const N = ", n, "; const f = ", body, "; f(ns); })");
    // warm up, then time
    SWINGSET_CHECK_OK(host->TEST_Eval(VatId(1), src).status());
    auto gc0 = host->TEST_GcCounts();
    auto t0 = Clock::now();
    absl::StatusOr<std::string> r = host->TEST_Eval(VatId(1), src);
    double s = Secs(t0, Clock::now());
    auto gc1 = host->TEST_GcCounts();
    SWINGSET_CHECK(r.ok()) << name << ": " << r.status();
    std::printf("  %-24s %8.3f us  (%llu minor GCs)\n", name, s * 1e6 / n,
                (unsigned long long)(gc1.second - gc0.second));
  }
}

}  // namespace
}  // namespace swingset

int main(int argc, char** argv) {
  using namespace swingset;
  uint64_t n = 10000;
  int vats = 50;
  std::string dir;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      SWINGSET_CHECK(i + 1 < argc) << a << " needs a value";
      return argv[++i];
    };
    if (a == "--n") n = std::stoull(next());
    else if (a == "--vats") vats = std::stoi(next());
    else if (a == "--leveldb") dir = next();
    else if (a == "--only") only = next();
    else if (a == "--reap") g_reap = next();
    else if (a == "--no-jit") g_jit = false;
    else if (a == "--metered") g_metered = true;
    else if (a == "--meter-version") g_meter_version = std::stoi(next());
    else if (a == "--delivery-timeout-seconds") g_delivery_timeout_seconds = std::stoi(next());
    else if (a == "--lite-lockdown") g_lite_lockdown = true;
    else if (a == "--ses-bundle") g_ses_bundle = true;
    else if (a == "--churn-reap") g_churn_reap = next();
    else if (a == "--extra-vats") g_extra_vats = std::stoi(next());
    else if (a == "--reap-interval") g_reap_interval = static_cast<uint32_t>(std::stoul(next()));
    else {
      bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr, "%s",
                   "usage: js_bench [--n N] [--vats M] [--leveldb DIR] [--only WHAT]\n"
                   "                [--reap never|1|both] [--churn-reap interval|1|both]\n"
                   "                [--reap-interval D] [--no-jit] [--extra-vats K]\n"
                   "                [--lite-lockdown] [--ses-bundle] [--metered]\n"
                   "                [--meter-version V] [--delivery-timeout-seconds S]\n"
                   "  --only pingpong   N sequential E(b).ping(i) round trips (--reap: never, after\n"
                   "                    every delivery, or both runs)\n"
                   "  --only churn      N sequential E(b).take(Far(...)); --churn-reap: a genesis\n"
                   "                    reap interval of D deliveries (--reap-interval, default\n"
                   "                    1000), after every delivery, or both runs\n"
                   "  --only reap       one bringOutYourDead of N dead Presences in b\n"
                   "  --only idle       M idle vats (--vats, default 50): RSS per vat, start time\n"
                   "  --only micro      in-vat micro-benchmarks (not in the default set)\n"
                   "  --only compute    loop-, call- and object-heavy vat code, unmetered and\n"
                   "                    metered (not in the default set)\n"
                   "  --only churnSame|churnNoSend   churn variants (diagnostics)\n"
                   "  --extra-vats K    K idle JS vats besides a and b (pingpong, churn, reap)\n"
                   "  --lite-lockdown   harden vat realms with js/lite_lockdown.js, not SES\n"
                   "                    (experimental host option, off by default)\n"
                   "  --ses-bundle      load SES from its UMD bundle (as before), not its ES\n"
                   "                    modules (for comparison)\n"
                   "  --metered         every vat metered (1e8 computrons per delivery, depth\n"
                   "                    1000)\n"
                   "  --meter-version V the meter version of metered vats (and of --only compute);\n"
                   "                    default the newest\n"
                   "  default: pingpong, churn, reap, idle; N = --n (default 10000)\n");
      return help ? 0 : 2;
    }
  }
  JsProcess process;
  if (only.empty() || only == "pingpong") PingPong(n, dir);
  if (only.empty() || only == "churn") Churn(n, dir);
  if (only.empty() || only == "reap") Reap(n, dir);
  if (only.empty() || only == "idle") Idle(vats);
  if (only == "micro") Micro(n);
  if (only == "compute") Compute();
  for (const char* variant : {"churnSame", "churnNoSend"}) {
    if (only != variant) continue;
    World w = Boot(dir, g_reap_interval);
    RunResult r = CallAndRun(w, variant, n);
    Report(variant, r);
    w.timing->PrintByType();
  }
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
