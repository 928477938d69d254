// Regular expressions of metered vats (meter version 2) on RE2 (js_regex.h): the same results as
// SpiderMonkey's irregexp for the patterns RE2 runs, a SyntaxError for the ones it cannot run
// exactly, linear time with the same computrons everywhere, a charge before the work, and
// version-1 vats still on irregexp.

#include "vats/js_regex.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
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

// Each case is a JS expression, evaluated in the vat (which cannot eval: the cases are compiled
// into its source). Results are rendered by show(): arrays with their extra properties (index,
// input, groups, indices), null-prototype objects, errors by name.
const std::vector<std::string> kSameCases = {
    // exec: captures, non-participating groups, named groups, indices, leftmost-first.
    R"(/a(b)?c/.exec('xxac'))",
    R"(/(\d+)-(\d+)/.exec('tel 12-345 x'))",
    R"(/(?<y>\d{4})-(?<m>\d\d)/.exec('on 2024-05-01'))",
    R"(/(?<y>\d{4})-(?<m>\d\d)(x)?/d.exec('on 2024-05-01'))",
    R"(/(a)(x)?/d.exec('ba'))",
    R"(/a|ab/.exec('abc'))",
    R"(/(a|ab)(c|bcd)(d*)/.exec('abcd'))",
    R"(/(?:ab|a)(bc|c)/.exec('abc'))",
    R"(/(a+)(a*)/.exec('aaaa'))",
    R"(/(a+?)(a*)/.exec('aaaa'))",
    R"(/a*?b/.exec('aaab'))",
    R"(/a{2,3}/.exec('aaaa'))",
    R"(/a{2,3}?/.exec('aaaa'))",
    R"(/x{2,}/.exec('xxxxx'))",
    R"(/(\d+\.)+\d+/.exec('v1.2.3.4'))",
    R"(/(?:(\d)x)+/.exec('1x2x3'))",
    // Anchors, dot, line terminators.
    R"(/^abc$/.exec('abc'))",
    R"(/^b/m.exec('a\nb'))",
    R"(/a$/m.exec('a\nb'))",
    R"(/^b/.exec('a\nb'))",
    R"(/a$/.exec('a\n'))",
    R"(/./.exec('\n'))",
    R"(/./s.exec('\n'))",
    R"(/.+/.exec('ab\u2028c'))",
    R"(/.+/.exec('ab\rc'))",
    R"(/[^]+/.exec('a\nb'))",
    R"(/[]/.exec('a'))",
    R"(/\bfoo\b/.exec('a foo b'))",
    R"(/\Bo\B/.exec('foo'))",
    R"(/\bé/.exec('aé é'))",
    // Class escapes, JS's whitespace, character escapes.
    R"(/\s+/.exec('a\u00a0\ufeff\u3000\u2029b'))",
    R"(/\S+/.exec('  é€  '))",
    R"(/\W+/.exec('ab-+é'))",
    R"(/\w+/.exec('-a_1é'))",
    R"(/\D/.exec('12a'))",
    R"(/\cJ/.exec('a\nb'))",
    R"(/\x41\u0042/.exec('zAB'))",
    R"(/\0/.exec('a\0b'))",
    R"(/[\b]/.exec('a\bb'))",
    R"(/\//.exec('a/b'))",
    R"(/\-\{\}\$/.exec('-{}$'))",
    R"(new RegExp('a/b\n').exec('a/b\n'))",
    R"(new RegExp('').exec('x'))",
    // Annex B syntax without u.
    R"(/a{/.exec('a{'))",
    R"(/a{1,x}/.exec('a{1,x}'))",
    R"(/]/.exec('a]'))",
    R"(/}/.exec('}'))",
    R"(/\c/.exec('\\c'))",
    R"(/[\c_]/.exec('\x1f'))",
    R"(/\k/.exec('k'))",
    R"(/\p{L}/.exec('p{L}'))",
    R"(/\q/.exec('q'))",
    // Classes.
    R"(/[a-c\d]+/.exec('xxab1c9z'))",
    R"(/[^a-c]+/.exec('abcdef'))",
    R"(/[\w-]+/.exec('a-b c'))",
    R"(/[\d-z]+/.exec('1-z'))",
    R"(/[-a]+/.exec('-a'))",
    R"(/[\u00e0-\u00ff]+/.exec('aàÿb'))",
    // Case-insensitive.
    R"(/abc/i.exec('xABC'))",
    R"(/[a-z]+/i.exec('12HeLLo'))",
    R"(/[^a-z]+/i.exec('ABC123'))",
    R"(/s/i.exec('\u017f'))",
    R"(/s/iu.exec('\u017f'))",
    R"(/k/iu.exec('\u212a'))",
    R"(/\w/iu.exec('\u017f'))",
    R"(/\W/iu.exec('S\u017f!'))",
    R"(/[^s]/iu.exec('\u017fx'))",
    R"(/[^s]/i.exec('\u017fx'))",
    R"(/\W/i.exec('S\u017f!'))",
    // Surrogates without u: one character per code unit.
    R"(/./.exec('\ud83d\ude00'))",
    R"(/^.$/.exec('\ud83d\ude00'))",
    R"(/^..$/.exec('\ud83d\ude00'))",
    R"(/\ud83d/.exec('x\ud83d\ude00'))",
    R"(/[\ud800-\udbff]/.exec('a\ud83d\ude00'))",
    R"(/\ude00/.exec('\ud83d\ude00'))",
    R"(/../.exec('\ud800'))",
    R"(/[^a]+/.exec('\udc00\ud800a'))",
    R"(/😀+/.exec('😀\ude00'))",
    // With u: code points.
    R"(/^.$/u.exec('\ud83d\ude00'))",
    R"(/\u{1F600}/u.exec('a😀'))",
    R"(/[\u{1F600}-\u{1F64F}]+/u.exec('x😀😃'))",
    R"(/\ud83d/u.exec('\ud83d\ude00'))",
    R"(/\ud83d/u.exec('x\ud83d'))",
    R"(/./u.exec('\ude00x'))",
    R"(/[^a]/u.exec('\udc00'))",
    R"(/\ud83d\ude00/u.exec('x😀'))",
    R"(/😀+/u.exec('😀😀'))",
    R"(/[😀x]/u.exec('a😀'))",
    R"(/\w+\s\d/u.exec('x ab 1'))",
    // lastIndex, g and y.
    R"((() => { const r = /a/g; const out = []; let m; while ((m = r.exec('banana'))) out.push(m.index, r.lastIndex); out.push(r.lastIndex); return out; })())",
    R"((() => { const r = /a/y; r.lastIndex = 1; const a = r.exec('banana'); const l1 = r.lastIndex; const b = r.exec('banana'); return [a && a.index, l1, b, r.lastIndex]; })())",
    R"((() => { const r = /a?/g; r.lastIndex = 10; return [r.exec('aa'), r.lastIndex]; })())",
    R"((() => { const r = /a?/g; r.lastIndex = 2; return [r.exec('aa'), r.lastIndex]; })())",
    R"((() => { const r = /a/; r.lastIndex = 3; return [r.exec('aaaa').index, r.lastIndex]; })())",
    R"((() => { const r = /a/g; r.lastIndex = { valueOf() { return 2; } }; return [r.exec('aaaa').index, r.lastIndex]; })())",
    R"((() => { const r = /a/g; r.lastIndex = -5; return [r.exec('aaaa').index, r.lastIndex]; })())",
    R"((() => { const r = /./gu; r.lastIndex = 1; const m = r.exec('😀x'); return [m[0], m.index, r.lastIndex]; })())",
    R"((() => { const r = /\ude00/y; r.lastIndex = 1; const m = r.exec('😀'); return [m, r.lastIndex]; })())",
    R"((() => { const r = /\ude00/yu; r.lastIndex = 1; const m = r.exec('😀'); return [m, r.lastIndex]; })())",
    R"((() => { const r = /\bb/g; r.lastIndex = 1; return r.exec('ab b'); })())",
    R"((() => { const r = /^b/g; r.lastIndex = 1; return r.exec('ab'); })())",
    R"((() => { const r = /^b/mg; r.lastIndex = 2; return r.exec('a\nb'); })())",
    R"((() => { const r = /b/y; r.lastIndex = 0; return [r.exec('ab'), r.lastIndex]; })())",
    R"((() => { const r = /a/g; Object.freeze(r); return r.exec('a'); })())",
    R"((() => { const r = /a/; Object.freeze(r); return r.exec('a'); })())",
    R"(RegExp.prototype.exec.call({}, 'a'))",
    R"(RegExp.prototype.exec.call(/a/, { toString() { return 'xa'; } }))",
    R"(/undef/.exec())",
    R"([RegExp.prototype.exec.name, RegExp.prototype.exec.length, 'prototype' in RegExp.prototype.exec])",
    // test, match, matchAll, replace, replaceAll, split, search.
    R"(/b/.test('abc'))",
    R"(/x/.test('abc'))",
    R"((() => { const r = /a/g; return [r.test('aa'), r.lastIndex, r.test('aa'), r.lastIndex, r.test('aa'), r.lastIndex]; })())",
    R"('a1b22c333'.match(/\d+/g))",
    R"('abc'.match(/(?<x>b)/))",
    R"('abc'.match(/z/g))",
    R"([...'a1b22'.matchAll(/(\d)(\d)?/g)])",
    R"([...'😀a😀'.matchAll(/(?:)/gu)].map(m => m.index))",
    R"('a-b-c'.replace(/-/g, '+'))",
    R"('john smith'.replace(/(\w+)\s(\w+)/, '$2, $1'))",
    R"('abc'.replace(/b/, (m, off, s) => m.toUpperCase() + off + s))",
    R"('abcb'.replace(/(b)(x)?/g, (...a) => JSON.stringify(a)))",
    R"('x-1 y-22'.replace(/(?<k>\w)-(?<v>\d+)/g, '$<v>=$<k>'))",
    R"('x-1'.replace(/(?<k>\w)-(?<v>\d+)/, (...a) => JSON.stringify(a[a.length - 1])))",
    R"('aaa'.replace(/a*?/g, '-'))",
    R"('abc'.replaceAll(/b/g, '.'))",
    R"('😀😀'.replace(/(?:)/gu, '-'))",
    R"('😀'.replace(/(?:)/g, '-'))",
    R"('a, b,c'.split(/\s*,\s*/))",
    R"('a1b2c'.split(/(\d)/))",
    R"('abc'.split(/(?:)/))",
    R"('a,b,c'.split(/,/, 2))",
    R"('😀x'.split(/(?:)/u))",
    R"(''.split(/,/))",
    R"('hello world'.search(/o\s/))",
    R"('abc'.search(/z/))",
    // The patterns of SES, @endo, our runtime and the demo vats.
    R"(/^[\w:-]( ?[\w:-])*$/.exec('a b:c-d'))",
    R"(/^(\w*[a-z])Locale([A-Z]\w*)$/.exec('toLocaleUpperCase'))",
    R"(/^[+-](0|[1-9][0-9]*)$/.exec('+12'))",
    R"(/^[a-zA-Z_$][\w$]*$/.exec('$abc_1'))",
    R"(/^((?:.*[( ])?)[:/\w_-]*\/(packages\/.+)$/.exec('at f (/x/packages/ses/src/a.js)'))",
    R"(/^((?:.*[( ])?)[:/\w_-]*\/\.\.\.\/(.+)$/.exec('at g (/x/.../y.js)'))",
    R"(/^((?:.*[( ])?)\.\.\.\/(.+)$/.exec('at g .../y.js'))",
    R"(/^((?:.*[( ])?)file:\/\/([^/].*)$/.exec('at (file://a/b'))",
    R"(/^(?:node:)?internal\//.exec('node:internal/x'))",
    R"(/\/packages\/ses\/src\/error\/assert\.js$/.exec('/packages/ses/src/error/assert.js'))",
};

// Patterns RE2 cannot run as JS would: a SyntaxError in a version-2 vat (irregexp runs them).
const std::vector<std::string> kRefusedCases = {
    R"(/(a)\1/.exec('aa'))",
    R"(/(?<x>a)\k<x>/.exec('aa'))",
    R"(/a(?=b)/.exec('ab'))",
    R"(/a(?!b)/.exec('ac'))",
    R"(/(?<=a)b/.exec('ab'))",
    R"(/(?<!a)b/.exec('cb'))",
    R"(/(?:a|b?)*/.exec('ab'))",
    R"(/(?:|a)+/.exec('aa'))",
    R"(/(a*)*/.exec('b'))",
    R"(/(?:(a)|b)+/.exec('ab'))",
    R"(/(?:(a)?b)+/.exec('abb'))",
    R"(/é/i.exec('É'))",
    R"(/[à-ÿ]/i.exec('À'))",
    R"(/\p{L}/u.exec('a'))",
    R"(/a{1001}/.exec('a'))",
    R"(/\bk/iu.exec('k'))",
    R"(/\1(a)/.exec('a'))",
    R"(/\07/.exec('\x07'))",
    R"('CamelCase'.split(/(?=[A-Z])/))",
};

std::string VatSource(const std::vector<std::string>& cases) {
  std::string list;
  for (const std::string& c : cases) StrAppend(&list, "  () => ", c, ",\n");
  return StrCat(R"(
import { Far } from '@endo/far';
const cases = [
)", list, R"(];
const isIndex = k => typeof k === 'string' && String(+k) === k && +k >= 0;
const show = v => {
  if (v === undefined) return 'U';
  if (v === null) return 'N';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v !== 'object') return String(v);
  const parts = [];
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i += 1) parts.push(i in v ? show(v[i]) : 'hole');
  }
  for (const k of Reflect.ownKeys(v)) {
    if (Array.isArray(v) && (k === 'length' || isIndex(k))) continue;
    parts.push(`${String(k)}:${show(v[k])}`);
  }
  const proto = Object.getPrototypeOf(v) === null ? 'null-proto' : '';
  return `${proto}${Array.isArray(v) ? '[' : '{'}${parts.join(',')}${Array.isArray(v) ? ']' : '}'}`;
};
export function buildRootObject() {
  return Far('root', {
    count() { return cases.length; },
    run(i) {
      try { return show(cases[i]()); } catch (e) { return `E:${e.name}`; }
    },
    big(n, pattern, flags) {
      let s = 'a';
      while (s.length < n) s += s;
      return new RegExp(pattern, flags).test(`${s}b`);
    },
    catastrophic(n) { return /^(a+)+$/.test(`${'a'.repeat(n)}b`); },
    many(n) {
      const r = /(\w+)@(\w+)\.com/;
      let hits = 0;
      for (let i = 0; i < n; i += 1) if (r.exec(`user${i}@example.com`)) hits += 1;
      return hits;
    },
    proto() { return [/(a)\1/.test('aa'), typeof globalThis['$_' + '_regexExec']]; },
  });
}
)");
}

std::string MeterOptions(uint64_t computrons, uint32_t version) {
  return StrCat(R"({"meter":{"version":)", version, R"(,"computrons":)", computrons,
                R"(,"maxDepth":400}})");
}

// One host (one engine per thread) with vats of the test source: unmetered (irregexp) when
// version == 0.
class RegexHost {
 public:
  explicit RegexHost(bool jit = true) {
    JsVatHostOptions o;
    o.jit = jit;
    o.delivery_timeout = std::chrono::milliseconds(120000);
    host_ = JsVatHost::Create(o);
  }

  void Load(uint32_t id, const std::vector<std::string>& cases, uint32_t version,
            uint64_t computrons = 100'000'000) {
    VatSpec spec;
    spec.vat_id = VatId(id);
    spec.name = "regex";
    spec.source = VatSource(cases);
    if (version != 0) spec.options_json = MeterOptions(computrons, version);
    absl::Status st = host_->LoadVat(spec);
    ASSERT_TRUE(st.ok()) << st;
    DeliveryResult r = host_->Deliver(VatId(id), StartVat(), &syscalls_);
    ASSERT_TRUE(r.ok) << r.error;
    syscalls_.Take();
  }

  // The delivery's result and its first syscall (the resolution of the method's result).
  DeliveryResult Call(uint32_t id, const std::string& method, const std::string& args,
                      std::string* out) {
    DeliveryResult r = host_->Deliver(
        VatId(id), Message("o+0", StrCat("#[\"", method, "\",", args, "]"), {}, "p-60"),
        &syscalls_);
    std::vector<std::string> log = syscalls_.Take();
    *out = log.empty() ? "" : log[0];
    return r;
  }
  std::string Run(uint32_t id, size_t i) {
    std::string out;
    DeliveryResult r = Call(id, "run", StrCat("[", i, "]"), &out);
    EXPECT_TRUE(r.ok) << r.error;
    return out;
  }

 private:
  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler syscalls_;
};

constexpr uint32_t kIrregexp = 1, kRe2 = 2, kV1 = 3;

TEST(JsRegexTest, SameResultsAsIrregexp) {
  RegexHost host;
  host.Load(kIrregexp, kSameCases, 0);
  host.Load(kRe2, kSameCases, kMeterVersion);
  for (size_t i = 0; i < kSameCases.size(); ++i) {
    std::string want = host.Run(kIrregexp, i);
    std::string got = host.Run(kRe2, i);
    EXPECT_EQ(got, want) << kSameCases[i];
    EXPECT_THAT(got, testing::Not(HasSubstr("SyntaxError"))) << kSameCases[i];
  }
}

TEST(JsRegexTest, UnsupportedPatternsAreASyntaxError) {
  RegexHost host;
  host.Load(kIrregexp, kRefusedCases, 0);
  host.Load(kRe2, kRefusedCases, kMeterVersion);
  for (size_t i = 0; i < kRefusedCases.size(); ++i) {
    EXPECT_THAT(host.Run(kIrregexp, i), testing::Not(HasSubstr("E:"))) << kRefusedCases[i];
    EXPECT_THAT(host.Run(kRe2, i), HasSubstr("E:SyntaxError")) << kRefusedCases[i];
  }
}

TEST(JsRegexTest, InputsOutsideTheMappingAreRefused) {
  const std::vector<std::string> cases = {
      R"(/^a/m.exec('x\ra'))",
      R"(/a$/m.exec('a\u2028'))",
      R"(/./u.exec('\u{10F800}'))",
      R"(/./.exec('\u{10F800}'))",  // without u: two code units, no collision
      R"(/^a/m.exec('x\na'))",
  };
  RegexHost host;
  host.Load(kIrregexp, cases, 0);
  host.Load(kRe2, cases, kMeterVersion);
  EXPECT_THAT(host.Run(kRe2, 0), HasSubstr("E:RangeError"));
  EXPECT_THAT(host.Run(kRe2, 1), HasSubstr("E:RangeError"));
  EXPECT_THAT(host.Run(kRe2, 2), HasSubstr("E:RangeError"));
  EXPECT_EQ(host.Run(kRe2, 3), host.Run(kIrregexp, 3));
  EXPECT_EQ(host.Run(kRe2, 4), host.Run(kIrregexp, 4));
}

TEST(JsRegexTest, CatastrophicPatternsAreLinearWithTheSameComputrons) {
  std::optional<DeliveryResult> first;
  for (bool jit : {true, false}) {
    RegexHost host(jit);
    host.Load(kRe2, {}, kMeterVersion);
    auto t0 = std::chrono::steady_clock::now();
    std::string out;
    DeliveryResult r = host.Call(kRe2, "catastrophic", "[5000]", &out);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_THAT(out, HasSubstr("false"));
    EXPECT_LT(secs, 5.0);  // irregexp: exponential (30 characters already take seconds)
    ASSERT_TRUE(r.computrons.has_value());
    if (!first) first = r;
    EXPECT_EQ(*r.computrons, *first->computrons) << (jit ? "jit" : "nojit");
  }
  // The charge: the input times the program size / 16.
  EXPECT_GT(*first->computrons, 7504u);  // RegexExecCharge(5001, 5)
}

TEST(JsRegexTest, AHugeInputIsStoppedByThePreCharge) {
  std::optional<DeliveryResult> first;
  for (bool jit : {true, false}) {
    RegexHost host(jit);
    host.Load(kRe2, {}, kMeterVersion, 1'000'000);
    std::string out;
    auto t0 = std::chrono::steady_clock::now();
    DeliveryResult r = host.Call(kRe2, "big", R"([16777216,"^(a|b)*$",""])", &out);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("computron limit"));
    EXPECT_LT(secs, 1.0);
    if (!first) first = r;
    EXPECT_EQ(r.computrons, first->computrons);
  }
  // The same in a budget that pays for it completes.
  RegexHost host;
  host.Load(kRe2, {}, kMeterVersion, 100'000'000);
  for (const char* args : {R"([1048576,"^(a|b)*$",""])", R"([1048576,"!(x+x+)+y",""])",
                           R"([1048576,"^(?:a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q)*$","i"])"}) {
    std::string out;
    auto t0 = std::chrono::steady_clock::now();
    DeliveryResult r = host.Call(kRe2, "big", args, &out);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(r.ok) << args << ": " << r.error;
    EXPECT_THAT(out, HasSubstr("false")) << args << ": " << out;
    // For the record: RE2's speed in computrons per second (JIT-compiled loops run at about
    // 1.7e8 computrons/s; js_bench --only compute).
    std::printf("%s: %llu computrons in %.3f s = %.3g computrons/s\n", args,
                static_cast<unsigned long long>(r.computrons.value_or(0)), secs,
                r.computrons.value_or(0) / secs);
  }
}

TEST(JsRegexTest, VersionOneKeepsIrregexp) {
  RegexHost host;
  host.Load(kV1, kRefusedCases, 1);
  host.Load(kRe2, {}, kMeterVersion);
  for (size_t i = 0; i < kRefusedCases.size(); ++i) {
    EXPECT_THAT(host.Run(kV1, i), testing::Not(HasSubstr("E:"))) << kRefusedCases[i];
  }
  std::string out;
  EXPECT_TRUE(host.Call(kV1, "proto", "[]", &out).ok);
  EXPECT_THAT(out, HasSubstr(R"(#[true,\"undefined\"])"));
  EXPECT_TRUE(host.Call(kRe2, "proto", "[]", &out).ok);
  EXPECT_THAT(out, HasSubstr("SyntaxError"));
}

TEST(JsRegexTest, ManySmallMatches) {
  RegexHost host;
  host.Load(kRe2, {}, kMeterVersion);
  std::string out;
  DeliveryResult r = host.Call(kRe2, "many", "[1000]", &out);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_THAT(out, HasSubstr("1000"));
}

TEST(JsRegexTranslateTest, Charges) {
  EXPECT_EQ(RegexExecCharge(0, 0), 1u);
  EXPECT_EQ(RegexExecCharge(15, 15), 1u + 64u);
  EXPECT_EQ(RegexExecCharge(2, 0), 1u);
  EXPECT_EQ(RegexCompileCharge(32), 3u);
}

TEST(JsRegexTranslateTest, Translations) {
  JsRegexFlags none;
  absl::StatusOr<JsRegexTranslation> t = TranslateJsRegex(u"a.b", none);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->re2_pattern,
            "(?:[\\x{61}][\\x{0}-\\x{9}\\x{b}-\\x{c}\\x{e}-\\x{2027}\\x{202a}-\\x{d7ff}"
            "\\x{e000}-\\x{ffff}\\x{10f800}-\\x{10ffff}][\\x{62}])");
  t = TranslateJsRegex(u"(?<n>x)|^$", none);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->re2_pattern, "(?:(?:([\\x{78}]))|(?:\\A\\z))");
  ASSERT_EQ(t->group_names.size(), 1u);
  EXPECT_EQ(t->group_names[0], u"n");
  EXPECT_TRUE(t->has_named_groups);
  EXPECT_FALSE(TranslateJsRegex(u"(a)\\1", none).ok());
}

}  // namespace
}  // namespace swingset
