// Meter version 2: builtins that recurse natively over nested data (Array.prototype.flat,
// JSON.parse with a reviver) run on an explicit stack in the meter prelude, and
// JSON.stringify's replacer follows the nesting to stop it at the depth limit. They must behave as
// the engine's own (compared with an unmetered vat on a table of cases), and nesting far deeper
// than any native stack must give the same outcome and computrons with JIT on and off.

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/strings.h"
#include "kernel/vat_host.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::HasSubstr;
using testing_util::FakeSyscallHandler;
using testing_util::Message;
using testing_util::StartVat;

// run(name) evaluates one case and answers its result as JSON text (or "<Error name>").
constexpr char kVat[] = R"(
import { Far } from '@endo/far';
const nest = (depth, leaf) => {
  let a = [leaf];
  for (let i = 0; i < depth; i += 1) a = [a, i];
  return a;
};
const deepText = depth => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const cases = {
  flatDefault: () => [1, [2, [3, [4]]], 5].flat(),
  flatTwo: () => [1, [2, [3, [4]]], 5].flat(2),
  flatInfinity: () => [1, [2, [3, [4, [5, [6]]]]]].flat(Infinity),
  flatHoles: () => [1, , [2, , 3], [, [4, ,]]].flat(Infinity).length,
  flatNegative: () => [[1], [2]].flat(-3),
  flatStringDepth: () => [[1, [2]], [3]].flat('2'),
  flatNaN: () => [[1], 2].flat(NaN),
  flatValueOf: () => {
    const log = [];
    const d = { valueOf() { log.push('depth'); return 1; } };
    const a = [[1], [2]];
    const r = a.flat(d);
    return [r, log];
  },
  flatArrayLike: () => Array.prototype.flat.call({ length: 3, 0: [1, 2], 2: 'x' }),
  flatGetters: () => {
    const log = [];
    const inner = [];
    Object.defineProperty(inner, 0, { get() { log.push('inner0'); return 'i'; }, enumerable: true });
    const outer = [inner, 'o'];
    return [outer.flat(), log];
  },
  flatSpecies: () => {
    class MyArray extends Array {}
    const r = MyArray.from([[1], [2]]).flat();
    return [r instanceof MyArray, r.length];
  },
  flatNull: () => Array.prototype.flat.call(null),
  flatLengthAndName: () => [Array.prototype.flat.length, Array.prototype.flat.name],
  flatDeep: () => nest(300000, 'leaf').flat(Infinity).length,
  reviveBasic: () => JSON.parse('{"a":[1,2,{"b":3}],"c":"x"}', (k, v) => (typeof v === 'number' ? v * 10 : v)),
  reviveOrder: () => {
    const log = [];
    JSON.parse('{"a":{"b":1,"c":[2,3]},"d":4}', function (k, v) {
      log.push(`${k}:${Array.isArray(this) ? 'arr' : typeof this}`);
      return v;
    });
    return log;
  },
  reviveDelete: () => JSON.parse('{"a":1,"b":2,"c":[1,2,3]}', (k, v) => (v === 2 ? undefined : v)),
  reviveReplaceParent: () =>
    JSON.parse('{"a":{"x":1},"b":2}', function (k, v) {
      if (k === 'x') this.y = 5;
      return v;
    }),
  reviveRoot: () => JSON.parse('7', (k, v) => [k, v]),
  reviveNotFunction: () => JSON.parse('[1]', 5),
  reviveThrows: () => JSON.parse('[1]', () => { throw RangeError('no'); }),
  reviveBadText: () => JSON.parse('{', (k, v) => v),
  stringifyNested: () => JSON.stringify({ a: [1, { b: 2, c: [3, [4, { d: null }]] }], e: 'x' }),
  stringifyReplacer: () =>
    JSON.stringify({ a: 1, b: [2, 3], c: { d: 4 } }, function (k, v) {
      if (k === 'a') return { wrapped: [v] };
      return typeof v === 'number' ? v + 1 : v;
    }),
  stringifyToJSON: () => {
    const inner = { toJSON() { return JSON.stringify({ deep: [[1], { x: [2] }] }); } };
    return JSON.stringify({ a: [inner, { b: inner }], c: [[[]]] }, null, 2);
  },
  stringifyDag: () => {
    const leaf = { v: [1, 2] };
    const mid = [leaf, leaf, { l: leaf }];
    return JSON.stringify({ m: mid, n: mid });
  },
  stringifyModerate: () => JSON.stringify(nest(300, 'leaf')).length,
  stringifyCycle: () => { const o = {}; o.o = [o]; return JSON.stringify(o); },
  stringifyDeep: () => JSON.stringify(nest(300000, 'leaf')).length,
  reviveDeep: () => {
    let count = 0;
    JSON.parse(deepText(300000), (k, v) => { count += 1; return v; });
    return count;
  },
};
export function buildRootObject() {
  return Far('root', {
    run(name) {
      try {
        return JSON.stringify(cases[name]());
      } catch (e) {
        return `<${e.name}>`;
      }
    },
  });
}
)";

const char* const kSemanticCases[] = {
    "flatDefault", "flatTwo", "flatInfinity", "flatHoles", "flatNegative", "flatStringDepth",
    "flatNaN", "flatValueOf", "flatArrayLike", "flatGetters", "flatSpecies", "flatNull",
    "flatLengthAndName", "reviveBasic", "reviveOrder", "reviveDelete", "reviveReplaceParent",
    "reviveRoot", "reviveNotFunction", "reviveThrows", "reviveBadText", "stringifyNested",
    "stringifyReplacer", "stringifyToJSON", "stringifyDag", "stringifyModerate", "stringifyCycle",
};

struct Outcome {
  bool ok;
  std::string error;
  uint64_t computrons;
  std::string answer;  // the result's syscall
};

// One vat (metered with `version`, or unmetered for 0) on a host with JIT on or off.
class Vat {
 public:
  Vat(uint32_t version, bool jit) {
    JsVatHostOptions o;
    o.jit = jit;
    o.delivery_timeout = std::chrono::milliseconds(120000);
    host_ = JsVatHost::Create(o);
    VatSpec spec;
    spec.vat_id = VatId(1);
    spec.name = "recursion";
    spec.source = kVat;
    if (version != 0) {
      spec.options_json = StrCat(R"({"meter":{"version":)", version,
                                 R"(,"computrons":100000000,"maxDepth":1000}})");
    }
    absl::Status st = host_->LoadVat(spec);
    EXPECT_TRUE(st.ok()) << st;
    DeliveryResult r = host_->Deliver(VatId(1), StartVat(), &syscalls_);
    EXPECT_TRUE(r.ok) << r.error;
    syscalls_.Take();
  }
  Outcome Run(const std::string& name) {
    DeliveryResult r = host_->Deliver(
        VatId(1), Message("o+0", StrCat("#[\"run\",[\"", name, "\"]]"), {}, StrCat("p-", next_++)),
        &syscalls_);
    std::vector<std::string> sc = syscalls_.Take();
    return Outcome{r.ok, r.error, r.computrons.value_or(0), sc.empty() ? "" : sc.back()};
  }

 private:
  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler syscalls_;
  int next_ = 60;
};

// Runs every case in `names` on one vat (one engine per process: hosts one after another).
std::vector<Outcome> RunAll(uint32_t version, bool jit, const std::vector<std::string>& names) {
  Vat vat(version, jit);
  std::vector<Outcome> out;
  for (const std::string& name : names) out.push_back(vat.Run(name));
  return out;
}

TEST(NativeRecursionTest, FlatAndReviverBehaveAsTheEnginesOwn) {
  std::vector<std::string> names(std::begin(kSemanticCases), std::end(kSemanticCases));
  std::vector<Outcome> want = RunAll(0, true, names);
  std::vector<Outcome> got = RunAll(kMeterVersion, true, names);
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(want[i].ok) << names[i] << ": " << want[i].error;
    EXPECT_TRUE(got[i].ok) << names[i] << ": " << got[i].error;
    EXPECT_EQ(got[i].answer, want[i].answer) << names[i];
  }
}

TEST(NativeRecursionTest, NestingDeeperThanAnyStackIsTheSameEverywhere) {
  const std::vector<std::string> names = {"flatDeep", "reviveDeep"};
  std::vector<Outcome> jit = RunAll(kMeterVersion, true, names);
  std::vector<Outcome> nojit = RunAll(kMeterVersion, false, names);
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(jit[i].ok) << names[i] << ": " << jit[i].error;
    // 300,000 levels and a leaf: flat keeps the leaf and the 300,000 numbers; the reviver
    // sees the 300,000 arrays and the leaf.
    EXPECT_THAT(jit[i].answer, HasSubstr("300001"))
        << names[i];
    EXPECT_EQ(jit[i].answer, nojit[i].answer) << names[i];
    EXPECT_EQ(jit[i].computrons, nojit[i].computrons) << names[i];
  }
}

// JSON.stringify recurses natively; its replacer follows the nesting, so a structure nested far
// deeper than the depth limit stops there (uncatchably), the same with the JIT on and off.
TEST(NativeRecursionTest, StringifyOfDeepNestingStopsAtTheDepthLimit) {
  Outcome jit = RunAll(kMeterVersion, true, {"stringifyDeep"})[0];
  Outcome nojit = RunAll(kMeterVersion, false, {"stringifyDeep"})[0];
  EXPECT_FALSE(jit.ok);
  EXPECT_THAT(jit.error, HasSubstr("call depth limit"));
  EXPECT_EQ(jit.error, nojit.error);
  EXPECT_EQ(jit.computrons, nojit.computrons);
}

}  // namespace
}  // namespace swingset
