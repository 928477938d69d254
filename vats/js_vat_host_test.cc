// JsVatHost end to end through the real engine: loading, module resolution, raw vats, faults
// (exceptions, infinite loops, deep recursion), isolation probes, transcript replay.

#include "vats/js_vat_host.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing_util::Boyd;
using testing_util::FakeSyscallHandler;
using testing_util::MemTranscript;
using testing_util::Message;
using testing_util::StartVat;

const VatId kVat(1);

class JsVatHostTest : public testing::Test {
 protected:
  void SetUp() override {
    JsVatHostOptions o;
    o.delivery_timeout = std::chrono::milliseconds(2000);
    host_ = JsVatHost::Create(o);
  }
  void TearDown() override { host_.reset(); }

  absl::Status Load(const std::string& source, bool raw = false,
                    TranscriptSource* transcript = nullptr, VatId id = kVat) {
    VatSpec spec;
    spec.vat_id = id;
    spec.name = "test";
    spec.source = source;
    spec.raw = raw;
    spec.transcript = transcript;
    return host_->LoadVat(spec);
  }

  DeliveryResult Deliver(const VatDelivery& d, VatId id = kVat) {
    return host_->Deliver(id, d, &syscalls_);
  }

  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler syscalls_;
};

constexpr char kHelloVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject(vatPowers, vatParameters) {
  let count = 0;
  return Far('root', {
    hello(name) { count += 1; return `hello ${name} ${count} ${vatParameters.greeting}`; },
    fail() { throw TypeError('nope'); },
  });
}
)";

TEST_F(JsVatHostTest, StartVatAndMessageToRootResolvesResult) {
  ASSERT_TRUE(Load(kHelloVat).ok());
  DeliveryResult r = Deliver(StartVat(R"(#{"greeting":"hi"})"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_THAT(syscalls_.Take(), ElementsAre());
  r = Deliver(Message("o+0", R"(#["hello",["bob"]])", {}, "p-60"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_THAT(syscalls_.Take(),
              ElementsAre(R"(["resolve",[["p-60",false,{"body":"#\"hello bob 1 hi\"","slots":[]}]]])"));
  // A method that throws rejects the result; the delivery itself is fine.
  r = Deliver(Message("o+0", R"(#["fail",[]])", {}, "p-61"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_THAT(syscalls_.Take(),
              ElementsAre(R"(["resolve",[["p-61",true,{"body":"#{\"#error\":\"nope\",\"name\":\"TypeError\"}","slots":[]}]]])"));
}

}  // namespace
}  // namespace swingset
