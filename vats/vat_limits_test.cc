// The size caps of js/vat_limits.js (VatCodeLimits) and the absence of WebAssembly, probed from
// vat code in real vat realms, under SES lockdown() and under the lite lockdown.

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/strings.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::HasSubstr;
using testing::Not;
using testing_util::FakeSyscallHandler;
using testing_util::Message;
using testing_util::StartVat;

const VatId kVat(1);

// run(name) runs one probe in its own delivery and answers 'ok', a value, or "<Error>: msg".
constexpr char kProbeVat[] = R"(
import { Far } from '@endo/far';
const KB = 1024;
const probes = {
  abAtCap: () => new ArrayBuffer(64 * KB).byteLength,
  abOverCap: () => new ArrayBuffer(64 * KB + 1),
  abValueOfOnce: () => {
    let calls = 0;
    const n = { valueOf: () => { calls += 1; return 8; } };
    return `${new ArrayBuffer(n).byteLength} ${calls}`;
  },
  f64AtCap: () => new Float64Array(8 * KB).length,
  f64OverCap: () => new Float64Array(8 * KB + 1),
  arrayLike: () => new Uint8Array({ length: 1e9 }),
  arrayLikeSmall: () => new Uint8Array({ length: 3, 0: 7, 1: 8, 2: 9 }).join(','),
  functionLength: () => {
    const f = () => 0;
    Object.defineProperty(f, 'length', { value: 1e9 });
    return new Uint8Array(f);
  },
  iterable: () => new Uint16Array(new Array(40 * KB).fill(1)),
  iterableSmall: () => new Uint8Array(new Set([1, 2, 3])).join(','),
  copyOfTypedArray: () => new Float64Array(new Uint8Array(16 * KB)),
  from: () => Uint8Array.from({ length: 1e9 }),
  mapSpecies: () => new Uint8Array(10).map(x => x + 1).length,
  subclass: () => {
    class Mine extends Uint8Array {}
    const m = new Mine(4);
    return `${m instanceof Mine} ${m instanceof Uint8Array} ${m.length}`;
  },
  subclassOver: () => {
    class Mine extends Float32Array {}
    return new Mine(20 * KB);
  },
  sameConstructors: () =>
    [
      new ArrayBuffer(1).constructor === ArrayBuffer,
      Object.getPrototypeOf(new Uint8Array(1)).constructor === Uint8Array,
      ArrayBuffer.prototype.constructor === ArrayBuffer,
      Object.getPrototypeOf(Uint8Array) === Object.getPrototypeOf(Int8Array),
      Object.isFrozen(ArrayBuffer) && Object.isFrozen(Uint8Array) && Object.isFrozen(String.prototype),
    ].join(','),
  dataView: () => new DataView(new ArrayBuffer(16), 4).byteLength,
  perDeliveryUnder: () => {
    const keep = [];
    for (let i = 0; i < 4; i += 1) keep.push(new ArrayBuffer(60 * KB));
    return keep.length;
  },
  perDeliveryOver: () => {
    const keep = [];
    for (let i = 0; i < 5; i += 1) keep.push(new ArrayBuffer(60 * KB));
    return keep.length;
  },
  repeatOk: () => 'ab'.repeat(1000).length,
  repeatOver: () => 'ab'.repeat(600 * KB),
  padStartOver: () => ''.padStart(2e6, 'xy'),
  padEndOver: () => 'a'.padEnd(2e6),
  joinOver: () => new Array(2e6 + 1).join('x'),
  concatOver: () => 'x'.repeat(600 * KB).concat('y'.repeat(600 * KB)),
  replaceAllOver: () => 'x'.repeat(1000).replaceAll('x', 'y'.repeat(2000)),
  replaceOver: () => 'x'.repeat(1000).replace(/x/g, 'y'.repeat(2000)),
  stringifyOver: () => JSON.stringify(new Array(300 * KB).fill('abc')),
  fromCharCodeOk: () => String.fromCharCode(104, 105),
  stringsStillWork: () => ['a', 'b'].join('-') + 'x'.padStart(3, '.') + 'q'.concat('r'),
  wasm: () =>
    [
      typeof WebAssembly,
      Object.getOwnPropertyNames(globalThis).includes('WebAssembly'),
      typeof globalThis.WebAssembly,
      (() => {
        try {
          return typeof Function('return WebAssembly')();
        } catch (e) {
          return e.name;
        }
      })(),
    ].join(','),
  sharedMemory: () => `${typeof SharedArrayBuffer} ${typeof Atomics}`,
};
export function buildRootObject() {
  return Far('root', {
    run(name) {
      try {
        return String(probes[name]());
      } catch (e) {
        return `${e.name}: ${e.message}`;
      }
    },
  });
}
)";

class VatLimitsTest : public testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    JsVatHostOptions o;
    o.delivery_timeout = std::chrono::milliseconds(20000);
    o.lite_lockdown = GetParam();
    host_ = JsVatHost::Create(o);
    VatSpec spec;
    spec.vat_id = kVat;
    spec.name = "limits";
    spec.source = kProbeVat;
    spec.limits.max_buffer_bytes = 64 << 10;
    spec.limits.max_buffer_bytes_per_delivery = 256 << 10;
    spec.limits.max_string_length = 1 << 20;
    absl::Status st = host_->LoadVat(spec);
    ASSERT_TRUE(st.ok()) << st;
    DeliveryResult r = host_->Deliver(kVat, StartVat(), &syscalls_);
    ASSERT_TRUE(r.ok) << r.error;
    syscalls_.Take();
  }

  // The answer of run(name): the one resolve syscall's body.
  std::string Run(const std::string& name) {
    DeliveryResult r =
        host_->Deliver(kVat, Message("o+0", StrCat(R"(#["run",[")", name, R"("]])"), {}, "p-60"),
                       &syscalls_);
    EXPECT_TRUE(r.ok) << name << ": " << r.error;
    std::vector<std::string> sc = syscalls_.Take();
    if (sc.size() != 1) return StrCat("syscalls: ", sc.size());
    return sc[0];
  }

  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler syscalls_;
};

TEST_P(VatLimitsTest, BuffersUpToTheCapWorkAndOneByteMoreIsARangeError) {
  EXPECT_THAT(Run("abAtCap"), HasSubstr(R"(\"65536\")"));
  EXPECT_THAT(Run("abOverCap"),
              HasSubstr("RangeError: vat limit: an ArrayBuffer of 65537 bytes exceeds the cap of "
                        "65536 bytes"));
  EXPECT_THAT(Run("abValueOfOnce"), HasSubstr(R"(\"8 1\")"));
  EXPECT_THAT(Run("f64AtCap"), HasSubstr(R"(\"8192\")"));
  EXPECT_THAT(Run("f64OverCap"), HasSubstr("an ArrayBuffer of 65544 bytes exceeds the cap"));
  EXPECT_THAT(Run("dataView"), HasSubstr(R"(\"12\")"));
}

TEST_P(VatLimitsTest, EveryAllocatingTypedArrayPathIsCapped) {
  EXPECT_THAT(Run("arrayLike"), HasSubstr("an ArrayBuffer of 1000000000 bytes exceeds the cap"));
  EXPECT_THAT(Run("arrayLikeSmall"), HasSubstr(R"(\"7,8,9\")"));
  EXPECT_THAT(Run("functionLength"), HasSubstr("an ArrayBuffer of 1000000000 bytes"));
  EXPECT_THAT(Run("iterable"), HasSubstr("an ArrayBuffer of 81920 bytes exceeds the cap"));
  EXPECT_THAT(Run("iterableSmall"), HasSubstr(R"(\"1,2,3\")"));
  EXPECT_THAT(Run("copyOfTypedArray"), HasSubstr("an ArrayBuffer of 131072 bytes"));
  EXPECT_THAT(Run("from"), HasSubstr("an ArrayBuffer of 1000000000 bytes"));
  EXPECT_THAT(Run("mapSpecies"), HasSubstr(R"(\"10\")"));
  EXPECT_THAT(Run("subclass"), HasSubstr(R"(\"true true 4\")"));
  EXPECT_THAT(Run("subclassOver"), HasSubstr("an ArrayBuffer of 81920 bytes"));
}

TEST_P(VatLimitsTest, VatCodeSeesOnlyTheWrappedConstructorsAndThemFrozen) {
  EXPECT_THAT(Run("sameConstructors"), HasSubstr(R"(\"true,true,true,true,true\")"));
}

TEST_P(VatLimitsTest, BufferBytesPerDeliveryAreCappedAndResetForEachDelivery) {
  EXPECT_THAT(Run("perDeliveryUnder"), HasSubstr(R"(\"4\")"));
  EXPECT_THAT(Run("perDeliveryUnder"), HasSubstr(R"(\"4\")"));
  EXPECT_THAT(Run("perDeliveryOver"),
              HasSubstr("RangeError: vat limit: buffers of more than 262144 bytes allocated in "
                        "one delivery"));
  EXPECT_THAT(Run("perDeliveryUnder"), HasSubstr(R"(\"4\")"));
}

TEST_P(VatLimitsTest, StringBuildersAreCapped) {
  EXPECT_THAT(Run("repeatOk"), HasSubstr(R"(\"2000\")"));
  EXPECT_THAT(Run("repeatOver"),
              HasSubstr("RangeError: vat limit: repeat would make a string of 1228800 units "
                        "(cap 1048576)"));
  EXPECT_THAT(Run("padStartOver"), HasSubstr("vat limit: padStart would make a string of 2000000"));
  EXPECT_THAT(Run("padEndOver"), HasSubstr("vat limit: padEnd would make a string of 2000000"));
  EXPECT_THAT(Run("joinOver"), HasSubstr("vat limit: join would make a string of 2000000"));
  EXPECT_THAT(Run("concatOver"), HasSubstr("vat limit: concat would make a string of 1228800"));
  EXPECT_THAT(Run("replaceAllOver"), HasSubstr("vat limit: replaceAll would make a string"));
  EXPECT_THAT(Run("replaceOver"), HasSubstr("vat limit: replace would make a string"));
  EXPECT_THAT(Run("stringifyOver"), HasSubstr("vat limit: JSON.stringify would make a string"));
  EXPECT_THAT(Run("fromCharCodeOk"), HasSubstr(R"(\"hi\")"));
  EXPECT_THAT(Run("stringsStillWork"), HasSubstr(R"(\"a-b..xqr\")"));
}

TEST_P(VatLimitsTest, NoWebAssemblyAndNoSharedMemory) {
  EXPECT_THAT(Run("wasm"), HasSubstr(R"(\"undefined,false,undefined,)"));
  EXPECT_THAT(Run("wasm"), Not(HasSubstr("object")));
  EXPECT_THAT(Run("sharedMemory"), HasSubstr(R"(\"undefined undefined\")"));
}

INSTANTIATE_TEST_SUITE_P(Lockdowns, VatLimitsTest, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? "Lite" : "Ses";
                         });

}  // namespace
}  // namespace swingset
