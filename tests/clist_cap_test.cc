// The per-delivery cap on c-list growth (genesis max_clist_entries_per_delivery), end to end
// through gRPC against the real swingsetd: a delivery may export up to the cap of new objects
// and promises; one more terminates the vat, its delivery rolled back, with the cap in the reason Inspect shows; other vats carry on; the cap is kept in the params.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;

// exportMany(first, n): resolves its result to data naming n new exports o+first..o+first+n-1.
constexpr char kExporter[] = R"(
export function setup(syscall) {
  return vd => {
    if (vd[0] !== 'message') return;
    const { methargs, result } = vd[2];
    const [method, args] = JSON.parse(methargs.body.slice(1));
    if (method !== 'exportMany' || !result) return;
    const [first, n] = args;
    const slots = [];
    for (let i = 0; i < n; i += 1) slots.push(`o+${first + i}`);
    syscall.resolve([[result, false, { body: `#${n}`, slots }]]);
  };
}
)";

constexpr uint64_t kCap = 100;

v1::Genesis CapGenesis() {
  v1::Genesis g;
  g.set_chain_id("clist-cap");
  for (const char* name : {"greedy", "modest"}) {
    v1::VatConfig* v = g.add_vats();
    v->set_name(name);
    v->set_source(kExporter);
    v->set_raw(true);
  }
  g.mutable_params()->set_max_clist_entries_per_delivery(kCap);
  return g;
}

std::map<std::string, v1::VatInfo> Vats(ServerProcess* s) {
  std::map<std::string, v1::VatInfo> out;
  v1::ListVatsResponse resp;
  grpc::Status st = s->inspect()->ListVats(Ctx().get(), v1::ListVatsRequest(), &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  for (const v1::VatInfo& v : resp.vats()) out[v.name()] = v;
  return out;
}

v1::EndBlockResponse MustRun(ServerProcess* s, int64_t height, std::vector<v1::Action> actions) {
  v1::EndBlockRequest req;
  req.set_height(height);
  for (auto& a : actions) *req.add_actions() = std::move(a);
  BlockResult r = RunBlock(s->lifecycle(), req);
  EXPECT_TRUE(r.status.ok()) << height << " " << r.failed_call << ": "
                             << r.status.error_message() << "\n" << s->log();
  return r.end;
}

TEST(CListCapTest, ADeliveryExportingMoreThanTheCapTerminatesOnlyThatVat) {
  std::string dir = MakeTempDir("clist-cap");
  auto started = ServerProcess::Start({.data_dir = dir + "/data"});
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<ServerProcess> s = std::move(*started);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), CapGenesis(), &init).ok());
  MustRun(s.get(), 1, {});

  // Exactly the cap: fine (the host's result names the new krefs; once it is released, GC
  // takes them out of the c-list again).
  v1::EndBlockResponse end =
      MustRun(s.get(), 2, {CallVat(1, "greedy", "exportMany", StrCat("[1,", kCap, "]"))});
  ASSERT_EQ(end.settled_size(), 1);
  EXPECT_EQ(end.settled(0).state(), "fulfilled");
  EXPECT_EQ(end.settled(0).slots_size(), static_cast<int>(kCap));
  std::map<std::string, v1::VatInfo> vats = Vats(s.get());
  ASSERT_TRUE(vats["greedy"].alive());

  // One more than the cap, next to a vat within it.
  end = MustRun(s.get(), 3, {CallVat(2, "greedy", "exportMany", StrCat("[1000,", kCap + 1, "]")),
                             CallVat(3, "modest", "exportMany", "[1,5]")});
  ASSERT_EQ(end.settled_size(), 2);
  EXPECT_EQ(end.settled(0).state(), "rejected");
  EXPECT_EQ(end.settled(1).state(), "fulfilled");
  vats = Vats(s.get());
  EXPECT_FALSE(vats["greedy"].alive());
  EXPECT_THAT(vats["greedy"].termination_reason(),
              HasSubstr(StrCat("vat limit: more than ", kCap, " c-list entries added by one "
                               "delivery")));
  EXPECT_TRUE(vats["modest"].alive());

  // The cap is a genesis param, kept with the state.
  v1::ScanKVRequest scan;
  scan.set_prefix("host.params");
  v1::ScanKVResponse params;
  ASSERT_TRUE(s->inspect()->ScanKV(Ctx().get(), scan, &params).ok());
  ASSERT_EQ(params.entries_size(), 1);
  EXPECT_THAT(params.entries(0).value(),
              HasSubstr(StrCat("\"maxClistEntriesPerDelivery\":", kCap)));
  s.reset();
  RemoveDir(dir);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
