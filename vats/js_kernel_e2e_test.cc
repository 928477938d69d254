// End to end: the real kernel (kernel/) driving JS vats through JsVatHost — eventual sends
// across vats, pipelining, GC with bringOutYourDead after every delivery, invariants after each
// crank, and a restart that rebuilds the vats from their transcripts.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/kernel.h"
#include "kernel/storage/mem_kv_store.h"
#include "vats/js_vat_host.h"

namespace swingset {
namespace {

constexpr char kAlice[] = R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  const log = [];
  return Far('root', {
    async bootstrap(vats) {
      const counter = await E(vats.bob).makeCounter(10);
      await E(counter).inc();
      log.push(await E(counter).inc());
      // Pipelined: inc() is sent to the result of makeCounter() before it resolves.
      log.push(await E(E(vats.bob).makeCounter(100)).inc());
      try { await E(vats.bob).boom(); } catch (e) { log.push(e.message); }
      return 'booted';
    },
    getLog() { return harden([...log]); },
  });
}
)";

constexpr char kBob[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('root', {
    makeCounter(start) {
      let n = start;
      return Far('counter', { inc: () => { n += 1; return n; } });
    },
    boom() { throw Error('bob says no'); },
  });
}
)";

struct Node {
  std::unique_ptr<JsVatHost> host;
  std::unique_ptr<Kernel> kernel;
};

Node Open(KvStore* store) {
  Node n;
  n.host = JsVatHost::Create(JsVatHostOptions());
  KernelOptions o;
  o.store = store;
  o.vat_host = n.host.get();
  o.hasher_factory = Sha256HasherFactory();
  auto k = Kernel::Open(std::move(o));
  SWINGSET_CHECK_OK(k.status());
  n.kernel = std::move(*k);
  return n;
}

void RunChecked(Kernel* k) {
  for (int i = 0; i < 10000 && k->Step(); ++i) {
    absl::Status st = k->CheckInvariants();
    ASSERT_TRUE(st.ok()) << "after crank " << k->CrankNumber() << ": " << st;
  }
}

std::string CallRoot(Kernel* k, const std::string& vat, const std::string& method) {
  auto kp = k->QueueToVatRoot(vat, method, CapData{"#[]", {}});
  EXPECT_TRUE(kp.ok()) << kp.status();
  RunChecked(k);
  PromiseStatus ps = k->GetPromiseStatus(*kp);
  return ps.state + " " + ps.data.body;
}

TEST(JsKernelEndToEndTest, VatsTalkCollectGarbageAndReplayAfterRestart) {
  std::unique_ptr<KvStore> store = NewMemKvStore();
  {
    Node n = Open(store.get());
    GenesisConfig g;
    g.vats.push_back(VatConfig{"alice", kAlice});
    g.vats.push_back(VatConfig{"bob", kBob});
    g.bootstrap_vat = "alice";
    ASSERT_TRUE(n.kernel->InitializeGenesis(g).ok());
    RunChecked(n.kernel.get());
    EXPECT_EQ(CallRoot(n.kernel.get(), "alice", "getLog"),
              R"(fulfilled #[12,101,"bob says no"])");
    // Both counters were dropped by alice and collected everywhere: only the two roots are left.
    EXPECT_EQ(n.kernel->Counts().objects, 2u);
    EXPECT_EQ(n.kernel->Counts().vats_alive, 2u);
    ASSERT_TRUE(n.kernel->CommitBlock({}, false).ok());
  }
  {
    // A restart: new host and kernel over the committed store; vats replay their transcripts.
    Node n = Open(store.get());
    EXPECT_EQ(CallRoot(n.kernel.get(), "alice", "getLog"),
              R"(fulfilled #[12,101,"bob says no"])");
    EXPECT_EQ(n.kernel->Counts().vats_alive, 2u);
  }
}

}  // namespace
}  // namespace swingset
