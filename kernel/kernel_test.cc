// Scenario tests of the kernel core with scripted vats; invariants checked after every crank.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/key_schema.h"
#include "kernel/testing/kernel_harness.h"

namespace swingset {
namespace {

using ::testing::ElementsAre;

VatConfig Vat(const std::string& name, const std::string& source, bool pipelining = false) {
  VatConfig v;
  v.name = name;
  v.source = source;
  v.enable_pipelining = pipelining;
  v.use_transcript = false;
  return v;
}

GenesisConfig Config(std::vector<VatConfig> vats, const std::string& bootstrap = "") {
  GenesisConfig g;
  g.vats = std::move(vats);
  g.bootstrap_vat = bootstrap;
  Json never = Json::MakeObject();
  never.Set("never", true);
  g.default_reap_dirt_threshold = never;
  return g;
}

std::string MethodOf(const VatDelivery& d) {
  auto j = Json::Parse(d.methargs.body.substr(1));
  return j->as_array()[0].as_string();
}

TEST(KernelTest, PingPongThroughBootstrap) {
  KernelHarness h;
  h.host()->Register("alice", [](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && MethodOf(d) == "bootstrap") {
      // slots: [o+0 (own root), o-50 (bob)]
      c.Send(d.methargs.slots[1], "ping", {}, "p+1");
      c.Subscribe("p+1");
    }
  });
  h.host()->Register("bob", [](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && MethodOf(d) == "ping") {
      c.Resolve(*d.result, false, "#\"pong\"");
    }
  });
  ASSERT_TRUE(h.Genesis(Config({Vat("alice", "alice"), Vat("bob", "bob")}, "alice")).ok());
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

}  // namespace
}  // namespace swingset
