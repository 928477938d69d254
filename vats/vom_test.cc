// Virtual objects, collections and baggage (js/vom.js) through the real engine: the vatstore
// key schema, vref allocation, refcounts and export status, the bringOutYourDead scan and its
// exact syscalls, the per-delivery state cache, and determinism under extra GCs. The scenarios
// are the acceptance scenarios of the VOM spec §9 (numbers in the test comments).

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/strings.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Not;
using testing_util::Boyd;
using testing_util::Cap;
using testing_util::FakeSyscallHandler;
using testing_util::Gc;
using testing_util::Message;
using testing_util::Notify;
using testing_util::StartVat;

const VatId kVat(1);

class VomTest : public testing::Test {
 protected:
  void SetUp() override { host_ = JsVatHost::Create(options_); }
  void TearDown() override { host_.reset(); }

  void Start(const std::string& source) {
    VatSpec spec;
    spec.vat_id = kVat;
    spec.source = source;
    absl::Status st = host_->LoadVat(spec);
    ASSERT_TRUE(st.ok()) << st;
    DeliveryResult r = host_->Deliver(kVat, StartVat(), &sc_);
    ASSERT_TRUE(r.ok) << r.error;
    start_log_ = sc_.Take();
  }

  std::vector<std::string> Run(const VatDelivery& d) {
    DeliveryResult r = host_->Deliver(kVat, d, &sc_);
    EXPECT_TRUE(r.ok) << r.error;
    return sc_.Take();
  }
  // A message to the root with a fresh result promise; returns the syscalls.
  std::vector<std::string> Call(const std::string& method, const std::string& args = "",
                                std::vector<std::string> slots = {}) {
    return Run(Message("o+0", StrCat("#[\"", method, "\",[", args, "]]"), std::move(slots),
                       StrCat("p-", next_result_++)));
  }
  // The failure text of a message that must fail (the result promise is rejected).
  std::string CallRejected(const std::string& method, const std::string& args = "") {
    std::vector<std::string> log = Call(method, args);
    for (const std::string& s : log) {
      if (s.find("\"resolve\"") != std::string::npos && s.find(",true,") != std::string::npos) {
        return s;
      }
    }
    return "";
  }

  std::string Get(const std::string& key) {
    auto it = sc_.vatstore.find(key);
    return it == sc_.vatstore.end() ? "<missing>" : it->second;
  }
  bool Has(const std::string& key) { return sc_.vatstore.count(key) > 0; }
  // The vatstore keys under `prefix`.
  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> out;
    for (auto it = sc_.vatstore.lower_bound(prefix);
         it != sc_.vatstore.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      out.push_back(it->first);
    }
    return out;
  }
  // The resolve syscall in `log`.
  static std::string Resolution(const std::vector<std::string>& log) {
    for (const std::string& s : log) {
      if (s.find("[\"resolve\"") == 0) return s;
    }
    return "";
  }
  static std::vector<std::string> Gcs(const std::vector<std::string>& log) {
    std::vector<std::string> out;
    for (const std::string& s : log) {
      if (s.find("\"dropImports\"") != std::string::npos ||
          s.find("\"retireImports\"") != std::string::npos ||
          s.find("\"retireExports\"") != std::string::npos) {
        out.push_back(s);
      }
    }
    return out;
  }

  JsVatHostOptions options_;
  std::unique_ptr<JsVatHost> host_;
  FakeSyscallHandler sc_;
  std::vector<std::string> start_log_;
  int next_result_ = 100;
};

constexpr char kEmptyVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('root', {
    exportOne() { return Far('thing', {}); },
  });
}
)";

// §9.1: what a fresh vat's startVat writes.
TEST_F(VomTest, FreshVatVatstore) {
  Start(kEmptyVat);
  EXPECT_EQ(Get("baggageID"), "o+d6/1");
  EXPECT_EQ(Get("watcherTableID"), "o+d6/2");
  EXPECT_EQ(Get("watchedPromiseTableID"), "o+d6/3");
  EXPECT_EQ(Get("kindIDID"), "1");
  EXPECT_EQ(Get("storeKindIDTable"),
            R"({"scalarMapStore":2,"scalarWeakMapStore":3,"scalarSetStore":4,)"
            R"("scalarWeakSetStore":5,"scalarDurableMapStore":6,"scalarDurableWeakMapStore":7,)"
            R"("scalarDurableSetStore":8,"scalarDurableWeakSetStore":9})");
  EXPECT_EQ(Get("idCounters"), R"({"exportID":10,"collectionID":4,"promiseID":5})");
  EXPECT_EQ(Get("vc.1.|entryCount"), "0");
  EXPECT_EQ(Get("vc.1.|nextOrdinal"), "1");
  EXPECT_EQ(Get("vc.1.|schemata"),
            R"({"body":"#{\"keyShape\":{\"#tag\":\"match:string\",\"payload\":[]},)"
            R"(\"label\":\"baggage\"}","slots":[]})");
  EXPECT_EQ(Get("vc.2.|schemata"),
            R"({"body":"#{\"keyShape\":{\"#tag\":\"match:scalar\",\"payload\":\"#undefined\"},)"
            R"(\"label\":\"promiseWatcherByKind\"}","slots":[]})");
  EXPECT_EQ(Get("vc.3.|schemata"),
            R"({"body":"#{\"keyShape\":{\"#tag\":\"match:and\",\"payload\":[{\"#tag\":)"
            R"(\"match:scalar\",\"payload\":\"#undefined\"},{\"#tag\":\"match:string\",)"
            R"(\"payload\":[]}]},\"label\":\"watchedPromises\"}","slots":[]})");
  EXPECT_EQ(Get("vom.rc.o+d6/1"), "1");
  EXPECT_EQ(Get("vom.rc.o+d6/2"), "1");
  EXPECT_EQ(Get("vom.rc.o+d6/3"), "1");
  // §9.19: the first Remotable export is o+10, and the counters say so once the vat writes
  // virtual data again.
  EXPECT_THAT(Call("exportOne"),
              ElementsAre(R"(["resolve",[["p-100",false,{"body":"#\"$0.Alleged: thing\"","slots":["o+10"]}]]])"));
}

// §9.2: allocation order of kinds, handles, instances and stores.
TEST_F(VomTest, AllocationOrder) {
  Start(R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('root', {
    make() {
      const makeThing = VatData.defineKind('thing', () => ({}), {});
      const thing = makeThing();
      const handle = VatData.makeKindHandle('k1');
      const makeD = VatData.defineDurableKind(handle, () => ({}), {});
      const d1 = makeD();
      const d2 = makeD();
      const store = VatData.makeScalarBigMapStore();
      store.init('key', 'value');
      return harden([thing, handle, d1, d2, store]);
    },
  });
}
)");
  std::vector<std::string> log = Call("make");
  EXPECT_THAT(Resolution(log), HasSubstr(R"("slots":["o+v10/1","o+d1/11","o+d11/1","o+d11/2","o+v2/4"])"));
  EXPECT_EQ(Get("vc.4.|schemata"), R"({"body":"#{\"label\":\"map\"}","slots":[]})");
  EXPECT_EQ(Get("vc.4.skey"), R"({"body":"#\"value\"","slots":[]})");
  EXPECT_EQ(Get("vc.4.|entryCount"), "1");
  EXPECT_EQ(Get("vom.vkind.10.descriptor"), R"({"kindID":"10","tag":"thing"})");
  EXPECT_EQ(Get("vom.dkind.11.descriptor"),
            R"({"kindID":"11","tag":"k1","unfaceted":true,)"
            R"("stateShapeCapData":{"body":"#\"#undefined\"","slots":[]}})");
  EXPECT_EQ(Get("vom.dkind.11.nextID"), "3");
  EXPECT_EQ(Get("vom.o+v10/1"), "{}");
  EXPECT_EQ(Get("idCounters"), R"({"exportID":12,"collectionID":5,"promiseID":5})");
  // The kernel can reach them now: export status r.
  EXPECT_EQ(Get("vom.es.o+v10/1"), "r");
  EXPECT_EQ(Get("vom.es.o+d11/2"), "r");
}

// §9.3: baggage entries from buildRootObject and from a message.
TEST_F(VomTest, BaggagePersistsInTheVatstore) {
  Start(R"(
import { Far } from '@endo/far';
export function buildRootObject(vatPowers, vatParameters, baggage) {
  baggage.init('outside', 'out');
  return Far('root', {
    inside() { baggage.init('inside', harden({ n: 1 })); },
    read() { return harden([baggage.get('outside'), baggage.get('inside').n, baggage.has('x'),
      [...baggage.keys()]]); },
    dup() { baggage.init('inside', 2); },
    badKey() { baggage.init(3, 2); },
  });
}
)");
  EXPECT_EQ(Get("vc.1.soutside"), R"({"body":"#\"out\"","slots":[]})");
  EXPECT_EQ(Get("vc.1.|entryCount"), "1");
  Call("inside");
  EXPECT_EQ(Get("vc.1.sinside"), R"({"body":"#{\"n\":1}","slots":[]})");
  EXPECT_EQ(Get("vc.1.|entryCount"), "2");
  EXPECT_THAT(Call("read").back(), HasSubstr(R"(#[\"out\",1,false,[\"inside\",\"outside\"]])"));
  EXPECT_THAT(CallRejected("dup"), HasSubstr(R"(key \\\"inside\\\" already registered in collection \\\"baggage\\\")"));
  EXPECT_THAT(CallRejected("badKey"), HasSubstr(R"(invalid key type for collection \\\"baggage\\\")"));
  EXPECT_EQ(Get("vc.1.|entryCount"), "2");
}

// A vat for the lifecycle scenarios: kinds 10 (holder), 11 (thing), 12 (kit).
constexpr char kLifeVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject(vatPowers, vatParameters, baggage) {
  const makeHolder = VatData.defineKind('holder', (held = null) => ({ held }), {
    hold: ({ state }, v) => { state.held = v; },
    get: ({ state }) => state.held,
  });
  const makeThing = VatData.defineKind('thing', (label = 'x') => ({ label }), {
    label: ({ state }) => state.label,
    setLabel: ({ state }, l) => { state.label = l; },
  });
  const makeKit = VatData.defineKindMulti('kit', () => ({ unused: 'uncared for' }), {
    a: { name: () => 'a' },
    b: { name: () => 'b' },
  });
  let ram = {};
  const holders = [];
  const remember = new Map();
  return Far('root', {
    makeThing(name) { ram[name] = makeThing(name); },
    makeKit(name) { ram[name] = makeKit(); },
    makeHolders(n) { for (let i = 0; i < n; i += 1) holders.push(makeHolder()); },
    holdIn(i, name) { holders[i].hold(ram[name]); },
    holdImport(i, p) { holders[i].hold(p); },
    holdRemotable(i) { const r = Far('remo', {}); remember.set('r', r); holders[i].hold(r); },
    clearHolder(i) { holders[i].hold(null); },
    dropHolders() { holders.length = 0; },
    drop(name) { delete ram[name]; },
    get(name) { return ram[name]; },
    getFacet(name, f) { return ram[name][f]; },
    getHeld(i) { return holders[i].get(); },
    sameRemotable(i) { const r = holders[i].get(); return r === remember.get('r'); },
    forgetRemotable() { remember.delete('r'); },
    chain() {
      const target = makeThing('target');
      const h0 = makeHolder(target);
      const h1 = makeHolder(h0);
      ram.h2 = makeHolder(h1);
    },
    label(name) { return ram[name].label(); },
    relabel(name, l) { ram[name].setLabel(l); },
    receive(x) { ram.received = x; },
  });
}
)";

// §9.4: a VO held by RAM and by another VO's state; both pillars go, it is deleted, no
// syscall reaches the kernel.
TEST_F(VomTest, LifecycleRamAndVdataNoSyscalls) {
  Start(kLifeVat);
  Call("makeHolders", "1");   // o+v10/1
  Call("makeThing", "\"t\"");  // o+v11/1
  EXPECT_EQ(Get("vom.o+v11/1"), R"({"label":{"body":"#\"t\"","slots":[]}})");
  Call("holdIn", "0,\"t\"");
  EXPECT_EQ(Get("vom.rc.o+v11/1"), "1");
  EXPECT_EQ(Get("vom.o+v10/1"), R"({"held":{"body":"#\"$0.Alleged: thing\"","slots":["o+v11/1"]}})");
  Call("clearHolder", "0");
  EXPECT_FALSE(Has("vom.rc.o+v11/1"));
  EXPECT_TRUE(Has("vom.o+v11/1"));  // RAM still holds it
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_TRUE(Has("vom.o+v11/1"));
  Call("drop", "\"t\"");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_FALSE(Has("vom.o+v11/1"));
  EXPECT_FALSE(Has("vom.rc.o+v11/1"));
  EXPECT_FALSE(Has("vom.es.o+v11/1"));
  EXPECT_TRUE(Has("vom.o+v10/1"));  // the holder is still in RAM
}

// §9.5 (lifecycle 4): exported, the kernel drops it, RAM drops it: one retireExports.
TEST_F(VomTest, LifecycleExportedThenDroppedRetiresOnce) {
  Start(kLifeVat);
  Call("makeThing", "\"t\"");
  EXPECT_THAT(Call("get", "\"t\"").back(), HasSubstr(R"("slots":["o+v11/1"])"));
  EXPECT_EQ(Get("vom.es.o+v11/1"), "r");
  EXPECT_THAT(Run(Gc(VatDelivery::Type::kDropExports, {"o+v11/1"})),
              ElementsAre(R"(["vatstoreGet","vom.es.o+v11/1"])", R"(["vatstoreGet","vom.es.o+v11/1"])",
                          R"(["vatstoreSet","vom.es.o+v11/1","s"])", R"(["vatstoreGet","vom.rc.o+v11/1"])"));
  EXPECT_EQ(Get("vom.es.o+v11/1"), "s");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());  // RAM holds it
  Call("drop", "\"t\"");
  EXPECT_THAT(Gcs(Run(Boyd())), ElementsAre(R"(["retireExports",["o+v11/1"]])"));
  EXPECT_FALSE(Has("vom.o+v11/1"));
  EXPECT_FALSE(Has("vom.es.o+v11/1"));
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
}

// §9.5 (lifecycle 7): exported, RAM drops it (kept: the kernel reaches it), a message brings
// it back with the same vref, RAM drops it, then dropExports: deleted at the next reap.
TEST_F(VomTest, LifecycleReintroducedKeepsItsVref) {
  Start(kLifeVat);
  Call("makeThing", "\"t\"");
  Call("get", "\"t\"");
  Call("drop", "\"t\"");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_TRUE(Has("vom.o+v11/1"));
  Call("receive", "\"$0.Alleged: thing\"", {"o+v11/1"});
  EXPECT_THAT(Call("label", "\"received\"").back(), HasSubstr(R"(#\"t\")"));
  Call("drop", "\"received\"");
  Run(Gc(VatDelivery::Type::kDropExports, {"o+v11/1"}));
  EXPECT_THAT(Gcs(Run(Boyd())), ElementsAre(R"(["retireExports",["o+v11/1"]])"));
  EXPECT_FALSE(Has("vom.o+v11/1"));
}

// §9.6 (lifecycle 2/3): the kernel drops and retires while RAM holds it; deleted later with
// no syscall.
TEST_F(VomTest, LifecycleKernelRetiresFirst) {
  Start(kLifeVat);
  Call("makeThing", "\"t\"");
  Call("get", "\"t\"");
  Run(Gc(VatDelivery::Type::kDropExports, {"o+v11/1"}));
  Run(Gc(VatDelivery::Type::kRetireExports, {"o+v11/1"}));
  EXPECT_FALSE(Has("vom.es.o+v11/1"));
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_TRUE(Has("vom.o+v11/1"));
  Call("drop", "\"t\"");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_FALSE(Has("vom.o+v11/1"));
}

// §9.7: multi-facet export status and one sorted retireExports for the cohort; a markers-only
// cohort is deleted once the held facet goes.
TEST_F(VomTest, MultiFacetExportStatus) {
  Start(kLifeVat);
  Call("makeKit", "\"k\"");  // o+v12/1
  EXPECT_THAT(Call("getFacet", "\"k\",\"a\"").back(), HasSubstr(R"("slots":["o+v12/1:0"])"));
  EXPECT_EQ(Get("vom.es.o+v12/1"), "rn");
  EXPECT_THAT(Call("getFacet", "\"k\",\"b\"").back(), HasSubstr(R"("slots":["o+v12/1:1"])"));
  EXPECT_EQ(Get("vom.es.o+v12/1"), "rr");
  Run(Gc(VatDelivery::Type::kDropExports, {"o+v12/1:1"}));
  EXPECT_EQ(Get("vom.es.o+v12/1"), "rs");
  Run(Gc(VatDelivery::Type::kDropExports, {"o+v12/1:0"}));
  EXPECT_EQ(Get("vom.es.o+v12/1"), "ss");
  EXPECT_EQ(Get("vom.o+v12/1"), R"({"unused":{"body":"#\"uncared for\"","slots":[]}})");
  Call("drop", "\"k\"");
  EXPECT_THAT(Gcs(Run(Boyd())), ElementsAre(R"(["retireExports",["o+v12/1:0","o+v12/1:1"]])"));
  EXPECT_FALSE(Has("vom.o+v12/1"));
  EXPECT_FALSE(Has("vom.es.o+v12/1"));
}

// §9.8 (variant 3): a chain holder2 -> holder1 -> holder0 -> target is deleted in one reap.
TEST_F(VomTest, RefcountCascadeInOneReap) {
  Start(kLifeVat);
  Call("chain");  // target o+v11/1, h0 o+v10/1, h1 o+v10/2, h2 o+v10/3
  EXPECT_EQ(Get("vom.rc.o+v11/1"), "1");
  EXPECT_EQ(Get("vom.rc.o+v10/1"), "1");
  EXPECT_EQ(Get("vom.rc.o+v10/2"), "1");
  EXPECT_FALSE(Has("vom.rc.o+v10/3"));
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_EQ(Keys("vom.o+").size(), 4u);
  Call("drop", "\"h2\"");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_THAT(Keys("vom.o+"), IsEmpty());
  EXPECT_THAT(Keys("vom.rc."), ElementsAre("vom.rc.o+d6/1", "vom.rc.o+d6/2", "vom.rc.o+d6/3"));
}

// §9.9: an import held by three VOs is dropped and retired only when the last holder lets go.
TEST_F(VomTest, ImportHeldByVirtualData) {
  Start(kLifeVat);
  Call("makeHolders", "3");
  for (int i = 0; i < 3; ++i) {
    Call("holdImport", StrCat(i, ",\"$0.Alleged: imp\""), {"o-5"});
  }
  EXPECT_EQ(Get("vom.rc.o-5"), "3");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());  // the Presence is gone, vdata holds it
  Call("clearHolder", "0");
  Call("clearHolder", "1");
  EXPECT_EQ(Get("vom.rc.o-5"), "1");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  // The held Presence comes back from the state, the same import.
  EXPECT_THAT(Resolution(Call("getHeld", "2")), HasSubstr(R"("slots":["o-5"])"));
  Call("dropHolders");
  EXPECT_THAT(Gcs(Run(Boyd())),
              ElementsAre(R"(["dropImports",["o-5"]])", R"(["retireImports",["o-5"]])"));
  EXPECT_FALSE(Has("vom.rc.o-5"));
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
}

// §9.10: a Remotable referenced only from VO state survives reaps and comes back as the same
// object; no vom.rc key for it.
TEST_F(VomTest, RemotableRetainedByVirtualData) {
  Start(kLifeVat);
  Call("makeHolders", "1");
  Call("holdRemotable", "0");
  Call("forgetRemotable");
  EXPECT_THAT(Keys("vom.rc.o+1"), IsEmpty());
  Run(Boyd());
  Run(Boyd());
  // Exported, dropped and retired by the kernel: still there for the VO.
  EXPECT_THAT(Resolution(Call("getHeld", "0")), HasSubstr(R"("slots":["o+13"])"));
  Run(Gc(VatDelivery::Type::kDropExports, {"o+13"}));
  Run(Gc(VatDelivery::Type::kRetireExports, {"o+13"}));
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_THAT(Resolution(Call("getHeld", "0")), HasSubstr(R"("slots":["o+13"])"));
  Run(Gc(VatDelivery::Type::kDropExports, {"o+13"}));
  // Released from vdata it is collected; it was exported again above, so the kernel
  // recognizes it and gets a retireExports.
  Call("clearHolder", "0");
  EXPECT_THAT(Gcs(Run(Boyd())), ElementsAre(R"(["retireExports",["o+13"]])"));
}

// §9.11: the exact reap of an unheld import. Unlike Agoric's liveslots, no vatstore read for
// an import virtual data never held (liveslots knows them: vom.js vdataImports); one that was
// held gets the spec's reads.
TEST_F(VomTest, ExactReapOfAPlainImport) {
  Start(R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  let held = new Set();
  const store = VatData.makeScalarBigMapStore();
  return Far('root', {
    hold(p) { held.add(p); },
    clear() { held = new Set(); },
    inVdata(p) { store.init('k', p); },
    outOfVdata() { store.delete('k'); },
  });
}
)");
  Call("hold", "\"$0.Alleged: imp\"", {"o-1"});
  Call("clear");
  EXPECT_THAT(Run(Boyd()),
              ElementsAre(R"(["dropImports",["o-1"]])", R"(["retireImports",["o-1"]])"));
  Call("hold", "\"$0.Alleged: imp\"", {"o-2"});
  Call("inVdata", "\"$0.Alleged: imp\"", {"o-2"});
  Call("clear");
  // Its Presence is gone, but the map store holds it.
  EXPECT_THAT(Run(Boyd()), ElementsAre(R"(["vatstoreGet","vom.rc.o-2"])"));
  Call("outOfVdata");
  EXPECT_THAT(Run(Boyd()),
              ElementsAre(R"(["vatstoreGet","vom.rc.o-2"])",
                          R"(["vatstoreGetNextKey","vom.ir.o-2|"])",
                          R"(["dropImports",["o-2"]])", R"(["retireImports",["o-2"]])"));
}

constexpr char kStoreVat[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  const { makeScalarBigMapStore, makeScalarBigWeakMapStore, makeScalarBigSetStore,
    makeScalarBigWeakSetStore } = VatData;
  const makeThing = VatData.defineKind('thing', () => ({}), {});
  let ram = {};
  const stores = {};
  return Far('root', {
    weakMap(name) { stores[name] = makeScalarBigWeakMapStore(name); },
    weakSet(name) { stores[name] = makeScalarBigWeakSetStore(name); },
    map(name) { stores[name] = makeScalarBigMapStore(name); },
    set(name) { stores[name] = makeScalarBigSetStore(name); },
    init(name, k, v) { stores[name].init(k, v); },
    initRam(name, k, v) { stores[name].init(ram[k], v); },
    add(name, k) { stores[name].add(k); },
    addRam(name, k) { stores[name].add(ram[k]); },
    storeAsKey(s, k) { stores[s].init(stores[k], 'arbitrary'); },
    storeAsSetKey(s, k) { stores[s].add(stores[k]); },
    storeAsValue(s, k, v) { stores[s].init(ram[k], stores[v]); },
    has(name, k) { return stores[name].has(k); },
    get(name, k) { return stores[name].get(k); },
    del(name, k) { stores[name].delete(k); },
    keys(name) { return harden([...stores[name].keys()]); },
    entries(name) { return harden([...stores[name].entries()]); },
    size(name) { return stores[name].getSize(); },
    clear(name) { stores[name].clear(); },
    dropStore(name) { delete stores[name]; },
    things(n) { for (let i = 0; i < n; i += 1) ram[`t${i}`] = makeThing(); },
    remo(k) { ram[k] = Far('remo', {}); },
    dropRam() { ram = {}; },
    addThingsToSet(name, n) { for (let i = 0; i < n; i += 1) stores[name].add(ram[`t${i}`]); },
    sorted(name) {
      const s = stores[name];
      for (const k of [10, -1, 2, 0, -2.5, 1e300, NaN, Infinity, -Infinity]) s.init(k, 'n');
      for (const k of [47n, -47n, 0n, 1000n, -1000n]) s.init(k, 'b');
      for (const k of ['b', 'a', '', 'ab']) s.init(k, 's');
      for (const k of [true, false, null, undefined]) s.init(k, 'o');
      return harden([...s.keys()]);
    },
    addDuring(name) { for (const k of stores[name].keys()) stores[name].init(`${k}x`, 1); },
    deleteDuring(name) { for (const k of stores[name].keys()) stores[name].delete(k); return stores[name].getSize(); },
  });
}
)";

// §2.5: encoded keys and iteration order (numbers and bigints numeric, then strings...).
TEST_F(VomTest, EncodedKeysAndOrder) {
  Start(kStoreVat);
  Call("map", "\"m\"");  // vc.4
  std::vector<std::string> log = Call("sorted", "\"m\"");
  EXPECT_THAT(log.back(), HasSubstr(
      R"(#[false,true,\"#-Infinity\",-2.5,-1,0,2,10,1e+300,\"#Infinity\",\"#NaN\",)"
      R"(\"-1000\",\"-47\",\"+0\",\"+47\",\"+1000\",\"\",\"a\",\"ab\",\"b\",null,\"#undefined\"])"));
  EXPECT_TRUE(Has("vc.4.fc000000000000000"));  // 2
  EXPECT_TRUE(Has("vc.4.f8000000000000000"));  // 0
  EXPECT_TRUE(Has("vc.4.p2:47"));
  EXPECT_TRUE(Has("vc.4.n8:53"));
  EXPECT_TRUE(Has("vc.4.p1:0"));
  EXPECT_TRUE(Has("vc.4.btrue"));
  EXPECT_TRUE(Has("vc.4.v"));
  EXPECT_TRUE(Has("vc.4.z"));
  EXPECT_TRUE(Has("vc.4.s"));
  EXPECT_TRUE(Has("vc.4.ffff8000000000000"));  // NaN
  EXPECT_EQ(Get("vc.4.|entryCount"), "22");
  EXPECT_THAT(CallRejected("addDuring", "\"m\""),
              HasSubstr("keys in store cannot be added to during iteration"));
  EXPECT_THAT(Call("deleteDuring", "\"m\"").back(), HasSubstr(R"(#0)"));
  EXPECT_THAT(Keys("vc.4."), ElementsAre("vc.4.|entryCount", "vc.4.|nextOrdinal", "vc.4.|schemata"));
}

// §9.12: a weak store keeps recognizing a dropped import; the retire comes when the store
// dies.
TEST_F(VomTest, WeakStoreKeepsRecognition) {
  Start(kStoreVat);
  Call("weakMap", "\"A\"");  // vc.4, o+v3/4
  Call("init", "\"A\",\"$0.Alleged: imp\",1", {"o-1"});
  EXPECT_EQ(Get("vom.ir.o-1|4"), "1");
  EXPECT_EQ(Get("vc.4.|o-1"), "1");
  EXPECT_EQ(Get("vc.4.r0000000001:o-1"), R"({"body":"#1","slots":[]})");
  EXPECT_FALSE(Has("vc.4.|entryCount"));
  EXPECT_THAT(Run(Boyd()), ElementsAre(R"(["vatstoreGet","vom.rc.o-1"])",
                                       R"(["vatstoreGetNextKey","vom.ir.o-1|"])",
                                       R"(["dropImports",["o-1"]])"));
  Call("dropStore", "\"A\"");
  std::vector<std::string> log = Run(Boyd());
  EXPECT_THAT(Gcs(log), ElementsAre(R"(["retireImports",["o-1"]])"));
  EXPECT_THAT(Keys("vc.4."), IsEmpty());
  EXPECT_THAT(Keys("vom.ir."), IsEmpty());
}

// §9.13: the kernel retires a weakly held import: entries go, no retireImports from the vat.
TEST_F(VomTest, KernelRetiresWeaklyHeldImport) {
  Start(kStoreVat);
  Call("weakSet", "\"S\"");  // vc.4
  Call("add", "\"S\",\"$0.Alleged: imp\"", {"o-1"});
  EXPECT_THAT(Gcs(Run(Boyd())), ElementsAre(R"(["dropImports",["o-1"]])"));
  Run(Gc(VatDelivery::Type::kRetireImports, {"o-1"}));
  EXPECT_THAT(Keys("vom.ir."), IsEmpty());
  EXPECT_THAT(Keys("vc.4.r"), IsEmpty());
  EXPECT_FALSE(Has("vc.4.|o-1"));
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
}

// §9.14: a store as a weak key, with a store as the weak value: both go in one reap.
TEST_F(VomTest, StoreAsWeakKeyCascades) {
  Start(kStoreVat);
  Call("weakMap", "\"m\"");  // vc.4 o+v3/4
  Call("weakSet", "\"s\"");  // vc.5 o+v5/5
  Call("map", "\"x\"");      // vc.6 o+v2/6
  Call("storeAsKey", "\"m\",\"x\"");
  Call("storeAsSetKey", "\"s\",\"x\"");
  EXPECT_EQ(Get("vc.4.|o+v2/6"), "1");
  EXPECT_EQ(Get("vc.4.|nextOrdinal"), "2");
  EXPECT_EQ(Get("vc.4.r0000000001:o+v2/6"), R"({"body":"#\"arbitrary\"","slots":[]})");
  EXPECT_EQ(Get("vc.5.r0000000001:o+v2/6"), R"({"body":"#null","slots":[]})");
  EXPECT_TRUE(Has("vom.ir.o+v2/6|4"));
  EXPECT_TRUE(Has("vom.ir.o+v2/6|5"));
  Call("dropStore", "\"x\"");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_THAT(Keys("vc.6."), IsEmpty());
  EXPECT_THAT(Keys("vc.4.r"), IsEmpty());
  EXPECT_THAT(Keys("vc.5.r"), IsEmpty());
  EXPECT_THAT(Keys("vom.ir."), IsEmpty());
}

// §9.18: clear() releases VO keys (deleted at the next reap); deleting a strong store deletes
// its keys.
TEST_F(VomTest, ClearingAndDeletingStores) {
  Start(kStoreVat);  // kind thing = 10
  Call("set", "\"s\"");  // vc.4
  Call("things", "5");
  Call("addThingsToSet", "\"s\",5");
  Call("dropRam");
  EXPECT_EQ(Get("vom.rc.o+v10/3"), "1");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_EQ(Keys("vom.o+v10/").size(), 5u);
  Call("clear", "\"s\"");
  EXPECT_THAT(Keys("vc.4.r"), IsEmpty());
  EXPECT_THAT(Keys("vc.4.|o"), IsEmpty());
  EXPECT_EQ(Get("vc.4.|entryCount"), "0");
  EXPECT_EQ(Get("vom.o+v10/1"), "{}");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_THAT(Keys("vom.o+v10/"), IsEmpty());

  Call("set", "\"t\"");  // vc.5
  Call("things", "5");   // o+v10/6..10
  Call("addThingsToSet", "\"t\",5");
  Call("dropRam");
  Call("dropStore", "\"t\"");
  EXPECT_THAT(Gcs(Run(Boyd())), IsEmpty());
  EXPECT_THAT(Keys("vom.o+v10/"), IsEmpty());
  EXPECT_THAT(Keys("vc.5."), IsEmpty());
  EXPECT_THAT(Keys("vom.rc.o+v"), IsEmpty());
}

// §9.19: an exported Remotable is collected after dropExports, with the recognition check.
TEST_F(VomTest, RemotableExportLifecycle) {
  Start(kEmptyVat);
  Call("exportOne");
  EXPECT_THAT(Run(Boyd()), IsEmpty());
  Run(Gc(VatDelivery::Type::kDropExports, {"o+10"}));
  EXPECT_THAT(Run(Boyd()), ElementsAre(R"(["retireExports",["o+10"]])"));
}

// §9.24: making a VO writes its state once at the end of the delivery and reads nothing; a
// method in a later delivery reads it once and writes nothing; a setter writes once.
TEST_F(VomTest, StateCacheReadsOnceWritesAtTheEnd) {
  Start(kLifeVat);
  std::vector<std::string> log = Call("makeThing", "\"t\"");
  int reads = 0;
  int writes = 0;
  for (const std::string& s : log) {
    if (s.find("\"vom.o+v11/1\"") == std::string::npos) continue;
    if (s.find("vatstoreGet") != std::string::npos) ++reads;
    if (s.find("vatstoreSet") != std::string::npos) ++writes;
  }
  EXPECT_EQ(reads, 0);
  EXPECT_EQ(writes, 1);
  EXPECT_THAT(Call("label", "\"t\""),
              ElementsAre(R"(["vatstoreGet","vom.o+v11/1"])",
                          R"(["resolve",[["p-101",false,{"body":"#\"t\"","slots":[]}]]])"));
  log = Call("relabel", "\"t\",\"u\"");
  EXPECT_THAT(log, ElementsAre(R"(["vatstoreGet","vom.o+v11/1"])",
                               R"(["resolve",[["p-102",false,{"body":"#\"#undefined\"","slots":[]}]]])",
                               R"(["vatstoreSet","vom.o+v11/1","{\"label\":{\"body\":\"#\\\"u\\\"\",\"slots\":[]}}"])"));
}

// §9.24: whether the Representative was collected in between changes no syscall.
TEST_F(VomTest, ReanimationIsGcInsensitive) {
  const char* vat = R"(
import { Far } from '@endo/far';
export function buildRootObject(vatPowers, vatParameters, baggage) {
  const makeThing = VatData.defineDurableKind(VatData.makeKindHandle('thing'), n => ({ n }),
    { n: ({ state }) => state.n });
  let keep;
  return Far('root', {
    make(hold) {
      const t = makeThing(7);
      baggage.init('t', t);
      const m = VatData.makeScalarBigMapStore('m', { durable: true });
      m.init('x', 8);
      baggage.init('m', m);
      if (hold) keep = harden([t, m]);
    },
    use() { return harden([baggage.get('t').n(), baggage.get('m').get('x')]); },
  });
}
)";
  std::vector<std::vector<std::string>> logs;
  for (bool hold : {true, false}) {
    host_.reset();  // one engine per thread
    host_ = JsVatHost::Create(options_);
    sc_ = FakeSyscallHandler();
    Start(vat);
    next_result_ = 100;
    EXPECT_THAT(Resolution(Call("make", hold ? "true" : "false")), HasSubstr(",false,"));
    Run(Boyd());
    logs.push_back(Call("use"));
  }
  EXPECT_EQ(logs[0], logs[1]);
  EXPECT_THAT(Resolution(logs[0]), HasSubstr(R"(#[7,8])"));
}

// Bad input from vat code: clear errors, nothing half-applied.
TEST_F(VomTest, ErrorsAreClear) {
  Start(R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  const makeD = VatData.defineDurableKind(VatData.makeKindHandle('d'), () => ({ x: null }), {
    set: ({ state }, v) => { state.x = v; },
  });
  const d = makeD();
  const durable = VatData.makeScalarBigMapStore('dm', { durable: true });
  const makeV = VatData.defineKind('v', () => ({}), {});
  return Far('root', {
    badInit() { VatData.defineKind('bad', () => 3, {})(); },
    badBehavior() { VatData.defineKind('bad', undefined, 3); },
    storeVirtualInDurable() { durable.init('k', makeV()); },
    setVirtualInDurableState() { d.set(makeV()); },
    storePromise() { durable.init('p', Promise.resolve(1)); },
    missing() { return durable.get('nope'); },
    size() { return durable.getSize(); },
  });
}
)");
  EXPECT_THAT(CallRejected("badInit"), HasSubstr("initial data must be object, not number"));
  EXPECT_THAT(CallRejected("badBehavior"), HasSubstr("invalid behavior specifier for bad"));
  EXPECT_THAT(CallRejected("storeVirtualInDurable"), HasSubstr("value is not durable: slot 0"));
  EXPECT_THAT(CallRejected("setVirtualInDurableState"), HasSubstr("value for \\\\\\\"x\\\\\\\" is not durable"));
  EXPECT_THAT(CallRejected("storePromise"), HasSubstr("promises cannot be stored in virtual data"));
  EXPECT_THAT(CallRejected("missing"), HasSubstr(R"(key \\\"nope\\\" not found in collection \\\"dm\\\")"));
  EXPECT_THAT(Call("size").back(), HasSubstr("#0"));
}

// Extra full GCs before every delivery change neither the syscalls nor the vatstore.
TEST_F(VomTest, ExtraGcsDoNotChangeSyscallsOrVatstore) {
  auto run = [&](uint32_t extra) {
    options_.testing_extra_gcs_per_delivery = extra;
    host_.reset();  // one engine per thread
    host_ = JsVatHost::Create(options_);
    sc_ = FakeSyscallHandler();
    next_result_ = 100;
    Start(kLifeVat);
    std::vector<std::string> all = start_log_;
    auto add = [&](std::vector<std::string> l) { all.insert(all.end(), l.begin(), l.end()); };
    add(Call("makeHolders", "3"));
    add(Call("makeThing", "\"t\""));
    add(Call("makeKit", "\"k\""));
    add(Call("holdIn", "0,\"t\""));
    add(Call("holdIn", "1,\"k\""));
    add(Call("holdIn", "0,\"t\""));
    add(Call("drop", "\"t\""));    // garbage now, collected only by the extra GCs ...
    add(Call("getHeld", "0"));       // ... so made again here in one run and not the other
    add(Call("makeThing", "\"t\""));
    add(Call("holdImport", "2,\"$0.Alleged: imp\"", {"o-5"}));
    add(Call("getFacet", "\"k\",\"a\""));
    add(Call("chain"));
    add(Run(Boyd()));
    add(Call("drop", "\"t\""));
    add(Call("drop", "\"k\""));
    add(Call("drop", "\"h2\""));
    add(Run(Boyd()));
    add(Call("label", "\"t\""));  // rejected: gone from RAM
    add(Call("getHeld", "0"));
    add(Call("clearHolder", "0"));
    add(Call("dropHolders"));
    add(Run(Gc(VatDelivery::Type::kDropExports, {"o+v12/1:0"})));
    add(Run(Boyd()));
    add(Run(Boyd()));
    return std::make_pair(all, sc_.vatstore);
  };
  auto normal = run(0);
  auto extra = run(3);
  EXPECT_EQ(normal.first, extra.first);
  EXPECT_EQ(normal.second, extra.second);
  // The workload did collect: only the pinned tables are left counted.
  EXPECT_THAT(Gcs(normal.first), Not(IsEmpty()));
}

// §1.10 watched promises: a vat whose durable watchers log what they are told (the log is
// RAM, read back with getLog).
constexpr char kWatchVat[] = R"(
import { E, Far } from '@endo/far';
import { makePromiseKit } from '@endo/promise-kit';
export function buildRootObject(vatPowers, _params, baggage) {
  const { watchPromise, providePromiseWatcher, makeKindHandle, defineDurableKind,
    defineKind } = VatData;
  const log = [];
  const text = r => (r && typeof r === 'object' && 'message' in r ? r.message : r);
  const makeWatcher = defineDurableKind(makeKindHandle('watcher'), name => ({ name }), {
    onFulfilled({ state }, value, ...args) { log.push(['ok', state.name, value, ...args]); },
    onRejected({ state }, reason, ...args) { log.push(['rej', state.name, text(reason), ...args]); },
  });
  const makeFulfillOnly = defineDurableKind(makeKindHandle('fulfillOnly'), () => ({}), {
    onFulfilled(_ctx, value) { log.push(['only', value]); },
  });
  const makeNoHandler = defineDurableKind(makeKindHandle('none'), () => ({}), { other() {} });
  const makeVirtual = defineKind('virtualWatcher', () => ({}), { onFulfilled() {} });
  const makeArg = defineDurableKind(makeKindHandle('arg'), () => ({}), {});
  if (!baggage.has('pwHandle')) baggage.init('pwHandle', makeKindHandle('pw'));
  const pw = providePromiseWatcher(baggage.get('pwHandle'),
    (v, ...a) => log.push(['pw-ok', v, ...a]), (r, ...a) => log.push(['pw-rej', text(r), ...a]));
  const w1 = makeWatcher('w1');
  const w2 = makeWatcher('w2');
  const arg = makeArg();
  const locals = [];
  return Far('root', {
    watch(p, extra) { watchPromise(p, w1, 'a1', extra); },
    watchTwice(p) { watchPromise(p, w1, 'first'); watchPromise(p, w2, 'second'); },
    watchWithArg(p) { watchPromise(p, w1, arg); },
    watchFulfillOnly(p) { watchPromise(p, makeFulfillOnly()); },
    watchPw(p) { watchPromise(p, pw, 'x'); },
    watchLocal() {
      const kit = makePromiseKit();
      locals.push(kit);
      watchPromise(kit.promise, w1, locals.length);
    },
    watchLocalAgain(i) { watchPromise(locals[i].promise, w2, 'again'); },
    settleLocal(i, ok, v) {
      if (ok) locals[i].resolve(v);
      else locals[i].reject(Error(v));
    },
    sendLocal(i, target) { E(target).take(locals[i].promise); },
    providePwAgain() { providePromiseWatcher(baggage.get('pwHandle')); },
    argVref() { return arg; },
    getLog() { return harden(log.splice(0)); },
    badPromise() { watchPromise(42, w1); },
    badWatcherFar() { watchPromise(Promise.resolve(1), Far('w', { onFulfilled() {} })); },
    badWatcherVirtual() { watchPromise(Promise.resolve(1), makeVirtual()); },
    badWatcherNoHandler() { watchPromise(Promise.resolve(1), makeNoHandler()); },
    badArg() { watchPromise(Promise.resolve(1), w1, Far('ephemeral', {})); },
    badHandler() { providePromiseWatcher(makeKindHandle('bad'), 'nope'); },
  });
}
)";

// An imported promise: the watch is a 'watchedPromises' entry (vc.3) holding the watcher and
// its args until the promise settles; then the entry goes and onFulfilled gets the value and
// the args.
TEST_F(VomTest, WatchPromiseFulfilled) {
  Start(kWatchVat);
  std::vector<std::string> log = Call("watch", "\"&0\",7", {"p-1"});
  EXPECT_THAT(log, testing::Contains(R"(["subscribe","p-1"])"));
  EXPECT_EQ(Get("vc.3.sp-1"),
            R"({"body":"#[[\"$0.Alleged: watcher\",\"a1\",7]]","slots":["o+d10/1"]})");
  EXPECT_EQ(Get("vc.3.|entryCount"), "1");
  EXPECT_EQ(Get("vom.rc.o+d10/1"), "1");
  Run(Notify({{"p-1", false, Cap("#42")}}));
  EXPECT_FALSE(Has("vc.3.sp-1"));
  EXPECT_EQ(Get("vc.3.|entryCount"), "0");
  EXPECT_FALSE(Has("vom.rc.o+d10/1"));
  EXPECT_THAT(Resolution(Call("getLog")), HasSubstr(R"(#[[\"ok\",\"w1\",42,\"a1\",7]])"));
}

TEST_F(VomTest, WatchPromiseRejected) {
  Start(kWatchVat);
  Call("watch", "\"&0\",8", {"p-1"});
  Run(Notify({{"p-1", true, Cap(R"(#{"#error":"boom","name":"Error"})")}}));
  EXPECT_FALSE(Has("vc.3.sp-1"));
  EXPECT_THAT(Resolution(Call("getLog")), HasSubstr(R"(#[[\"rej\",\"w1\",\"boom\",\"a1\",8]])"));
  // A watcher without onRejected: the rejection is rethrown in its own turn, the vat goes on.
  Call("watchFulfillOnly", "\"&0\"", {"p-2"});
  Run(Notify({{"p-2", true, Cap(R"(#{"#error":"ignored","name":"Error"})")}}));
  EXPECT_FALSE(Has("vc.3.sp-2"));
  EXPECT_THAT(Resolution(Call("getLog")), HasSubstr(R"(#[])"));
  Call("watchFulfillOnly", "\"&0\"", {"p-3"});
  Run(Notify({{"p-3", false, Cap("#\"yes\"")}}));
  EXPECT_THAT(Resolution(Call("getLog")), HasSubstr(R"(#[[\"only\",\"yes\"]])"));
}

// Several watches of one vpid share its entry, in order; each watcher runs once.
TEST_F(VomTest, WatchPromiseTwice) {
  Start(kWatchVat);
  Call("watchTwice", "\"&0\"", {"p-1"});
  EXPECT_EQ(Get("vc.3.sp-1"),
            R"({"body":"#[[\"$0.Alleged: watcher\",\"first\"],[\"$1.Alleged: watcher\",)"
            R"(\"second\"]]","slots":["o+d10/1","o+d10/2"]})");
  Run(Notify({{"p-1", false, Cap("#1")}}));
  EXPECT_THAT(Resolution(Call("getLog")),
              HasSubstr(R"(#[[\"ok\",\"w1\",1,\"first\"],[\"ok\",\"w2\",1,\"second\"]])"));
  EXPECT_THAT(Keys("vc.3.s"), IsEmpty());
}

// Args are virtual data: a durable object passed as an arg is counted while watched.
TEST_F(VomTest, WatchPromiseArgsAreCounted) {
  Start(kWatchVat);
  EXPECT_THAT(Resolution(Call("argVref")), HasSubstr("o+d14/1"));
  EXPECT_FALSE(Has("vom.rc.o+d14/1"));
  Call("watchWithArg", "\"&0\"", {"p-1"});
  EXPECT_EQ(Get("vom.rc.o+d14/1"), "1");
  EXPECT_EQ(Get("vom.rc.o+d10/1"), "1");
  Run(Notify({{"p-1", false, Cap("#null")}}));
  EXPECT_FALSE(Has("vom.rc.o+d14/1"));
  EXPECT_FALSE(Has("vom.rc.o+d10/1"));
  EXPECT_THAT(Resolution(Call("getLog")),
              HasSubstr(R"(#[[\"ok\",\"w1\",null,\"$0.Alleged: arg\"]])"));
}

// A local promise the kernel never saw is watched under a vpid of its own (from the promise
// counter), without a syscall to the kernel; sent later, it is exported under another vpid.
TEST_F(VomTest, WatchLocalPromise) {
  Start(kWatchVat);
  std::vector<std::string> log = Call("watchLocal");
  EXPECT_TRUE(Has("vc.3.sp+5"));
  for (const std::string& s : log) {
    EXPECT_THAT(s, Not(HasSubstr("\"p+5\""))) << "the kernel must not see the local vpid";
  }
  Call("watchLocalAgain", "0");  // the same vpid
  EXPECT_THAT(Keys("vc.3.s"), ElementsAre("vc.3.sp+5"));
  Call("watchLocal");
  EXPECT_TRUE(Has("vc.3.sp+6"));
  log = Call("sendLocal", "1,\"$0.Alleged: t\"", {"o-9"});
  EXPECT_THAT(log, testing::Contains(HasSubstr(R"(["send","o-9")")));
  EXPECT_THAT(log, testing::Contains(HasSubstr("p+7")));  // the export's vpid, not p+6
  EXPECT_THAT(Call("settleLocal", "0,true,\"v0\""),
              Not(testing::Contains(HasSubstr("\"p+5\""))));
  EXPECT_FALSE(Has("vc.3.sp+5"));
  log = Call("settleLocal", "1,false,\"no\"");
  EXPECT_THAT(log, testing::Contains(HasSubstr(R"(["resolve",[["p+7",true)")));
  EXPECT_FALSE(Has("vc.3.sp+6"));
  EXPECT_THAT(Resolution(Call("getLog")),
              HasSubstr(R"(#[[\"ok\",\"w1\",\"v0\",1],[\"ok\",\"w2\",\"v0\",\"again\"],)"
                        R"([\"rej\",\"w1\",\"no\",2]])"));
}

// providePromiseWatcher: one durable instance per kind handle, in 'promiseWatcherByKind'
// (vc.2); its handlers get the value and the args.
TEST_F(VomTest, ProvidePromiseWatcher) {
  Start(kWatchVat);
  // Kinds o+d10..14 and their handles are defined first; the 'pw' handle is o+d1/15.
  EXPECT_EQ(Get("vc.2.|o+d1/15"), "1");
  EXPECT_EQ(Get("vc.2.r0000000001:o+d1/15"),
            R"({"body":"#\"$0.Alleged: pw\"","slots":["o+d15/1"]})");
  EXPECT_EQ(Get("vom.rc.o+d15/1"), "1");
  EXPECT_EQ(Get("vom.rc.o+d1/15"), "2");  // baggage's value and vc.2's key
  // As in Agoric's liveslots it defines the kind: once per incarnation.
  EXPECT_THAT(CallRejected("providePwAgain"), HasSubstr("redefinition of durable kind pw"));
  Call("watchPw", "\"&0\"", {"p-1"});
  Call("watchPw", "\"&0\"", {"p-2"});
  Run(Notify({{"p-1", false, Cap("#\"one\"")},
              {"p-2", true, Cap(R"(#{"#error":"two","name":"Error"})")}}));
  EXPECT_THAT(Resolution(Call("getLog")),
              HasSubstr(R"(#[[\"pw-ok\",\"one\",\"x\"],[\"pw-rej\",\"two\",\"x\"]])"));
  EXPECT_THAT(CallRejected("badHandler"), HasSubstr("fulfillHandler must be a function"));
}

// What Agoric refuses, refused at the call.
TEST_F(VomTest, WatchPromiseRefusals) {
  Start(kWatchVat);
  EXPECT_THAT(CallRejected("badPromise"), HasSubstr("watchPromise only watches promises"));
  EXPECT_THAT(CallRejected("badWatcherFar"), HasSubstr("promise watcher must be a virtual object"));
  EXPECT_THAT(CallRejected("badWatcherVirtual"), HasSubstr("value is not durable: slot 0"));
  EXPECT_THAT(CallRejected("badWatcherNoHandler"),
              HasSubstr("promise watcher must implement at least one handler method"));
  EXPECT_THAT(CallRejected("badArg"), HasSubstr("value is not durable: slot 1"));
  EXPECT_THAT(Keys("vc.3.s"), IsEmpty());
}

}  // namespace
}  // namespace swingset
