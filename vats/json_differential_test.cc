// Differential test of kernel/json against SpiderMonkey (issue 12 item 13): Json::Dump must write
// exactly what JSON.stringify writes, and Json::Parse must read what JSON.parse reads, over
// millions of random values:
//   - doubles from random bit patterns (every exponent, subnormals, +-0, NaN/Infinity -> null),
//     and from short random decimals;
//   - integers near 0, 2^31, 2^53, 2^63 and 2^64 (int64 and uint64 constructors, as JS would
//     hold them: the nearest double);
//   - random decimal number texts (long mantissas, huge and tiny exponents) parsed by both;
//   - random strings of UTF-16 code units (controls, quotes, backslashes, every escape, BMP,
//     pairs, lone and misordered surrogates) written as JSON with and without escapes.
// Batches go through one JSON text per side and are compared byte for byte; a mismatch names
// the first differing element. Parse(Dump(x)) == x is checked for every value too.

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <jsapi.h>
#include <js/CompilationAndEvaluation.h>
#include <js/Conversions.h>
#include <js/PropertyAndElement.h>
#include <js/SourceText.h>
#include <js/String.h>

#include "gtest/gtest.h"
#include "kernel/json.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"
#include "vats/js_engine.h"
#include "vats/js_error.h"

namespace swingset {
namespace {

const JSClass kGlobal = {"global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps};

// Decodes "hhhhhhhhllllllll..." (two 32-bit halves per double, big-endian) into numbers.
constexpr char kPrelude[] = R"(
function doublesFromHex(hex) {
  const n = hex.length / 16;
  const dv = new DataView(new ArrayBuffer(8));
  const out = new Array(n);
  for (let i = 0; i < n; i += 1) {
    dv.setUint32(0, parseInt(hex.substr(i * 16, 8), 16));
    dv.setUint32(4, parseInt(hex.substr(i * 16 + 8, 8), 16));
    out[i] = dv.getFloat64(0);
  }
  return out;
}
)";

std::string HexOf(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, bits);
  return buf;
}

double FromBits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

class JsonDifferentialTest : public testing::Test {
 protected:
  void SetUp() override {
    JsEngineOptions o;
    o.watchdog_timeout = std::chrono::milliseconds(120000);
    engine_ = std::make_unique<JsEngine>(o);
    JSContext* cx = engine_->cx();
    JS::RealmOptions ro;
    ro.creationOptions().setNewCompartmentAndZone();
    global_ = std::make_unique<JS::PersistentRooted<JSObject*>>(
        cx, JS_NewGlobalObject(cx, &kGlobal, nullptr, JS::FireOnNewGlobalHook, ro));
    ASSERT_TRUE(*global_);
    JSAutoRealm ar(cx, *global_);
    ASSERT_TRUE(JS::InitRealmStandardClasses(cx));
    std::string out;
    ASSERT_TRUE(Eval(kPrelude, "", &out)) << out;
  }
  void TearDown() override {
    global_.reset();
    engine_.reset();
  }

  // Sets the global `input` to `input` (ASCII or UTF-8) and evaluates `code`; *out is the
  // completion value's string as UTF-8 (JSON.stringify output is well-formed, so lossless).
  bool Eval(const std::string& code, const std::string& input, std::string* out) {
    JSContext* cx = engine_->cx();
    JSAutoRealm ar(cx, *global_);
    engine_->BeginSection();
    JS::RootedString in(cx, JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(input.data(), input.size())));
    bool ok = in != nullptr;
    if (ok) {
      JS::RootedValue v(cx, JS::StringValue(in));
      ok = JS_SetProperty(cx, *global_, "input", v);
    }
    JS::RootedValue rv(cx);
    if (ok) {
      JS::CompileOptions opts(cx);
      opts.setFileAndLine("differential.js", 1);
      JS::SourceText<mozilla::Utf8Unit> src;
      ok = src.init(cx, code.data(), code.size(), JS::SourceOwnership::Borrowed) &&
           JS::Evaluate(cx, opts, src, &rv);
    }
    JsEngine::Fault fault = engine_->EndSection();
    if (!ok || fault != JsEngine::Fault::kNone) {
      *out = "error: " + TakeJsErrorText(cx, fault);
      return false;
    }
    JS::RootedString s(cx, JS::ToString(cx, rv));
    JS::UniqueChars c = JS_EncodeStringToUTF8(cx, s);
    *out = c ? std::string(c.get()) : std::string();
    return true;
  }

  // Compares two JSON array texts element-wise by re-parsing ours; reports the first mismatch.
  static std::string FirstDifference(const std::string& ours, const std::string& theirs,
                                     const std::vector<std::string>& labels) {
    absl::StatusOr<Json> a = Json::Parse(ours);
    absl::StatusOr<Json> b = Json::Parse(theirs);
    if (!a.ok() || !b.ok() || !a->is_array() || !b->is_array()) return "unparseable output";
    for (size_t i = 0; i < a->as_array().size() && i < b->as_array().size(); ++i) {
      std::string x = a->as_array()[i].Dump(), y = b->as_array()[i].Dump();
      if (x != y || i >= labels.size()) {
        return StrCat("element ", i, " (", i < labels.size() ? labels[i] : "?", "): ours ", x,
                      " JS ", y);
      }
    }
    // Element Dumps agree: compare the raw texts around the first differing byte.
    size_t k = 0;
    while (k < ours.size() && k < theirs.size() && ours[k] == theirs[k]) ++k;
    return StrCat("at byte ", k, ": ours ...", ours.substr(k > 20 ? k - 20 : 0, 60), " JS ...",
                  theirs.substr(k > 20 ? k - 20 : 0, 60));
  }

  // Checks a batch of doubles: our Dump of the array against JSON.stringify of the same bits,
  // and that Parse(Dump) gives the same numbers back. Returns "" or what failed.
  std::string CheckDoubles(const std::vector<double>& values) {
    std::string failure_text;
    std::string* failure = &failure_text;
  Json::Array arr;
  arr.reserve(values.size());
  std::string hex;
  hex.reserve(values.size() * 16);
  std::vector<std::string> labels;
  labels.reserve(values.size());
  for (double d : values) {
    arr.emplace_back(d);
    hex += HexOf(d);
    labels.push_back(StrCat("bits ", HexOf(d)));
  }
  const std::string ours = Json::MakeArray(std::move(arr)).Dump();
  std::string theirs;
  if (!Eval("JSON.stringify(doublesFromHex(input))", hex, &theirs)) return theirs;
  if (ours != theirs) return FirstDifference(ours, theirs, labels);
  // Parse(Dump) reads back the same numbers (non-finite ones were written as null).
  absl::StatusOr<Json> back = Json::Parse(ours);
  if (!back.ok()) return std::string(back.status().message());
  for (size_t i = 0; i < values.size(); ++i) {
    const Json& v = back->as_array()[i];
    if (!std::isfinite(values[i])) {
      if (!v.is_null()) *failure = StrCat("element ", i, ": non-finite not null");
    } else if (!v.is_number() || v.as_double() != values[i]) {
      *failure = StrCat("element ", i, " (", labels[i], ") does not round-trip: ", v.Dump());
    }
    if (!failure->empty()) return failure_text;
  }
  return "";
}


  std::unique_ptr<JsEngine> engine_;
  std::unique_ptr<JS::PersistentRooted<JSObject*>> global_;
};

TEST_F(JsonDifferentialTest, DoublesAreWrittenAsJsonStringifyWritesThem) {
  std::mt19937_64 rng(20261207);
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 100000;
  size_t total = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    std::vector<double> values;
    values.reserve(kPerBatch);
    for (int i = 0; i < kPerBatch; ++i) {
      switch (i % 8) {
        case 0:
        case 1:
        case 2:  // any bit pattern (NaNs and infinities included)
          values.push_back(FromBits(rng()));
          break;
        case 3: {  // subnormals and the smallest normals
          values.push_back(FromBits(rng() & ((uint64_t{1} << 53) - 1)) *
                           ((rng() & 1) ? 1 : -1));
          break;
        }
        case 4: {  // short decimals: k digits times 10^e, near the layout boundaries
          const uint64_t digits = rng() % 1000000;
          const int e = static_cast<int>(rng() % 60) - 30;
          values.push_back(static_cast<double>(digits) * std::pow(10.0, e));
          break;
        }
        case 5: {  // integers near powers of two: 2^31, 2^53, 2^63, 2^64, and others
          static constexpr int kPowers[] = {31, 32, 52, 53, 54, 63, 64, 65, 69, 70};
          const double p = std::ldexp(1.0, kPowers[rng() % 10]);
          values.push_back(p + static_cast<double>(static_cast<int64_t>(rng() % 4097) - 2048));
          break;
        }
        case 6:  // doubles next to 1e21 and 1e-7, where the layout switches
          values.push_back(std::nextafter((rng() & 1) ? 1e21 : 1e-7, (rng() & 1) ? 0 : 1e300) *
                           (1 + static_cast<double>(rng() % 1000) * 1e-16));
          break;
        default:  // uniform in [0, 1) and its negation, many digits
          values.push_back(std::ldexp(static_cast<double>(rng() >> 11), -53) *
                           ((rng() & 1) ? 1 : -1));
      }
    }
    values.push_back(0.0);
    values.push_back(-0.0);
    values.push_back(1e21);
    values.push_back(1e-7);
    values.push_back(123e-20);
    values.push_back(0.1);
    values.push_back(5e-324);
    values.push_back(1.7976931348623157e308);
    ASSERT_EQ(CheckDoubles(values), "") << "batch " << batch;
    total += values.size();
  }
  EXPECT_GE(total, 1000000u);
}

TEST_F(JsonDifferentialTest, Int64AndUint64AreWrittenAsTheNearestDouble) {
  std::mt19937_64 rng(53);
  Json::Array arr;
  std::string hex;
  std::vector<std::string> labels;
  auto add_int = [&](int64_t v) {
    arr.emplace_back(v);
    hex += HexOf(static_cast<double>(v));  // Number(BigInt(v)): round to nearest, ties to even
    labels.push_back(StrCat("int64 ", v));
  };
  auto add_uint = [&](uint64_t v) {
    arr.emplace_back(v);
    hex += HexOf(static_cast<double>(v));
    labels.push_back(StrCat("uint64 ", v));
  };
  for (int i = 0; i < 200000; ++i) {
    const int64_t delta = static_cast<int64_t>(rng() % 8193) - 4096;
    switch (i % 6) {
      case 0: add_int((int64_t{1} << 53) + delta); break;
      case 1: add_int(-(int64_t{1} << 53) + delta); break;
      case 2: add_int(INT64_MAX - static_cast<int64_t>(rng() % 100000)); break;
      case 3: add_int(INT64_MIN + static_cast<int64_t>(rng() % 100000)); break;
      case 4: add_uint(UINT64_MAX - rng() % 100000); break;
      default: add_int(static_cast<int64_t>(rng()) >> (rng() % 64)); break;
    }
  }
  add_uint(UINT64_MAX);
  add_uint(uint64_t{1} << 63);
  add_int(INT64_MIN);
  const std::string ours = Json::MakeArray(std::move(arr)).Dump();
  std::string theirs;
  ASSERT_TRUE(Eval("JSON.stringify(doublesFromHex(input))", hex, &theirs)) << theirs;
  ASSERT_TRUE(ours == theirs) << FirstDifference(ours, theirs, labels);
  EXPECT_EQ(Json(UINT64_MAX).Dump(), "18446744073709552000");
  EXPECT_GT(Json(UINT64_MAX).as_double(), 0);
}

// A random JSON number text: sign, 1-25 digit mantissa (maybe with leading zeros after the
// point), optional fraction and exponent up to +-400.
std::string RandomNumberText(std::mt19937_64& rng) {
  std::string s;
  if (rng() & 1) s += '-';
  const int int_digits = 1 + static_cast<int>(rng() % 20);
  if (rng() % 4 == 0) {
    s += '0';
  } else {
    s += static_cast<char>('1' + rng() % 9);
    for (int i = 1; i < int_digits; ++i) s += static_cast<char>('0' + rng() % 10);
  }
  if (rng() % 2) {
    s += '.';
    const int frac = 1 + static_cast<int>(rng() % 25);
    for (int i = 0; i < frac; ++i) s += static_cast<char>('0' + rng() % 10);
  }
  if (rng() % 2) {
    s += (rng() & 1) ? 'e' : 'E';
    const int pick = static_cast<int>(rng() % 3);
    if (pick == 1) s += '+';
    if (pick == 2) s += '-';
    const uint64_t mag = (rng() % 8 == 0) ? rng() % 400 : rng() % 40;
    s += StrCat(mag);
  }
  return s;
}

TEST_F(JsonDifferentialTest, ParsedNumberTextsAreReadAndRewrittenAsJsonParseDoes) {
  std::mt19937_64 rng(1000000000000000000ull);
  for (int batch = 0; batch < 5; ++batch) {
    std::string text = "[";
    std::vector<std::string> labels;
    for (int i = 0; i < 100000; ++i) {
      std::string n = RandomNumberText(rng);
      if (i) text += ',';
      text += n;
      labels.push_back(n);
    }
    for (const char* n : {"9007199254740993", "-9007199254740993", "18446744073709551615",
                          "1e400", "-1e400", "1e-400", "-0", "0.0", "-0.0e5", "4.9e-324",
                          "2.4703282292062327e-324", "2.4703282292062328e-324",
                          "123456789012345678901234567890", "0.000001", "0.0000001"}) {
      text += StrCat(",", n);
      labels.push_back(n);
    }
    text += "]";
    absl::StatusOr<Json> parsed = Json::Parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    const std::string ours = parsed->Dump();
    std::string theirs;
    ASSERT_TRUE(Eval("JSON.stringify(JSON.parse(input))", text, &theirs)) << theirs;
    ASSERT_TRUE(ours == theirs) << FirstDifference(ours, theirs, labels);
    absl::StatusOr<Json> again = Json::Parse(ours);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->Dump(), ours);  // (1e400 was read as Infinity and written as null)
  }
}

// A random JS string as UTF-16 code units: ASCII (controls, '"', '\\' included), Latin-1, BMP,
// surrogate pairs, lone high and low surrogates.
std::u16string RandomUnits(std::mt19937_64& rng) {
  std::u16string s;
  const int n = static_cast<int>(rng() % 12);
  for (int i = 0; i < n; ++i) {
    switch (rng() % 8) {
      case 0: s += static_cast<char16_t>(rng() % 0x20); break;
      case 1: s += u"\"\\/\b\f\n\r\t\x7f"[rng() % 9]; break;
      case 2: s += static_cast<char16_t>(0x20 + rng() % 0x60); break;
      case 3: s += static_cast<char16_t>(0x80 + rng() % 0x780); break;
      case 4: s += static_cast<char16_t>(0xE000 + rng() % 0x2000); break;
      case 5:
        s += static_cast<char16_t>(0xD800 + rng() % 0x400);
        s += static_cast<char16_t>(0xDC00 + rng() % 0x400);
        break;
      case 6: s += static_cast<char16_t>(0xD800 + rng() % 0x800); break;  // lone either half
      default: s += static_cast<char16_t>(0x800 + rng() % 0xD000); break;
    }
  }
  return s;
}

// s as a JSON string literal: each unit either escaped (\uXXXX in random case, or a short
// escape) or, when it is neither a control, '"', '\\' nor a surrogate, raw UTF-8.
std::string JsonLiteral(const std::u16string& s, std::mt19937_64& rng) {
  std::string out = "\"";
  for (char16_t u : s) {
    const bool must_escape = u < 0x20 || u == '"' || u == '\\' || (u >= 0xD800 && u <= 0xDFFF);
    if (must_escape || rng() % 3 == 0) {
      if (u == '"' || u == '\\' || u == '/') {
        if (rng() & 1) {
          out += '\\';
          out += static_cast<char>(u);
          continue;
        }
      }
      char buf[8];
      std::snprintf(buf, sizeof(buf), (rng() & 1) ? "\\u%04x" : "\\u%04X", static_cast<unsigned>(u));
      out += buf;
    } else {
      out += Utf16ToWtf8(std::u16string(1, u));
    }
  }
  return out + "\"";
}

TEST_F(JsonDifferentialTest, StringsWithEveryEscapeAndSurrogateMatchJsonStringify) {
  std::mt19937_64 rng(0xd800);
  for (int batch = 0; batch < 4; ++batch) {
    std::string text = "[";
    std::vector<std::string> labels;
    std::vector<std::u16string> units;
    for (int i = 0; i < 50000; ++i) {
      units.push_back(RandomUnits(rng));
      std::string lit = JsonLiteral(units.back(), rng);
      if (i) text += ',';
      // Some as object keys, to cover member names too.
      text += (i % 5 == 0) ? StrCat("{", lit, ":", lit, "}") : lit;
      labels.push_back(lit);
    }
    text += "]";
    absl::StatusOr<Json> parsed = Json::Parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    const std::string ours = parsed->Dump();
    EXPECT_TRUE(IsValidUtf8(ours));
    std::string theirs;
    ASSERT_TRUE(Eval("JSON.stringify(JSON.parse(input))", text, &theirs)) << theirs;
    ASSERT_TRUE(ours == theirs) << FirstDifference(ours, theirs, labels);
    // The kernel holds exactly the JS string (WTF-8 of its code units), and Parse(Dump) is
    // the identity.
    for (size_t i = 0; i < units.size(); ++i) {
      const Json& v = parsed->as_array()[i];
      const std::string& s = v.is_object() ? v.as_object()[0].first : v.as_string();
      ASSERT_EQ(s, Utf16ToWtf8(units[i])) << labels[i];
      ASSERT_EQ(Wtf8ToUtf16(s), units[i]) << labels[i];
    }
    absl::StatusOr<Json> again = Json::Parse(ours);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(*again == *parsed);
    EXPECT_EQ(again->Dump(), ours);
  }
}

}  // namespace
}  // namespace swingset
