// JavaScript vats end to end through gRPC (issue 5): the real swingsetd with its SpiderMonkey
// vat host, on LevelDB.
//
//   - a bootstrap vat wires alice and bob; alice sends bob objects and a promise, pipelines
//     calls, sees rejections; bob drops what it got; after the reaps the kernel tables and both
//     c-lists are back to their exact earlier sizes (Inspect GetStatus / ListVats);
//   - GC determinism: the same blocks on a server with a small JS heap and forced GCs before
//     every delivery and on one with a large heap give identical hashes every block;
//   - isolation: a raw vat that forges a vref and one that retires a reachable import are
//     terminated (reason in ListVats) while the others carry on;
//   - restart: stopping after N blocks and restarting (vats rebuilt from their transcripts)
//     gives the same hashes as an uninterrupted run;
//   - virtual objects (vats/js/vom.js): durable objects in a durable store in baggage survive a
//     killed server, and a small heap with forced GCs gives the same hashes every block.

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
using ::testing::Not;

constexpr char kBootstrap[] = R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  return Far('bootstrap', {
    async bootstrap(vats) {
      await E(vats.alice).setPeer(vats.bob);
      if (vats.retirer) await E(vats.retirer).take(vats.bob);
      return 'wired';
    },
  });
}
)";

constexpr char kAlice[] = R"(
import { Far, E } from '@endo/far';
import { makePromiseKit } from '@endo/promise-kit';
export function buildRootObject() {
  let bob;
  let rounds = 0;
  return Far('alice', {
    setPeer(b) { bob = b; return 'ok'; },
    async round(n) {
      rounds += 1;
      const log = [`round ${rounds}`];
      const things = [];
      for (let i = 0; i < n; i += 1) things.push(Far('thing', { id: () => i }));
      // Objects and a promise we decide, resolved to an object after it was sent.
      const kit = makePromiseKit();
      const kept = E(bob).keep(harden(things), kit.promise);
      kit.resolve(Far('late', { id: () => 'late' }));
      log.push(await kept);
      // Pipelined: inc() goes to the result of makeCounter() before it resolves.
      log.push(await E(E(bob).makeCounter(10)).inc());
      const c = E(bob).makeCounter(100);
      await E(c).inc();
      log.push(await E(c).inc());
      try {
        await E(bob).fail('nope');
        log.push('no rejection');
      } catch (e) {
        log.push(`rejected: ${e.message}`);
      }
      try {
        await E(E(bob).broken()).inc();
        log.push('no rejection');
      } catch (e) {
        log.push(`pipelined rejected: ${e.message}`);
      }
      return harden(log);
    },
  });
}
)";

constexpr char kBob[] = R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  let kept = [];
  const seen = new WeakSet();
  return Far('bob', {
    async keep(things, p) {
      kept = [...things];
      kept.push(await p);
      const ids = await Promise.all(kept.map(t => E(t).id()));
      return `kept ${kept.length}: ${ids.join(',')}`;
    },
    makeCounter(start) {
      let n = start;
      return Far('counter', { inc: () => { n += 1; return n; } });
    },
    fail(why) { throw Error(why); },
    broken() { throw Error('broken'); },
    holding() { return kept.length; },
    // Recognition without reachability: the WeakSet keeps the vrefs recognizable after the
    // Presences are gone (dropImports now, retireImports never while bob lives).
    remember() {
      let before = 0;
      for (const t of kept) {
        if (seen.has(t)) before += 1;
        seen.add(t);
      }
      return before;
    },
    dropAll() { kept = []; return 'dropped'; },
  });
}
)";

constexpr char kForger[] = R"(
export function setup(syscall) {
  return vd => {
    if (vd[0] !== 'message') return;
    const { methargs, result } = vd[2];
    const method = JSON.parse(methargs.body.slice(1))[0];
    if (method === 'forge') syscall.send('o-999', { body: '#["hello",[]]', slots: [] }, null);
    if (result) syscall.resolve([[result, false, { body: '#"ok"', slots: [] }]]);
  };
}
)";

constexpr char kRetirer[] = R"(
export function setup(syscall) {
  let held;
  return vd => {
    if (vd[0] !== 'message') return;
    const { methargs, result } = vd[2];
    const method = JSON.parse(methargs.body.slice(1))[0];
    if (method === 'take') held = methargs.slots[0];
    if (method === 'retire') syscall.retireImports([held]);
    if (result) syscall.resolve([[result, false, { body: '#"ok"', slots: [] }]]);
  };
}
)";

v1::Genesis Genesis(bool with_raw) {
  v1::Genesis g;
  g.set_chain_id("js-e2e");
  auto add = [&](const char* name, const char* source, bool raw) {
    v1::VatConfig* v = g.add_vats();
    v->set_name(name);
    v->set_source(source);
    v->set_raw(raw);
  };
  add("bootstrap", kBootstrap, false);
  add("alice", kAlice, false);
  add("bob", kBob, false);
  if (with_raw) {
    add("forger", kForger, true);
    add("retirer", kRetirer, true);
  }
  g.set_bootstrap_vat("bootstrap");
  // The GC scenarios count on a reap after every delivery (a chain's default is every 1,000).
  g.mutable_params()->set_default_reap_interval(1);
  return g;
}

v1::EndBlockRequest Block(int64_t height, std::vector<v1::Action> actions = {}) {
  v1::EndBlockRequest r;
  r.set_height(height);
  for (auto& a : actions) *r.add_actions() = std::move(a);
  return r;
}

// The blocks of the GC and restart scenarios: rounds, recognition, drops, in a fixed pattern.
v1::EndBlockRequest ScenarioBlock(int64_t h) {
  if (h == 1) return Block(1);  // the bootstrap runs
  uint64_t id = static_cast<uint64_t>(h) * 10;
  switch (h % 4) {
    case 2:
      return Block(h, {CallVat(id, "alice", "round", StrCat("[", 2 + h % 5, "]"))});
    case 3:
      return Block(h, {CallVat(id, "bob", "remember", "[]"),
                       CallVat(id + 1, "alice", "round", "[3]")});
    case 0:
      return Block(h, {CallVat(id, "bob", "dropAll", "[]")});
    default:
      return Block(h, {CallVat(id, "bob", "holding", "[]"),
                       CallVat(id + 1, "bob", "remember", "[]")});
  }
}

std::unique_ptr<ServerProcess> Start(const std::string& dir, std::vector<std::string> extra = {}) {
  auto s = ServerProcess::Start({.data_dir = dir, .extra_args = std::move(extra)});
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

v1::GetStatusResponse Status(ServerProcess* s) {
  v1::GetStatusResponse resp;
  grpc::Status st = s->inspect()->GetStatus(Ctx().get(), v1::GetStatusRequest(), &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp;
}

// By name; or by id ("v4") with by_id (a terminated vat is listed without its name).
std::map<std::string, v1::VatInfo> Vats(ServerProcess* s, bool by_id = false) {
  std::map<std::string, v1::VatInfo> out;
  v1::ListVatsRequest req;
  req.set_page_size(100);
  v1::ListVatsResponse resp;
  grpc::Status st = s->inspect()->ListVats(Ctx().get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  for (const v1::VatInfo& v : resp.vats()) out[by_id ? v.id() : v.name()] = v;
  return out;
}

// Runs one block; returns "state value_json" of every settled result, in order.
std::vector<std::string> MustRun(ServerProcess* s, const v1::EndBlockRequest& req,
                                 BlockResult* out = nullptr) {
  BlockResult r = RunBlock(s->lifecycle(), req);
  EXPECT_TRUE(r.status.ok()) << "height " << req.height() << " " << r.failed_call << ": "
                             << r.status.error_message() << "\n" << s->log();
  EXPECT_FALSE(r.end.work_remains());
  std::vector<std::string> settled;
  for (const v1::PromiseResult& p : r.end.settled()) {
    settled.push_back(StrCat(p.state(), " ", p.value_json()));
  }
  if (out) *out = r;
  return settled;
}

struct Sizes {
  uint64_t objects, promises, clist, alice, bob;
  bool operator==(const Sizes& o) const {
    return objects == o.objects && promises == o.promises && clist == o.clist &&
           alice == o.alice && bob == o.bob;
  }
};
std::ostream& operator<<(std::ostream& os, const Sizes& s) {
  return os << "{objects " << s.objects << ", promises " << s.promises << ", clist "
            << s.clist << ", alice " << s.alice << ", bob " << s.bob << "}";
}
Sizes TableSizes(ServerProcess* s) {
  v1::GetStatusResponse st = Status(s);
  auto vats = Vats(s);
  return Sizes{st.objects(), st.promises(), st.clist_entries(), vats["alice"].clist_size(),
               vats["bob"].clist_size()};
}

TEST(JsVatsEndToEndTest, ObjectsPromisesPipeliningRejectionsThenGcBackToBaseline) {
  std::string dir = MakeTempDir("js-e2e-gc");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), Genesis(false), &init).ok());
  MustRun(s.get(), Block(1));
  Sizes baseline = TableSizes(s.get());
  auto vats = Vats(s.get());
  for (const char* name : {"bootstrap", "alice", "bob"}) {
    EXPECT_TRUE(vats[name].alive()) << name << ": " << vats[name].termination_reason();
  }

  std::vector<std::string> got = MustRun(s.get(), Block(2, {CallVat(1, "alice", "round", "[4]")}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0],
            R"(fulfilled ["round 1","kept 5: 0,1,2,3,late",11,102,"rejected: nope",)"
            R"("pipelined rejected: broken"])");
  // Bob holds 4 things and the late object: 5 more kernel objects, exported by alice and
  // imported by bob. The counters and every promise are gone already.
  Sizes held = TableSizes(s.get());
  EXPECT_EQ(held.objects, baseline.objects + 5) << held << " vs " << baseline;
  EXPECT_EQ(held.alice, baseline.alice + 5);
  EXPECT_EQ(held.bob, baseline.bob + 5);
  EXPECT_EQ(held.promises, baseline.promises);

  got = MustRun(s.get(), Block(3, {CallVat(2, "bob", "dropAll", "[]")}));
  EXPECT_EQ(got, std::vector<std::string>{R"(fulfilled "dropped")"});
  // Bob's reap dropped and retired the imports, alice's retired the exports.
  EXPECT_EQ(TableSizes(s.get()), baseline);

  // And again: nothing accumulates.
  got = MustRun(s.get(), Block(4, {CallVat(3, "alice", "round", "[2]")}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(got[0], HasSubstr(R"("round 2","kept 3: 0,1,late")"));
  MustRun(s.get(), Block(5, {CallVat(4, "bob", "dropAll", "[]")}));
  EXPECT_EQ(TableSizes(s.get()), baseline);
  EXPECT_EQ(Status(s.get()).gc_actions(), 0u);
  s.reset();
  RemoveDir(dir);
}

TEST(JsVatsEndToEndTest, SmallHeapAndForcedGcsGiveTheSameHashesEveryBlock) {
  std::string dir = MakeTempDir("js-e2e-det");
  auto small = Start(dir + "/small",
                     {"--js-heap-limit-mib", "24", "--testing-extra-gcs-per-delivery", "2"});
  auto large = Start(dir + "/large", {"--js-heap-limit-mib", "2048"});
  ASSERT_TRUE(small && large);
  v1::InitResponse a, b;
  ASSERT_TRUE(InitWith(small->lifecycle(), Genesis(false), &a).ok());
  ASSERT_TRUE(InitWith(large->lifecycle(), Genesis(false), &b).ok());
  ASSERT_EQ(a.state_hash(), b.state_hash());
  std::string first_hash;
  for (int64_t h = 1; h <= 16; ++h) {
    BlockResult ra, rb;
    std::vector<std::string> sa = MustRun(small.get(), ScenarioBlock(h), &ra);
    std::vector<std::string> sb = MustRun(large.get(), ScenarioBlock(h), &rb);
    ASSERT_EQ(ra.end.state_hash(), rb.end.state_hash()) << "height " << h;
    ASSERT_EQ(ra.end.activity_hash(), rb.end.activity_hash()) << "height " << h;
    EXPECT_EQ(sa, sb) << "height " << h;
    for (const std::string& v : sa) EXPECT_THAT(v, Not(HasSubstr("rejected \""))) << v;
    if (h == 2) first_hash = ra.end.state_hash();
  }
  // The scenario did move state and exercised recognition-only imports.
  EXPECT_NE(Status(small.get()).state_hash(), first_hash);
  auto vats = Vats(small.get());
  EXPECT_TRUE(vats["alice"].alive() && vats["bob"].alive());
  small.reset();
  large.reset();
  RemoveDir(dir);
}

TEST(JsVatsEndToEndTest, ForgedVrefAndRetiringAReachableImportTerminateOnlyThatVat) {
  std::string dir = MakeTempDir("js-e2e-iso");
  auto s = Start(dir + "/data");
  ASSERT_TRUE(s);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(s->lifecycle(), Genesis(true), &init).ok());
  MustRun(s.get(), Block(1));
  auto vats = Vats(s.get());
  ASSERT_TRUE(vats["forger"].alive() && vats["retirer"].alive());
  const std::string forger = vats["forger"].id(), retirer = vats["retirer"].id();
  EXPECT_EQ(vats["retirer"].clist_size(), 2u);  // its root and bob's root

  std::vector<std::string> got = MustRun(
      s.get(), Block(2, {CallVat(1, "forger", "forge", "[]"), CallVat(2, "alice", "round", "[1]")}));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_THAT(got[0], HasSubstr("rejected"));
  EXPECT_THAT(got[1], HasSubstr(R"("kept 2: 0,late")"));
  auto by_id = Vats(s.get(), true);
  EXPECT_FALSE(by_id[forger].alive());
  EXPECT_THAT(by_id[forger].termination_reason(), HasSubstr("unknown vatSlot o-999"));
  EXPECT_TRUE(by_id[retirer].alive());

  got = MustRun(
      s.get(), Block(3, {CallVat(3, "retirer", "retire", "[]"), CallVat(4, "bob", "dropAll", "[]")}));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_THAT(got[0], HasSubstr("rejected"));
  EXPECT_EQ(got[1], R"(fulfilled "dropped")");
  by_id = Vats(s.get(), true);
  EXPECT_FALSE(by_id[retirer].alive());
  EXPECT_THAT(by_id[retirer].termination_reason(),
              HasSubstr("retireImports of o-50: still reachable"));
  // A terminated vat's c-list is gone; its name and reason stay visible.
  EXPECT_EQ(by_id[retirer].clist_size(), 0u);
  EXPECT_EQ(by_id[retirer].name(), "retirer");
  EXPECT_EQ(by_id[forger].name(), "forger");
  vats = Vats(s.get());
  for (const char* name : {"bootstrap", "alice", "bob"}) {
    EXPECT_TRUE(vats[name].alive()) << name << ": " << vats[name].termination_reason();
  }
  // The survivors still talk.
  got = MustRun(s.get(), Block(4, {CallVat(5, "alice", "round", "[2]")}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(got[0], HasSubstr(R"("kept 3: 0,1,late")"));
  EXPECT_EQ(Status(s.get()).vats_terminated(), 2u);
  s.reset();
  RemoveDir(dir);
}

TEST(JsVatsEndToEndTest, RestartRebuildsVatsAndMatchesAnUninterruptedRun) {
  std::string dir = MakeTempDir("js-e2e-restart");
  constexpr int64_t kStopAt = 7, kLast = 14;
  auto steady = Start(dir + "/steady");
  auto restarted = Start(dir + "/restarted");
  ASSERT_TRUE(steady && restarted);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(steady->lifecycle(), Genesis(false), &init).ok());
  ASSERT_TRUE(InitWith(restarted->lifecycle(), Genesis(false), &init).ok());
  std::map<int64_t, std::string> hashes;
  for (int64_t h = 1; h <= kLast; ++h) {
    BlockResult r;
    MustRun(steady.get(), ScenarioBlock(h), &r);
    hashes[h] = r.end.state_hash();
  }
  for (int64_t h = 1; h <= kStopAt; ++h) MustRun(restarted.get(), ScenarioBlock(h));
  EXPECT_EQ(restarted->Stop(), 0);
  restarted = Start(dir + "/restarted");
  ASSERT_TRUE(restarted);
  ASSERT_TRUE(InitWith(restarted->lifecycle(), Genesis(false), &init).ok());
  EXPECT_FALSE(init.genesis_applied());
  EXPECT_EQ(init.saved_height(), kStopAt);
  EXPECT_EQ(init.state_hash(), hashes[kStopAt]);
  for (int64_t h = kStopAt + 1; h <= kLast; ++h) {
    BlockResult r;
    std::vector<std::string> settled = MustRun(restarted.get(), ScenarioBlock(h), &r);
    ASSERT_EQ(r.end.state_hash(), hashes[h]) << "height " << h << "\n" << restarted->log();
    // Alice's round counter survived the restart (her vat was rebuilt from its transcript).
    if (h == 10) {
      ASSERT_FALSE(settled.empty());
      EXPECT_THAT(settled[0], HasSubstr("\"round 5\""));
    }
  }
  EXPECT_EQ(Status(restarted.get()).activity_hash(), Status(steady.get()).activity_hash());
  steady.reset();
  restarted.reset();
  RemoveDir(dir);
}

// Virtual and durable objects, collections and baggage (vats/js/vom.js): durable counters in a
// durable store kept in baggage, and merely-virtual garbage for the reaps.
constexpr char kKeeper[] = R"(
import { Far } from '@endo/far';
export function buildRootObject(vatPowers, vatParameters, baggage) {
  const provide = (key, make) => {
    if (!baggage.has(key)) baggage.init(key, make());
    return baggage.get(key);
  };
  const handle = provide('counterKind', () => VatData.makeKindHandle('counter'));
  const makeCounter = VatData.defineDurableKind(handle, name => ({ name, n: 0 }), {
    inc: ({ state }) => { state.n += 1; return state.n; },
    read: ({ state }) => `${state.name}=${state.n}`,
  });
  const counters = provide('counters',
    () => VatData.makeScalarBigMapStore('counters', { durable: true }));
  const makeTemp = VatData.defineKind('temp', n => ({ n, self: null }), {
    n: ({ state }) => state.n,
  });
  const scratch = VatData.makeScalarBigMapStore('scratch');
  return Far('keeper', {
    add(name) { counters.init(name, makeCounter(name)); return counters.getSize(); },
    inc(name) { return counters.get(name).inc(); },
    report() { return harden([...counters.values()].map(c => c.read())); },
    churn(k) {
      for (let i = 0; i < k; i += 1) scratch.init(i, makeTemp(i));
      let sum = 0;
      for (const t of scratch.values()) sum += t.n();
      scratch.clear();
      return sum;
    },
  });
}
)";

v1::Genesis KeeperGenesis() {
  v1::Genesis g = Genesis(false);
  v1::VatConfig* v = g.add_vats();
  v->set_name("keeper");
  v->set_source(kKeeper);
  return g;
}

// Block h of the keeper scenario: a new counter, increments, and virtual garbage.
v1::EndBlockRequest KeeperBlock(int64_t h) {
  if (h == 1) return Block(1);
  uint64_t id = static_cast<uint64_t>(h) * 10;
  std::string name = StrCat("\"c", h % 5, "\"");
  if (h <= 6) {
    return Block(h, {CallVat(id, "keeper", "add", StrCat("[", name, "]")),
                     CallVat(id + 1, "keeper", "churn", StrCat("[", h, "]"))});
  }
  return Block(h, {CallVat(id, "keeper", "inc", StrCat("[", name, "]")),
                   CallVat(id + 1, "keeper", "churn", "[3]"),
                   CallVat(id + 2, "keeper", "report", "[]")});
}

TEST(JsVatsEndToEndTest, VirtualObjectsAndBaggageSurviveAKilledServer) {
  std::string dir = MakeTempDir("js-e2e-vom-kill");
  constexpr int64_t kKillAfter = 8, kLast = 14;
  auto steady = Start(dir + "/steady");
  auto killed = Start(dir + "/killed");
  ASSERT_TRUE(steady && killed);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(steady->lifecycle(), KeeperGenesis(), &init).ok());
  ASSERT_TRUE(InitWith(killed->lifecycle(), KeeperGenesis(), &init).ok());
  std::map<int64_t, std::string> hashes;
  std::map<int64_t, std::vector<std::string>> results;
  for (int64_t h = 1; h <= kLast; ++h) {
    BlockResult r;
    results[h] = MustRun(steady.get(), KeeperBlock(h), &r);
    hashes[h] = r.end.state_hash();
  }
  // 5 counters c0..c4, each incremented along the way.
  ASSERT_EQ(results[kLast].size(), 3u);
  EXPECT_EQ(results[kLast][2], R"(fulfilled ["c0=1","c1=1","c2=2","c3=2","c4=2"])");
  for (int64_t h = 1; h <= kKillAfter; ++h) MustRun(killed.get(), KeeperBlock(h));
  killed->Kill();
  killed = Start(dir + "/killed");
  ASSERT_TRUE(killed);
  ASSERT_TRUE(InitWith(killed->lifecycle(), KeeperGenesis(), &init).ok());
  EXPECT_EQ(init.saved_height(), kKillAfter);
  EXPECT_EQ(init.state_hash(), hashes[kKillAfter]);
  for (int64_t h = kKillAfter + 1; h <= kLast; ++h) {
    BlockResult r;
    std::vector<std::string> settled = MustRun(killed.get(), KeeperBlock(h), &r);
    ASSERT_EQ(r.end.state_hash(), hashes[h]) << "height " << h << "\n" << killed->log();
    EXPECT_EQ(settled, results[h]) << "height " << h;
  }
  steady.reset();
  killed.reset();
  RemoveDir(dir);
}

TEST(JsVatsEndToEndTest, VirtualObjectsGiveTheSameHashesWithASmallHeapAndForcedGcs) {
  std::string dir = MakeTempDir("js-e2e-vom-det");
  auto small = Start(dir + "/small",
                     {"--js-heap-limit-mib", "24", "--testing-extra-gcs-per-delivery", "2"});
  auto large = Start(dir + "/large", {"--js-heap-limit-mib", "2048"});
  ASSERT_TRUE(small && large);
  v1::InitResponse a, b;
  ASSERT_TRUE(InitWith(small->lifecycle(), KeeperGenesis(), &a).ok());
  ASSERT_TRUE(InitWith(large->lifecycle(), KeeperGenesis(), &b).ok());
  ASSERT_EQ(a.state_hash(), b.state_hash());
  for (int64_t h = 1; h <= 12; ++h) {
    BlockResult ra, rb;
    std::vector<std::string> sa = MustRun(small.get(), KeeperBlock(h), &ra);
    std::vector<std::string> sb = MustRun(large.get(), KeeperBlock(h), &rb);
    ASSERT_EQ(ra.end.state_hash(), rb.end.state_hash()) << "height " << h;
    EXPECT_EQ(sa, sb) << "height " << h;
    for (const std::string& v : sa) EXPECT_THAT(v, Not(HasSubstr("rejected"))) << v;
  }
  small.reset();
  large.reset();
  RemoveDir(dir);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
