// Golden test: pins the activity hash, the crank count, the full committed store and every
// delivery of a fixed scripted workload, so performance work on the kernel cannot change
// consensus behaviour unnoticed. The workload mixes ping-pong, pipelining with queued messages,
// transcripts, vatstore, GC (drop + retire of imports and exports), reaping, splats, vat
// termination with cleanup, and block commits.
//
// If a change here is intended (a behaviour change), regenerate the pinned values and say why
// in the commit message.

#include <string>
#include <vector>

#include "consensus/sha256.h"
#include "gtest/gtest.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"
#include "kernel/testing/kernel_harness.h"

namespace swingset {
namespace {

VatConfig Vat(const std::string& name, bool pipelining, bool transcript) {
  VatConfig v;
  v.name = name;
  v.source = name;
  v.enable_pipelining = pipelining;
  v.use_transcript = transcript;
  return v;
}

// Every committed key and value, in key order.
std::string DumpStore(KvStore* store) {
  std::string out;
  std::unique_ptr<KvIterator> it = store->NewIterator();
  for (it->Seek(""); it->Valid(); it->Next()) {
    StrAppend(&out, it->key(), "=", it->value(), "\n");
  }
  return out;
}

TEST(GoldenTest, ScriptedWorkloadIsPinned) {
  KernelHarness h;
  constexpr int kRounds = 30;
  int pings = 0;
  std::vector<std::string> held;  // B's imports from A
  // A (v1): bootstrap slots are [o+0, o-50 = B, o-51 = C].
  h.host()->Register("A", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && smallcaps::MethodNameOf(d.methargs) == "bootstrap") {
      std::vector<std::string> objs;
      for (int i = 1; i <= 40; ++i) objs.push_back(StrCat("o+", i));
      c.Send("o-50", "take", objs, std::nullopt, "[]");
      // Pipelined: "get" resolves later, "use" goes to its result before that.
      c.Send("o-50", "get", {}, "p+500", "[]");
      c.Send("p+500", "use", {"o+41"}, "p+501", "[]");
      c.Subscribe("p+501");
      std::vector<std::string> for_c;
      for (int i = 60; i < 70; ++i) for_c.push_back(StrCat("o+", i));
      for_c.push_back("o+3");  // also held by B
      c.Send("o-51", "take", for_c, std::nullopt, "[]");
      c.Send("o-51", "die", {}, "p+502", "[]");
      c.Subscribe("p+502");
      c.Syscall([] {
        VatSyscall sc;
        sc.type = VatSyscall::Type::kVatstoreSet;
        sc.key = "counter";
        sc.value = "0";
        return sc;
      }());
      ++pings;
      c.Send("o-50", "ping", {}, StrCat("p+", pings), "[]");
      c.Subscribe(StrCat("p+", pings));
    } else if (d.type == VatDelivery::Type::kNotify) {
      VatSyscall get;
      get.type = VatSyscall::Type::kVatstoreGet;
      get.key = "counter";
      SyscallResult r = c.Syscall(get);
      VatSyscall set;
      set.type = VatSyscall::Type::kVatstoreSet;
      set.key = "counter";
      set.value = StrCat(r.data.is_string() ? r.data.as_string() : "x", "+");
      c.Syscall(set);
      if (pings < kRounds) {
        ++pings;
        c.Send("o-50", "ping", {}, StrCat("p+", pings), "[]");
        c.Subscribe(StrCat("p+", pings));
        if (pings == 10) c.Send("o-50", "drop", {}, std::nullopt, "[]");
        if (pings == 20) c.Send("o-51", "late", {}, "p+503", "[]");  // C is dead: splat
      }
    }
  });
  // B (v2, pipelining, transcript).
  h.host()->Register("B", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type != VatDelivery::Type::kMessage) return;
    std::string m = smallcaps::MethodNameOf(d.methargs);
    if (m == "take") {
      held.insert(held.end(), d.methargs.slots.begin(), d.methargs.slots.end());
    } else if (m == "get") {
      c.Resolve(*d.result, false, "#\"$0.Alleged: thing\"", {"o+7"});
    } else if (m == "use") {
      c.Resolve(*d.result, false, "#[\"$0.Alleged: x\"]", d.methargs.slots);
    } else if (m == "ping") {
      c.Resolve(*d.result, false, "#\"pong\"");
    } else if (m == "drop") {
      std::vector<std::string> half(held.begin(), held.begin() + held.size() / 2);
      c.Gc(VatSyscall::Type::kDropImports, half);
      c.Gc(VatSyscall::Type::kRetireImports, half);
    }
  });
  // C (v3): exits with failure on its first message.
  h.host()->Register("C", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && smallcaps::MethodNameOf(d.methargs) == "die") {
      c.Exit(true, "#\"bye\"");
    }
  });
  GenesisConfig g;
  g.vats = {Vat("A", false, true), Vat("B", true, true), Vat("C", false, false)};
  g.bootstrap_vat = "A";
  Json reap = Json::MakeObject();
  reap.Set("deliveries", 7);
  g.default_reap_dirt_threshold = reap;
  ASSERT_TRUE(h.Genesis(g).ok());
  ASSERT_TRUE(h.Commit().ok());
  uint64_t total = 0;
  std::string dumps;  // the store after every commit
  while (true) {
    auto n = h.RunChecked(25);
    ASSERT_TRUE(n.ok()) << n.status();
    total += *n;
    ASSERT_TRUE(h.Commit().ok());
    StrAppend(&dumps, DumpStore(h.store()), "--\n");
    if (*n == 0) break;
  }
  ASSERT_EQ(pings, kRounds);

  std::string log;
  for (const std::string& line : h.host()->log()) StrAppend(&log, line, "\n");
  EXPECT_EQ(total, 159u);
  EXPECT_EQ(h.kernel()->CrankNumber(), 159u);
  EXPECT_EQ(h.kernel()->ActivityHash(),
            "89b1c7fab0f79bf5b0c376d07ab90df17de72597a4010091fe93f6165781eedc");
  EXPECT_EQ(Sha256Hex(DumpStore(h.store())),
            "a0808e23cf418194c08c43d5bc3b229f4f19f452e2761e99302a987e16ad9dde");
  EXPECT_EQ(Sha256Hex(dumps), "b83162ddd199eb024a4260f95acee3ab988ac948d012dccb6c1a567c821ed1e4");
  EXPECT_EQ(Sha256Hex(log),
            "0cd6bf721c03bbfc93cb51f0aafa91449ba8478b32406281e3dd437273e89323");
}

}  // namespace
}  // namespace swingset
