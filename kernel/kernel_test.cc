// Scenario tests of the kernel core with scripted vats; invariants checked after every crank.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/key_schema.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"
#include "kernel/testing/kernel_harness.h"
#include "kernel/testing/puppet.h"
#include "kernel/testing/status_macros.h"

namespace swingset {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(KernelTest, PingPongThroughBootstrap) {
  KernelHarness h;
  h.host()->Register("alice", [](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && smallcaps::MethodNameOf(d.methargs) == "bootstrap") {
      // slots: [o+0 (own root), o-50 (bob)]
      c.Send(d.methargs.slots[1], "ping", {}, "p+1");
      c.Subscribe("p+1");
    }
  });
  h.host()->Register("bob", [](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && smallcaps::MethodNameOf(d.methargs) == "ping") {
      c.Resolve(*d.result, false, "#\"pong\"");
    }
  });
  ASSERT_TRUE(h.Genesis(ScriptedGenesis({"alice", "bob"}, "alice")).ok());
  auto n = h.RunChecked();
  ASSERT_TRUE(n.ok()) << n.status();
  VatId alice = h.Vat("alice"), bob = h.Vat("bob");
  EXPECT_THAT(h.host()->LogFor(alice),
              ElementsAre("startVat #{} []",
                          "message o+0 #[\"bootstrap\",[{\"alice\":\"$0.Alleged: root\",\"bob\":\"$1.Alleged: root\"},{}]] [o+0,o-50]",
                          "notify p+1 fulfilled #\"pong\" []"));
  EXPECT_THAT(h.host()->LogFor(bob),
              ElementsAre("startVat #{} []", "message o+0 #[\"ping\",[]] [] -> p-60"));
  // Everything transient is gone: only the two roots remain, held by alice's import of bob.
  KernelCounts c = h.kernel()->Counts();
  EXPECT_EQ(c.promises, 0u);
  EXPECT_EQ(c.run_queue, 0u);
  EXPECT_EQ(c.acceptance_queue, 0u);
  EXPECT_FALSE(h.kernel()->ActivityHash().empty());
}


// A (v1, not pipelining) knows B's root as o-50; B (v2) knows A's root as o-50.
class TwoVats : public ::testing::Test {
 protected:
  void Init(bool b_pipelining) {
    ASSERT_OK(w.Start({"A", "B"}, {false, b_pipelining}));
    ASSERT_OK(w.Introduce("A", "B"));
    ASSERT_OK(w.Introduce("B", "A"));
    w.TakeLog("A");
    w.TakeLog("B");
    a = w.h.Vat("A");
    b = w.h.Vat("B");
  }
  PuppetWorld w;
  VatId a, b;
};

TEST_F(TwoVats, PipelinedSendGoesStraightToDecider) {
  Init(/*b_pipelining=*/true);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "make", {}, "p+1");
    c.Send("p+1", "use", {});
  }));
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("message o+0 #[\"make\",[]] [] -> p-60",
                                          "message p-60 #[\"use\",[]] []"));
}

TEST_F(TwoVats, NonPipelinedSendQueuesUntilResolution) {
  Init(/*b_pipelining=*/false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "make", {}, "p+1");
    c.Send("p+1", "use", {});
  }));
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("message o+0 #[\"make\",[]] [] -> p-60"));
  // kp: A's p+1 is the first vat promise after the act results.
  std::string kp = *w.h.Get(keys::CListByVref(b, "p-60"));
  EXPECT_EQ(*w.h.Get(StrCat(kp, ".queue.nextID")), "1");
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Resolve("p-60", false, "#\"$0.Alleged: x\"", {"o+1"}); }));
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("message o+1 #[\"use\",[]] []"));
  // A still holds its (never subscribed) p+1; nothing else survives.
  EXPECT_EQ(w.h.kernel()->Counts().promises, 1u);
}

TEST_F(TwoVats, SendToRejectedPromiseSplatsWithItsReason) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "make", {}, "p+1"); }));
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Resolve("p-60", true, "#{\"#error\":\"boom\",\"name\":\"Error\"}");
  }));
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("p+1", "foo", {}, "p+2");
    c.Subscribe("p+2");
  }));
  EXPECT_THAT(w.TakeLog("A"),
              ElementsAre("notify p+2 rejected #{\"#error\":\"boom\",\"name\":\"Error\"} []"));
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("message o+0 #[\"make\",[]] [] -> p-60"));
}

TEST_F(TwoVats, SendToDataPromiseSplatsNotCallable) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "make", {}, "p+1"); }));
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Resolve("p-60", false, "#\"data\""); }));
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("p+1", "foo", {}, "p+2");
    c.Subscribe("p+2");
  }));
  EXPECT_THAT(w.TakeLog("A"),
              ElementsAre("notify p+2 rejected #{\"#error\":\"data is not callable, has no method "
                          "foo\",\"name\":\"Error\"} []"));
}

TEST_F(TwoVats, SendToTerminatedVatSplats) {
  Init(false);
  ASSERT_OK(w.h.kernel()->TEST_TerminateVat(b, true, "gone"));
  ASSERT_OK(w.Run());
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "hello", {}, "p+1");
    c.Subscribe("p+1");
  }));
  EXPECT_THAT(w.TakeLog("A"),
              ElementsAre("notify p+1 rejected #{\"#error\":\"vat terminated\",\"name\":\"Error\"} []"));
  EXPECT_THAT(w.TakeLog("B"), IsEmpty());
}

TEST_F(TwoVats, NotifyCarriesChainOfSettledPromises) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "make", {}, "p+1");
    c.Subscribe("p+1");
  }));
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kResolve;
    sc.resolutions.push_back(Resolution{"p+5", false, CapData{"#\"inner\"", {}}});
    sc.resolutions.push_back(Resolution{"p-60", false, CapData{"#[\"&0\"]", {"p+5"}}});
    c.Syscall(sc);
  }));
  EXPECT_THAT(w.TakeLog("A"),
              ElementsAre("notify p+1 fulfilled #[\"&0\"] [p-61] p-61 fulfilled #\"inner\" []"));
  EXPECT_EQ(w.h.kernel()->Counts().promises, 0u);
}

TEST_F(TwoVats, UnknownVrefIsVatFatalAndRollsBackTheCrank) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "never", {});
    SyscallResult r = c.Send("o-99", "bad", {});
    EXPECT_FALSE(r.ok);
  }));
  auto rec = w.h.Get(keys::TerminatedVatRecord(a));
  ASSERT_TRUE(rec.has_value());
  EXPECT_NE(rec->find("unknown vatSlot o-99"), std::string::npos) << *rec;
  EXPECT_THAT(w.TakeLog("B"), IsEmpty());  // the good send was rolled back too
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Send("o+0", "self", {}); }));
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("message o+0 #[\"self\",[]] []"));
  EXPECT_EQ(w.h.kernel()->Counts().vats_alive, 1u);
}

// VatLimits::max_clist_entries_per_delivery: new exports of one delivery, counted across its
// syscalls; one past the cap is vat-fatal and rolls the crank back. Re-sending known exports
// adds nothing.
TEST_F(TwoVats, ExportingMoreThanTheCapInOneDeliveryIsVatFatal) {
  VatLimits limits;
  limits.max_clist_entries_per_delivery = 3;
  w.h.kernel()->SetVatLimits(limits);
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    EXPECT_TRUE(c.Send("o-50", "two", {"o+1", "o+2"}).ok);
    EXPECT_TRUE(c.Send("o-50", "again", {"o+1", "o+2", "p+3"}).ok);
  }));
  EXPECT_FALSE(w.h.Get(keys::TerminatedVatRecord(a)).has_value());
  EXPECT_EQ(w.TakeLog("B").size(), 2u);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    EXPECT_TRUE(c.Send("o-50", "three", {"o+4", "o+5", "o+6"}).ok);
    EXPECT_FALSE(c.Send("o-50", "one more", {"o+1", "o+7"}).ok);
  }));
  auto rec = w.h.Get(keys::TerminatedVatRecord(a));
  ASSERT_TRUE(rec.has_value());
  EXPECT_NE(rec->find("more than 3 c-list entries added by one delivery"), std::string::npos)
      << *rec;
  EXPECT_THAT(w.TakeLog("B"), IsEmpty());  // the crank was rolled back
}

TEST_F(TwoVats, NonNewResultIsVatFatalForNonPipeliningVat) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    EXPECT_TRUE(c.Send("o-50", "one", {}, "p+1").ok);
    EXPECT_FALSE(c.Send("o-50", "two", {}, "p+1").ok);
  }));
  EXPECT_TRUE(w.h.Get(keys::TerminatedVatRecord(a)).has_value());
  EXPECT_THAT(w.TakeLog("B"), IsEmpty());
}

TEST_F(TwoVats, ResolveToLonePromiseIsVatFatal) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "make", {}, "p+1");
    c.Subscribe("p+1");
  }));
  ASSERT_OK(w.Act("B", [](VatCtx& c) { c.Resolve("p-60", false, "#\"&0\"", {"p+7"}); }));
  EXPECT_TRUE(w.h.Get(keys::TerminatedVatRecord(b)).has_value());
  // B decided A's result promise: it is rejected when B dies.
  EXPECT_THAT(w.TakeLog("A"),
              ElementsAre("notify p+1 rejected #{\"#error\":\"vat terminated\",\"name\":\"Error\"} []"));
}

TEST_F(TwoVats, ResolvingSomeoneElsesPromiseIsVatFatal) {
  Init(false);
  // A exports p+1 to B as an argument; A stays its decider. B tries to resolve it.
  ASSERT_OK(w.Act("A", [](VatCtx& c) { c.Send("o-50", "take", {"p+1"}); }));
  std::string vp = w.LastReceived("B").methargs.slots[0];
  ASSERT_OK(w.Act("B", [vp](VatCtx& c) { EXPECT_FALSE(c.Resolve(vp, false, "#1").ok); }));
  EXPECT_TRUE(w.h.Get(keys::TerminatedVatRecord(b)).has_value());
  EXPECT_EQ(w.h.kernel()->Counts().vats_alive, 1u);
}

TEST_F(TwoVats, ExitKeepsTheCrankAndTerminates) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "bye", {});
    c.Exit(false, "#\"done\"");
  }));
  auto rec = w.h.Get(keys::TerminatedVatRecord(a));
  ASSERT_TRUE(rec.has_value());
  EXPECT_NE(rec->find("done"), std::string::npos);
  EXPECT_THAT(w.TakeLog("B"), ElementsAre("message o+0 #[\"bye\",[]] []"));
}

TEST_F(TwoVats, FailedDeliveryTerminatesVat) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "lost", {});
    c.Fail("TypeError: x is not a function");
  }));
  auto rec = w.h.Get(keys::TerminatedVatRecord(a));
  ASSERT_TRUE(rec.has_value());
  EXPECT_NE(rec->find("TypeError"), std::string::npos);
  EXPECT_THAT(w.TakeLog("B"), IsEmpty());
}

TEST_F(TwoVats, Vatstore) {
  Init(false);
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    auto set = [&](std::string k, std::string v) {
      VatSyscall sc;
      sc.type = VatSyscall::Type::kVatstoreSet;
      sc.key = k;
      sc.value = v;
      EXPECT_TRUE(c.Syscall(sc).ok);
    };
    auto call = [&](VatSyscall::Type t, std::string k) {
      VatSyscall sc;
      sc.type = t;
      sc.key = k;
      return c.Syscall(sc).data;
    };
    set("b", "2");
    set("a", "1");
    set("c", "3");
    EXPECT_EQ(call(VatSyscall::Type::kVatstoreGet, "a"), Json("1"));
    EXPECT_TRUE(call(VatSyscall::Type::kVatstoreGet, "zz").is_null());
    EXPECT_EQ(call(VatSyscall::Type::kVatstoreGetNextKey, ""), Json("a"));
    EXPECT_EQ(call(VatSyscall::Type::kVatstoreGetNextKey, "a"), Json("b"));
    call(VatSyscall::Type::kVatstoreDelete, "b");
    EXPECT_EQ(call(VatSyscall::Type::kVatstoreGetNextKey, "a"), Json("c"));
    EXPECT_TRUE(call(VatSyscall::Type::kVatstoreGetNextKey, "c").is_null());
  }));
  EXPECT_EQ(*w.h.Get(keys::VatStoreKey(a, "c")), "3");
  EXPECT_EQ(w.h.kernel()->Counts().vats_alive, 2u);
}

TEST_F(TwoVats, TerminationCleanupIsBudgeted) {
  Init(false);
  // B exports 6 objects to A; A exports 6 objects to B.
  ASSERT_OK(w.Act("B", [](VatCtx& c) {
    c.Send("o-50", "take", {"o+1", "o+2", "o+3", "o+4", "o+5", "o+6"});
  }));
  ASSERT_OK(w.Act("A", [](VatCtx& c) {
    c.Send("o-50", "take", {"o+1", "o+2", "o+3", "o+4", "o+5", "o+6"});
  }));
  w.TakeLog("B");
  w.h.kernel()->TEST_cleanup_budget = 3;
  ASSERT_OK(w.h.kernel()->TEST_TerminateVat(a, true, "test"));
  RunStats total;
  for (int i = 0; i < 100; ++i) {
    RunStats s = w.h.kernel()->Run(RunPolicy{1});
    ASSERT_OK(w.h.kernel()->CheckInvariants());
    total.cleanups += s.cleanups;
    if (s.cranks == 0) break;
  }
  EXPECT_GE(total.cleanups, 5u);  // 6 exports + 7 imports + promises + kv over budget 3
  EXPECT_EQ(w.h.kernel()->Counts().vats_terminated, 0u);
  EXPECT_TRUE(w.h.kernel()->TEST_buffer()->ScanPrefix(keys::VatPrefix(a)).empty());
  // B was told to drop and retire everything A imported from it.
  std::vector<std::string> log = w.TakeLog("B");
  EXPECT_THAT(log, Contains("dropExports o+1 o+2 o+3 o+4 o+5 o+6"));
  EXPECT_THAT(log, Contains("retireExports o+1 o+2 o+3 o+4 o+5 o+6"));
}

TEST(BlockTest, AbortedBlockLeavesCommittedStateAndReplaysIdentically) {
  PuppetWorld w;
  ASSERT_OK(w.Start({"A", "B"}));
  ASSERT_OK(w.Introduce("A", "B"));
  ASSERT_OK(w.h.Commit());
  std::string committed_hash = w.h.kernel()->ActivityHash();
  uint64_t committed_crank = w.h.kernel()->CrankNumber();
  auto work = [&]() {
    ASSERT_OK(w.Act("A", [](VatCtx& c) {
      c.Send("o-50", "take", {"o+1", "p+2"});
      c.Send("o-50", "more", {}, "p+3");
    }));
  };
  work();
  std::string h1 = w.h.kernel()->ActivityHash();
  std::vector<std::string> writes1;
  w.h.kernel()->VisitBlockWrites([&](std::string_view k, const std::optional<std::string>& v) {
    writes1.push_back(StrCat(k, "=", v.value_or("<del>")));
  });
  ASSERT_NE(h1, committed_hash);
  // Crash: the block never commits.
  w.h.kernel()->AbortBlock();
  EXPECT_EQ(w.h.kernel()->ActivityHash(), committed_hash);
  EXPECT_EQ(w.h.kernel()->CrankNumber(), committed_crank);
  ASSERT_OK(w.h.kernel()->CheckInvariants());
  work();
  EXPECT_EQ(w.h.kernel()->ActivityHash(), h1);
  // And once more through a fresh kernel on the same store (a process restart).
  w.h.Reopen();
  EXPECT_EQ(w.h.kernel()->ActivityHash(), committed_hash);
  work();
  EXPECT_EQ(w.h.kernel()->ActivityHash(), h1);
  std::vector<std::string> writes2;
  w.h.kernel()->VisitBlockWrites([&](std::string_view k, const std::optional<std::string>& v) {
    writes2.push_back(StrCat(k, "=", v.value_or("<del>")));
  });
  EXPECT_EQ(writes1, writes2);
}

TEST(BlockTest, RunBudgetStopsAndResumes) {
  PuppetWorld w;
  ASSERT_OK(w.Start({"A", "B"}));
  ASSERT_OK(w.Introduce("A", "B"));
  ASSERT_OK(w.Poke("A", [](VatCtx& c) {
    for (int i = 0; i < 10; ++i) c.Send("o-50", "n", {});
  }));
  RunStats s = w.h.kernel()->Run(RunPolicy{5});
  EXPECT_EQ(s.cranks, 5u);
  EXPECT_TRUE(s.work_remains);
  ASSERT_OK(w.h.Commit());
  w.h.Reopen();  // the leftover work is in the store
  RunStats rest = w.h.kernel()->Run(RunPolicy{0});
  EXPECT_FALSE(rest.work_remains);
  EXPECT_EQ(w.Received("B").size(), 10u);
}

// Issue 12 item 3: with routing free, a block's host sends all reach the run-queue (in order)
// whatever the budget; counted, they would use the budget up before any delivery.
TEST(BlockTest, FreeRoutingPutsEveryHostSendOnTheRunQueueWithinAnyBudget) {
  for (bool free : {true, false}) {
    KernelHarness h;
    h.host()->Register("v", [](const VatDelivery& d, VatCtx& c) {
      if (d.type == VatDelivery::Type::kMessage && d.result) c.Resolve(*d.result, false, "#1");
    });
    ASSERT_OK(h.Genesis(ScriptedGenesis({"v"}, "")));
    ASSERT_TRUE(h.RunChecked().ok());
    h.host()->ClearLog();
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(h.kernel()->QueueToVatRoot("v", StrCat("n", i), CapData{"#[]", {}}).ok());
    }
    RunStats s = h.kernel()->Run(RunPolicy{.max_cranks = 3, .routing_is_free = free});
    EXPECT_TRUE(s.work_remains);
    KernelCounts c = h.kernel()->Counts();
    if (free) {
      EXPECT_EQ(s.routing_cranks, 10u);
      EXPECT_EQ(s.cranks, 13u);
      EXPECT_EQ(c.acceptance_queue, 0u);
      EXPECT_EQ(c.run_queue, 7u);
      EXPECT_THAT(h.host()->log(), ElementsAre("v1: message o+0 #[\"n0\",[]] [] -> p-60",
                                               "v1: message o+0 #[\"n1\",[]] [] -> p-61",
                                               "v1: message o+0 #[\"n2\",[]] [] -> p-62"));
    } else {
      EXPECT_EQ(s.routing_cranks, 3u);
      EXPECT_EQ(c.acceptance_queue, 7u);
      EXPECT_THAT(h.host()->log(), IsEmpty());
    }
  }
}

// The block budget in computrons: no crank starts once the run's deliveries have used
// max_computrons; the crank that reaches it completes. Unmetered deliveries cost nothing.
TEST(BlockTest, TheComputronBudgetStopsAfterTheCrankThatReachesIt) {
  KernelHarness h;
  h.host()->Register("metered", [](const VatDelivery& d, VatCtx& c) {
    c.Charge(10);
    if (d.type == VatDelivery::Type::kMessage && d.result) c.Resolve(*d.result, false, "#1");
  });
  h.host()->Register("free", [](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && d.result) c.Resolve(*d.result, false, "#1");
  });
  ASSERT_OK(h.Genesis(ScriptedGenesis({"metered", "free"}, "")));
  ASSERT_TRUE(h.RunChecked().ok());
  h.host()->ClearLog();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(h.kernel()->QueueToVatRoot("metered", StrCat("m", i), CapData{"#[]", {}}).ok());
  }
  RunStats s = h.kernel()->Run(RunPolicy{.routing_is_free = true, .max_computrons = 25});
  EXPECT_TRUE(s.work_remains);
  EXPECT_EQ(s.total_computrons, 30u);
  EXPECT_EQ(s.computrons.at(h.Vat("metered").n()), 30u);
  EXPECT_EQ(h.host()->log().size(), 3u);
  ASSERT_TRUE(h.kernel()->QueueToVatRoot("free", "f", CapData{"#[]", {}}).ok());
  RunStats rest = h.kernel()->Run(RunPolicy{.routing_is_free = true, .max_computrons = 25});
  EXPECT_FALSE(rest.work_remains);
  EXPECT_EQ(rest.total_computrons, 20u);
  EXPECT_EQ(h.host()->log().size(), 6u);
  ASSERT_OK(h.kernel()->CheckInvariants());
}

// Queue events are written by a direct encoder; its bytes must stay those of the Json form
// (they are consensus state), and parsing them must give the event back.
TEST(QueueEventTest, EncodeMatchesJsonDumpAndRoundTrips) {
  std::vector<KEvent> events;
  KEvent send;
  send.type = KEvent::Type::kSend;
  send.target = Kref::Object(21);
  send.msg.methargs.body = "#[\"ping\",[\"a\\\"b\\n\\u0001\",\"$0.Alleged: x\"]]";
  send.msg.methargs.slots = {"ko22", "kp40"};
  send.msg.result = Kref::Promise(41);
  events.push_back(send);
  send.msg.result.reset();
  events.push_back(send);  // result: null
  send.msg.omit_result = true;
  send.msg.methargs.slots.clear();
  events.push_back(send);  // no result key
  KEvent notify;
  notify.type = KEvent::Type::kNotify;
  notify.vat = *VatId::Parse("v12");
  notify.kpid = Kref::Promise(1234);
  events.push_back(notify);
  KEvent start;
  start.type = KEvent::Type::kStartVat;
  start.vat = *VatId::Parse("v3");
  start.vat_parameters.body = "#{}";
  start.vat_parameters.slots = {"ko20"};
  events.push_back(start);
  for (const KEvent& ev : events) {
    std::string text = ev.Encode();
    EXPECT_EQ(text, ev.ToJson().Dump());
    KEvent back = KEvent::FromJsonOrDie(text);
    EXPECT_EQ(back.Encode(), text);
  }
}

}  // namespace
}  // namespace swingset
