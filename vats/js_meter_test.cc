// Metering (js_meter.h) through the real engine: the instrumenter on real code and on hostile
// code, and metered vats that stop at exactly the same computron whatever the node's JIT, GC
// or heap settings.

#include "vats/js_meter.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/strings.h"
#include "vats/js_engine.h"
#include "vats/js_sources.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::HasSubstr;
using testing_util::Boyd;
using testing_util::FakeSyscallHandler;
using testing_util::MemTranscript;
using testing_util::Message;
using testing_util::StartVat;

const VatId kVat(1);

std::string MeterOptions(uint64_t computrons, uint32_t depth, uint32_t version = kMeterVersion) {
  return StrCat(R"({"meter":{"version":)", version, R"(,"computrons":)", computrons,
                R"(,"maxDepth":)", depth, "}}");
}

TEST(JsInstrumenterTest, InstrumentsSesAndTheRuntime) {
  JsEngine engine{JsEngineOptions()};
  JsInstrumenter inst(&engine);
  for (const auto& [path, text] : SesModuleSources()) {
    absl::StatusOr<std::string_view> out =
        inst.Instrument(std::string(path), text, true, kMeterVersion);
    ASSERT_TRUE(out.ok()) << path << ": " << out.status();
    EXPECT_GE(out->size(), text.size()) << path;
  }
  for (const JsSource& src : RuntimeSources()) {
    absl::StatusOr<std::string_view> out =
        inst.Instrument(src.name, src.text, false, kMeterVersion);
    ASSERT_TRUE(out.ok()) << src.name << ": " << out.status();
  }
  absl::StatusOr<std::string_view> harden =
      inst.Instrument("harden.js", HardenSource().text, false, kMeterVersion);
  ASSERT_TRUE(harden.ok()) << harden.status();
}

TEST(JsInstrumenterTest, WhatItInserts) {
  JsEngine engine{JsEngineOptions()};
  JsInstrumenter inst(&engine);
  absl::StatusOr<std::string_view> out =
      inst.Instrument("t.js", "function f(a) { while (a) a--; return a; }", false, kMeterVersion);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "function f(a) {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();"
            "if(--$__m.c<0)$__r();try{ while (a) {if(--$__m.c<0)$__r();a--;} return a; }"
            "finally{$__m.d=$__d-1}}");
  out = inst.Instrument("t.js", "export const g = x => (x + 1);", true, kMeterVersion);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "export const g = x => {const $__d=++$__m.d;if($__d>$__m.L)$__deep();"
            "if(--$__m.c<0)$__r();try{let $__a0,$__b0,$__o0,$__k0;return ((($__a0=(x),"
            "typeof $__a0==='number'?$__a0 + 1:$__add($__a0,1))))}finally{$__m.d=$__d-1}};");
}

// Meter version 1 is a consensus rule: what the instrumenter writes for it must never change
// (later versions gate their changes on the version). One program with every construct it
// rewrites, and its version-1 text.
constexpr char kEveryConstruct[] =
    "class A { x = f(); static { g(); } m(a = h(), ...r) { for (const v of [...r]) g(v); } }\n"
    "async function f(x) { do { await x; } while (x); return f(...x); }\n"
    "function* g() { yield* g(); for (;;) {} }\n"
    "const h = async () => { for (const k in {}) {} return { ...h }; };\n";
constexpr char kEveryConstructV1[] =
    "class A { x = (()=>{const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c<0)$"
    "__r();try{return (f())}finally{$__m.d=$__d-1}})(); static {if(--$__m.c<0)$__r();"
    " g(); } m(a = (()=>{const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c<0)$"
    "__r();try{return (h())}finally{$__m.d=$__d-1}})(), ...r) {;const $__d=++$__m.d;i"
    "f($__d>$__m.L)$__deep();if(--$__m.c<0)$__r();try{ for (const v of [...$__sp((r))"
    "]) {if(--$__m.c<0)$__r();g(v);} }finally{$__m.d=$__d-1}} }\n"
    "async function f(x) {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c<0"
    ")$__r();try{ do {if(--$__m.c<0)$__r(); await $__s($__d,(x)); } while (x); return"
    " f(...$__sp((x))); }finally{$__m.d=$__d-1}}\n"
    "function* g() {;if(--$__m.c<0)$__r(); yield* g(); for (;;) {if(--$__m.c<0)$__r()"
    ";} }\n"
    "const h = async () => {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c"
    "<0)$__r();try{ for (const k in {}) {if(--$__m.c<0)$__r();} return { ...$__sp((h)"
    ") }; }finally{$__m.d=$__d-1}};\n";

TEST(JsInstrumenterTest, VersionOneIsFrozen) {
  JsEngine engine{JsEngineOptions()};
  JsInstrumenter inst(&engine);
  absl::StatusOr<std::string_view> out = inst.Instrument("t.js", kEveryConstruct, false, 1);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, kEveryConstructV1);
}

// Meter version 2 is frozen too: a program with its operator, compound-assignment, template
// and key constructs, and its version-2 text.
constexpr char kVersionTwoConstructs[] =
    "const f = (o, k, a) => { o[k] += a * 2; const t = `${a}:${o[k]}`; return k in o ? { [k]: a"
    " < o.x } : a[k - 1] === 'x'; };\n"
    "class B { [Symbol.iterator]() { let s = 0; for (let i = 0; i < 3; i++) s -= i ** 2; return"
    " s; } }\n";
constexpr char kVersionTwoConstructsV2[] =
    "const f = (o, k, a) => {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c<0)$__r()"
    ";try{let $__a0,$__b0,$__o0,$__k0,$__a1,$__b1,$__o1,$__k1; 0,($__o0=(o),$__k0=$__pk((k)),$_"
    "_a0=$__o0[$__k0],$__b0=((($__a1=(a),typeof $__a1==='number'?$__a1 * 2:$__mul($__a1,2)))),$"
    "__o0[$__k0]=typeof $__a0==='number'&&typeof $__b0==='number'?$__a0 + $__b0:$__add($__a0,$_"
    "_b0)); const t = $__tc(`${$__ts((a))}:${$__ts((o[k]))}`); return k in o ? { [k]: ($__a0=(a"
    "),$__b0=(o.x),typeof $__a0==='number'&&typeof $__b0==='number'?$__a0 < $__b0:$__lt($__a0,$"
    "__b0)) } : a[($__a0=(k),typeof $__a0==='number'?$__a0 - 1:$__sub($__a0,1))] === 'x'; }fina"
    "lly{$__m.d=$__d-1}};\n"
    "class B { [Symbol.iterator]() {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c<0"
    ")$__r();try{let $__a0,$__b0,$__o0,$__k0,$__a1,$__b1,$__o1,$__k1; let s = 0; for (let i = 0"
    "; ($__a0=(i),typeof $__a0==='number'?$__a0 < 3:$__lt($__a0,3)); i++) {if(--$__m.c<0)$__r()"
    ";0,($__a0=s,$__b0=((($__a1=(i),typeof $__a1==='number'?$__a1 ** 2:$__pow($__a1,2)))),s=typ"
    "eof $__a0==='number'&&typeof $__b0==='number'?$__a0 - $__b0:$__sub($__a0,$__b0));} return "
    "s; }finally{$__m.d=$__d-1}} }\n";

TEST(JsInstrumenterTest, VersionTwoIsFrozen) {
  JsEngine engine{JsEngineOptions()};
  JsInstrumenter inst(&engine);
  absl::StatusOr<std::string_view> out =
      inst.Instrument("t.js", kVersionTwoConstructs, false, 2);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, kVersionTwoConstructsV2);
}

// And so is version 3 (the property-key sites): the same program's version-3 text.
constexpr char kVersionTwoConstructsV3[] =
    "const f = (o, k, a) => {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c<0)$__r()"
    ";try{let $__a0,$__b0,$__o0,$__k0,$__a1,$__b1,$__o1,$__k1; 0,($__o0=(o),$__k0=$__pk((k)),$_"
    "_a0=$__o0[$__k0],$__b0=((($__a1=(a),typeof $__a1==='number'?$__a1 * 2:$__mul($__a1,2)))),$"
    "__o0[$__k0]=typeof $__a0==='number'&&typeof $__b0==='number'?$__a0 + $__b0:$__add($__a0,$_"
    "_b0)); const t = $__tc(`${$__ts((a))}:${$__ts((o[($__k0=(k),typeof $__k0==='string'&&$__k0"
    ".length<=256||typeof $__k0==='number'?$__k0:$__pk($__k0))]))}`); return $__pk((k)) in o ? "
    "{ [$__pk((k))]: ($__a0=(a),$__b0=(o.x),typeof $__a0==='number'&&typeof $__b0==='number'?$_"
    "_a0 < $__b0:$__lt($__a0,$__b0)) } : a[($__k0=(($__a1=(k),typeof $__a1==='number'?$__a1 - 1"
    ":$__sub($__a1,1))),typeof $__k0==='string'&&$__k0.length<=256||typeof $__k0==='number'?$__"
    "k0:$__pk($__k0))] === 'x'; }finally{$__m.d=$__d-1}};\n"
    "class B { [$__pk((Symbol.iterator))]() {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(-"
    "-$__m.c<0)$__r();try{let $__a0,$__b0,$__o0,$__k0,$__a1,$__b1,$__o1,$__k1; let s = 0; for ("
    "let i = 0; ($__a0=(i),typeof $__a0==='number'?$__a0 < 3:$__lt($__a0,3)); i++) {if(--$__m.c"
    "<0)$__r();0,($__a0=s,$__b0=((($__a1=(i),typeof $__a1==='number'?$__a1 ** 2:$__pow($__a1,2)"
    "))),s=typeof $__a0==='number'&&typeof $__b0==='number'?$__a0 - $__b0:$__sub($__a0,$__b0));"
    "} return s; }finally{$__m.d=$__d-1}} }\n";

TEST(JsInstrumenterTest, VersionThreeIsFrozen) {
  JsEngine engine{JsEngineOptions()};
  JsInstrumenter inst(&engine);
  absl::StatusOr<std::string_view> out =
      inst.Instrument("t.js", kVersionTwoConstructs, false, 3);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, kVersionTwoConstructsV3);
}

TEST(JsInstrumenterTest, RefusesMeterNamesAndBadSyntax) {
  JsEngine engine{JsEngineOptions()};
  JsInstrumenter inst(&engine);
  for (const char* src : {"let $__m = 1;", "$__m.c = 1e9;", "x = \\u0024__r;",
                          "function f($__d) {}", "o.$__m = 1;", "export const x = ;"}) {
    absl::StatusOr<std::string_view> out = inst.Instrument("bad.js", src, true, kMeterVersion);
    EXPECT_FALSE(out.ok()) << src;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << src;
  }
}

TEST(MeterLimitsTest, FromOptions) {
  absl::StatusOr<MeterLimits> l = MeterLimits::FromOptionsJson(R"({"reapInterval":1})");
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->metered());
  l = MeterLimits::FromOptionsJson(MeterOptions(100, 7));
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->metered());
  EXPECT_EQ(l->computrons, 100u);
  EXPECT_EQ(l->max_depth, 7u);
  EXPECT_FALSE(MeterLimits::FromOptionsJson(R"({"meter":{"version":9,"computrons":1,"maxDepth":1}})").ok());
  EXPECT_FALSE(MeterLimits::FromOptionsJson(R"({"meter":{"version":1,"computrons":0,"maxDepth":1}})").ok());
  EXPECT_FALSE(MeterLimits::FromOptionsJson(R"({"meter":{"version":1}})").ok());
}

constexpr char kHostileVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject(vatPowers) {
  let progress = 0;
  return Far('root', {
    progress() { return progress; },
    spin() { for (;;) { progress += 1; } },
    spinCaught() {
      for (;;) { try { progress += 1; throw Error('x'); } catch (e) { progress += 0; } finally { progress += 0; } }
    },
    recurse() { const f = n => { progress = n; return f(n + 1) + 1; }; return f(0); },
    recurseCaught() {
      const f = n => { progress = n; try { return f(n + 1) + 1; } catch (e) { return 'caught'; } };
      return f(0);
    },
    recurseDefault() { function f(a = f()) { return a; } return f(); },
    recurseField() { class A { x = new A(); } return new A(); },
    recurseGenerator() {
      function* g(n) { progress = n; yield* g(n + 1); }
      return [...g(0)];
    },
    recurseAsync() { const f = async n => { progress = n; return f(n + 1); }; return f(0); },
    manyPendingAsync(n) {
      const ps = [];
      for (let i = 0; i < n; i += 1) ps.push((async () => { await null; return i; })());
      return Promise.all(ps).then(a => a.length);
    },
    jobStorm() { const loop = () => { progress += 1; return Promise.resolve().then(loop); }; return loop(); },
    getterLoop() { return Object.assign({}, { get x() { for (;;) { progress += 1; } } }); },
    sortWork(n) { const a = []; for (let i = 0; i < n; i += 1) a.push((i * 7919) % n); a.sort((x, y) => x - y); return a[n - 1]; },
    fill() { progress = 1; return Array(1e9).fill(0).length; },
    sparseForEach() { progress = 1; Array(1e9).forEach(x => { progress += 1; }); return progress; },
    spread() { progress = 1; return [...Array(1e9)].length; },
    spreadArgs() { progress = 1; return Math.max(...Array(1e7)); },
    setOfHoles() { progress = 1; return new Set(Array(1e9)).size; },
    promiseAll() { progress = 1; return Promise.all(Array(1e9)); },
    arrayFrom() { progress = 1; return Array.from({ length: 1e9 }).length; },
    repeat() { progress = 1; return 'ab'.repeat(2 ** 23).length; },
    repeatObject() { progress = 1; return String.prototype.repeat.call(new String('ab'), 2 ** 23).length; },
    jsonParse() { let s = '1'; for (let i = 0; i < 24; i += 1) s += s; progress = s.length; return JSON.parse(`[${s}]`).length; },
    stringifyDag() {
      let o = {}; for (let i = 0; i < 40; i += 1) o = { a: o, b: o };
      progress = 1; return JSON.stringify(o).length;
    },
    joinBig() { progress = 1; return Array(1e8).join(',').length; },
    nestedJoin() { let a = []; for (let i = 0; i < 100000; i += 1) a = [a]; return String(a).length; },
    proxyChain() {
      let p = {};
      for (let i = 0; i < 5000; i += 1) p = new Proxy(p, {});
      return p.x;
    },
    bindChain() {
      let f = () => 1;
      for (let i = 0; i < 5000; i += 1) f = f.bind(null);
      return f();
    },
    evals() {
      const out = [];
      for (const f of [() => eval('1 + 1'), () => Function('return 1')(), () => (0, eval)('2')]) {
        try { out.push(f()); } catch (e) { out.push(e.name); }
      }
      return out;
    },
  });
}
)";

struct Config {
  const char* name;
  bool jit = true;
  uint32_t extra_gcs = 0;
  uint32_t gc_max_mib = 1024;
};

const Config kConfigs[] = {
    {"jit"}, {"nojit", false}, {"jit+gcs", true, 2}, {"nojit+gcs", false, 1},
    {"jit+small-heap", true, 0, 256}, {"jit+big-heap", true, 0, 4000},
};

// One delivery's outcome, as every node must see it.
struct Outcome {
  bool ok;
  std::string error;
  uint64_t computrons;
  std::vector<std::string> syscalls;
  bool operator==(const Outcome& o) const {
    return ok == o.ok && error == o.error && computrons == o.computrons && syscalls == o.syscalls;
  }
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << (o.ok ? "ok" : "error") << " [" << o.error << "] " << o.computrons << " computrons, "
            << o.syscalls.size() << " syscalls";
}

// A host with one configuration; each Start() loads a fresh metered vat of kHostileVat.
class MeteredHost {
 public:
  explicit MeteredHost(const Config& c) {
    JsVatHostOptions o;
    o.jit = c.jit;
    o.testing_extra_gcs_per_delivery = c.extra_gcs;
    o.gc_max_bytes = static_cast<uint32_t>(uint64_t{c.gc_max_mib} << 20);
    o.delivery_timeout = std::chrono::milliseconds(60000);
    host_ = JsVatHost::Create(o);
  }

  // Loads and starts vat `id` with the given limits; the start's outcome.
  Outcome Start(VatId id, uint64_t computrons, uint32_t depth) {
    VatSpec spec;
    spec.vat_id = id;
    spec.name = "hostile";
    spec.source = kHostileVat;
    spec.options_json = MeterOptions(computrons, depth);
    absl::Status st = host_->LoadVat(spec);
    if (!st.ok()) return Outcome{false, std::string(st.message()), 0, {}};
    return Run(id, StartVat());
  }
  Outcome Run(VatId id, const VatDelivery& d) {
    DeliveryResult r = host_->Deliver(id, d, &syscalls_);
    return Outcome{r.ok, r.error, r.computrons.value_or(~uint64_t{0}), syscalls_.Take()};
  }
  Outcome Call(VatId id, const std::string& method, const std::string& args = "[]") {
    return Run(id, Message("o+0", StrCat("#[\"", method, "\",", args, "]"), {},
                           StrCat("p-", next_++)));
  }

 private:
  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler syscalls_;
  int next_ = 60;
};

// Runs each of `methods` (with `args`) on a fresh vat, in every configuration; every outcome
// must equal the first configuration's. Returns the outcomes by method.
std::vector<Outcome> SameEverywhere(const std::vector<std::string>& methods,
                                    const std::string& args = "[]",
                                    uint64_t computrons = 300'000, uint32_t depth = 400) {
  std::vector<Outcome> first;
  for (const Config& c : kConfigs) {
    MeteredHost host(c);
    for (size_t i = 0; i < methods.size(); ++i) {
      VatId id(i + 1);
      Outcome start = host.Start(id, computrons, depth);
      EXPECT_TRUE(start.ok) << c.name << ": " << start.error;
      Outcome got = host.Call(id, methods[i], args);
      if (!got.ok) {
        // The vat's own view after the stop, as a later delivery would see it.
        got.syscalls.push_back("progress:" + host.Call(id, "progress").syscalls.at(0));
      }
      if (first.size() <= i) {
        first.push_back(got);
      } else {
        EXPECT_EQ(got, first[i]) << methods[i] << " in " << c.name;
      }
    }
  }
  return first;
}

TEST(MeteredVatTest, LoopsStopAtTheSameComputronEverywhere) {
  for (const Outcome& o : SameEverywhere({"spin", "spinCaught", "getterLoop"})) {
    EXPECT_FALSE(o.ok);
    EXPECT_THAT(o.error, HasSubstr("computron limit"));
    EXPECT_EQ(o.computrons, 300'001u);
  }
}

TEST(MeteredVatTest, RecursionStopsAtTheDepthLimitEverywhere) {
  for (const Outcome& o : SameEverywhere({"recurse", "recurseCaught", "recurseDefault",
                                          "recurseField", "recurseGenerator", "recurseAsync"})) {
    EXPECT_FALSE(o.ok);
    EXPECT_THAT(o.error, HasSubstr("call depth limit"));
  }
}

TEST(MeteredVatTest, BuiltinsArePreCharged) {
  // Each asks a builtin for far more native work than the budget pays for: stopped before the
  // work, at the same point everywhere.
  std::vector<std::string> methods = {"fill", "sparseForEach", "spread", "spreadArgs",
                                      "setOfHoles", "promiseAll", "arrayFrom", "repeat", "repeatObject",
                                      "jsonParse", "stringifyDag", "joinBig"};
  std::vector<Outcome> outcomes = SameEverywhere(methods);
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_FALSE(outcomes[i].ok) << methods[i];
    EXPECT_THAT(outcomes[i].error, HasSubstr("computron limit")) << methods[i];
  }
}

TEST(MeteredVatTest, NativeRecursionIsBounded) {
  // join calling the elements' toString, level by level: the depth limit.
  Outcome o = SameEverywhere({"nestedJoin"})[0];
  EXPECT_FALSE(o.ok);
  EXPECT_THAT(o.error, HasSubstr("call depth limit"));
  // Proxies of proxies and bound functions of bound functions: refused past 1000 levels, with
  // an error the vat may catch (here it rejects the call's result).
  for (const Outcome& r : SameEverywhere({"proxyChain", "bindChain"})) {
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_THAT(r.syscalls.at(0), HasSubstr("nested more than 1000 deep"));
  }
}

TEST(MeteredVatTest, PromiseJobsAreMetered) {
  Outcome o = SameEverywhere({"jobStorm"})[0];
  EXPECT_FALSE(o.ok);
  EXPECT_THAT(o.error, HasSubstr("computron limit"));
}

TEST(MeteredVatTest, LegitimateWorkCompletesWithTheSameCount) {
  Outcome o = SameEverywhere({"manyPendingAsync"}, "[20000]", 2'000'000)[0];
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_THAT(o.syscalls.at(0), HasSubstr("20000"));
  o = SameEverywhere({"sortWork"}, "[3000]", 2'000'000)[0];
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_GT(o.computrons, 3000u);
}

TEST(MeteredVatTest, NoEvalNoFunction) {
  Outcome o = SameEverywhere({"evals"})[0];
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_THAT(o.syscalls.at(0), HasSubstr(R"(#[\"EvalError\",\"EvalError\",\"EvalError\"])"));
}

TEST(MeteredVatTest, StartUpCostsTheSameEverywhere) {
  std::optional<Outcome> first;
  for (const Config& c : kConfigs) {
    MeteredHost host(c);
    Outcome start = host.Start(kVat, 100'000'000, 400);
    ASSERT_TRUE(start.ok) << start.error;
    if (!first) first = start;
    EXPECT_EQ(start, *first) << c.name;
  }
  EXPECT_GT(first->computrons, 0u);
}

TEST(MeteredVatTest, AStartUpOverBudgetFailsDeterministically) {
  std::optional<Outcome> first;
  for (const Config& c : {kConfigs[0], kConfigs[1]}) {
    MeteredHost host(c);
    Outcome start = host.Start(kVat, 1000, 400);
    EXPECT_FALSE(start.ok);
    EXPECT_THAT(start.error, HasSubstr("computron limit")) << c.name;
    if (!first) first = start;
    EXPECT_EQ(start.error, first->error);
  }
}

TEST(MeteredVatTest, ReplayReproducesTheComputrons) {
  JsVatHostOptions o;
  auto host = JsVatHost::Create(o);
  VatSpec spec;
  spec.vat_id = kVat;
  spec.name = "hostile";
  spec.source = kHostileVat;
  spec.options_json = MeterOptions(5'000'000, 400);
  ASSERT_TRUE(host->LoadVat(spec).ok());
  FakeSyscallHandler syscalls;
  syscalls.record = true;
  MemTranscript transcript;
  std::vector<VatDelivery> ds = {StartVat(), Message("o+0", R"(#["sortWork",[500]])", {}, "p-60"),
                                 Message("o+0", R"(#["progress",[]])", {}, "p-61")};
  for (const VatDelivery& d : ds) {
    DeliveryResult r = host->Deliver(kVat, d, &syscalls);
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_TRUE(r.computrons.has_value());
    transcript.Add(d, syscalls.recorded, r);
    syscalls.recorded.clear();
  }
  // A new host rebuilds the vat from the transcript; the replay CHECKs the recorded computrons.
  host.reset();
  auto host2 = JsVatHost::Create(o);
  spec.transcript = &transcript;
  ASSERT_TRUE(host2->LoadVat(spec).ok());
  FakeSyscallHandler syscalls2;
  DeliveryResult r = host2->Deliver(kVat, Message("o+0", R"(#["progress",[]])", {}, "p-62"),
                                    &syscalls2);
  EXPECT_TRUE(r.ok) << r.error;
}

// A replay runs without the watchdog: a delivery that once completed, however long it took,
// completes again, where a watchdog shorter than it would halt the node at every restart.
constexpr char kSlowVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('slow', {
    loop(n) {
      let x = 0;
      for (let i = 0; i < n; i += 1) x = (x + i) % 1000003;
      return x;
    },
  });
}
)";

TEST(MeteredVatTest, AReplayIsNotCutShortByTheWatchdog) {
  using Clock = std::chrono::steady_clock;
  auto millis = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d);
  };
  VatSpec spec;
  spec.vat_id = kVat;
  spec.name = "slow";
  spec.source = kSlowVat;
  spec.options_json = MeterOptions(uint64_t{1} << 36, 400);
  // On a host without a watchdog: the vat's start, timed, then loops of growing length until
  // one runs well past the watchdog the replaying host will have (several times the start, so
  // that a loaded machine still starts the vat in time).
  MemTranscript transcript;
  std::chrono::milliseconds watchdog;
  std::string slow_body;
  {
    JsVatHostOptions o;
    o.delivery_timeout = std::chrono::milliseconds(0);
    auto host = JsVatHost::Create(o);
    FakeSyscallHandler syscalls;
    syscalls.record = true;
    auto run = [&](const VatDelivery& d) {
      DeliveryResult r = host->Deliver(kVat, d, &syscalls);
      EXPECT_TRUE(r.ok) << r.error;
      transcript.Add(d, syscalls.recorded, r);
      syscalls.recorded.clear();
    };
    Clock::time_point t0 = Clock::now();
    ASSERT_TRUE(host->LoadVat(spec).ok());
    run(StartVat());
    watchdog = 3 * millis(Clock::now() - t0) + std::chrono::milliseconds(300);
    int p = 60;
    for (uint64_t n = 50'000'000;; n *= 2) {
      slow_body = StrCat(R"(#["loop",[)", n, "]]");
      Clock::time_point t = Clock::now();
      run(Message("o+0", slow_body, {}, StrCat("p-", p++)));
      if (millis(Clock::now() - t) > 2 * watchdog) break;
      ASSERT_LT(n, uint64_t{1} << 36) << "the loop never took long";
    }
  }
  JsVatHostOptions o;
  o.delivery_timeout = watchdog;
  auto host = JsVatHost::Create(o);
  spec.transcript = &transcript;
  absl::Status loaded = host->LoadVat(spec);  // the replay; a node-local fault would abort here
  ASSERT_TRUE(loaded.ok()) << loaded;
  // The same delivery outside a replay is still watched.
  FakeSyscallHandler syscalls;
  DeliveryResult r = host->Deliver(kVat, Message("o+0", slow_body, {}, "p-99"), &syscalls);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.node_fault);
}

}  // namespace
}  // namespace swingset
