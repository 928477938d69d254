// Smallcaps marshalling and pass styles (vats/js/marshal.js, pass_style.js), exercised inside a
// real vat realm through JsVatHost::TEST_Eval.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vats/js_vat_host.h"

namespace swingset {
namespace {

using testing::HasSubstr;

const VatId kVat(1);

class MarshalTest : public testing::Test {
 protected:
  void SetUp() override {
    host_ = JsVatHost::Create(JsVatHostOptions());
    VatSpec spec;
    spec.vat_id = kVat;
    spec.source = "export const buildRootObject = () => 0;";
    ASSERT_TRUE(host_->LoadVat(spec).ok());
  }
  void TearDown() override { host_.reset(); }

  // Serializes the value produced by `expr` (which may use Far, makeTagged, r1, r2, p1) and
  // checks that unserializing and reserializing gives the same capdata and, for slots, the same
  // objects. Returns "body|slots" or the error.
  std::string RoundTrip(const std::string& expr) {
    std::string fn = R"((ns) => {
      const { Far, makeTagged, passStyleOf } = ns.passStyle;
      const r1 = Far('one', {}); const r2 = Far('two', { m() {} });
      const p1 = harden(Promise.resolve(1));
      const table = [];
      const toSlot = v => {
        let i = table.indexOf(v);
        if (i < 0) { table.push(v); i = table.length - 1; }
        return (passStyleOf(v) === 'promise' ? 'p+' : 'o+') + i;
      };
      const fromSlot = (s, iface) => table[Number(s.slice(2))];
      const m = ns.marshal.makeMarshal(toSlot, fromSlot);
      const val = harden()" + expr + R"();
      const cd = m.toCapData(val);
      const back = m.fromCapData(cd);
      const cd2 = m.toCapData(back);
      if (cd2.body !== cd.body || cd2.slots.join() !== cd.slots.join()) return 'MISMATCH ' + cd2.body;
      const same = (a, b) => Object.is(a, b) || (a === 0 && b === 0) || (typeof a === 'object' && a !== null &&
        passStyleOf(a) !== 'remotable' && passStyleOf(a) !== 'promise' &&
        (passStyleOf(a) === 'error' ? a.message === b.message && a.name === b.name :
         Reflect.ownKeys(a).every(k => same(a[k], b[k]))));
      if (!same(val, back)) return 'NOT EQUAL';
      if (cd.slots.length && table.length && !cd.slots.every(s => table.includes(fromSlot(s)))) return 'BAD SLOTS';
      return cd.body + '|' + cd.slots.join(',');
    })";
    absl::StatusOr<std::string> r = host_->TEST_Eval(kVat, fn);
    if (!r.ok()) return std::string(r.status().message());
    // TEST_Eval returns JSON: strip the quotes and unescape \" only.
    std::string s = r->substr(1, r->size() - 2);
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out.push_back(s[i]);
    }
    return out;
  }

  std::unique_ptr<JsVatHost> host_;
};

TEST_F(MarshalTest, Primitives) {
  EXPECT_EQ(RoundTrip("null"), "#null|");
  EXPECT_EQ(RoundTrip("undefined"), "#\"#undefined\"|");
  EXPECT_EQ(RoundTrip("true"), "#true|");
  EXPECT_EQ(RoundTrip("42.5"), "#42.5|");
  EXPECT_EQ(RoundTrip("-0"), "#0|");  // -0 is passed as 0, as endo does
  EXPECT_EQ(RoundTrip("NaN"), "#\"#NaN\"|");
  EXPECT_EQ(RoundTrip("Infinity"), "#\"#Infinity\"|");
  EXPECT_EQ(RoundTrip("-Infinity"), "#\"#-Infinity\"|");
  EXPECT_EQ(RoundTrip("12345678901234567890n"), "#\"+12345678901234567890\"|");
  EXPECT_EQ(RoundTrip("-5n"), "#\"-5\"|");
  EXPECT_EQ(RoundTrip("'plain'"), "#\"plain\"|");
  EXPECT_EQ(RoundTrip("'#not a constant'"), "#\"!#not a constant\"|");
  EXPECT_EQ(RoundTrip("'!bang'"), "#\"!!bang\"|");
  EXPECT_EQ(RoundTrip("'$0.fake'"), "#\"!$0.fake\"|");
  EXPECT_EQ(RoundTrip("Symbol.for('reg')"), "#\"%reg\"|");
  EXPECT_EQ(RoundTrip("Symbol.asyncIterator"), "#\"%@@asyncIterator\"|");
}

TEST_F(MarshalTest, Containers) {
  EXPECT_EQ(RoundTrip("[1, 'a', [null]]"), "#[1,\"a\",[null]]|");
  EXPECT_EQ(RoundTrip("{ b: 1, a: 2, '-x': 3 }"), "#{\"!-x\":3,\"a\":2,\"b\":1}|");
  EXPECT_EQ(RoundTrip("makeTagged('copySet', [1, 2])"),
            "#{\"#tag\":\"copySet\",\"payload\":[1,2]}|");
  EXPECT_EQ(RoundTrip("{ ['__proto__']: 1 }"), "#{\"__proto__\":1}|");
}

TEST_F(MarshalTest, ErrorsRemotablesPromises) {
  EXPECT_EQ(RoundTrip("TypeError('bad thing')"),
            "#{\"#error\":\"bad thing\",\"name\":\"TypeError\"}|");
  EXPECT_EQ(RoundTrip("Error('#weird')"), "#{\"#error\":\"!#weird\",\"name\":\"Error\"}|");
  EXPECT_EQ(RoundTrip("[r1, r2, r1]"),
            "#[\"$0.Alleged: one\",\"$1.Alleged: two\",\"$0.Alleged: one\"]|o+0,o+1");
  EXPECT_EQ(RoundTrip("{ p: p1, r: r2 }"), "#{\"p\":\"&0\",\"r\":\"$1.Alleged: two\"}|p+0,o+1");
}

// Slot numbering past the encoder's switch from linear scans to Maps (8 values): repeated
// values and distinct values that convert to the same slot share one index.
TEST_F(MarshalTest, ManySlotsShareIndexes) {
  absl::StatusOr<std::string> r = host_->TEST_Eval(kVat, R"((ns) => {
    const { Far } = ns.passStyle;
    const fs = [];
    for (let i = 0; i < 12; i += 1) fs.push(Far('f', {}));
    const m = ns.marshal.makeMarshal(v => `o+${fs.indexOf(v) % 5}`, undefined);
    const cd = m.toCapData(harden([...fs, fs[3], fs[11], fs[0]]));
    return cd.body.replace(/\.Alleged: f/g, '') + '|' + cd.slots.join(',');
  })");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r,
            R"("#[\"$0\",\"$1\",\"$2\",\"$3\",\"$4\",\"$0\",\"$1\",\"$2\",\"$3\",)"
            R"(\"$4\",\"$0\",\"$1\",\"$3\",\"$1\",\"$0\"]|o+0,o+1,o+2,o+3,o+4")");
}

// Slot references: decimal index without leading zeros, then ".interface" for remotables
// only; anything else is a syntax error.
TEST_F(MarshalTest, SlotReferencesAreParsedStrictly) {
  auto decode = [&](const std::string& ref) {
    absl::StatusOr<std::string> r = host_->TEST_Eval(kVat, R"((ns) => {
      const r = ns.passStyle.Far('x', {});
      const p = harden(Promise.resolve(1));
      const slots = ['o+0', 'o+1', 'o+2', 'o+3', 'o+4', 'o+5', 'o+6', 'o+7', 'o+8', 'o+9',
        'o+10', 'o+11', 'p+12'];
      const m = ns.marshal.makeMarshal(v => 'o+0', s => (s[0] === 'p' ? p : r));
      const v = m.fromCapData({ body: '#' + JSON.stringify(')" + ref + R"('), slots });
      return v === r ? 'remotable' : v === p ? 'promise' : 'other';
    })");
    return r.ok() ? *r : std::string(r.status().message());
  };
  EXPECT_EQ(decode("$0.Alleged: x"), "\"remotable\"");
  EXPECT_EQ(decode("$11.x"), "\"remotable\"");
  EXPECT_EQ(decode("$7"), "\"remotable\"");
  EXPECT_EQ(decode("&12"), "\"promise\"");
  for (const char* bad : {"$00.x", "$01", "$.x", "$", "$0a", "$-1", "$1e1", "& 12", "&12.x",
                          "$12345678901234567890"}) {
    EXPECT_THAT(decode(bad), HasSubstr("Error: marshal: ")) << bad;
  }
  EXPECT_THAT(decode("$01"), HasSubstr("bad slot reference"));
  EXPECT_THAT(decode("&12.x"), HasSubstr("bad promise ref"));
  EXPECT_THAT(decode("$12345678901234567890"), HasSubstr("out of range"));
}

TEST_F(MarshalTest, UnpassableValuesAreRejected) {
  EXPECT_THAT(RoundTrip("{ f() {} }"), HasSubstr("non-far functions"));
  EXPECT_THAT(RoundTrip("new Map()"), HasSubstr("cannot pass non-plain object"));
  EXPECT_THAT(RoundTrip("Symbol('unregistered')"), HasSubstr("symbols are passable"));
}

TEST_F(MarshalTest, MalformedBodiesAreRejected) {
  for (const char* body : {"{\"body\":\"[1]\",\"slots\":[]}", "{\"body\":\"#\\\"$5.x\\\"\",\"slots\":[]}",
                           "{\"body\":\"#{\\\"#foo\\\":1}\",\"slots\":[]}",
                           "{\"body\":\"#\\\"#what\\\"\",\"slots\":[]}",
                           "{\"body\":\"#\\\"+1x\\\"\",\"slots\":[]}"}) {
    absl::StatusOr<std::string> r = host_->TEST_Eval(
        kVat, std::string("(ns) => ns.marshal.makeMarshal(v => 'o+0', s => 0).fromCapData(") +
                  body + ")");
    EXPECT_FALSE(r.ok()) << body << " gave " << *r;
  }
}

TEST_F(MarshalTest, PassStyleOf) {
  absl::StatusOr<std::string> r = host_->TEST_Eval(kVat, R"((ns) => {
    const { passStyleOf, Far, makeTagged } = ns.passStyle;
    return [null, undefined, 1, 1n, 's', true, Symbol.for('x'), harden([]), harden({}),
            makeTagged('t', 1), Far('r', {}), harden(Promise.resolve()), harden(Error('e'))]
      .map(passStyleOf);
  })");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r,
            R"(["null","undefined","number","bigint","string","boolean","symbol","copyArray",)"
            R"("copyRecord","tagged","remotable","promise","error"])");
}

TEST_F(MarshalTest, FarMakesHardenedRemotablesWithAllegedInterface) {
  absl::StatusOr<std::string> r = host_->TEST_Eval(kVat, R"((ns) => {
    const { Far } = ns.passStyle;
    const o = Far('thing', { m() { return 1; } });
    let threw = false;
    try { Far('bad', { x: 1 }); } catch (e) { threw = true; }
    return [Object.isFrozen(o), String(o), o.m(), threw];
  })");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, R"([true,"[object Alleged: thing]",1,true])");
}

}  // namespace
}  // namespace swingset
