// Meter version 2's cheaper charges (docs/METERING.md, "Cost"): the hand-written wrappers of the
// builtins on liveslots', marshal's and SES's hot paths charge exactly what version 1's generic
// wrappers charge and behave the same, while version 1 vats keep the generic wrappers.

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/strings.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::HasSubstr;
using testing_util::FakeSyscallHandler;
using testing_util::Message;
using testing_util::StartVat;

constexpr char kCostVat[] = R"(
import { Far } from '@endo/far';
// Every builtin version 2 wraps by hand, on arguments that take its fast path and on arguments
// that take the generic wrapper (objects whose conversion runs vat code, absent arguments).
const cases = {
  strings: () => {
    const pos = { valueOf() { return 1; } };
    const boxed = new String('abcabc');
    return [
      'abcabc'.startsWith('bc', 1), 'abcabc'.startsWith('bc'), 'abc'.startsWith('b', pos),
      'abcabc'.endsWith('bc'), 'abcabc'.endsWith('ab', 2), 'abcabc'.includes('ca'),
      'abcabc'.includes('ca', 3), 'abcabc'.indexOf('c'), 'abcabc'.indexOf('c', 3),
      'abcabc'.indexOf('c', pos), boxed.indexOf('c'), 'a1'.includes(1), 'abc'.indexOf(),
      'abcabc'.slice(1, -1), 'abcabc'.slice(-2), 'abcabc'.slice(), boxed.slice(2),
      'abc'.slice(pos), 'abc'.slice(NaN, 2),
    ];
  },
  stringErrors: () => {
    const out = [];
    for (const f of [() => 'abc'.startsWith(/b/), () => 'abc'.includes(/b/),
                     () => String.prototype.indexOf.call(null, 'a'),
                     () => String.prototype.slice.call(undefined)]) {
      try { out.push(f()); } catch (e) { out.push(e.name); }
    }
    return out;
  },
  arrays: () => {
    const a = [3, 1, 2, NaN];
    const like = { length: 3, 0: 'x', 1: 'y', 2: 'z' };
    const seen = [];
    const ctx = { k: 10 };
    return [
      a.map(function (v, i) { return v * this.k + i; }, ctx), a.map(v => v + 1),
      a.filter(v => v > 1), a.some(v => v > 2), a.every(v => v > 0), a.find(v => v < 3),
      a.findIndex(v => v === 2), a.includes(NaN), a.indexOf(NaN), a.indexOf(2), a.indexOf(2, -1),
      a.includes(3, 1), a.join(), a.join(undefined), a.join('-'),
      Array.prototype.map.call(like, v => v + v), Array.prototype.join.call(like, '+'),
      a.reduce((p, q) => p + (q || 0)), a.reduce((p, q) => p + (q || 0), 100),
      a.reduceRight((p, q) => `${p}${q}`), a.reduceRight((p, q) => `${p}${q}`, '>'),
      [].reduce((p, q) => p + q, 'init'), [undefined].reduce(p => p),
      a.slice(1, 3), a.slice(-1), a.slice(), a.slice(1, { valueOf() { return 2; } }),
      Array.prototype.slice.call(like, 1), a.forEach(v => seen.push(v)), seen,
    ];
  },
  arrayErrors: () => {
    const out = [];
    for (const f of [() => [].reduce((p, q) => p + q), () => [].reduceRight((p, q) => p + q),
                     () => [1].map(7), () => Array.prototype.forEach.call(null, x => x)]) {
      try { out.push(f()); } catch (e) { out.push(e.name); }
    }
    return out;
  },
  applies: () => {
    function f(...args) { return [this === undefined ? 'u' : this.n, args.length, ...args]; }
    const self = { n: 'self' };
    const out = [
      Reflect.apply(f, self, [1, 2]), Reflect.apply(f, undefined, { length: 2, 0: 'a' }),
      f.apply(self, [3]), f.apply(self), f.apply(undefined, null), f.apply(self, { length: 1 }),
    ];
    for (const g of [() => Reflect.apply(f, self), () => Reflect.apply(7, self, []),
                     () => Function.prototype.apply.call(7, null, []), () => f.apply(self, 3)]) {
      try { out.push(g()); } catch (e) { out.push(e.name); }
    }
    return out;
  },
  json: () => {
    const out = [JSON.parse('[1,{"a":[true,null,"s"]}]'), JSON.parse('"x"'),
                 JSON.parse('{"a":1,"b":2}', (k, v) => (typeof v === 'number' ? v * 2 : v)),
                 JSON.parse(new String('[7]')), JSON.parse({ toString() { return '8'; } })];
    for (const t of ['[1,', '', undefined]) {
      try { out.push(JSON.parse(t)); } catch (e) { out.push(e.name); }
    }
    return out;
  },
  listings: () => {
    const o = { b: 1, a: 2, [Symbol.iterator]: 3 };
    Object.defineProperty(o, 'hidden', { value: 4 });
    const p = new Proxy(o, { ownKeys: () => ['a', 'hidden'] });
    const d = Object.getOwnPropertyDescriptors(o);
    return [Reflect.ownKeys(o).map(String), Object.keys(o), Object.getOwnPropertyNames(o),
            Object.keys(d), d.hidden.enumerable, Reflect.ownKeys(p), Object.keys(p),
            Object.keys('str'), Object.getOwnPropertyNames([1]),
            Object.keys(Object.getOwnPropertyDescriptors(p))];
  },
  collections: () => {
    class M extends Map { get kind() { return 'M'; } }
    const m = new Map();
    m.set('a', 1);
    return [m.size, new Map([[1, 2]]).get(1), new Set().size, new Set(undefined).size,
            new Set(null).size, new M([[1, 1]]).kind, new WeakMap() instanceof WeakMap,
            new WeakSet().has({}), Object.getPrototypeOf(new Set()) === Set.prototype,
            new Map().constructor === Map];
  },
};
// Each builtin called n times: its charge per call is the difference between n and 0 calls.
const probes = {
  startsWith: () => 'abcdefghijklmnopqrstuvwxyz0123456789'.startsWith('abc'),
  indexOf: () => 'abcdefghijklmnopqrstuvwxyz0123456789'.indexOf('9'),
  slice: () => 'abcdefghijklmnopqrstuvwxyz0123456789'.slice(1),
  arraySlice: () => [1, 2, 3, 4, 5].slice(1),
  map: () => [1, 2, 3].map(x => x),
  reduce: () => [1, 2, 3].reduce((p, q) => p + q),
  includes: () => [1, 2, 3].includes(3),
  rapply: () => Reflect.apply(Math.max, null, [1, 2, 3]),
  fapply: () => Math.max.apply(null, [1, 2, 3]),
  parse: () => JSON.parse('[1,{"a":2},"abcdefghijkl"]'),
  parseReviver: () => JSON.parse('[1,{"a":2}]', (k, v) => v),
  stringify: () => JSON.stringify(['send', 'o-1', { body: '#[1]', slots: [] }]),
  ownKeys: () => Reflect.ownKeys({ a: 1, b: 2 }),
  keys: () => Object.keys({ a: 1, b: 2, c: 3 }),
  descriptors: () => Object.getOwnPropertyDescriptors({ a: 1, b: 2 }),
  newMap: () => new Map(),
  newSet: () => new Set([1, 2]),
};
export function buildRootObject() {
  let reached = 0;
  return Far('root', {
    run(name) { return JSON.stringify(cases[name]()); },
    probe(name, n) { const f = probes[name]; for (let i = 0; i < n; i += 1) f(); return n; },
    recurseMap() { const f = k => { reached = k; return [k + 1].map(f); }; return f(0); },
    recurseApply() { const f = k => { reached = k; return Reflect.apply(f, null, [k + 1]); }; return f(0); },
    reached() { return reached; },
    bigMap() { return Array(1e9).map(x => x).length; },
    bigApply() { return Reflect.apply(Math.max, null, { length: 1e9 }); },
    bigIndexOf() { const s = 'ab'.repeat(2 ** 22); return s.indexOf('c'); },
    bigParse() { const s = `[${'1,'.repeat(2 ** 21)}1]`; return JSON.parse(s).length; },
  });
}
)";

std::string MeterOptions(uint32_t version, uint64_t computrons = 10'000'000,
                         uint32_t depth = 400) {
  return StrCat(R"({"meter":{"version":)", version, R"(,"computrons":)", computrons,
                R"(,"maxDepth":)", depth, "}}");
}

struct Outcome {
  bool ok;
  std::string error;
  uint64_t computrons;
  std::vector<std::string> syscalls;
};

class CostHost {
 public:
  CostHost(uint32_t version, uint64_t computrons = 10'000'000, uint32_t depth = 400) {
    host_ = JsVatHost::Create(JsVatHostOptions());
    VatSpec spec;
    spec.vat_id = VatId(1);
    spec.name = "cost";
    spec.source = kCostVat;
    spec.options_json = MeterOptions(version, computrons, depth);
    EXPECT_TRUE(host_->LoadVat(spec).ok());
    Outcome start = Run(StartVat());
    EXPECT_TRUE(start.ok) << start.error;
  }
  Outcome Run(const VatDelivery& d) {
    DeliveryResult r = host_->Deliver(VatId(1), d, &syscalls_);
    return Outcome{r.ok, r.error, r.computrons.value_or(~uint64_t{0}), syscalls_.Take()};
  }
  Outcome Call(const std::string& method, const std::string& args = "[]") {
    return Run(Message("o+0", StrCat("#[\"", method, "\",", args, "]"), {},
                       StrCat("p-", next_++)));
  }

 private:
  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler syscalls_;
  int next_ = 60;
};

// Runs `calls` (method, args) on a fresh vat of meter `version`, one host at a time.
std::vector<Outcome> RunOn(uint32_t version,
                           const std::vector<std::pair<std::string, std::string>>& calls,
                           uint64_t computrons = 10'000'000, uint32_t depth = 400) {
  CostHost host(version, computrons, depth);
  std::vector<Outcome> out;
  for (const auto& [method, args] : calls) out.push_back(host.Call(method, args));
  return out;
}

std::vector<std::pair<std::string, std::string>> CaseCalls() {
  std::vector<std::pair<std::string, std::string>> calls;
  for (const char* c : {"strings", "stringErrors", "arrays", "arrayErrors", "applies", "json",
                        "collections", "listings"}) {
    calls.push_back({"run", StrCat("[\"", c, "\"]")});
  }
  return calls;
}

// Version 2's wrappers give every builtin the same results and errors as version 1's, on fast
// and generic paths alike.
TEST(JsMeterCostTest, VersionTwoWrappersBehaveAsVersionOne) {
  std::vector<std::pair<std::string, std::string>> calls = CaseCalls();
  std::vector<Outcome> v1 = RunOn(1, calls), v2 = RunOn(2, calls);
  for (size_t i = 0; i < calls.size(); ++i) {
    ASSERT_TRUE(v1[i].ok) << calls[i].second << ": " << v1[i].error;
    ASSERT_TRUE(v2[i].ok) << calls[i].second << ": " << v2[i].error;
    EXPECT_EQ(v2[i].syscalls, v1[i].syscalls) << calls[i].second;
    EXPECT_THAT(v1[i].syscalls.at(0), testing::Not(HasSubstr("undefined"))) << calls[i].second;
  }
  // Spot checks that the cases ran what they say.
  EXPECT_THAT(v2[1].syscalls.at(0), HasSubstr(R"(TypeError\\\",\\\"TypeError)"));
  EXPECT_THAT(v2[3].syscalls.at(0),
              HasSubstr(R"([\\\"TypeError\\\",\\\"TypeError\\\",\\\"TypeError\\\",\\\"TypeError\\\"])"));
  EXPECT_THAT(v2[6].syscalls.at(0), HasSubstr(R"([1,2,0,0,0,\\\"M\\\",true,false,true,true])"));
}

// The charge per call of each hand-wrapped builtin (30 calls minus 10, over 20: the same
// number of digits in the message), by version.
std::vector<uint64_t> ChargesPerCall(uint32_t version, const std::vector<std::string>& names) {
  constexpr int kN = 20;
  std::vector<std::pair<std::string, std::string>> calls;
  for (const std::string& name : names) {
    calls.push_back({"probe", StrCat("[\"", name, "\",10]")});
    calls.push_back({"probe", StrCat("[\"", name, "\",", 10 + kN, "]")});
  }
  std::vector<Outcome> out = RunOn(version, calls);
  std::vector<uint64_t> charges;
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(out[2 * i].ok && out[2 * i + 1].ok) << names[i];
    uint64_t extra = out[2 * i + 1].computrons - out[2 * i].computrons;
    EXPECT_EQ(extra % kN, 0u) << names[i];
    charges.push_back(extra / kN);
  }
  return charges;
}

// Version 2 charges what version 1 charges, less the one computron that version 1's generic
// wrapper of Reflect.apply and JSON.parse paid for destructuring its arguments (an array
// iterator that reaches one of SES's accessors, which is instrumented code).
TEST(JsMeterCostTest, VersionTwoChargesAsVersionOne) {
  const std::vector<std::string> names = {
      "startsWith", "indexOf", "slice", "arraySlice", "map", "reduce", "includes",
      "rapply", "fapply", "parse", "parseReviver", "stringify", "ownKeys", "keys", "descriptors",
      "newMap", "newSet"};
  std::vector<uint64_t> v1 = ChargesPerCall(1, names), v2 = ChargesPerCall(2, names);
  for (size_t i = 0; i < names.size(); ++i) {
    // Every probe costs its arrow (1) and a loop iteration (1) besides the builtin.
    EXPECT_GE(v1[i], 3u) << names[i];
    // (JSON.stringify goes through js/vat_limits.js's wrapper, which calls Reflect.apply.)
    if (names[i] == "parseReviver") {
      // Version 2 walks the reviver's values on an explicit stack, one computron per value
      // (js_native_recursion_test.cc): more than version 1's native walk.
      EXPECT_GT(v2[i], v1[i]) << names[i];
      continue;
    }
    uint64_t less = names[i] == "rapply" || names[i] == "parse" || names[i] == "stringify";
    EXPECT_EQ(v2[i] + less, v1[i]) << names[i] << ": v1 " << v1[i] << ", v2 " << v2[i];
  }
  // The charge still grows with the input: 36 characters are 1 + 36/16 = 3 computrons, a
  // 27-character JSON text 1 + 27/4 = 7, three elements 4.
  EXPECT_EQ(v2[0], 2u + 3u);
  EXPECT_EQ(v2[9], 2u + 7u);
  EXPECT_EQ(v2[4], 2u + 4u + 3u);  // map: 1 + length, and its callback three times
  EXPECT_EQ(v2[13], 2u + 4u);      // Object.keys: 1 + three keys
}

// A recursion through a hand-wrapped builtin that calls back into vat code still meets the
// depth limit, at the same level as in version 1 (each level is two: the builtin and the arrow).
TEST(JsMeterCostTest, RecursionThroughWrappersMeetsTheDepthLimit) {
  std::vector<std::pair<std::string, std::string>> calls = {
      {"recurseMap", "[]"}, {"reached", "[]"}, {"recurseApply", "[]"}, {"reached", "[]"}};
  std::vector<Outcome> v1 = RunOn(1, calls, 10'000'000, 300);
  std::vector<Outcome> v2 = RunOn(2, calls, 10'000'000, 300);
  for (size_t i : {0, 2}) {
    EXPECT_FALSE(v2[i].ok) << calls[i].first;
    EXPECT_THAT(v2[i].error, HasSubstr("call depth limit")) << calls[i].first;
    EXPECT_EQ(v2[i].error, v1[i].error);
    ASSERT_TRUE(v2[i + 1].ok && v1[i + 1].ok);
    EXPECT_EQ(v2[i + 1].syscalls, v1[i + 1].syscalls) << calls[i].first;
    EXPECT_THAT(v2[i + 1].syscalls.at(0), HasSubstr("14")) << calls[i].first;  // ~ 300 / 2
  }
}

// Work far beyond the budget is still refused before it starts.
TEST(JsMeterCostTest, BigInputsStillStopBeforeTheWork) {
  std::vector<std::pair<std::string, std::string>> calls = {
      {"bigMap", "[]"}, {"bigApply", "[]"}, {"bigIndexOf", "[]"}, {"bigParse", "[]"}};
  std::vector<Outcome> v2 = RunOn(2, calls, 1'000'000);
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_FALSE(v2[i].ok) << calls[i].first;
    EXPECT_THAT(v2[i].error, HasSubstr("computron limit")) << calls[i].first;
  }
}

}  // namespace
}  // namespace swingset
