// Liveslots through the real engine: exact syscalls for eventual sends, pipelining, promise
// exports and notifies, and the GC protocol (bringOutYourDead, dropExports/retireExports/
// retireImports deliveries, vref-aware WeakMap), plus determinism under extra GCs.

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/strings.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing_util::Boyd;
using testing_util::Cap;
using testing_util::FakeSyscallHandler;
using testing_util::Gc;
using testing_util::Message;
using testing_util::Notify;
using testing_util::StartVat;

const VatId kVat(1);

class LiveslotsTest : public testing::Test {
 protected:
  void SetUp() override { host_ = JsVatHost::Create(JsVatHostOptions()); }
  void TearDown() override { host_.reset(); }

  void Start(const std::string& source) {
    VatSpec spec;
    spec.vat_id = kVat;
    spec.source = source;
    absl::Status st = host_->LoadVat(spec);
    ASSERT_TRUE(st.ok()) << st;
    DeliveryResult r = host_->Deliver(kVat, StartVat(), &sc_);
    ASSERT_TRUE(r.ok) << r.error;
    sc_.Take();
  }

  // Delivers and returns the syscalls made; a failed delivery fails the test.
  std::vector<std::string> Run(const VatDelivery& d) {
    DeliveryResult r = host_->Deliver(kVat, d, &sc_);
    EXPECT_TRUE(r.ok) << r.error;
    return sc_.Take();
  }

  // Without the vatstore reads of the VOM (js/vom.js) that a reap makes for each vref.
  static std::vector<std::string> NoVatstore(std::vector<std::string> log) {
    std::vector<std::string> out;
    for (std::string& s : log) {
      if (s.rfind("[\"vatstore", 0) != 0) out.push_back(std::move(s));
    }
    return out;
  }

  std::string Tables() {
    absl::StatusOr<std::string> t = host_->TEST_Eval(kVat, "ns => ns.debugTables()");
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : "";
  }

  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler sc_;
};

constexpr char kSendVat[] = R"(
import { Far, E } from '@endo/far';
import { makePromiseKit } from '@endo/promise-kit';
export function buildRootObject() {
  let last;
  const kit = makePromiseKit();
  const local = Far('local', { twice: x => 2 * x });
  return Far('root', {
    pipeline(other) {
      const p = E(other).foo(1);
      const q = E(p).bar(2);
      E.sendOnly(other).ping();
      return q;
    },
    keep(other) { last = other; },
    callKept() { return E(last).again(); },
    exportThings() { return harden({ local, promise: kit.promise }); },
    settle(v) { kit.resolve(v); },
    localSend() { return E(local).twice(21); },
    whenResolved(p) { return E.when(p, v => `got ${v}`); },
    sendToResolved(p) { return E(p).hello(); },
  });
}
)";

TEST_F(LiveslotsTest, EventualSendsPipelineOnResultPromises) {
  Start(kSendVat);
  EXPECT_THAT(
      Run(Message("o+0", R"(#["pipeline",["$0.Alleged: other"]])", {"o-50"}, "p-60")),
      ElementsAre(
          R"(["send","o-50",{"methargs":{"body":"#[\"foo\",[1]]","slots":[]},"result":"p+5"}])",
          R"(["subscribe","p+5"])",
          R"(["send","p+5",{"methargs":{"body":"#[\"bar\",[2]]","slots":[]},"result":"p+6"}])",
          R"(["subscribe","p+6"])",
          R"(["send","o-50",{"methargs":{"body":"#[\"ping\",[]]","slots":[]},"result":null}])"));
  // The vat's result follows q (p+6): resolved once p+6 is notified.
  EXPECT_THAT(Run(Notify({{"p+6", false, Cap("#\"done\"")}})),
              ElementsAre(R"(["resolve",[["p-60",false,{"body":"#\"done\"","slots":[]}]]])"));
  // p+5 resolves to a new import: a later E() on it would go to that object.
  EXPECT_THAT(Run(Notify({{"p+5", false, Cap("#\"$0.Alleged: thing\"", {"o-51"})}})),
              ElementsAre());
  EXPECT_THAT(Tables(), HasSubstr(R"("promises":[])"));
}

// E() hardens what it sends, deeply (the arguments array and everything reachable from it),
// for method sends and function applications alike.
TEST_F(LiveslotsTest, EventualSendHardensItsArguments) {
  Start(R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  return Far('root', {
    probe(other) {
      const arg = { list: [{ deep: 1 }], fn: Far('f', {}) };
      const second = [[2]];
      E(other).m(arg, second);
      const third = { x: [3] };
      E(other)(third);
      return [arg, arg.list, arg.list[0], second, second[0], third, third.x]
        .every(o => Object.isFrozen(o));
    },
  });
}
)");
  std::vector<std::string> sc =
      Run(Message("o+0", R"(#["probe",["$0.Alleged: other"]])", {"o-50"}, "p-60"));
  ASSERT_EQ(sc.size(), 5u);
  EXPECT_EQ(sc[4], R"(["resolve",[["p-60",false,{"body":"#true","slots":[]}]]])");
}

// Syscall texts reach the kernel intact whatever characters they hold: ASCII (parsed in
// place by the host), Latin-1 beyond ASCII and other UTF-16 (encoded to UTF-8 first).
TEST_F(LiveslotsTest, SyscallTextIsUtf8WhateverItsCharacters) {
  Start(R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  return Far('root', {
    probe(other) {
      E.sendOnly(other).m('plain');
      E.sendOnly(other).m('caf\u00e9');
      E.sendOnly(other).m('\u2713 \ud83d\ude00');
    },
  });
}
)");
  std::vector<std::string> sc =
      Run(Message("o+0", R"(#["probe",["$0.Alleged: other"]])", {"o-50"}, "p-60"));
  ASSERT_EQ(sc.size(), 4u);
  EXPECT_THAT(sc[0], HasSubstr(R"(#[\"m\",[\"plain\"]])"));
  EXPECT_THAT(sc[1], HasSubstr("#[\\\"m\\\",[\\\"caf\xc3\xa9\\\"]]"));
  EXPECT_THAT(sc[2], HasSubstr("\xe2\x9c\x93 \xf0\x9f\x98\x80"));
}

TEST_F(LiveslotsTest, NotifyRejectionAndPresenceResolution) {
  Start(kSendVat);
  Run(Message("o+0", R"(#["keep",["$0.Alleged: other"]])", {"o-50"}));
  EXPECT_THAT(
      Run(Message("o+0", R"(#["callKept",[]])", {}, "p-60")),
      ElementsAre(
          R"(["send","o-50",{"methargs":{"body":"#[\"again\",[]]","slots":[]},"result":"p+5"}])",
          R"(["subscribe","p+5"])"));
  EXPECT_THAT(
      Run(Notify({{"p+5", true, Cap(R"(#{"#error":"vat terminated","name":"Error"})")}})),
      ElementsAre(
          R"(["resolve",[["p-60",true,{"body":"#{\"#error\":\"vat terminated\",\"name\":\"Error\"}","slots":[]}]]])"));
}

TEST_F(LiveslotsTest, ExportsRemotablesAndPromisesThenResolvesThem) {
  Start(kSendVat);
  EXPECT_THAT(
      Run(Message("o+0", R"(#["exportThings",[]])", {}, "p-60")),
      ElementsAre(
          R"(["resolve",[["p-60",false,{"body":"#{\"local\":\"$0.Alleged: local\",\"promise\":\"&1\"}","slots":["o+10","p+5"]}]]])"));
  // The kernel pipelines a message to our local object.
  EXPECT_THAT(Run(Message("o+10", R"(#["twice",[4]])", {}, "p-61")),
              ElementsAre(R"(["resolve",[["p-61",false,{"body":"#8","slots":[]}]]])"));
  // Settling the exported promise tells the kernel (and retires p+5).
  EXPECT_THAT(
      Run(Message("o+0", R"(#["settle",["$0.Alleged: x"]])", {"o-50"})),
      ElementsAre(
          R"(["resolve",[["p+5",false,{"body":"#\"$0.Alleged: x\"","slots":["o-50"]}]]])"));
  // Local eventual sends never reach the kernel.
  EXPECT_THAT(Run(Message("o+0", R"(#["localSend",[]])", {}, "p-62")),
              ElementsAre(R"(["resolve",[["p-62",false,{"body":"#42","slots":[]}]]])"));
}

TEST_F(LiveslotsTest, ImportedPromisesAreSubscribedAndNotified) {
  Start(kSendVat);
  EXPECT_THAT(Run(Message("o+0", R"(#["whenResolved",["&0"]])", {"p-70"}, "p-60")),
              ElementsAre(R"(["subscribe","p-70"])"));
  // A batch: p-70 resolves to data citing p-71, also settled in the same notify (no subscribe).
  EXPECT_THAT(Run(Notify({{"p-70", false, Cap("#[\"&0\"]", {"p-71"})},
                          {"p-71", false, Cap("#3")}})),
              ElementsAre(
                  R"(["resolve",[["p-60",false,{"body":"#\"got [object Promise]\"","slots":[]}]]])"));
  EXPECT_THAT(Tables(), HasSubstr(R"("imported":[])"));
}

TEST_F(LiveslotsTest, PipelinedMessageToOurResultPromise) {
  Start(kSendVat);
  EXPECT_THAT(Run(Message("o+0", R"(#["keep",["$0.Alleged: other"]])", {"o-50"})), ElementsAre());
  // The kernel delivers a message whose result p-60 we now decide; our answer follows an
  // eventual send of our own (p+5), so p-60 stays unresolved.
  EXPECT_THAT(
      Run(Message("o+0", R"(#["callKept",[]])", {}, "p-60")),
      ElementsAre(
          R"(["send","o-50",{"methargs":{"body":"#[\"again\",[]]","slots":[]},"result":"p+5"}])",
          R"(["subscribe","p+5"])"));
  // The kernel pipelines a message to p-60, which we decide: liveslots sends it on to where our
  // answer went (p+5), and the message's own result p-61 follows that send's result (p+6).
  EXPECT_THAT(
      Run(Message("p-60", R"(#["foo",[7]])", {}, "p-61")),
      ElementsAre(
          R"(["send","p+5",{"methargs":{"body":"#[\"foo\",[7]]","slots":[]},"result":"p+6"}])",
          R"(["subscribe","p+6"])"));
  EXPECT_THAT(
      Run(Notify({{"p+5", false, Cap("#\"$0.Alleged: thing\"", {"o-51"})}})),
      ElementsAre(
          R"(["resolve",[["p-60",false,{"body":"#\"$0.Alleged: thing\"","slots":["o-51"]}]]])"));
  EXPECT_THAT(Run(Notify({{"p+6", false, Cap("#14")}})),
              ElementsAre(R"(["resolve",[["p-61",false,{"body":"#14","slots":[]}]]])"));
}

constexpr char kGcVat[] = R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  const held = [];
  let wm = new WeakMap();
  const ws = new WeakSet();
  const exported = [];
  return Far('root', {
    take(...presences) { held.push(presences[0]); },
    dropAll() { held.length = 0; },
    remember(p) { wm.set(p, 'seen'); ws.add(p); },
    seen(p) { return `${wm.has(p)} ${ws.has(p)} ${wm.get(p)}`; },
    forgetMap() { wm = new WeakMap(); },
    forgetKey(p) { return `${wm.delete(p)} ${ws.delete(p)}`; },
    makeExport() { const o = Far('ephemeral', {}); exported.push(o); return o; },
    dropExported() { exported.length = 0; },
    same(a, b) { return a === b; },
  });
}
)";

TEST_F(LiveslotsTest, BringOutYourDeadDropsAndRetiresUnheldImportsSorted) {
  Start(kGcVat);
  EXPECT_THAT(Run(Message("o+0", R"(#["take",["$0.Alleged: a","$1.Alleged: b","$2.Alleged: c","$3.Alleged: d"]])",
                          {"o-50", "o-9", "o-10", "o-100"})),
              ElementsAre());
  // Only o-50 (the first) is held. String order: o-10 < o-100 < o-9.
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["dropImports",["o-10","o-100","o-9"]])",
                                       R"(["retireImports",["o-10","o-100","o-9"]])"));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre());
  EXPECT_THAT(Tables(), HasSubstr(R"("slotToVal":[["o+0",true],["o+d6/1",true],["o+d6/2",true],["o+d6/3",true],["o-50",true]])"));
  Run(Message("o+0", R"(#["dropAll",[]])"));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["dropImports",["o-50"]])",
                                       R"(["retireImports",["o-50"]])"));
}

TEST_F(LiveslotsTest, NoGcSyscallsOutsideBringOutYourDead) {
  Start(kGcVat);
  Run(Message("o+0", R"(#["take",["$0.Alleged: a","$1.Alleged: b"]])", {"o-50", "o-51"}));
  host_->TEST_ForceGC();
  EXPECT_THAT(Run(Message("o+0", R"(#["dropAll",[]])")), ElementsAre());
  host_->TEST_ForceGC();
  EXPECT_THAT(Run(Message("o+0", R"(#["dropAll",[]])")), ElementsAre());
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["dropImports",["o-50","o-51"]])",
                                       R"(["retireImports",["o-50","o-51"]])"));
}

TEST_F(LiveslotsTest, WeakMapKeysAreVrefsAndDelayRetirement) {
  Start(kGcVat);
  Run(Message("o+0", R"(#["remember",["$0.Alleged: a"]])", {"o-50"}));
  // The Presence is unreachable: dropped, but still recognizable through the WeakMap/WeakSet.
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["dropImports",["o-50"]])"));
  // Re-imported: a new Presence object, but the same key.
  EXPECT_THAT(Run(Message("o+0", R"(#["seen",["$0.Alleged: a"]])", {"o-50"}, "p-60")),
              ElementsAre(R"(["resolve",[["p-60",false,{"body":"#\"true true seen\"","slots":[]}]]])"));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["dropImports",["o-50"]])"));
  // Dropping the WeakMap leaves the WeakSet as the last recognizer.
  Run(Message("o+0", R"(#["forgetMap",[]])"));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre());
  EXPECT_THAT(Tables(), HasSubstr(R"("recognizers":[["o-50",1]])"));
  // The kernel retires it (its exporter went away): the WeakSet entry goes too.
  EXPECT_THAT(NoVatstore(Run(Gc(VatDelivery::Type::kRetireImports, {"o-50"}))), ElementsAre());
  EXPECT_THAT(Tables(), HasSubstr(R"("recognizers":[])"));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre());
}

TEST_F(LiveslotsTest, DeletingTheLastWeakKeyRetiresAtTheNextBringOutYourDead) {
  Start(kGcVat);
  Run(Message("o+0", R"(#["remember",["$0.Alleged: a"]])", {"o-50"}));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["dropImports",["o-50"]])"));
  EXPECT_THAT(Run(Message("o+0", R"(#["forgetKey",["$0.Alleged: a"]])", {"o-50"}, "p-60")),
              ElementsAre(R"(["resolve",[["p-60",false,{"body":"#\"true true\"","slots":[]}]]])"));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["dropImports",["o-50"]])",
                                       R"(["retireImports",["o-50"]])"));
}

TEST_F(LiveslotsTest, DroppedExportsAreRetiredWhenCollected) {
  Start(kGcVat);
  EXPECT_THAT(Run(Message("o+0", R"(#["makeExport",[]])", {}, "p-60")),
              ElementsAre(R"(["resolve",[["p-60",false,{"body":"#\"$0.Alleged: ephemeral\"","slots":["o+10"]}]]])"));
  Run(Message("o+0", R"(#["dropExported",[]])"));
  // Still exported (the kernel can reach it): nothing to report.
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre());
  EXPECT_THAT(Run(Gc(VatDelivery::Type::kDropExports, {"o+10"})), ElementsAre());
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre(R"(["retireExports",["o+10"]])"));
  EXPECT_THAT(Tables(), HasSubstr(R"("kernelRecognizable":["o+0"])"));
}

// A reap forces a GC only when one could lead to a syscall (liveslots' needsGC()): the VOM's own
// tables (baggage and the watcher tables, held for the vat's life) do not count, so a vat that
// holds only pinned exports skips it, as before virtual objects (each forced GC also drops the
// vat's JIT code). A Representative that may die does count.
TEST_F(LiveslotsTest, AReapGcsOnlyWhenSomethingCouldDie) {
  Start(kGcVat);
  auto needs_gc = [&] {
    absl::StatusOr<std::string> t = host_->TEST_Eval(kVat, "ns => ns.needsGC()");
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : "";
  };
  EXPECT_EQ(needs_gc(), "false");
  Run(Message("o+0", R"(#["makeExport",[]])", {}, "p-60"));
  EXPECT_EQ(needs_gc(), "false");  // exported: pinned by the kernel
  Run(Message("o+0", R"(#["take",["$0.Alleged: a"]])", {"o-50"}));
  EXPECT_EQ(needs_gc(), "true");  // a Presence may die
  Run(Message("o+0", R"(#["dropAll",[]])"));
  Run(Boyd());
  EXPECT_EQ(needs_gc(), "false");  // dropped and retired: nothing left that could die
}

TEST_F(LiveslotsTest, RetireExportsDeliveryForgetsTheExport) {
  Start(kGcVat);
  Run(Message("o+0", R"(#["makeExport",[]])", {}, "p-60"));
  Run(Gc(VatDelivery::Type::kDropExports, {"o+10"}));
  Run(Gc(VatDelivery::Type::kRetireExports, {"o+10"}));
  Run(Message("o+0", R"(#["dropExported",[]])"));
  EXPECT_THAT(NoVatstore(Run(Boyd())), ElementsAre());  // the kernel already forgot it
  EXPECT_THAT(Tables(), HasSubstr(R"("slotToVal":[["o+0",true],["o+d6/1",true],["o+d6/2",true],["o+d6/3",true]])"));
}

// Runs one scenario and returns every syscall; `extra_gc` forces full GCs between deliveries,
// which must not change anything the kernel sees.
std::vector<std::string> GcScenario(bool extra_gc) {
  auto host = JsVatHost::Create(JsVatHostOptions());
  VatSpec spec;
  spec.vat_id = kVat;
  spec.source = kGcVat;
  EXPECT_TRUE(host->LoadVat(spec).ok());
  FakeSyscallHandler sc;
  std::vector<VatDelivery> ds = {
      StartVat(),
      Message("o+0", R"(#["remember",["$0.Alleged: a"]])", {"o-50"}),
      Message("o+0", R"(#["take",["$0.Alleged: b","$1.Alleged: c"]])", {"o-51", "o-52"}),
      Message("o+0", R"(#["seen",["$0.Alleged: a"]])", {"o-50"}, "p-60"),
      Message("o+0", R"(#["same",["$0.Alleged: c","$0.Alleged: c"]])", {"o-52"}, "p-61"),
      Boyd(),
      Message("o+0", R"(#["seen",["$0.Alleged: a"]])", {"o-50"}, "p-62"),
      Message("o+0", R"(#["makeExport",[]])", {}, "p-63"),
      Message("o+0", R"(#["dropExported",[]])"),
      Gc(VatDelivery::Type::kDropExports, {"o+10"}),
      Message("o+0", R"(#["dropAll",[]])"),
      Message("o+0", R"(#["forgetMap",[]])"),
      Boyd(),
      Boyd(),
  };
  std::vector<std::string> all;
  for (const VatDelivery& d : ds) {
    if (extra_gc) host->TEST_ForceGC();
    DeliveryResult r = host->Deliver(kVat, d, &sc);
    EXPECT_TRUE(r.ok) << r.error;
    all.push_back(StrCat("-- ", d.ToJson().Dump()));
    for (std::string& s : sc.Take()) all.push_back(std::move(s));
    if (extra_gc) host->TEST_ForceGC();
  }
  return all;
}

TEST(LiveslotsDeterminismTest, ExtraGcsBetweenDeliveriesDoNotChangeSyscalls) {
  std::vector<std::string> plain = GcScenario(false);
  std::vector<std::string> gcd = GcScenario(true);
  EXPECT_EQ(plain, gcd);
  // And the scenario does exercise GC: drops and retirements happened.
  std::string joined;
  for (const auto& s : plain) StrAppend(&joined, s, "\n");
  EXPECT_THAT(joined, HasSubstr(R"(["dropImports",["o-50","o-51"]])"));
  EXPECT_THAT(joined, HasSubstr(R"(["retireExports",["o+10"]])"));
  EXPECT_THAT(joined, HasSubstr(R"("#\"true true seen\"")"));
}

}  // namespace
}  // namespace swingset
