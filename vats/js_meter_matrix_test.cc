// The determinism matrix of the meter (docs/METERING.md, "Tests"): an adversarial corpus that
// covers every hazard of the meter's design (loops, recursion in every form, callbacks from
// natives, builtins asked for native work, spreads, promise-job storms, code generation), plus
// legitimate work and the vat start (SES lockdown(), our runtime, liveslots), run in more than
// 20 node configurations: JIT off / on / eager, GC heaps of 64 MiB to 4000 MiB, 0 to 3 extra
// full GCs before each delivery, and meter chunks of 1, 7, 1000 computrons or the whole budget.
// None of these is consensus state, so every case must end identically everywhere: the same
// error, the same computrons, the same syscalls, and the same state as the vat sees it after.
//
// The corpus is vats/meter_corpus.h (adding a case is one line there); tests/meter_flags_test.cc
// drives part of it through two real servers with different node flags.

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <jsapi.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/strings.h"
#include "vats/js_engine.h"
#include "vats/js_vat_host.h"
#include "vats/meter_corpus.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::HasSubstr;
using testing_util::FakeSyscallHandler;
using testing_util::Message;
using testing_util::StartVat;
using meter_corpus::Case;
using meter_corpus::CorpusVatSource;
using meter_corpus::End;
using meter_corpus::kCorpus;

enum class Jit { kOff, kOn, kEager };

// One node's local settings.
struct NodeConfig {
  const char* name;
  Jit jit;
  uint32_t heap_mib;
  uint32_t extra_gcs;
  uint64_t chunk;  // 0: the whole budget at once
};

// The smallest GC heap tried. SES, our runtime, liveslots and the corpus vat, one case at a
// time, fit in 16 MiB (swingsetd's lowest --js-heap-limit-mib), but only just: on a loaded
// machine the engine's helper threads may not yet have swept what a case freed when it next
// allocates, and manyPendingAsync then ran out of memory at 16 MiB (the node halting, exit
// status 71, as it should for a node-local limit). 24 MiB keeps a margin. At 8 MiB the engine
// runs out of memory in jobStorm (its promise chain keeps every promise alive): never an
// outcome either.
constexpr uint32_t kSmallestHeapMib = 24;

// The first is the reference: a default node.
const NodeConfig kConfigs[] = {
    {"on", Jit::kOn, 1024, 0, 0},
    {"off", Jit::kOff, 1024, 0, 0},
    {"eager", Jit::kEager, 1024, 0, 0},
    {"on/heap64", Jit::kOn, 64, 0, 0},
    {"on/heap24", Jit::kOn, kSmallestHeapMib, 0, 0},
    {"on/heap4000", Jit::kOn, 4000, 0, 0},
    {"on/chunk1/gc1/heap256", Jit::kOn, 256, 1, 1},
    {"on/chunk7", Jit::kOn, 1024, 0, 7},
    {"on/chunk1000", Jit::kOn, 1024, 0, 1000},
    {"on/chunk7/gc3/heap24", Jit::kOn, kSmallestHeapMib, 3, 7},
    {"on/chunk1000/gc1/heap4000", Jit::kOn, 4000, 1, 1000},
    {"on/chunk1/gc3/heap512", Jit::kOn, 512, 3, 1},
    {"on/gc1/heap128", Jit::kOn, 128, 1, 0},
    {"off/gc1/heap24", Jit::kOff, kSmallestHeapMib, 1, 0},
    {"off/chunk1", Jit::kOff, 1024, 0, 1},
    {"off/chunk7/heap4000", Jit::kOff, 4000, 0, 7},
    {"off/chunk1000/gc3/heap256", Jit::kOff, 256, 3, 1000},
    {"eager/gc3/heap4000", Jit::kEager, 4000, 3, 0},
    {"eager/chunk1/heap24", Jit::kEager, kSmallestHeapMib, 0, 1},
    {"eager/chunk7/gc1", Jit::kEager, 1024, 1, 7},
    {"eager/chunk1000/heap256", Jit::kEager, 256, 0, 1000},
    {"eager/chunk1000/gc3/heap64", Jit::kEager, 64, 3, 1000},
};

const NodeConfig& ConfigNamed(std::string_view name) {
  for (const NodeConfig& c : kConfigs) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no configuration " << name;
  return kConfigs[0];
}

JsVatHostOptions HostOptions(const NodeConfig& c) {
  JsVatHostOptions o;
  o.jit = c.jit != Jit::kOff;
  o.eager_jit = c.jit == Jit::kEager;
  o.gc_max_bytes = static_cast<uint32_t>(uint64_t{c.heap_mib} << 20);
  o.testing_extra_gcs_per_delivery = c.extra_gcs;
  o.testing_meter_chunk = c.chunk;
  // A node-local fail-stop, never an outcome; generous for the interpreter on a busy machine.
  o.delivery_timeout = std::chrono::milliseconds(300'000);
  return o;
}

std::string MeterOptions(uint64_t computrons, uint32_t depth) {
  return StrCat(R"({"meter":{"version":)", kMeterVersion, R"(,"computrons":)", computrons,
                R"(,"maxDepth":)", depth, "}}");
}

// One delivery's outcome, as every node must see it.
struct Outcome {
  bool ok = false;
  std::string error;
  uint64_t computrons = 0;
  std::vector<std::string> syscalls;
  bool operator==(const Outcome& o) const {
    return ok == o.ok && error == o.error && computrons == o.computrons && syscalls == o.syscalls;
  }
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << (o.ok ? "ok" : "error") << " [" << o.error << "] " << o.computrons << " computrons";
  for (const std::string& s : o.syscalls) os << "\n    " << s;
  return os;
}

// A case's whole story on one node: the vat's load (its computrons), its start, the case, and
// what the vat reports afterwards.
struct Story {
  uint64_t load_computrons = 0;
  Outcome start, run, after;
  bool operator==(const Story& o) const {
    return load_computrons == o.load_computrons && start == o.start && run == o.run &&
           after == o.after;
  }
};

std::ostream& operator<<(std::ostream& os, const Story& s) {
  return os << "load " << s.load_computrons << " computrons\n  start: " << s.start
            << "\n  run: " << s.run << "\n  after: " << s.after;
}

class Node {
 public:
  explicit Node(const NodeConfig& c) : host_(JsVatHost::Create(HostOptions(c))) {}

  absl::Status Load(VatId id, const std::string& source, uint64_t computrons, uint32_t depth,
                    const char* name = "corpus") {
    VatSpec spec;
    spec.vat_id = id;
    spec.name = name;
    spec.source = source;
    spec.options_json = MeterOptions(computrons, depth);
    return host_->LoadVat(spec);
  }
  Outcome Deliver(VatId id, const VatDelivery& d) {
    DeliveryResult r = host_->Deliver(id, d, &syscalls_);
    return Outcome{r.ok, r.error, r.computrons.value_or(~uint64_t{0}), syscalls_.Take()};
  }
  Outcome Call(VatId id, const std::string& method, const std::string& args_json) {
    return Deliver(id, Message("o+0", StrCat("#[\"", method, "\",", args_json, "]"), {},
                               StrCat("p-", next_result_++)));
  }
  // A fresh vat of the corpus runs `c`; the vat is stopped afterwards.
  Story Run(const Case& c) {
    Story s;
    VatId id(next_vat_++);
    absl::Status st = Load(id, CorpusVatSource(), c.computrons, c.depth);
    if (!st.ok()) {
      s.start.error = StrCat("load: ", st.message());
      return s;
    }
    s.load_computrons = host_->TEST_LastComputrons(id);
    s.start = Deliver(id, StartVat());
    std::string args(c.args);
    s.run = Call(id, "run", StrCat("[\"", c.name, "\"", args.size() > 2 ? "," : "",
                                   args.substr(1, args.size() - 2), "]"));
    s.after = Call(id, "progress", "[]");
    host_->StopVat(id);
    return s;
  }
  JsVatHost* host() { return host_.get(); }

 private:
  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler syscalls_;
  uint64_t next_vat_ = 1;
  int next_result_ = 60;
};

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void CheckEnd(const Case& c, const Story& s) {
  ASSERT_TRUE(s.start.ok) << c.name << ": " << s.start.error;
  switch (c.end) {
    case End::kComputrons:
      EXPECT_FALSE(s.run.ok) << c.name;
      EXPECT_THAT(s.run.error, HasSubstr("computron limit")) << c.name;
      EXPECT_GT(s.run.computrons, c.computrons) << c.name;
      break;
    case End::kDepth:
      EXPECT_FALSE(s.run.ok) << c.name;
      EXPECT_THAT(s.run.error, HasSubstr("call depth limit")) << c.name;
      break;
    case End::kReturns:
      EXPECT_TRUE(s.run.ok) << c.name << ": " << s.run.error;
      EXPECT_LE(s.run.computrons, c.computrons) << c.name;
      break;
  }
  if (*c.expect) {
    std::string all = s.run.error;
    for (const std::string& sc : s.run.syscalls) all += sc;
    EXPECT_THAT(all, HasSubstr(c.expect)) << c.name;
  }
  // The vat still answers, and reports the same progress everywhere (compared by the caller).
  EXPECT_TRUE(s.after.ok) << c.name << ": " << s.after.error;
}

// Runs the whole corpus on a node of each of `configs`, the first being the reference that
// every other must equal exactly.
void RunMatrix(const std::vector<NodeConfig>& configs) {
  std::vector<Story> reference;
  for (const NodeConfig& config : configs) {
    const double t0 = Seconds();
    Node node(config);
    for (size_t i = 0; i < std::size(kCorpus); ++i) {
      const Case& c = kCorpus[i];
      Story s = node.Run(c);
      if (reference.size() <= i) {
        CheckEnd(c, s);
        reference.push_back(s);
      } else {
        EXPECT_EQ(s, reference[i]) << c.name << " in " << config.name << ", but in "
                                   << configs[0].name << ":\n  " << reference[i];
      }
    }
    fprintf(stderr, "[ matrix ] %-28s %6.1f s\n", config.name, Seconds() - t0);
  }
  // Loops and callbacks that never end stop at the tick after the budget.
  for (size_t i = 0; i < std::size(kCorpus); ++i) {
    const std::string name = kCorpus[i].name;
    if (name.rfind("spin", 0) == 0 || name == "getterLoop" || name == "proxyTrapLoop" ||
        name == "valueOfLoop" || name == "comparatorLoop") {
      EXPECT_EQ(reference[i].run.computrons, kCorpus[i].computrons + 1) << name;
    }
  }
}

// The configurations of one JIT mode, after the reference (a default node).
std::vector<NodeConfig> ConfigsOf(Jit jit) {
  std::vector<NodeConfig> out = {kConfigs[0]};
  for (const NodeConfig& c : kConfigs) {
    if (c.jit == jit && &c != &kConfigs[0]) out.push_back(c);
  }
  return out;
}

// Split by JIT mode so that CTest can run them side by side; together they cover every entry of
// kConfigs, and each compares with the same default node.
TEST(MeterMatrixTest, EveryHazardEndsIdenticallyWithJitOn) {
  static_assert(std::size(kConfigs) >= 20);
  RunMatrix(ConfigsOf(Jit::kOn));
}

TEST(MeterMatrixTest, EveryHazardEndsIdenticallyWithoutJit) { RunMatrix(ConfigsOf(Jit::kOff)); }

TEST(MeterMatrixTest, EveryHazardEndsIdenticallyWithEagerJit) {
  RunMatrix(ConfigsOf(Jit::kEager));
}

// SES lockdown(), our runtime and liveslots (the load) and buildRootObject (the start) cost the
// same everywhere; and a budget of exactly that many computrons is enough, one fewer is not,
// whatever the chunk size.
TEST(MeterMatrixTest, VatStartCostsTheSameEverywhereAndStopsAtTheSameComputron) {
  const std::string source = CorpusVatSource();
  std::optional<uint64_t> load;
  std::optional<Outcome> start;
  for (const char* name : {"on", "off", "eager", "on/chunk1/gc1/heap256", "on/chunk7",
                           "off/chunk1", "eager/chunk1/heap24"}) {
    const NodeConfig& config = ConfigNamed(name);
    Node node(config);
    ASSERT_TRUE(node.Load(VatId(1), source, 100'000'000, 400).ok()) << config.name;
    uint64_t got = node.host()->TEST_LastComputrons(VatId(1));
    if (!load) load = got;
    EXPECT_EQ(got, *load) << config.name;
    Outcome started = node.Deliver(VatId(1), StartVat());
    ASSERT_TRUE(started.ok) << config.name << ": " << started.error;
    if (!start) start = started;
    EXPECT_EQ(started, *start) << config.name;
    ASSERT_TRUE(node.Load(VatId(2), source, *load, 400).ok()) << config.name;
    EXPECT_EQ(node.host()->TEST_LastComputrons(VatId(2)), *load) << config.name;
    absl::Status short_by_one = node.Load(VatId(3), source, *load - 1, 400);
    EXPECT_FALSE(short_by_one.ok()) << config.name;
    EXPECT_THAT(std::string(short_by_one.message()), HasSubstr("computron limit"))
        << config.name;
  }
  fprintf(stderr, "[ matrix ] a metered vat load (SES lockdown, runtime, liveslots): %llu "
                  "computrons\n", static_cast<unsigned long long>(*load));
  EXPECT_GT(*load, 10'000u);
}

// SpiderMonkey's JIT options are per process: each engine must set its own, or a host created
// after one without JIT would silently run without it (and one turning it back on crashed).
TEST(MeterMatrixTest, EachEngineGetsItsOwnJitMode) {
  constexpr char kHot[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('root', { hot(n) { let s = 0; for (let i = 0; i < n; i += 1) s += i % 7; return s; } });
}
)";
  for (Jit jit : {Jit::kOff, Jit::kOn, Jit::kEager, Jit::kOff, Jit::kEager, Jit::kOn}) {
    JsEngineOptions eo;
    eo.jit = jit != Jit::kOff;
    eo.eager_jit = jit == Jit::kEager;
    {
      JsEngine engine(eo);
      uint32_t baseline = 9, ion = 9, ion_trigger = 9, offthread = 9;
      ASSERT_TRUE(JS_GetGlobalJitCompilerOption(engine.cx(), JSJITCOMPILER_BASELINE_ENABLE,
                                                &baseline));
      ASSERT_TRUE(JS_GetGlobalJitCompilerOption(engine.cx(), JSJITCOMPILER_ION_ENABLE, &ion));
      ASSERT_TRUE(JS_GetGlobalJitCompilerOption(engine.cx(),
                                                JSJITCOMPILER_ION_NORMAL_WARMUP_TRIGGER,
                                                &ion_trigger));
      ASSERT_TRUE(JS_GetGlobalJitCompilerOption(
          engine.cx(), JSJITCOMPILER_OFFTHREAD_COMPILATION_ENABLE, &offthread));
      EXPECT_EQ(baseline, jit == Jit::kOff ? 0u : 1u);
      EXPECT_EQ(ion, jit == Jit::kOff ? 0u : 1u);
      EXPECT_EQ(ion_trigger, jit == Jit::kEager ? 0u : 200u);
      if (jit == Jit::kEager) EXPECT_EQ(offthread, 0u);
    }
    // And code runs hot in each (the crash came at the first JIT compilation).
    JsVatHostOptions ho;
    ho.jit = eo.jit;
    ho.eager_jit = eo.eager_jit;
    auto host = JsVatHost::Create(ho);
    VatSpec spec;
    spec.vat_id = VatId(1);
    spec.name = "hot";
    spec.source = kHot;
    ASSERT_TRUE(host->LoadVat(spec).ok());
    FakeSyscallHandler syscalls;
    ASSERT_TRUE(host->Deliver(VatId(1), StartVat(), &syscalls).ok);
    DeliveryResult r =
        host->Deliver(VatId(1), Message("o+0", R"(#["hot",[100000]])", {}, "p-1"), &syscalls);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_THAT(syscalls.log.back(), HasSubstr("#299995"));
  }
}

}  // namespace
}  // namespace swingset
