// Reference-counting GC scenarios (docs/KERNEL_SPEC.md §4, §5 GC syscalls, §6 GC deliveries, §8,
// §10), driven crank by crank with puppet vats. The invariant checker runs after every crank.
//
// Kref numbering: static vat roots are exported and pinned at genesis in vat order, so with
// vats A (v1) and B (v2): ko20 = A's root, ko21 = B's root; the first new export is ko22.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/key_schema.h"
#include "kernel/testing/puppet.h"
#include "kernel/testing/status_macros.h"

namespace swingset {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;


constexpr auto kDrop = VatSyscall::Type::kDropImports;
constexpr auto kRetireImp = VatSyscall::Type::kRetireImports;
constexpr auto kRetireExp = VatSyscall::Type::kRetireExports;
constexpr auto kAbandon = VatSyscall::Type::kAbandonExports;

// A and B, B's root known to A as o-50; A has sent its export o+1 (ko22) to B as B's o-50.
class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(w.Start({"A", "B"}));
    ASSERT_OK(w.Introduce("A", "B"));
    ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "take", {"o+1"}); }));
    ASSERT_EQ(w.Counts("ko22"), "1,1");
    ASSERT_EQ(w.Entry("A", "ko22"), "R o+1");
    ASSERT_EQ(w.Entry("B", "ko22"), "R o-50");
    w.TakeLog("A");
    ASSERT_THAT(w.TakeLog("B"),
                ::testing::Contains("message o+0 #[\"take\",[\"$0.Alleged: thing\"]] [o-50]"));
  }
  PuppetWorld w;
};

TEST_F(GcTest, ImporterDropsAndRetiresInOneCrank) {
  ASSERT_OK(w.Poke("B", [](VatCtx& c) {
    c.Gc(kDrop, {"o-50"});
    c.Gc(kRetireImp, {"o-50"});
  }));
  ASSERT_OK(w.Step(2));  // routing, then B's act delivery
  EXPECT_EQ(w.Counts("ko22"), "0,0");
  EXPECT_EQ(w.Entry("B", "ko22"), "none");
  EXPECT_EQ(w.GcActions(), R"(["v1 dropExport ko22","v1 retireExport ko22"])");
  ASSERT_OK(w.Step(1));  // dropExports to A
  EXPECT_EQ(w.Entry("A", "ko22"), "_ o+1");
  EXPECT_EQ(w.GcActions(), R"(["v1 retireExport ko22"])");
  ASSERT_OK(w.Step(1));  // retireExports to A
  EXPECT_EQ(w.Counts("ko22"), "missing");
  EXPECT_EQ(w.Entry("A", "ko22"), "none");
  EXPECT_EQ(w.GcActions(), "[]");
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("dropExports o+1", "retireExports o+1"));
  ASSERT_OK(w.Run());
}

TEST_F(GcTest, ImporterDropsThenRetires) {
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Gc(kDrop, {"o-50"}); }));
  EXPECT_EQ(w.Counts("ko22"), "0,1");
  EXPECT_EQ(w.Entry("B", "ko22"), "_ o-50");
  EXPECT_EQ(w.Entry("A", "ko22"), "_ o+1");
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("dropExports o+1"));
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Gc(kRetireImp, {"o-50"}); }));
  EXPECT_EQ(w.Counts("ko22"), "missing");
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("retireExports o+1"));
  EXPECT_THAT(w.TakeLog("B"), IsEmpty());
}

TEST_F(GcTest, ImporterDropsThenExporterRetiresFirst) {
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Gc(kDrop, {"o-50"}); }));
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("dropExports o+1"));
  ASSERT_OK(w.Poke("A", [](VatCtx& c) { c.Gc(kRetireExp, {"o+1"}); }));
  ASSERT_OK(w.Step(2));
  EXPECT_EQ(w.Counts("ko22"), "missing");
  EXPECT_EQ(w.Entry("A", "ko22"), "none");
  EXPECT_EQ(w.Entry("B", "ko22"), "_ o-50");
  EXPECT_EQ(w.GcActions(), R"(["v2 retireImport ko22"])");
  ASSERT_OK(w.Run());
  EXPECT_EQ(w.Entry("B", "ko22"), "none");
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("retireImports o-50"));
  EXPECT_THAT(w.TakeLog("A"), IsEmpty());
}

TEST_F(GcTest, RetireOfReachableImportKillsOnlyThatVat) {
  VatId b = w.h.Vat("B");
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Gc(kRetireImp, {"o-50"}); }));
  auto rec = w.h.Get(keys::TerminatedVatRecord(b));
  ASSERT_TRUE(rec.has_value());
  EXPECT_NE(rec->find("syscall translation error"), std::string::npos) << *rec;
  // B's import was cleaned up with it, so A is told to drop and retire its export.
  EXPECT_EQ(w.Counts("ko22"), "missing");
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("dropExports o+1", "retireExports o+1"));
  // A carries on.
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o+0", "self", {}); }));
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("message o+0 #[\"self\",[]] []"));
}

TEST(GcOrderTest, TwoImportersThenDropOneByOne) {
  PuppetWorld w;
  ASSERT_OK(w.Start({"A", "B", "C"}));
  ASSERT_OK(w.Introduce("A", "B"));  // A: o-50 = B root
  ASSERT_OK(w.Introduce("A", "C"));  // A: o-51 = C root
  w.TakeLog("A");
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "take", {"o+1"});
    c.Send("o-51", "take", {"o+1"});
  }));
  // ko20..22 are roots; A's o+1 is ko23.
  EXPECT_EQ(w.Counts("ko23"), "2,2");
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Gc(kDrop, {"o-50"});
    c.Gc(kRetireImp, {"o-50"});
  }));
  EXPECT_EQ(w.Counts("ko23"), "1,1");
  EXPECT_EQ(w.GcActions(), "[]");
  EXPECT_THAT(w.TakeLog("A"), IsEmpty());
  ASSERT_OK(w.Act("C", [](VatCtx& c) { c.Gc(kDrop, {"o-50"}); }));
  EXPECT_EQ(w.Counts("ko23"), "0,1");
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("dropExports o+1"));
  ASSERT_OK(w.Act("C", [](VatCtx& c) { c.Gc(kRetireImp, {"o-50"}); }));
  EXPECT_EQ(w.Counts("ko23"), "missing");
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("retireExports o+1"));
}

TEST_F(GcTest, RetiredImportReimportedGetsNewVref) {
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Gc(kDrop, {"o-50"});
    c.Gc(kRetireImp, {"o-50"});
  }));
  EXPECT_EQ(w.Counts("ko22"), "missing");
  // A mentions o+1 again: a new kernel object, and B sees a new vref.
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "take", {"o+1"}); }));
  EXPECT_EQ(w.Entry("A", "ko23"), "R o+1");
  EXPECT_EQ(w.Entry("B", "ko23"), "R o-51");
  EXPECT_EQ(w.LastReceived("B").methargs.slots, std::vector<std::string>{"o-51"});
}

TEST_F(GcTest, DroppedButRecognizableImportIsReusedOnReimport) {
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Gc(kDrop, {"o-50"}); }));
  EXPECT_EQ(w.Entry("B", "ko22"), "_ o-50");
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "take", {"o+1"}); }));
  EXPECT_EQ(w.Entry("B", "ko22"), "R o-50");
  EXPECT_EQ(w.Entry("A", "ko22"), "R o+1");
  EXPECT_EQ(w.Counts("ko22"), "1,1");
}

TEST_F(GcTest, ObjectKeptAliveBySettledPromiseData) {
  ASSERT_OK(w.Introduce("B", "A"));  // B: o-51 = A's root
  // B asks A for something, keeping the result promise p+1 (no subscription).
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Send("o-51", "get", {}, "p+1"); }));
  const VatDelivery& get = w.LastReceived("A");
  std::string result = *get.result;
  ASSERT_OK(w.Act("A", [result](VatCtx& c) {
    c.Resolve(result, false, "#\"$0.Alleged: thing\"", {"o+2"});
  }));
  // ko23 = A's o+2, held only by the settled promise's data (1,1).
  EXPECT_EQ(w.Counts("ko23"), "1,1");
  EXPECT_EQ(w.GcActions(), "[]");
  // B subscribes: notified, imports the object, and its promise entry goes away, so the
  // promise is deleted and releases its data slot.
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Subscribe("p+1"); }));
  EXPECT_EQ(w.Counts("ko23"), "1,1");
  EXPECT_EQ(w.Entry("B", "ko23"), "R o-52");
  EXPECT_EQ(w.h.kernel()->Counts().promises, 0u);
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Gc(kDrop, {"o-52"});
    c.Gc(kRetireImp, {"o-52"});
  }));
  EXPECT_EQ(w.Counts("ko23"), "missing");
  EXPECT_THAT(w.TakeLog("A"), ::testing::IsSupersetOf({"dropExports o+2", "retireExports o+2"}));
}

TEST_F(GcTest, ObjectInsideMessageQueuedOnUnresolvedPromise) {
  // A asks B for something; the result p+3 is decided by B (not pipelining).
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "later", {}, "p+3");
    c.Send("p+3", "use", {"o+4"});
  }));
  // ko23 = A's o+4: held only by the message queued on the promise.
  EXPECT_EQ(w.Counts("ko23"), "1,1");
  std::string result = *w.LastReceived("B").result;
  // B fulfils with plain data: the queued message splats and releases the object.
  ASSERT_OK(w.Act("B", [result](VatCtx& c) { c.Resolve(result, false, "#\"nope\""); }));
  EXPECT_EQ(w.Counts("ko23"), "missing");
  EXPECT_THAT(w.TakeLog("A"), ::testing::IsSupersetOf({"dropExports o+4", "retireExports o+4"}));
}

TEST_F(GcTest, DuplicateSlotsCountTwice) {
  ASSERT_OK(w.Poke("A", [](VatCtx& c) { c.Send("o-50", "two", {"o+1", "o+1"}); }));
  ASSERT_OK(w.Step(2));  // A sent; the message sits in the acceptance queue
  EXPECT_EQ(w.Counts("ko22"), "3,3");
  ASSERT_OK(w.Step(1));  // routed to the run-queue: counts carried
  EXPECT_EQ(w.Counts("ko22"), "3,3");
  ASSERT_OK(w.Step(1));  // delivered to B, which already imports it
  EXPECT_EQ(w.Counts("ko22"), "1,1");
  EXPECT_EQ(w.LastReceived("B").methargs.slots, (std::vector<std::string>{"o-50", "o-50"}));
}

TEST_F(GcTest, ReexportBeforeDeliveryNegatesAction) {
  ASSERT_OK(w.Poke("B", [](VatCtx& c) { c.Gc(kDrop, {"o-50"}); }));
  ASSERT_OK(w.Step(2));
  EXPECT_EQ(w.GcActions(), R"(["v1 dropExport ko22"])");
  // The host re-exports the object before the GC action is delivered.
  ASSERT_OK(w.HostSend(w.Root("A"), "back", {"ko22"}));
  EXPECT_EQ(w.Counts("ko22"), "1,2");
  ASSERT_OK(w.Step(1));  // routing crank of the host message
  ASSERT_OK(w.Step(1));  // the GC action no longer survives: negated-gc-action crank
  EXPECT_EQ(w.GcActions(), "[]");
  EXPECT_EQ(w.Entry("A", "ko22"), "R o+1");
  ASSERT_OK(w.Run());
  // Delivering its own export back to A drops the count again: a fresh dropExport follows.
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("message o+0 #[\"back\",[\"$0.Alleged: thing\"]] [o+1]",
                                          "dropExports o+1"));
}

// A GC delivery whose vat fails is rolled back together with the removal of its action from
// the set; the vat is terminated and the restored actions are negated later. The GC action set
// is cached in memory, so this checks the cache is undone with the crank.
TEST_F(GcTest, FailedGcDeliveryRestoresActions) {
  w.SetResponder("A", [](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kDropExports) c.Fail("boom");
  });
  ASSERT_OK(w.Poke("B", [](VatCtx& c) {
    c.Gc(kDrop, {"o-50"});
    c.Gc(kRetireImp, {"o-50"});
  }));
  ASSERT_OK(w.Step(2));
  EXPECT_EQ(w.GcActions(), R"(["v1 dropExport ko22","v1 retireExport ko22"])");
  ASSERT_OK(w.Step(1));  // dropExports to A fails: rolled back, A terminated
  EXPECT_EQ(w.GcActions(), R"(["v1 dropExport ko22","v1 retireExport ko22"])");
  EXPECT_EQ(w.Entry("A", "ko22"), "R o+1");
  ASSERT_OK(w.Run());  // cleanup of A orphans ko22; the actions for dead A are negated
  EXPECT_EQ(w.GcActions(), "[]");
  EXPECT_EQ(w.Counts("ko22"), "missing");
}

TEST(GcOrderTest, VatsSortAsStringsV10BeforeV2) {
  PuppetWorld w;
  std::vector<std::string> names;
  for (int i = 1; i <= 10; ++i) names.push_back("vat" + std::to_string(i));
  ASSERT_OK(w.Start(names));
  // vat1 learns vat2's and vat10's roots; each of those exports an object to vat1.
  ASSERT_OK(w.Introduce("vat2", "vat1"));
  ASSERT_OK(w.Introduce("vat10", "vat1"));
  ASSERT_OK(w.Act("vat2", [](VatCtx& c) { c.Send("o-50", "take", {"o+1"}); }));
  ASSERT_OK(w.Act("vat10", [](VatCtx& c) { c.Send("o-50", "take", {"o+1"}); }));
  auto& got = w.Received("vat1");
  ASSERT_EQ(got.size(), 2u);
  std::string from2 = got[0].methargs.slots[0], from10 = got[1].methargs.slots[0];
  w.h.host()->ClearLog();
  ASSERT_OK(w.Act("vat1", [&](VatCtx& c) { c.Gc(kDrop, {from2, from10}); }));
  std::vector<std::string> gc;
  for (const std::string& l : w.h.host()->log()) {
    if (l.find("dropExports") != std::string::npos) gc.push_back(l);
  }
  EXPECT_THAT(gc, ElementsAre("v10: dropExports o+1", "v2: dropExports o+1"));
}

TEST_F(GcTest, OrphanRetiredAfterOwnerTerminates) {
  ASSERT_OK(w.h.kernel()->TEST_TerminateVat(w.h.Vat("A"), true, "test"));
  ASSERT_OK(w.Run());  // cleanup cranks: A's export is orphaned
  EXPECT_FALSE(w.h.Get(keys::ObjectOwner(*Kref::Parse("ko22"))).has_value());
  EXPECT_EQ(w.Counts("ko22"), "1,1");
  // Sends to the orphan splat.
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Send("o-50", "hello", {}, "p+1");
    c.Subscribe("p+1");
  }));
  EXPECT_THAT(w.TakeLog("B"),
              ::testing::Contains("notify p+1 rejected #{\"#error\":\"vat terminated\",\"name\":\"Error\"} []"));
  // Dropping the orphan retires it at once: B gets retireImports.
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Gc(kDrop, {"o-50"}); }));
  EXPECT_EQ(w.Counts("ko22"), "missing");
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("retireImports o-50"));
  EXPECT_EQ(w.Entry("B", "ko22"), "none");
}

TEST_F(GcTest, AbandonExports) {
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Gc(kAbandon, {"o+1"}); }));
  EXPECT_EQ(w.Entry("A", "ko22"), "none");
  EXPECT_FALSE(w.h.Get(keys::ObjectOwner(*Kref::Parse("ko22"))).has_value());
  EXPECT_EQ(w.Counts("ko22"), "1,1");
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Gc(kDrop, {"o-50"});
  }));
  EXPECT_EQ(w.Counts("ko22"), "missing");
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("retireImports o-50"));
  EXPECT_THAT(w.TakeLog("A"), IsEmpty());
}

TEST_F(GcTest, GcSyscallChecksAreVatFatal) {
  // Dropping an export, retiring an unknown import, abandoning an import: each kills the vat.
  VatId a = w.h.Vat("A"), b = w.h.Vat("B");
  for (auto [vat, type, vref] : std::vector<std::tuple<std::string, VatSyscall::Type, std::string>>{
           {"B", kRetireExp, "o-50"}, {"A", kAbandon, "o-50"}}) {
    ASSERT_OK(w.Act(vat, [type = type, vref = vref](VatCtx& c) { c.Gc(type, {vref}); }));
    EXPECT_TRUE(w.h.Get(keys::TerminatedVatRecord(vat == "A" ? a : b)).has_value()) << vat;
  }
}


// Reaping (docs/KERNEL_SPEC.md §8.5): bringOutYourDead after `deliveries` deliveries, reset
// afterwards.
TEST(ReapTest, DeliveryThresholdSchedulesBringOutYourDead) {
  PuppetWorld w;
  ASSERT_OK(w.Start({"A", "B"}, {}, /*reap_deliveries=*/2));
  VatId b = w.h.Vat("B");
  // startVat was B's first delivery: dirt 1.
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("startVat #{} []"));
  for (int i = 0; i < 5; ++i) ASSERT_OK(w.HostSend(w.Root("B"), "m", {}));
  ASSERT_OK(w.Run());
  EXPECT_THAT(w.TakeLog("B"),
              ElementsAre("message o+0 #[\"m\",[]] []", "bringOutYourDead",
                          "message o+0 #[\"m\",[]] []", "message o+0 #[\"m\",[]] []",
                          "bringOutYourDead", "message o+0 #[\"m\",[]] []",
                          "message o+0 #[\"m\",[]] []", "bringOutYourDead"));
  EXPECT_EQ(*w.h.Get(keys::VatReapDirt(b)), "{}");
  EXPECT_EQ(*w.h.Get(std::string(keys::kReapQueue)), "[]");
}

TEST(ReapTest, GcKrefsThresholdCountsKrefsOfGcDeliveries) {
  PuppetWorld w;
  ASSERT_OK(w.Start({"A", "B"}, {}, /*reap_deliveries=*/0));
  // Per-vat override for A: reap when 3 GC krefs have been delivered.
  Json opts = *Json::Parse(*w.h.Get(keys::VatOptions(w.h.Vat("A"))));
  Json thr = Json::MakeObject();
  thr.Set("gcKrefs", 3);
  thr.Set("deliveries", 1000);
  thr.Set("never", false);  // the kernel default says never; the vat's overlay wins
  opts.Set("reapDirtThreshold", thr);
  w.h.kernel()->TEST_buffer()->Set(keys::VatOptions(w.h.Vat("A")), opts.Dump());
  w.h.kernel()->TEST_buffer()->FinishCrank(nullptr);
  ASSERT_OK(w.h.Commit());
  w.h.Reopen();
  ASSERT_OK(w.Introduce("A", "B"));
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "take", {"o+1", "o+2"}); }));
  w.TakeLog("A");
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Gc(kDrop, {"o-50", "o-51"});
    c.Gc(kRetireImp, {"o-50", "o-51"});
  }));
  EXPECT_THAT(w.TakeLog("A"), ElementsAre("dropExports o+1 o+2", "retireExports o+1 o+2",
                                          "bringOutYourDead"));
}

// Run-loop priority (docs/KERNEL_SPEC.md §9.1): routing > GC actions > reap > run-queue.
TEST(ReapTest, RunLoopPriority) {
  PuppetWorld w;
  ASSERT_OK(w.Start({"A", "B"}, {}, /*reap_deliveries=*/1));
  ASSERT_OK(w.Introduce("A", "B"));
  ASSERT_OK(w.Introduce("B", "A"));
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "take", {"o+1"}); }));
  w.h.host()->ClearLog();
  // One crank of B: a message to A (acceptance queue) and a drop (GC action for A); B's own
  // dirt reaches the threshold (reap queue).
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Send("o-50", "x", {});
    c.Gc(kDrop, {"o-51"});
  }));
  std::vector<std::string> log = w.h.host()->log();
  std::vector<std::string> after;
  bool seen_act = false;
  for (const std::string& l : log) {
    if (l.find("#[\"act\"") != std::string::npos) {
      seen_act = true;
      continue;
    }
    if (seen_act) after.push_back(l);
  }
  EXPECT_THAT(after, ElementsAre("v1: dropExports o+1", "v2: bringOutYourDead",
                                 "v1: bringOutYourDead", "v1: message o+0 #[\"x\",[]] []",
                                 "v1: bringOutYourDead"));
}

}  // namespace
}  // namespace swingset
