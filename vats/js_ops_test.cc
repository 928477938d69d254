// Meter version 2: operators whose work grows with their operands (BigInt arithmetic, string
// concatenation and comparison, templates, BigInt <-> string conversions) are charged by size
// and capped, the same on every node, and their results are exactly those of unmetered code.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "js/CompilationAndEvaluation.h"
#include "js/SourceText.h"
#include "jsapi.h"
#include "kernel/strings.h"
#include "vats/js_engine.h"
#include "vats/js_meter.h"
#include "vats/js_sources.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::HasSubstr;
using testing_util::FakeSyscallHandler;
using testing_util::Message;
using testing_util::StartVat;

std::string MeterOptions(uint64_t computrons, uint32_t version = kMeterVersion) {
  return StrCat(R"({"meter":{"version":)", version, R"(,"computrons":)", computrons,
                R"(,"maxDepth":400}})");
}

constexpr char kOpsVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  let progress = 0;
  const caught = f => { try { return f(); } catch (e) { return `${e.name}: ${e.message}`; } };
  return Far('root', {
    progress() { return progress; },
    reset() { progress = 0; },
    // BigInt growth: each product is charged by the product of the operands' words.
    bigSquare() { let x = 3n; for (;;) { x = x * x + 1n; progress += 1; } },
    bigMultiply() { const a = (1n << 100000n) - 1n; for (;;) { progress += a * a > 0n ? 1 : 0; } },
    bigDivide() { const a = (1n << 200000n) - 1n; const b = (1n << 100000n) + 7n; for (;;) { progress += Number(a / b % 2n); } },
    bigPower() { let x = 3n; for (;;) { x = x ** 3n; progress += 1; } },
    bigShiftLoop() { let x = 1n; for (;;) { x <<= 1000n; x -= 1n; progress += 1; } },
    bigAddLoop() { let x = 1n; for (;;) { x += x; progress += 1; } },
    bigCaps() {
      return [
        caught(() => 1n << 262144n),
        caught(() => String((1n << 262143n) > 0n)),
        caught(() => { const a = 1n << 140000n; return a * a; }),
        caught(() => 3n ** 200000n),
        caught(() => 2n ** 262143n > 0n),
        caught(() => { let x = (1n << 262143n); x += x; return x; }),
        caught(() => (1n << 262143n) - -(1n << 262143n)),
        caught(() => 1n >> -262144n),
        caught(() => BigInt.asUintN(300000, -1n)),
        caught(() => BigInt.asUintN(262144, -1n) > 0n),
        caught(() => BigInt(`0x${'f'.repeat(65537)}`)),
      ];
    },
    // Conversions of a 200,000-bit BigInt to decimal: quadratic, charged before.
    bigString() { const a = (1n << 200000n) - 1n; progress = 1; return String(a).length; },
    bigToString() { const a = (1n << 200000n) - 1n; progress = 1; return a.toString().length; },
    bigTemplate() { const a = (1n << 200000n) - 1n; progress = 1; return `${a}`.length; },
    bigConcat() { const a = (1n << 200000n) - 1n; progress = 1; return ('' + a).length; },
    bigParse() { const s = '9'.repeat(60000); progress = 1; return BigInt(s) > 0n; },
    bigCompareString() { const s = '9'.repeat(60000); progress = 1; return 5n < s; },
    // Meter version 3: a 50,000-bit BigInt (782 words) converted to a property key or a string
    // inside a builtin: 782^2 = 611,524 computrons each, charged before the conversion.
    ...(() => {
      const big = () => (1n << 50000n) - 1n;
      const o = {};
      const m = {};
      const uses = {
        keyRead: b => o[b], keyWrite: b => { o[b] = 1; }, keyIn: b => b in o,
        keyLiteral: b => ({ [b]: 1 }), keyPattern: b => { const { [b]: x } = o; return x; },
        keyCompound: b => { o[b] += 1; }, keyObject: b => o[{ toString: () => b }],
        keyClass: b => class { [b]() {} }, keyDelete: b => delete o[b],
        hasOwn: b => o.hasOwnProperty(b), objectHasOwn: b => Object.hasOwn(o, b),
        reflectGet: b => Reflect.get(o, b), reflectHas: b => Reflect.has(o, b),
        defineProperty: b => Object.defineProperty({}, b, { value: 1 }),
        parseInt: b => parseInt(b), indexOf: b => 'abc'.indexOf(b), includes: b => 'abc'.includes(b),
        thisAt: b => String.prototype.at.call(b, 0), concat: b => 'x'.concat(b),
        join: b => [b].join(), joinSeparator: b => [1, 2].join(b), sort: b => [b, 1].sort(),
        replacer: b => 'aXa'.replace('X', () => b), uri: b => encodeURIComponent(b),
        symbolFor: b => Symbol.for(b), jsonParse: b => JSON.parse(b),
        joinObject: b => [{ toString: () => b }].join(), errorMessage: b => Error(b),
        errorToString: b => { const e = Error('m'); e.message = b; return `${e}`; },
        symbol: b => Symbol(b), fromEntries: b => Object.fromEntries([[{ toString: () => b }, 1]]),
      };
      for (const [name, use] of Object.entries(uses)) {
        const method = `big_${name}`;
        m[method] = () => { const b = big(); progress = 1; use(b); progress = 2; return 'done'; };
      }
      return m;
    })(),
    // Meter version 3: a fresh 2^22-unit string (a rope over a long flat one) used as a key,
    // hashed by a Map or Set, or stringified: linear work, charged by the length.
    ...(() => {
      const m = {};
      const uses = {
        key: (t, o) => { o[t] = 1; }, keyIn: (t, o) => t in o, hasOwn: (t, o) => o.hasOwnProperty(t),
        reflectGet: (t, o) => Reflect.get(o, t), symbolFor: t => Symbol.for(t),
        defineProperty: t => Object.defineProperty({}, t, { value: 1 }),
        stringify: t => JSON.stringify(t).length, mapSet: (t, o, map) => map.set(t, 1),
        mapGet: (t, o, map) => map.get(t), setAdd: (t, o, map, set) => set.add(t),
        newMap: t => new Map([[t, 1]]), literal: t => ({ [t]: 1 }),
      };
      for (const [name, use] of Object.entries(uses)) {
        m[`long_${name}`] = () => {
          let s = 'ab';
          for (let i = 0; i < 21; i += 1) s += s;
          const o = {};
          const map = new Map();
          const set = new Set();
          for (;;) { const t = s + 'x'; use(t, o, map, set); progress += 1; }
        };
      }
      return m;
    })(),
    // Meter version 3: an allowlist over deep nesting meets the depth limit (the engine's own
    // recursion would stop at a node-dependent depth, with a catchable error).
    deepAllowlist(n = 300000) {
      let v = { a: 1 };
      for (let i = 0; i < n; i += 1) v = { a: v };
      progress = 1;
      try { return JSON.stringify(v, ['a']).length; } catch (e) { return `${e.name}`; }
    },
    // Strings: doubling stops at the cap (a RangeError the vat catches).
    stringDouble() {
      let s = 'x';
      return caught(() => { for (;;) { s += s; progress += 1; } }) + ` after ${progress}: ${s.length}`;
    },
    templateDouble() {
      let s = 'x';
      return caught(() => { for (;;) { s = `${s}${s}`; progress += 1; } }) + ` after ${progress}: ${s.length}`;
    },
    prependDouble() {
      let s = 'x';
      return caught(() => { for (;;) { s = s + s.slice(0, 1) + s; progress += 1; } }) + ` after ${progress}`;
    },
    append(n) { let s = ''; for (let i = 0; i < n; i += 1) s += 'abcdefgh'; return s.length; },
    prepend(n) { let s = ''; for (let i = 0; i < n; i += 1) s = 'abcdefgh' + s; return s.length; },
    compare(n, times) {
      const a = 'x'.repeat(n); const b = 'x'.repeat(n); let k = 0;
      for (let i = 0; i < times; i += 1) { if (a < b) k += 1; if (a === b) k += 1; if (a == b) k += 1; }
      return k;
    },
    numbers(n) {
      let s = 0;
      for (let i = 0; i < n; i += 1) { s = (s + i * 7) % 1000003; s -= 1; s += 1; s **= 1; }
      return s;
    },
  });
}
)";

// Operator semantics: every operator on every pair of a table of values (objects with valueOf,
// toString and Symbol.toPrimitive logging their calls, BigInts, symbols, ...), compound
// assignments to names, members and computed members, evaluation order. Run metered and
// unmetered; the outputs must be identical.
constexpr char kSemanticsVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  const log = [];
  const results = [];
  const show = v => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'symbol') return `sym:${v.description}`;
    if (typeof v === 'function') return 'fn';
    if (typeof v === 'object' && v !== null) return 'object';
    return `${typeof v}:${v}`;
  };
  const run = f => {
    log.length = 0;
    let r;
    try { r = show(f()); } catch (e) { r = `throw ${e.name}`; }
    results.push(`${r} | ${log.join(',')}`);
  };
  const obj = (name, v) => ({
    valueOf() { log.push(`${name}.valueOf`); return v; },
    toString() { log.push(`${name}.toString`); return `S${name}`; },
  });
  const prim = (name, v) => ({ [Symbol.toPrimitive](h) { log.push(`${name}:${h}`); return v; } });
  const bad = () => ({ valueOf() { return {}; }, toString() { return {}; } });
  const e = (name, v) => { log.push(`eval ${name}`); return v; };
  const ops = [
    (a, b) => a + b, (a, b) => a - b, (a, b) => a * b, (a, b) => a / b, (a, b) => a % b,
    (a, b) => a ** b, (a, b) => a << b, (a, b) => a >> b, (a, b) => a < b, (a, b) => a <= b,
    (a, b) => a > b, (a, b) => a >= b, (a, b) => a == b, (a, b) => a != b, (a, b) => a === b,
    (a, b) => a !== b,
    (a, b) => { let x = a; x += b; return x; }, (a, b) => { let x = a; x -= b; return x; },
    (a, b) => { let x = a; x *= b; return x; }, (a, b) => { let x = a; x /= b; return x; },
    (a, b) => { let x = a; x %= b; return x; }, (a, b) => { let x = a; x **= b; return x; },
    (a, b) => { let x = a; x <<= b; return x; }, (a, b) => { let x = a; x >>= b; return x; },
    (a, b) => { const o = { p: a }; o.p += b; return o.p; },
    (a, b) => { const o = [a]; o[0] *= b; return o[0]; },
    (a, b) => `${a}|${b}`,
    (a, b) => e('L', a) + e('R', b),
    (a, b) => e('L', a) < e('R', b),
    (a, b) => e('L', a) == e('R', b),
  ];
  const values = () => [0, 1, -0, 2.5, NaN, Infinity, 3n, -5n, 0n, 'a', '12', '', true, null,
    undefined, obj('o', 7), obj('p', 7n), obj('q', 'str'), prim('t', 4), prim('u', 9n), [1, 2],
    {}, Symbol('s'), bad(), 'x'.repeat(100), 1234567890123456789012345678901234567890n];
  return Far('root', {
    table() {
      const n = values().length;
      for (const op of ops) {
        for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) run(() => op(values()[i], values()[j]));
      }
      return results.length;
    },
    special() {
      run(() => { const o = { get p() { log.push('get'); return 1; }, set p(v) { log.push(`set ${v}`); } }; o.p += e('v', 2); return o.p; });
      run(() => { const o = {}; const k = { toString() { log.push('key'); return 'z'; } }; o[k] = 1; o[k] += 1; return o.z; });
      run(() => { let i = 0; const a = [1, 2, 3]; a[i++] += 10; return `${a.join()} ${i}`; });
      run(() => { const o = { a: { b: 1 } }; (o.a).b *= 3; ((o.a)).b -= 1; return o.a.b; });
      run(() => { const o = { x: 1 }; e('o', o)[e('k', 'x')] += e('v', 2); return o.x; });
      run(() => { const c = 1; c += 1; return c; });
      run(() => { let s = ''; for (let i = 0; i < 100; i += 1) s += i; return s.length; });
      run(() => { class A { get v() { return 1; } } class B extends A { f() { return super.v + 1; } } return new B().f(); });
      run(() => {
        class A { constructor() { this.v = 2; } get g() { log.push('get g'); return 5; } set g(x) { log.push(`set g ${x}`); } }
        class B extends A { f() { super.g += 1; super['g'] *= 2; return this.v; } }
        return new B().f();
      });
      run(() => {
        class A { constructor() { this.w = 5; } }
        class B extends A { x = 2 * this.w; y = this.w; static z = 3; static { this.z *= 7; this.z += 1; } }
        const b = new B(); b.y += 1; return b.x + b.y + B.z;
      });
      run(() => { class C { x = { p: 1 }; y = (this.x.p += 2); } return new C().y; });
      run(() => { const o = { a: 1 }; return o?.a + 1 + (o?.b?.c ?? 2); });
      run(() => { function f(a = 2 * 3, b = a + 1, c = { p: 1 }, d = (c.p += 1)) { return a + b + c.p + d; } return f(); });
      run(() => { let x = 1; x += (function () { return 5; })(); return x; });
      run(() => { let f = 0; f += (() => 3)(); return f; });
      run(() => { const fn = (0, function () {}); return fn.name; });
      run(() => { let a = 'q'; a += function () {}.name; return a; });
      run(() => { let a = 0; a += (class {}).name.length; return a; });
      run(() => `${String(12n)}${String(Symbol('q'))}${new String(5n)}${BigInt('123')}${BigInt.asUintN(8, -1n)}${BigInt.asIntN(8, 255n)}${(255n).toString(16)}`);
      run(() => { try { return new BigInt(1); } catch (x) { return x.name; } });
      run(() => String(obj('r', 3n)));
      run(() => BigInt(prim('b', '77')));
      run(() => BigInt.asIntN(prim('n', 8), prim('m', 300n)));
      run(() => { function* g() { let x = 1; x += yield 2; return x * 3; } const it = g(); it.next(); return it.next(5).value; });
      run(() => { const a = 'x'.repeat(100); return a < `${a}y`; });
      run(() => { const t = 5; return `a${t}b${t * 2}c${`${t}`}`; });
      run(() => { const tag = (s, ...v) => s.raw.join('-') + v.join('+'); return tag`a${1 + 1}b${2}`; });
      run(() => { let r = 0; r
        += 3; return r; });
      run(() => { let r = 1
        r *= 3
        r -= 1
        ;[r] = [r + 1]; return r; });
      run(() => { switch (1 + 1) { case 2: return 'two'; default: return 'other'; } });
      run(() => 2n ** 64n + 1n * 3n);
      run(() => 'a' + 'b' + 1 + 2);
      run(() => 1 + 2 + 'a' + (3 + 4));
      run(() => { const s = Symbol('z'); return `${s}`; });
      run(() => { const s = Symbol('z'); return s + ''; });
      run(() => { const d = new Date(0); return typeof (d + 1); });
      run(() => { const d = new Date(0); return d - 1; });
      run(() => [1, 2] + [3]);
      run(() => ({}) + 1);
      run(() => { const x = [5]; let i = 0; x[i] **= 2; return x[0]; });
      run(() => { let u; return u + 1; });
      run(() => { let k = 0; for (let i = 0; i < 10; i += 1) { k += i; } return k; });
      run(() => { let i = 0; while (i < 5) i += 1; return i; });
      run(() => { const a = 2; return a ** -1; });
      run(() => 3n ** -1n);
      run(() => 3n / 0n);
      run(() => 1n + 1);
      run(() => 1n < 2 && 2 > 1n && 1n == 1 && '1' == 1n && 1n !== 1);
      run(() => ('b' > 'a') + ('B' < 'a') + ('' === '') + ('a' !== 'a'));
      // JSON.stringify with an allowlist (version 3 runs it through views of the objects).
      run(() => { const o = { z: 1, 10: 2, b: 3, 2: 4, a: { b: 5, toJSON() { log.push('toJSON'); return { b: 6, a: 7 }; } } };
        return JSON.stringify(o, ['b', 'a', '10', '2', 'a', 1n, {}, new Number(2)], '\t'); });
      run(() => { const proto = { x: 1 }; const o = Object.create(proto); o.y = 2;
        Object.defineProperty(o, 'g', { get() { log.push('get g'); return 3; }, enumerable: false });
        return JSON.stringify({ v: o, w: [o, new Number(4), new String('s'), Object(5n) === 0] }, ['v', 'w', 'x', 'g', 'y']); });
      run(() => { const a = { a: null }; a.a = a; return JSON.stringify(a, ['a']); });
      run(() => { const a = { a: 1 }; return JSON.stringify({ p: a, q: a }, ['p', 'q', 'a']); });
      run(() => JSON.stringify({ a: [{ a: 1, b: 2 }], b: 3 }, ['a'], 2));
      run(() => { try { return JSON.stringify({ a: 1n }, ['a']); } catch (x) { return x.name; } });
      return results.length;
    },
    keys() {
      const keyUses = [
        v => { const o = { 3: 'three', a: 'A', undefined: 'u', null: 'n' }; return o[v]; },
        v => { const o = {}; o[v] = 1; return Object.keys(o).join(); },
        v => { const o = { 3: 1 }; o[v] += 1; return Object.keys(o).join(); },
        v => { const o = { a: 1, 12: 2 }; return v in o; },
        v => Object.keys({ [v]: 1 }).join(), v => { const { [v]: x = 'd' } = { a: 'A' }; return x; },
        v => Object.getOwnPropertyNames(class { static [v]() {} }).join(),
        v => { const o = { a: 1 }; return delete o[v]; },
        v => ({ a: 1 }).hasOwnProperty(v), v => Object.hasOwn({ 3: 1 }, v),
        v => Reflect.get({ a: 'A' }, v), v => Reflect.has({ 12: 1 }, v),
        v => Object.keys(Object.defineProperty({}, v, { value: 1, enumerable: true })).join(),
        v => Object.getOwnPropertyDescriptor({ a: 1 }, v), v => parseInt(v), v => parseFloat(v),
        v => 'a12bSo3'.indexOf(v), v => 'abc'.includes(v), v => 'ab'.padEnd(6, v),
        v => String.prototype.at.call(v, 0), v => String.prototype.slice.call(v, 1),
        v => 'x'.concat(v, v), v => [v, 1].join(), v => [1, 2].join(v), v => [v, 10, 9].sort().join(),
        v => 'aXa'.replace('X', () => v), v => 'aXa'.replace(/X/g, () => v),
        v => 'a,b'.split(v).length, v => encodeURIComponent(v), v => Symbol.for(v).description,
        v => JSON.parse(v), v => Date.parse(v), v => String.raw({ raw: ['a', 'b'] }, v),
        v => JSON.stringify({ a: v, b: [v, { a: v, z: 1 }], 3: v }, ['b', '3', 'a', 'b']),
        v => Object.keys(Object.fromEntries([[v, 1], ['a', v], [3, 2]])).join('|'),
        v => [1, v, [v, 2], null, undefined].join(v), v => Array.prototype.join.call({ length: 2, 0: v, 1: 'x' }, '-'),
        v => `${new Error(v).message}|${String(new Error(v))}`, v => new RangeError('m', { cause: v }).cause,
        v => { const e = new Error('m'); e.name = v; return `${e}`; }, v => Symbol(v).description,
        v => new AggregateError([v], v).message,
        v => JSON.stringify([v, { 3: 1, a: v }], ['a', 3, new String('3'), v], 1),
      ];
      const n = values().length;
      for (const use of keyUses) {
        for (let i = 0; i < n; i += 1) run(() => use(values()[i]));
      }
      return results.length;
    },
    results() { return results.join('\n'); },
  });
}
)";

struct Config {
  const char* name;
  bool jit = true;
  uint32_t extra_gcs = 0;
};

const Config kConfigs[] = {{"jit"}, {"nojit", false}, {"jit+gcs", true, 2}};

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
  os << (o.ok ? "ok" : "error") << " [" << o.error << "] " << o.computrons << " computrons:";
  for (const std::string& s : o.syscalls) os << "\n  " << s.substr(0, 400);
  return os;
}

class Host {
 public:
  explicit Host(const Config& c) {
    JsVatHostOptions o;
    o.jit = c.jit;
    o.testing_extra_gcs_per_delivery = c.extra_gcs;
    o.delivery_timeout = std::chrono::milliseconds(120000);
    host_ = JsVatHost::Create(o);
  }
  // options_json "{}" for an unmetered vat.
  Outcome Start(VatId id, const char* source, const std::string& options_json) {
    VatSpec spec;
    spec.vat_id = id;
    spec.name = "ops";
    spec.source = source;
    spec.options_json = options_json;
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

// Runs each of `methods` in turn on one metered vat of kOpsVat (resetting its progress before
// each), in every configuration; the outcomes (with the vat's progress after each) must all be
// equal. Returns the first configuration's.
std::vector<Outcome> SameEverywhere(const std::vector<std::string>& methods,
                                    uint64_t computrons = 2'000'000) {
  std::vector<Outcome> first;
  for (const Config& c : kConfigs) {
    Host host(c);
    Outcome start = host.Start(VatId(1), kOpsVat, MeterOptions(computrons));
    EXPECT_TRUE(start.ok) << c.name << ": " << start.error;
    for (size_t i = 0; i < methods.size(); ++i) {
      host.Call(VatId(1), "reset");
      Outcome got = host.Call(VatId(1), methods[i]);
      got.syscalls.push_back("progress:" + host.Call(VatId(1), "progress").syscalls.at(0));
      if (first.size() <= i) {
        first.push_back(got);
      } else {
        EXPECT_EQ(got, first[i]) << methods[i] << " in " << c.name;
      }
    }
  }
  return first;
}

// One metered vat (JIT on) for measuring the computrons of calls.
class Measure {
 public:
  Measure() : host_(kConfigs[0]) {
    EXPECT_TRUE(host_.Start(VatId(1), kOpsVat, MeterOptions(1'000'000'000)).ok);
  }
  uint64_t Computrons(const std::string& method, const std::string& args) {
    Outcome o = host_.Call(VatId(1), method, args);
    EXPECT_TRUE(o.ok) << method << ": " << o.error;
    return o.computrons;
  }

 private:
  Host host_;
};

TEST(MeteredOpsTest, BigIntWorkStopsAtTheSameComputronEverywhere) {
  const std::vector<std::string> methods = {"bigSquare", "bigMultiply", "bigDivide", "bigPower",
                                            "bigShiftLoop"};
  std::vector<Outcome> outcomes = SameEverywhere(methods);
  for (size_t i = 0; i < methods.size(); ++i) {
    const Outcome& o = outcomes[i];
    // Either the budget stops the loop, or the BigInt cap does (a RangeError rejecting the
    // call): never the engine.
    if (o.ok) {
      EXPECT_THAT(o.syscalls.at(0), HasSubstr("vat limit")) << methods[i];
      EXPECT_THAT(o.syscalls.at(0), HasSubstr("262144 bits")) << methods[i];
    } else {
      EXPECT_THAT(o.error, HasSubstr("computron limit")) << methods[i];
    }
  }
  // A 100,000-bit square is charged 1563^2 computrons, more than the budget of 2,000,000:
  // stopped before the first one.
  EXPECT_FALSE(outcomes[1].ok);
  EXPECT_THAT(outcomes[1].syscalls.back(), HasSubstr("#0"));
}

TEST(MeteredOpsTest, BigIntCapIsADeterministicRangeError) {
  Outcome o = SameEverywhere({"bigCaps"}, 100'000'000)[0];
  ASSERT_TRUE(o.ok) << o.error;
  const std::string& r = o.syscalls.at(0);
  EXPECT_THAT(r, HasSubstr("RangeError: vat limit: BigInt << would make a BigInt of more than "
                           "262144 bits"));
  EXPECT_THAT(r, HasSubstr("RangeError: vat limit: BigInt *"));
  EXPECT_THAT(r, HasSubstr("RangeError: vat limit: BigInt **"));
  EXPECT_THAT(r, HasSubstr("RangeError: vat limit: BigInt +"));
  EXPECT_THAT(r, HasSubstr("RangeError: vat limit: BigInt -"));
  EXPECT_THAT(r, HasSubstr("RangeError: vat limit: BigInt.asUintN"));
  EXPECT_THAT(r, HasSubstr("RangeError: vat limit: BigInt()"));
  // Results at the cap are allowed.
  EXPECT_THAT(r, HasSubstr("\\\"true\\\""));
}

TEST(MeteredOpsTest, BigIntConversionsAreChargedBeforeTheWork) {
  const std::vector<std::string> methods = {"bigString", "bigToString", "bigTemplate",
                                            "bigConcat", "bigParse", "bigCompareString"};
  std::vector<Outcome> outcomes = SameEverywhere(methods, 300'000);
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_FALSE(outcomes[i].ok) << methods[i] << ": " << outcomes[i];
    EXPECT_THAT(outcomes[i].error, HasSubstr("computron limit")) << methods[i];
  }
}

// Meter version 3: property keys and builtins' string conversions of a BigInt are charged
// before the engine converts it (in version 2 each was one computron, or none).
TEST(MeteredOpsTest, BigIntKeysAndBuiltinConversionsAreCharged) {
  const std::vector<std::string> uses = {
      "keyRead", "keyWrite", "keyIn", "keyLiteral", "keyPattern", "keyCompound", "keyObject",
      "keyClass", "keyDelete", "hasOwn", "objectHasOwn", "reflectGet", "reflectHas",
      "defineProperty", "parseInt", "indexOf", "includes", "thisAt", "concat", "join",
      "joinSeparator", "sort", "replacer", "uri", "symbolFor", "jsonParse", "joinObject",
      "errorMessage", "errorToString", "symbol", "fromEntries"};
  std::vector<std::string> methods;
  for (const std::string& u : uses) methods.push_back("big_" + u);
  std::vector<Outcome> outcomes = SameEverywhere(methods, 300'000);
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_FALSE(outcomes[i].ok) << methods[i] << ": " << outcomes[i];
    EXPECT_THAT(outcomes[i].error, HasSubstr("computron limit")) << methods[i];
    // Stopped at the conversion: after `progress = 1`, before `progress = 2`.
    EXPECT_THAT(outcomes[i].syscalls.back(), HasSubstr(R"({"body":"#1")")) << methods[i];
  }
  // Version 2 (frozen) did not charge them: the same calls complete within the budget.
  Host host(kConfigs[0]);
  ASSERT_TRUE(host.Start(VatId(1), kOpsVat, MeterOptions(300'000, 2)).ok);
  for (const char* method : {"big_keyRead", "big_hasOwn", "big_join"}) {
    Outcome o = host.Call(VatId(1), method);
    EXPECT_TRUE(o.ok) << method << ": " << o.error;
  }
}

// Meter version 3: long strings as keys (atomized: hashed and copied), in Maps and Sets (hashed
// on every call) and in JSON.stringify (escaped) are charged by their length, about a
// computron per 16 units: each use of a 2^22-unit string costs 262,144.
TEST(MeteredOpsTest, LongStringKeysAndHashesAreCharged) {
  const std::vector<std::string> uses = {"key", "keyIn", "hasOwn", "reflectGet", "symbolFor",
                                         "defineProperty", "stringify", "mapSet", "mapGet",
                                         "setAdd", "newMap", "literal"};
  std::vector<std::string> methods;
  for (const std::string& u : uses) methods.push_back("long_" + u);
  std::vector<Outcome> outcomes = SameEverywhere(methods, 1'500'000);
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_FALSE(outcomes[i].ok) << methods[i] << ": " << outcomes[i];
    EXPECT_THAT(outcomes[i].error, HasSubstr("computron limit")) << methods[i];
    // At most five uses of a 2^22-unit string fit in 1,500,000 computrons.
    const std::string& progress = outcomes[i].syscalls.back();
    size_t at = progress.find(R"({"body":"#)");
    ASSERT_NE(at, std::string::npos) << progress;
    EXPECT_LE(std::stoi(progress.substr(at + 10)), 5) << methods[i] << ": " << progress;
  }
}

TEST(MeteredOpsTest, AnAllowlistOverDeepNestingMeetsTheDepthLimit) {
  std::vector<Outcome> outcomes = SameEverywhere({"deepAllowlist"}, 100'000'000);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0].ok) << outcomes[0];
  EXPECT_THAT(outcomes[0].error, HasSubstr("depth")) << outcomes[0];
  // Shallow nesting completes.
  Measure m;
  EXPECT_GT(m.Computrons("deepAllowlist", "[100]"), 0u);
}

TEST(MeteredOpsTest, StringCapIsADeterministicRangeError) {
  const std::vector<std::string> methods = {"stringDouble", "templateDouble", "prependDouble"};
  std::vector<Outcome> outcomes = SameEverywhere(methods, 100'000'000);
  for (size_t i = 0; i < methods.size(); ++i) {
    ASSERT_TRUE(outcomes[i].ok) << methods[i] << ": " << outcomes[i].error;
    EXPECT_THAT(outcomes[i].syscalls.at(0), HasSubstr("RangeError: vat limit:")) << methods[i];
    EXPECT_THAT(outcomes[i].syscalls.at(0), HasSubstr("(cap 33554432)")) << methods[i];
  }
  EXPECT_THAT(outcomes[0].syscalls.at(0), HasSubstr("after 25: 33554432"));
}

TEST(MeteredOpsTest, AppendLoopsAreLinearInComputrons) {
  Measure m;
  for (const char* method : {"append", "prepend"}) {
    uint64_t small = m.Computrons(method, "[10000]");
    uint64_t large = m.Computrons(method, "[100000]");
    // Ten times the appends: about ten times the computrons (quadratic would be a hundred).
    EXPECT_LT(large, small * 12) << method;
    EXPECT_GT(large, small * 8) << method;
  }
}

TEST(MeteredOpsTest, LongStringComparisonsAreCharged) {
  Measure m;
  uint64_t short_strings = m.Computrons("compare", "[64, 100]");
  uint64_t long_strings = m.Computrons("compare", "[1048576, 100]");
  // Three comparisons of 2^20 units, 100 times: 2^14 computrons each.
  EXPECT_GE(long_strings - short_strings, 300u * (1048576 / 64) - 1000);
}

TEST(MeteredOpsTest, NumbersStayInline) {
  // Ten thousand iterations of number arithmetic: the loop tick plus nothing per operator.
  uint64_t c = Measure().Computrons("numbers", "[10000]");
  EXPECT_LT(c, 10000u + 200u);
}

TEST(MeteredOpsTest, OperatorSemanticsAreUnchanged) {
  std::vector<std::string> outputs;
  for (const std::string& options : {std::string("{}"), MeterOptions(2'000'000'000)}) {
    Host host(kConfigs[0]);
    Outcome start = host.Start(VatId(1), kSemanticsVat, options);
    ASSERT_TRUE(start.ok) << start.error;
    Outcome table = host.Call(VatId(1), "table");
    ASSERT_TRUE(table.ok) << table.error;
    Outcome special = host.Call(VatId(1), "special");
    ASSERT_TRUE(special.ok) << special.error;
    Outcome keys = host.Call(VatId(1), "keys");
    ASSERT_TRUE(keys.ok) << keys.error;
    Outcome results = host.Call(VatId(1), "results");
    ASSERT_TRUE(results.ok) << results.error;
    outputs.push_back(results.syscalls.at(0));
  }
  ASSERT_EQ(outputs.size(), 2u);
  // Line by line, for a readable failure.
  std::vector<std::string> plain = absl::StrSplit(outputs[0], "\\n");
  std::vector<std::string> metered = absl::StrSplit(outputs[1], "\\n");
  ASSERT_EQ(plain.size(), metered.size());
  EXPECT_GT(plain.size(), 20000u);
  int differ = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    if (plain[i] != metered[i] && ++differ < 20) {
      ADD_FAILURE() << "line " << i << ":\n  unmetered " << plain[i] << "\n  metered   "
                    << metered[i];
    }
  }
  EXPECT_EQ(differ, 0);
}

// The instrumenter's own check of its output: an operator that escaped the meter is refused.
class VerifyTool {
 public:
  VerifyTool() : engine_(JsEngineOptions()), global_(engine_.cx()) {
    JSContext* cx = engine_.cx();
    static const JSClass kClass = {"VerifyGlobal", JSCLASS_GLOBAL_FLAGS,
                                   &JS::DefaultGlobalClassOps};
    JS::RealmOptions ro;
    global_ = JS_NewGlobalObject(cx, &kClass, nullptr, JS::FireOnNewGlobalHook, ro);
    SWINGSET_CHECK(global_);
    JSAutoRealm ar(cx, global_);
    SWINGSET_CHECK(JS::InitRealmStandardClasses(cx));
    for (const JsSource* src : {&AcornSource(), &InstrumentSource()}) {
      JS::RootedValue rval(cx);
      SWINGSET_CHECK(Eval(src->name, src->text, &rval)) << src->name;
    }
  }
  JsEngine* engine() { return &engine_; }
  // instrument.verifyOutput(text, false, version): "ok", or the error's message.
  std::string Verify(const std::string& text, int version = kMeterVersion) {
    JSContext* cx = engine_.cx();
    JSAutoRealm ar(cx, global_);
    std::string call = StrCat("(() => { try { instrument.verifyOutput(", JsonQuote(text),
                              ", false, ", version, "); return 'ok'; } catch (e) { return e.message; } })()");
    JS::RootedValue rval(cx);
    SWINGSET_CHECK(Eval("verify.js", call, &rval));
    JS::RootedString s(cx, rval.toString());
    JS::UniqueChars chars = JS_EncodeStringToUTF8(cx, s);
    return chars.get();
  }

 private:
  static std::string JsonQuote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out + "\"";
  }
  bool Eval(const char* name, std::string_view text, JS::MutableHandleValue rval) {
    JSContext* cx = engine_.cx();
    JS::CompileOptions opts(cx);
    opts.setFileAndLine(name, 1);
    JS::SourceText<mozilla::Utf8Unit> src;
    return src.init(cx, text.data(), text.size(), JS::SourceOwnership::Borrowed) &&
           JS::Evaluate(cx, opts, src, rval);
  }
  JsEngine engine_;
  JS::PersistentRooted<JSObject*> global_;
};

TEST(OpsInstrumenterTest, RefusesOperatorsOutsideTheMeter) {
  VerifyTool tool;
  JsInstrumenter inst(tool.engine());
  // What the instrumenter writes passes its check.
  const char* source =
      "function f(a, b, o, k) { let s = a * b + 1; s += `${a}`; o.p -= s; o[k] **= 2;"
      " return a < b && a === b && a == b && 'x' + a; }";
  absl::StatusOr<std::string_view> out = inst.Instrument("t.js", source, false, kMeterVersion);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(tool.Verify(std::string(*out)), "ok");
  // The same text with one operator bare, a compound assignment left, a template outside
  // $__tc, a forged fast path (wrong test, or operands that are not temporaries): refused.
  const std::string prologue =
      "function f(a, b) {;const $__d=++$__m.d;if($__d>$__m.L)$__deep();if(--$__m.c<0)$__r();"
      "try{let $__a0,$__b0,$__o0,$__k0; return (";
  const std::string epilogue = ")}finally{$__m.d=$__d-1}}";
  for (const char* bad : {
           "a * b",
           "a < b",
           "a === b",
           "a += b",
           "`${$__ts((a))}`",
           "$__tc(`${a}`)",
           "typeof a==='number'&&typeof b==='number'?a * b:$__mul(a,b)",
           "($__a0=a,$__b0=b,typeof $__a0==='number'?$__a0 * $__b0:$__mul($__a0,$__b0))",
           "($__a0=a,$__b0=b,typeof $__a0!=='string'||typeof $__b0!=='string'?$__a0 < $__b0:0)",
           "($__a0=a,$__b0=b,typeof $__a0==='number'&&typeof $__b0==='number'?0:$__a0 + $__b0)",
           "2n ** 100000000n",
           "a < 1",
           "-a < b",
           "a == true",
           "5n < a",
       }) {
    EXPECT_THAT(tool.Verify(prologue + bad + epilogue), HasSubstr("verify:")) << bad;
  }
  // Bounded forms pass: two literals, comparisons with a literal or a typeof.
  for (const char* good : {"1 + 2", "'a' + 'b'", "a === 'x'", "typeof a === typeof b",
                           "a < 'x'", "-a === b", "a == null", "a === 1",
                           "($__a0=(a),$__b0=(b),typeof $__a0==='number'&&typeof $__b0==="
                           "'number'?$__a0 * $__b0:$__mul($__a0,$__b0))"}) {
    EXPECT_EQ(tool.Verify(prologue + good + epilogue), "ok") << good;
  }
  // Meter version 1 checks none of it.
  EXPECT_EQ(tool.Verify(prologue + "a * b" + epilogue, 1), "ok");
  // Version 3: a property key the engine converts is bounded, a temporary, a $__pk call or a
  // member site's exact guard; version 2 checks no keys.
  for (const char* bad : {
           "a[b]", "b in a", "{ [b]: 1 }", "a[1n]", "a[$__tc(`${$__ts((b))}`)]",
           "a[($__k0=(b),typeof $__k0==='string'?$__k0:$__pk($__k0))]",
           "a[($__k0=(b),typeof $__k0==='string'||typeof $__k0==='number'?$__k0:$__pk($__k0))]",
           "a[($__k0=(b),typeof $__k0==='string'&&$__k0.length<=256||typeof $__k0==='number'"
           "?$__k0:$__pk(b))]",
           "a[($__k0=(b),typeof $__k0==='string'&&$__k0.length<=256||typeof $__k0==='number'"
           "?b:$__pk($__k0))]",
       }) {
    EXPECT_THAT(tool.Verify(prologue + bad + epilogue, 3), HasSubstr("verify:")) << bad;
    EXPECT_EQ(tool.Verify(prologue + bad + epilogue, 2), "ok") << bad;
  }
  for (const char* good : {
           "a[1]", "a['x']", "a[`x`]", "a[typeof b]", "a[$__k0]", "$__pk((b)) in a",
           "{ [$__pk((b))]: 1 }",
           "a[($__k0=(b),typeof $__k0==='string'&&$__k0.length<=256||typeof $__k0==='number'"
           "?$__k0:$__pk($__k0))]",
       }) {
    EXPECT_EQ(tool.Verify(prologue + good + epilogue, 3), "ok") << good;
  }
}

TEST(OpsInstrumenterTest, InstrumentsSesAndTheRuntimeAtVersionTwo) {
  JsEngine engine{JsEngineOptions()};
  JsInstrumenter inst(&engine);
  for (const auto& [path, text] : SesModuleSources()) {
    absl::StatusOr<std::string_view> out = inst.Instrument(std::string(path), text, true, 2);
    ASSERT_TRUE(out.ok()) << path << ": " << out.status();
  }
  for (const JsSource& src : RuntimeSources()) {
    absl::StatusOr<std::string_view> out = inst.Instrument(src.name, src.text, false, 2);
    ASSERT_TRUE(out.ok()) << src.name << ": " << out.status();
  }
}

}  // namespace
}  // namespace swingset
