// Issue 12, items 2, 3, 5 and 10, over real gRPC against the built swingsetd:
//
//   - a call_vat naming a terminated or unknown vat, or mail for an unknown peer, is an error in
//     that action's result; the rest of the block runs and commits (item 2);
//   - a vat sending to itself on every delivery, under the default crank budget: every EndBlock
//     returns, later actions are consumed in their block and settle within a bounded number of
//     blocks, and the server's memory stays bounded (item 3);
//   - inbound mail while the mailbox handler's vat is terminated: an error in the result, and
//     the mailbox state (inbound numbers, the ack we send, the outbox) is unchanged (item 5);
//   - an 8 MB result, big mailbox bodies, a growing outbox and many mid-sized results: capped
//     by the genesis params, every response under 4 MiB, read through a channel with gRPC's
//     default receive limit as a Go client has it (item 10).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;

// Sends itself a message (no result) on every delivery, forever.
constexpr char kFlood[] = R"(
export function setup(syscall) {
  return vd => {
    if (vd[0] !== 'message') return;
    const { result } = vd[2];
    syscall.send('o+0', { body: '#["again",[]]', slots: [] }, null);
    if (result) syscall.resolve([[result, false, { body: '#"flooding"', slots: [] }]]);
  };
}
)";

// Results of any size.
constexpr char kBig[] = R"(
import { Far } from '@endo/far';
export function buildRootObject() {
  return Far('big', { make(n) { return 'x'.repeat(n); } });
}
)";

constexpr uint64_t kGoDefaultReceiveBytes = 4 << 20;

// Cranks that count against the budget (routing cranks are free), from stats_json.
int64_t CountedCranks(const v1::EndBlockResponse& r) {
  absl::StatusOr<Json> stats = Json::Parse(r.stats_json());
  if (!stats.ok() || !stats->Find("cranks") || !stats->Find("routingCranks")) return -1;
  return stats->Find("cranks")->as_int() - stats->Find("routingCranks")->as_int();
}

std::unique_ptr<ServerProcess> Start(const std::string& dir) {
  auto s = ServerProcess::Start({.data_dir = dir});
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

v1::EndBlockRequest Block(int64_t height, std::vector<v1::Action> actions = {}) {
  v1::EndBlockRequest r;
  r.set_height(height);
  for (auto& a : actions) *r.add_actions() = std::move(a);
  return r;
}

BlockResult MustRun(ServerProcess* s, const v1::EndBlockRequest& req) {
  BlockResult r = RunBlock(s->lifecycle(), req);
  EXPECT_TRUE(r.status.ok()) << "height " << req.height() << " " << r.failed_call << ": "
                             << r.status.error_message() << "\n" << s->log();
  return r;
}

// A client as a Go app has it by default: at most 4 MiB per received message.
class DefaultClient {
 public:
  explicit DefaultClient(ServerProcess* s)
      : stub_(v1::Lifecycle::NewStub(
            grpc::CreateChannel(s->address(), grpc::InsecureChannelCredentials()))) {}

  BlockResult Run(const v1::EndBlockRequest& req) { return RunBlock(stub_.get(), req); }

 private:
  std::unique_ptr<v1::Lifecycle::Stub> stub_;
};

const v1::ActionResult* ResultFor(const v1::EndBlockResponse& r, uint64_t id) {
  for (const v1::ActionResult& a : r.results()) {
    if (a.id() == id) return &a;
  }
  return nullptr;
}

const v1::PromiseResult* SettledFor(const v1::EndBlockResponse& r, const std::string& kpid) {
  for (const v1::PromiseResult& p : r.settled()) {
    if (p.kpid() == kpid) return &p;
  }
  return nullptr;
}

// Resident set of a process in KiB (0 if unreadable).
uint64_t RssKib(pid_t pid) {
  std::ifstream in(StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// The committed mailbox device state: every "d<N>.deviceState." key and value.
std::string DeviceState(ServerProcess* s) {
  std::istringstream all(DumpCommittedStore(s->inspect()));
  std::string line, out;
  while (std::getline(all, line)) {
    if (line.find(".deviceState.") != std::string::npos) out += line + "\n";
  }
  return out;
}

TEST(HostileBlocksTest, StateDependentFailuresArePerActionErrorsAndTheBlockCommits) {
  std::string dir = MakeTempDir("hostile-state");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), ScriptedGenesis(), &init).ok());
  MustRun(s.get(), Block(1));
  MustRun(s.get(), Block(2, {CallVat(1, "counter", "die", "[\"bye\"]")}));

  BlockResult r = MustRun(s.get(), Block(3, {CallVat(10, "counter", "increment", "[1]"),
                                             CallVat(11, "ghost", "increment", "[1]"),
                                             Inbound(12, "mallory", {1}, 0),
                                             CallVat(13, "bootstrap", "ping", "[]")}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.commit.height(), 3);
  EXPECT_EQ(r.end.actions_consumed(), 4u);
  ASSERT_EQ(r.end.results_size(), 4);
  EXPECT_THAT(ResultFor(r.end, 10)->error(), HasSubstr("counter"));
  EXPECT_TRUE(ResultFor(r.end, 10)->result_kpid().empty());
  EXPECT_THAT(ResultFor(r.end, 11)->error(), HasSubstr("ghost"));
  EXPECT_THAT(ResultFor(r.end, 12)->error(), HasSubstr("unknown mailbox peer 'mallory'"));
  const v1::ActionResult* ping = ResultFor(r.end, 13);
  ASSERT_TRUE(ping->error().empty()) << ping->error();
  const v1::PromiseResult* pong = SettledFor(r.end, ping->result_kpid());
  ASSERT_NE(pong, nullptr);
  EXPECT_EQ(pong->value_json(), "\"pong\"");

  // The chain goes on, and a replay of the height gives the same answer.
  BlockResult next = MustRun(s.get(), Block(4, {CallVat(20, "bootstrap", "ping", "[]")}));
  EXPECT_TRUE(ResultFor(next.end, 20)->error().empty());
  s.reset();
  RemoveDir(dir);
}

TEST(HostileBlocksTest, AFloodingVatCannotStallTheChainOrKeepActionsOut) {
  std::string dir = MakeTempDir("hostile-flood");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::Genesis g = ScriptedGenesis();  // the default budget
  v1::VatConfig* flood = g.add_vats();
  flood->set_name("flood");
  flood->set_source(kFlood);
  flood->set_raw(true);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), g, &init).ok());
  MustRun(s.get(), Block(1));

  BlockResult start = MustRun(s.get(), Block(2, {CallVat(1, "flood", "go", "[]")}));
  ASSERT_TRUE(start.status.ok());
  EXPECT_TRUE(start.end.work_remains());
  EXPECT_EQ(CountedCranks(start.end), 10000) << start.end.stats_json();

  uint64_t rss_after_warmup = 0;
  for (int64_t h = 3; h <= 12; ++h) {
    uint64_t id = static_cast<uint64_t>(h) * 10;
    BlockResult r = MustRun(s.get(), Block(h, {CallVat(id, "counter", "increment", "[1]"),
                                               CallVat(id + 1, "bootstrap", "ping", "[]")}));
    ASSERT_TRUE(r.status.ok());
    EXPECT_TRUE(r.end.work_remains());
    EXPECT_EQ(CountedCranks(r.end), 10000) << r.end.stats_json();
    // Admitted behind the flood's one queued message: both settle in their own block.
    EXPECT_EQ(r.end.actions_consumed(), 2u) << "height " << h;
    ASSERT_EQ(r.end.results_size(), 2);
    const v1::PromiseResult* inc = SettledFor(r.end, r.end.results(0).result_kpid());
    ASSERT_NE(inc, nullptr) << "height " << h;
    EXPECT_EQ(inc->value_json(), StrCat(h - 2)) << "height " << h;
    const v1::PromiseResult* pong = SettledFor(r.end, r.end.results(1).result_kpid());
    ASSERT_NE(pong, nullptr) << "height " << h;
    EXPECT_EQ(pong->value_json(), "\"pong\"");
    if (h == 5) rss_after_warmup = RssKib(s->pid());
  }
  // Every block commits, so what the flood wrote leaves memory for the store. What stays is
  // the kernel's read cache of recent keys (at most 2^20 entries, then it is cleared): ~5 MB
  // per block here, bounded, where an unbounded EndBlock grew ~34 MiB/s and never returned.
  uint64_t rss_end = RssKib(s->pid());
  ASSERT_GT(rss_after_warmup, 0u);
  if (!kSanitizerBuild) {
    EXPECT_LT(rss_end, 384u * 1024) << "RSS " << rss_after_warmup << " KiB at block 5, "
                                    << rss_end << " KiB at block 12";
  }
  s.reset();
  RemoveDir(dir);
}

v1::Genesis JsChain(bool mortal_vattp) {
  v1::Genesis g = JsGenesis(DemoVatsDir());
  if (mortal_vattp) {
    for (v1::VatConfig& v : *g.mutable_vats()) {
      if (v.name() != "vattp") continue;
      std::string src = v.source();
      const std::string anchor = "    registerMailboxDevice(device) {";
      size_t at = src.find(anchor);
      SWINGSET_CHECK(at != std::string::npos) << "vattp.js changed";
      src.insert(at, "    die() { vatPowers.exitVatWithFailure(Error('vattp dies')); },\n");
      v.set_source(src);
    }
  }
  v1::VatConfig* big = g.add_vats();
  big->set_name("big");
  big->set_source(kBig);
  return g;
}

TEST(HostileBlocksTest, InboundMailForADeadHandlerIsAnErrorAndNothingIsAcknowledged) {
  std::string dir = MakeTempDir("hostile-vattp");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), JsChain(/*mortal_vattp=*/true), &init).ok());
  MustRun(s.get(), Block(1));
  BlockResult b2 = MustRun(s.get(), Block(2, {Inbound(1, "alice", {1, 2}, 0)}));
  ASSERT_EQ(b2.end.mailboxes_size(), 1);
  EXPECT_EQ(b2.end.mailboxes(0).ack(), 2u);

  BlockResult b3 =
      MustRun(s.get(), Block(3, {CallVat(2, "bootstrap", "relay", R"(["vattp","die",[]])")}));
  ASSERT_EQ(b3.end.settled_size(), 1);
  EXPECT_EQ(b3.end.settled(0).state(), "rejected");
  const std::string before = DeviceState(s.get());
  ASSERT_THAT(before, HasSubstr(R"("ack":2,"inbound":2,"inboundAck":0)"));

  BlockResult b4 = MustRun(s.get(), Block(4, {Inbound(3, "alice", {3, 4}, 2),
                                              CallVat(4, "bootstrap", "ping", "[]")}));
  ASSERT_TRUE(b4.status.ok());
  EXPECT_EQ(b4.end.actions_consumed(), 2u);
  EXPECT_THAT(ResultFor(b4.end, 3)->error(), HasSubstr("terminated"));
  EXPECT_TRUE(ResultFor(b4.end, 4)->error().empty());
  EXPECT_EQ(b4.end.mailboxes_size(), 0) << DescribeMailboxes(b4.end);
  // Nothing marked delivered, the ack we send and the outbox as they were.
  EXPECT_EQ(DeviceState(s.get()), before);
  s.reset();
  RemoveDir(dir);
}

TEST(HostileBlocksTest, ResultsAndMailboxesAreCappedAndEveryResponseFitsAGoClient) {
  std::string dir = MakeTempDir("hostile-size");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), JsChain(/*mortal_vattp=*/false), &init).ok());
  DefaultClient go(s.get());
  ASSERT_TRUE(go.Run(Block(1)).status.ok());

  // An 8 MB result: reported with an error and without its body.
  BlockResult r2 = go.Run(Block(2, {CallVat(1, "big", "make", "[8000000]"),
                                    CallVat(2, "big", "make", "[10]")}));
  ASSERT_TRUE(r2.status.ok()) << r2.status.error_message();
  EXPECT_LT(r2.end.ByteSizeLong(), kGoDefaultReceiveBytes);
  const v1::PromiseResult* huge = SettledFor(r2.end, ResultFor(r2.end, 1)->result_kpid());
  ASSERT_NE(huge, nullptr);
  EXPECT_EQ(huge->state(), "fulfilled");
  EXPECT_THAT(huge->error(), HasSubstr("max_result_bytes"));
  EXPECT_TRUE(huge->body().empty() && huge->value_json().empty());
  const v1::PromiseResult* small = SettledFor(r2.end, ResultFor(r2.end, 2)->result_kpid());
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->value_json(), "\"xxxxxxxxxx\"");
  EXPECT_TRUE(small->error().empty());

  // A mailbox body above 16 KiB fails at vattp's device call (the send is rejected); bodies
  // of 15,000 bytes fill alice's 64 KiB outbox after four.
  std::vector<v1::Action> sends;
  sends.push_back(CallVat(10, "bootstrap", "send", StrCat("[\"alice\",\"", std::string(20000, 'b'),
                                                          "\"]")));
  for (uint64_t i = 0; i < 6; ++i) {
    sends.push_back(CallVat(11 + i, "bootstrap", "send",
                            StrCat("[\"alice\",\"", std::string(15000, static_cast<char>('a' + i)), "\"]")));
  }
  BlockResult r3 = go.Run(Block(3, std::move(sends)));
  ASSERT_TRUE(r3.status.ok()) << r3.status.error_message();
  EXPECT_LT(r3.end.ByteSizeLong(), kGoDefaultReceiveBytes);
  const v1::PromiseResult* too_big = SettledFor(r3.end, ResultFor(r3.end, 10)->result_kpid());
  ASSERT_NE(too_big, nullptr);
  EXPECT_EQ(too_big->state(), "rejected");
  EXPECT_THAT(too_big->value_json(), HasSubstr("max_mailbox_body_bytes"));
  std::vector<std::string> states;
  for (uint64_t i = 0; i < 6; ++i) {
    const v1::PromiseResult* p = SettledFor(r3.end, ResultFor(r3.end, 11 + i)->result_kpid());
    ASSERT_NE(p, nullptr);
    states.push_back(p->state());
    if (i >= 4) EXPECT_THAT(p->value_json(), HasSubstr("max_outbox_bytes"));
  }
  EXPECT_EQ(states, (std::vector<std::string>{"fulfilled", "fulfilled", "fulfilled", "fulfilled",
                                              "rejected", "rejected"}));
  ASSERT_EQ(r3.end.mailboxes_size(), 1);
  EXPECT_EQ(r3.end.mailboxes(0).outbox_size(), 4);

  // Forty results of ~60 KB: reported 1 MiB's worth per block, in order, each exactly once.
  std::vector<v1::Action> many;
  for (uint64_t i = 0; i < 40; ++i) many.push_back(CallVat(100 + i, "big", "make", "[30000]"));
  BlockResult r4 = go.Run(Block(4, std::move(many)));
  ASSERT_TRUE(r4.status.ok()) << r4.status.error_message();
  std::vector<std::string> kpids, reported;
  for (const v1::ActionResult& a : r4.end.results()) kpids.push_back(a.result_kpid());
  std::vector<int> per_block;
  BlockResult r = r4;
  for (int64_t h = 5;; ++h) {
    EXPECT_LT(r.end.ByteSizeLong(), kGoDefaultReceiveBytes);
    uint64_t bytes = 0;
    for (const v1::PromiseResult& p : r.end.settled()) {
      EXPECT_TRUE(p.error().empty()) << p.error();
      reported.push_back(p.kpid());
      bytes += p.ByteSizeLong();
    }
    EXPECT_LE(bytes, 1u << 20);
    per_block.push_back(r.end.settled_size());
    if (!r.end.work_remains() || h > 12) break;
    r = go.Run(Block(h));
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  }
  EXPECT_EQ(reported, kpids);
  EXPECT_GE(per_block.size(), 3u);
  s.reset();
  RemoveDir(dir);
}

TEST(HostileBlocksTest, ParamsDefaultToFiniteLimitsAndTooLargeResponsesAreRefusedAtGenesis) {
  std::string dir = MakeTempDir("hostile-params");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  auto refused = [&](const std::function<void(v1::Params*)>& edit, const std::string& what) {
    v1::Genesis g = ScriptedGenesis();
    edit(g.mutable_params());
    v1::InitResponse init;
    grpc::Status st = InitWith(s->lifecycle(), g, &init);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << what;
    EXPECT_THAT(st.error_message(), HasSubstr(what));
  };
  refused([](v1::Params* p) { p->set_max_settled_bytes_per_block(63 << 20); }, "send limit");
  refused([](v1::Params* p) { p->set_max_mailbox_peers(5000); }, "send limit");
  refused([](v1::Params* p) { p->set_max_result_bytes(uint64_t{1} << 62); }, "max_result_bytes");
  refused([](v1::Params* p) { p->set_max_mailbox_peers(1); }, "max_mailbox_peers");

  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), ScriptedGenesis(), &init).ok());
  v1::GetStatusResponse st;
  ASSERT_TRUE(s->inspect()->GetStatus(Ctx().get(), v1::GetStatusRequest(), &st).ok());
  EXPECT_EQ(st.max_cranks_per_block(), 10000u);
  std::string dump = DumpCommittedStore(s->inspect());
  EXPECT_THAT(dump, HasSubstr(R"("maxResultBytes":65536,"maxSettledBytesPerBlock":1048576)"));
  EXPECT_THAT(dump, HasSubstr(R"("maxBodyBytes":16384,"maxOutboxBytes":65536,)"
                              R"("maxOutboxMessages":256,"maxPeers":16})"));
  s.reset();
  RemoveDir(dir);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
