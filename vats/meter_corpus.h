// File: meter_corpus.h
//
// Test-only: the adversarial corpus of the meter (docs/METERING.md, "Tests"), one line per
// case, and the source of a liveslots vat that runs any of them. The matrix test
// (vats/js_meter_matrix_test.cc) runs every case in 20+ node configurations, the flags test
// (tests/meter_flags_test.cc) a selection through two real servers; each case must end
// identically everywhere.
//
// The vat: run(name, ...args) calls the case's function; progress() returns the number the
// cases keep in `progress`, the vat's own view of how far a stopped case got.

#ifndef SWINGSETD_VATS_METER_CORPUS_H_
#define SWINGSETD_VATS_METER_CORPUS_H_

#include <cstdint>
#include <string>

#include "kernel/strings.h"

namespace swingset {
namespace meter_corpus {

// How a case must end.
enum class End {
  kComputrons,  // stopped by the budget ("computron limit")
  kDepth,       // stopped by the depth limit ("call depth limit")
  kReturns,     // the delivery completes (its result may be a rejection the vat chose)
};

struct Case {
  const char* name;
  // A JavaScript function expression; the vat calls it with the case's arguments. `progress`
  // (a number the vat keeps, read back after the case) is in scope.
  const char* fn;
  End end;
  const char* args = "[]";
  // The vat's budget per delivery (also for its start) and its depth limit.
  uint64_t computrons = 300'000;
  uint32_t depth = 400;
  // What the result or the error must contain (empty: not checked beyond `end`).
  const char* expect = "";
};

// The corpus.
inline const Case kCorpus[] = {
    // Loops: the loop tick.
    {"spin", "() => { for (;;) { progress += 1; } }", End::kComputrons},
    {"spinWhile", "() => { let i = 0; while (i >= 0) { i += 1; progress = i; } }", End::kComputrons},
    {"spinDo", "() => { do { progress += 1; } while (true); }", End::kComputrons},
    {"spinForOf", "() => { const a = [1]; for (const x of a) { a.push(x); progress += 1; } }",
     End::kComputrons},
    {"spinForIn", "() => { for (;;) { for (const k in { a: 1, b: 2 }) { progress += 1; } } }",
     End::kComputrons},
    {"spinCaught",
     "() => { for (;;) { try { progress += 1; throw Error('x'); } catch (e) { progress += 0; } "
     "finally { progress += 0; } } }",
     End::kComputrons},
    {"spinGenerator",
     "() => { function* g() { for (;;) yield progress; } for (const x of g()) { progress += 1; } }",
     End::kComputrons},
    // Callbacks from natives: getters, setters, proxy traps, toString/valueOf, comparators,
    // iterators.
    {"getterLoop",
     "() => Object.assign({}, { get x() { for (;;) { progress += 1; } } })", End::kComputrons},
    {"proxyTrapLoop",
     "() => new Proxy({}, { get() { for (;;) { progress += 1; } } }).x", End::kComputrons},
    {"valueOfLoop", "() => 1 + { valueOf() { for (;;) { progress += 1; } } }", End::kComputrons},
    {"comparatorLoop",
     "() => [3, 1, 2].sort(() => { for (;;) { progress += 1; } })", End::kComputrons},
    {"iteratorSpread",
     "() => [...{ [Symbol.iterator]() { return { next() { progress += 1; return { done: false }; "
     "} }; } }]",
     End::kComputrons},
    // Recursion: plain, caught, through defaults, field initialisers, generators, async
    // functions, getters, proxy traps, toString/valueOf from natives, builtins' callbacks.
    {"recurse", "() => { const f = n => { progress = n; return f(n + 1) + 1; }; return f(0); }",
     End::kDepth},
    {"recurseCaught",
     "() => { const f = n => { progress = n; try { return f(n + 1) + 1; } catch (e) { return "
     "'caught'; } }; return f(0); }",
     End::kDepth},
    {"recurseDefault", "() => { function f(a = f()) { return a; } return f(); }", End::kDepth},
    {"recurseField", "() => { class A { x = new A(); } return new A(); }", End::kDepth},
    {"recurseGenerator",
     "() => { function* g(n) { progress = n; yield* g(n + 1); } return [...g(0)]; }", End::kDepth},
    {"recurseAsync",
     "() => { const f = async n => { progress = n; return f(n + 1); }; return f(0); }",
     End::kDepth},
    {"recurseGetter",
     "() => { const o = { get x() { progress += 1; return o.x; } }; return o.x; }", End::kDepth},
    {"recurseProxyTrap",
     "() => { const p = new Proxy({}, { get(t, k) { progress += 1; return p[k]; } }); "
     "return p.x; }",
     End::kDepth},
    {"recurseToString",
     "() => { const o = { toString() { progress += 1; return `${o}`; } }; return String(o); }",
     End::kDepth},
    {"recurseValueOf",
     "() => { const o = { valueOf() { progress += 1; return o + 1; } }; return o * 2; }",
     End::kDepth},
    {"recurseMap", "() => { const f = () => { progress += 1; return [0].map(f); }; return f(); }",
     End::kDepth},
    {"recurseReviver",
     "() => { const r = (k, v) => { progress += 1; return JSON.parse('[1]', r); }; "
     "return JSON.parse('[1]', r); }",
     End::kDepth},
    {"recurseApply",
     "() => { const f = () => { progress += 1; return Reflect.apply(f, null, []); }; "
     "return f(); }",
     End::kDepth},
    {"nestedJoin",
     "() => { let a = []; for (let i = 0; i < 100000; i += 1) a = [a]; return String(a).length; }",
     End::kDepth},
    // Promise jobs: one computron each, whatever the handler.
    {"jobStorm",
     "() => { const loop = () => { progress += 1; return Promise.resolve().then(loop); }; "
     "return loop(); }",
     End::kComputrons},
    {"thenableStorm",
     "() => { const t = { then(res) { progress += 1; res(t); } }; return Promise.resolve(t); }",
     End::kComputrons},
    {"asyncAwaitStorm",
     "() => { const f = async () => { for (;;) { await null; progress += 1; } }; return f(); }",
     End::kComputrons},
    // Builtins asked for far more native work than the budget pays: stopped before the work.
    {"fill", "() => { progress = 1; return Array(1e9).fill(0).length; }", End::kComputrons},
    {"sparseForEach",
     "() => { progress = 1; Array(1e9).forEach(x => { progress += 1; }); return progress; }",
     End::kComputrons},
    {"indexOfHoles", "() => { progress = 1; return Array(1e9).indexOf(1); }", End::kComputrons},
    {"sortHoles", "() => { progress = 1; return Array(1e8).sort().length; }", End::kComputrons},
    {"setOfHoles", "() => { progress = 1; return new Set(Array(1e9)).size; }", End::kComputrons},
    {"promiseAll", "() => { progress = 1; return Promise.all(Array(1e9)); }", End::kComputrons},
    {"arrayFrom", "() => { progress = 1; return Array.from({ length: 1e9 }).length; }",
     End::kComputrons},
    {"applyHuge", "() => { progress = 1; return Math.max.apply(null, { length: 1e9 }); }",
     End::kComputrons},
    {"repeat", "() => { progress = 1; return 'ab'.repeat(2 ** 23).length; }", End::kComputrons},
    {"repeatObject",
     "() => { progress = 1; return String.prototype.repeat.call(new String('ab'), 2 ** 23)"
     ".length; }",
     End::kComputrons},
    {"jsonParse",
     "() => { let s = '1'; for (let i = 0; i < 24; i += 1) s += s; progress = s.length; "
     "return JSON.parse(`[${s}]`).length; }",
     End::kComputrons},
    {"stringifyDag",
     "() => { let o = {}; for (let i = 0; i < 40; i += 1) o = { a: o, b: o }; progress = 1; "
     "return JSON.stringify(o).length; }",
     End::kComputrons},
    {"joinBig", "() => { progress = 1; return Array(1e8).join(',').length; }", End::kComputrons},
    // Spread over huge sources.
    {"spread", "() => { progress = 1; return [...Array(1e9)].length; }", End::kComputrons},
    {"spreadArgs", "() => { progress = 1; return Math.max(...Array(1e7)); }", End::kComputrons},
    {"spreadString", "() => { progress = 1; return [...'ab'.repeat(2 ** 22)].length; }",
     End::kComputrons},
    // Native nesting that has no JS frame: a deterministic, catchable RangeError.
    {"proxyChain",
     "() => { let p = {}; for (let i = 0; i < 5000; i += 1) p = new Proxy(p, {}); return p.x; }",
     End::kReturns, "[]", 300'000, 400, "nested more than 1000 deep"},
    {"bindChain",
     "() => { let f = () => 1; for (let i = 0; i < 5000; i += 1) f = f.bind(null); return f(); }",
     End::kReturns, "[]", 300'000, 400, "nested more than 1000 deep"},
    // Code generation is refused (and vat code has no Compartment to evaluate with).
    {"evals",
     "() => { const out = []; for (const f of [() => eval('1 + 1'), () => Function('return 1')(),"
     " () => (0, eval)('2'), () => new Compartment().evaluate('3')]) { try { out.push(f()); } "
     "catch (e) { out.push(e.name); } } return out; }",
     End::kReturns, "[]", 300'000, 400,
     R"(#[\"EvalError\",\"EvalError\",\"EvalError\",\"ReferenceError\"])"},
    // Regular expressions run on RE2 (meter version 2), charged before they match:
    // catastrophic backtracking is linear, a huge input stops at the charge.
    {"regexCatastrophic",
     "() => { progress = 1; return /^(a+)+$/.test('a'.repeat(3000) + 'b'); }",
     End::kReturns, "[]", 20'000'000, 400, "false"},
    {"regexHugeInput",
     "() => { const s = 'ab'.repeat(2 ** 20); progress = 1; return /(a|b)*c/.test(s); }",
     End::kComputrons},
    {"regexSplitLoop",
     "() => { const s = 'a,'.repeat(2000); for (;;) { progress += s.split(/,/).length; } }",
     End::kComputrons, "[]", 20'000'000},
    // BigInt and long-string operators (meter version 2): charged by size, capped.
    {"bigintSquare",
     "() => { let x = 3n ** 4000n; for (;;) { x = (x * x) % (7n ** 2000n); progress += 1; } }",
     End::kComputrons, "[]", 5'000'000},
    {"bigintCap", "() => { progress = 1; return 1n << 1000000n; }", End::kReturns, "[]",
     300'000, 400, "vat limit"},
    {"stringDoubling", "() => { let s = 'ab'; for (;;) { s += s; progress += 1; } }",
     End::kReturns, "[]", 2'000'000, 400, "vat limit"},
    {"longCompare",
     "() => { const a = 'x'.repeat(2 ** 20), b = 'x'.repeat(2 ** 20); "
     "for (;;) { if (a < b) return 1; progress += 1; } }",
     End::kComputrons},
    // BigInt keys and builtins' conversions (meter version 3): charged by size.
    {"bigintKeyLoop",
     "() => { const o = {}; const b = (1n << 20000n) - 1n; for (;;) { o[b] = progress; "
     "progress += 1; } }",
     End::kComputrons, "[]", 5'000'000},
    {"bigintBuiltinLoop",
     "() => { const b = (1n << 20000n) - 1n; const a = [b]; for (;;) { progress += "
     "({}).hasOwnProperty(b) + parseInt(b) % 7 + a.join().length + 'x'.indexOf(b); } }",
     End::kComputrons, "[]", 5'000'000},
    // Deep nesting: flat and a JSON.parse reviver on an explicit stack (js_native_recursion_test
    // goes far deeper; these stay small enough for the 16 MiB heap configuration).
    {"flatDeep",
     "() => { let a = [1]; for (let i = 0; i < 5000; i += 1) a = [a]; progress = 1; "
     "return a.flat(Infinity).length; }",
     End::kReturns, "[]", 2'000'000, 400, "1"},
    {"stringifyDeep",
     "() => { let a = [1]; for (let i = 0; i < 5000; i += 1) a = [a]; progress = 1; "
     "return JSON.stringify(a).length; }",
     End::kDepth},
    {"reviverDeep",
     "() => { const t = `${'['.repeat(5000)}1${']'.repeat(5000)}`; let n = 0; "
     "JSON.parse(t, (k, v) => { n += 1; return v; }); return n; }",
     End::kReturns, "[]", 2'000'000, 400, "5001"},
    // Legitimate work: completes with the same count everywhere.
    {"manyPendingAsync",
     "n => { const ps = []; for (let i = 0; i < n; i += 1) ps.push((async () => { await null; "
     "return i; })()); return Promise.all(ps).then(a => a.length); }",
     End::kReturns, "[20000]", 2'000'000, 400, "20000"},
    {"sortWork",
     "n => { const a = []; for (let i = 0; i < n; i += 1) a.push((i * 7919) % n); "
     "a.sort((x, y) => x - y); return a[n - 1]; }",
     End::kReturns, "[3000]", 2'000'000, 400, "2999"},
    {"nativeHandlerJobs",
     "n => { let p = Promise.resolve(1); for (let i = 0; i < n; i += 1) p = p.then(Number); "
     "return p; }",
     End::kReturns, "[50000]", 2'000'000, 400, "1"},
    {"mixedWork",
     "n => { const m = new Map(); for (let i = 0; i < n; i += 1) m.set(`k${i}`, { i, s: String(i)"
     ".padStart(6, '0') }); const out = JSON.parse(JSON.stringify([...m.values()])); "
     "return out.filter(x => x.i % 7 === 0).map(x => x.s).join('').length; }",
     End::kReturns, "[5000]", 2'000'000, 400, "4290"},
};

inline std::string CorpusVatSource() {
  std::string cases;
  for (const Case& c : kCorpus) cases += StrCat("    ", c.name, ": ", c.fn, ",\n");
  return StrCat(R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  let progress = 0;
  const cases = {
)", cases, R"(  };
  return Far('root', {
    progress() { return progress; },
    run(name, ...args) { return cases[name](...args); },
  });
}
)");
}

}  // namespace meter_corpus
}  // namespace swingset

#endif  // SWINGSETD_VATS_METER_CORPUS_H_
