// Block lifecycle through gRPC and LevelDB (docs/DESIGN.md §2): strict heights with no state change
// on rejection, byte-identical replay of the committed height, and the crank budget carrying work
// into later blocks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "kernel/ids.h"
#include "kernel/json.h"
#include "kernel/key_schema.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("lifecycle"); }
  void TearDown() override {
    server_.reset();
    RemoveDir(dir_);
  }

  void StartServer() {
    auto s = ServerProcess::Start({.data_dir = dir_ + "/data"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  void InitGenesis(uint64_t max_cranks = 0) {
    v1::InitResponse resp;
    grpc::Status s = InitWith(server_->lifecycle(), ScriptedGenesis(max_cranks), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  BlockResult Block(const v1::EndBlockRequest& req) {
    return RunBlock(server_->lifecycle(), req);
  }
  v1::EndBlockRequest Empty(int64_t h) {
    v1::EndBlockRequest r;
    r.set_height(h);
    return r;
  }

  std::string Dump() { return DumpCommittedStore(server_->inspect()); }

  grpc::Status Begin(int64_t h) {
    v1::BeginBlockRequest req;
    req.set_height(h);
    v1::BeginBlockResponse resp;
    return server_->lifecycle()->BeginBlock(Ctx().get(), req, &resp);
  }
  grpc::Status End(const v1::EndBlockRequest& req, v1::EndBlockResponse* resp = nullptr) {
    v1::EndBlockResponse local;
    return server_->lifecycle()->EndBlock(Ctx().get(), req, resp ? resp : &local);
  }
  grpc::Status CommitAt(int64_t h, v1::CommitResponse* resp = nullptr) {
    v1::CommitRequest req;
    req.set_height(h);
    v1::CommitResponse local;
    return server_->lifecycle()->Commit(Ctx().get(), req, resp ? resp : &local);
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(LifecycleTest, HealthIsNotServingUntilInit) {
  StartServer();
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  req.set_service("swingsetd.v1.Lifecycle");
  ASSERT_TRUE(health->Check(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  // Before Init, blocks are refused.
  EXPECT_EQ(Begin(1).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  InitGenesis();
  ASSERT_TRUE(health->Check(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  req.set_service("");
  ASSERT_TRUE(health->Check(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// The scripted C++ vats are test code: the production swingsetd does not have them. A genesis
// naming one gets its vat terminated at load with a clear reason (as any vat that fails to
// load), and a call to it is answered with an error; nothing crashes.
TEST_F(LifecycleTest, TheProductionBuildHasNoScriptedVats) {
  auto s = ServerProcess::Start(
      {.data_dir = dir_ + "/data", .binary = ProductionSwingsetdBinary()});
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  v1::InitResponse init;
  grpc::Status st = InitWith(server_->lifecycle(), ScriptedGenesis(), &init);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::EndBlockRequest req = Empty(1);
  *req.add_actions() = CallVat(1, "counter", "increment", "[]");
  BlockResult b = Block(req);
  ASSERT_TRUE(b.status.ok()) << b.failed_call << ": " << b.status.error_message();
  v1::ListVatsRequest lr;
  v1::ListVatsResponse vats;
  ASSERT_TRUE(server_->inspect()->ListVats(Ctx().get(), lr, &vats).ok());
  ASSERT_EQ(vats.vats_size(), 2);
  for (const v1::VatInfo& v : vats.vats()) {
    EXPECT_FALSE(v.alive()) << v.name();
    EXPECT_THAT(v.termination_reason(), HasSubstr("built-in test vat")) << v.name();
  }
  // Later calls to a terminated vat are answered with an error.
  v1::EndBlockRequest req2 = Empty(2);
  *req2.add_actions() = CallVat(2, "counter", "increment", "[]");
  BlockResult b2 = Block(req2);
  ASSERT_TRUE(b2.status.ok()) << b2.failed_call << ": " << b2.status.error_message();
  ASSERT_EQ(b2.end.results_size(), 1);
  EXPECT_THAT(b2.end.results(0).error(), HasSubstr("counter"));
}

TEST_F(LifecycleTest, GenesisOnEmptyStoreThenReportsSavedState) {
  StartServer();
  v1::InitRequest bare;
  v1::InitResponse resp;
  grpc::Status s = server_->lifecycle()->Init(Ctx().get(), bare, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("genesis"));

  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &resp).ok());
  EXPECT_TRUE(resp.genesis_applied());
  EXPECT_EQ(resp.saved_height(), 0);
  EXPECT_EQ(resp.state_hash().size(), 64u);
  std::string genesis_hash = resp.state_hash();

  BlockResult b1 = Block(Empty(1));
  ASSERT_TRUE(b1.status.ok()) << b1.failed_call << ": " << b1.status.error_message();
  EXPECT_NE(b1.end.state_hash(), genesis_hash);  // the bootstrap ran
  EXPECT_EQ(b1.commit.state_hash(), b1.end.state_hash());
  BlockResult b2 = Block(RandomBlock(7, 2));
  ASSERT_TRUE(b2.status.ok()) << b2.failed_call << ": " << b2.status.error_message();

  // A restart reports the committed height and hash; the store's own genesis is not applied
  // again (another one is refused: store_open_test).
  ASSERT_EQ(server_->Stop(), 0) << server_->log();
  StartServer();
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &resp).ok());
  EXPECT_FALSE(resp.genesis_applied());
  EXPECT_EQ(resp.saved_height(), 2);
  EXPECT_EQ(resp.state_hash(), b2.end.state_hash());
  EXPECT_EQ(resp.activity_hash(), b2.end.activity_hash());
  EXPECT_EQ(resp.chain_id(), "swingsetd-test");
  BlockResult b3 = Block(RandomBlock(7, 3));
  ASSERT_TRUE(b3.status.ok()) << b3.failed_call << ": " << b3.status.error_message();
}

TEST_F(LifecycleTest, WrongHeightsAreRejectedWithoutStateChange) {
  StartServer();
  InitGenesis();
  for (int64_t h = 1; h <= 3; ++h) ASSERT_TRUE(Block(RandomBlock(11, h)).status.ok());
  const std::string before = Dump();

  EXPECT_EQ(Begin(5).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Begin(2).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Begin(-1).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(End(RandomBlock(11, 4)).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CommitAt(4).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CommitAt(3).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(Begin(4).ok());
  EXPECT_EQ(Begin(4).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(End(RandomBlock(11, 5)).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CommitAt(4).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::EndBlockResponse end4;
  ASSERT_TRUE(End(RandomBlock(11, 4), &end4).ok());
  EXPECT_EQ(End(RandomBlock(11, 4)).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CommitAt(5).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Begin(5).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Nothing reached the store before Commit.
  EXPECT_EQ(Dump(), before);

  v1::CommitResponse c4;
  ASSERT_TRUE(CommitAt(4, &c4).ok());
  EXPECT_EQ(c4.state_hash(), end4.state_hash());
  EXPECT_NE(Dump(), before);
}

TEST_F(LifecycleTest, ReplayReturnsTheStoredResponseByteForByte) {
  StartServer();
  InitGenesis();
  BlockResult last;
  for (int64_t h = 1; h <= 4; ++h) {
    last = Block(RandomBlock(3, h));
    ASSERT_TRUE(last.status.ok()) << last.failed_call << ": " << last.status.error_message();
  }
  ASSERT_FALSE(last.end.replayed());
  const std::string before = Dump();

  auto replay = [&] {
    v1::BeginBlockRequest begin;
    begin.set_height(4);
    v1::BeginBlockResponse begin_resp;
    ASSERT_TRUE(server_->lifecycle()->BeginBlock(Ctx().get(), begin, &begin_resp).ok());
    EXPECT_TRUE(begin_resp.replay());
    // Different actions: a replay runs nothing and answers from the store.
    v1::EndBlockRequest req = RandomBlock(99, 4);
    v1::EndBlockResponse resp;
    ASSERT_TRUE(End(req, &resp).ok());
    EXPECT_TRUE(resp.replayed());
    std::string replay_bytes;
    ASSERT_TRUE(resp.SerializeToString(&replay_bytes));
    v1::EndBlockResponse first = last.end;
    first.set_replayed(true);
    std::string first_bytes;
    ASSERT_TRUE(first.SerializeToString(&first_bytes));
    EXPECT_EQ(replay_bytes, first_bytes);
    v1::CommitResponse commit;
    ASSERT_TRUE(CommitAt(4, &commit).ok());
    EXPECT_TRUE(commit.replayed());
    EXPECT_EQ(commit.state_hash(), last.end.state_hash());
    EXPECT_EQ(Dump(), before);
  };
  replay();
  // Also after a restart.
  ASSERT_EQ(server_->Stop(), 0);
  StartServer();
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &init).ok());
  replay();
  BlockResult b5 = Block(RandomBlock(3, 5));
  ASSERT_TRUE(b5.status.ok()) << b5.failed_call << ": " << b5.status.error_message();
  EXPECT_FALSE(b5.replay);
}

TEST_F(LifecycleTest, StatsReportEveryPhaseOfTheBlock) {
  StartServer();
  InitGenesis();
  ASSERT_TRUE(Block(Empty(1)).status.ok());
  v1::EndBlockRequest req;
  req.set_height(2);
  for (int i = 0; i < 50; ++i) *req.add_actions() = CallVat(i + 1, "counter", "increment", "[1]");
  BlockResult b = Block(req);
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  auto stats = Json::Parse(b.end.stats_json());
  ASSERT_TRUE(stats.ok()) << b.end.stats_json();
  auto micros = [&](const Json& j, const char* name) -> int64_t {
    const Json* v = j.Find(name);
    EXPECT_TRUE(v != nullptr) << name << " missing";
    return v ? v->as_int() : -1;
  };
  const int64_t run = micros(*stats, "runMicros");
  const int64_t hash = micros(*stats, "hashMicros");
  const int64_t wall = micros(*stats, "wallMicros");
  EXPECT_GT(run, 0);
  EXPECT_GE(hash, 0);
  // The phases are parts of the EndBlock, one after the other.
  EXPECT_GE(wall, run + hash);
  EXPECT_EQ(stats->Find("deliveries")->as_int(), 50);
  auto commit = Json::Parse(b.commit.stats_json());
  ASSERT_TRUE(commit.ok()) << b.commit.stats_json();
  EXPECT_GT(micros(*commit, "commitMicros"), 0);  // a synced write
}

TEST_F(LifecycleTest, DefaultReapIntervalSetsHowOftenVatsAreReaped) {
  auto reaps_for = [&](uint32_t interval) -> int64_t {
    StartServer();
    v1::Genesis g = ScriptedGenesis();
    g.mutable_params()->set_default_reap_interval(interval);
    v1::InitResponse init;
    grpc::Status s = InitWith(server_->lifecycle(), g, &init);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(Block(Empty(1)).status.ok());
    v1::EndBlockRequest req;
    req.set_height(2);
    for (int i = 0; i < 6; ++i) *req.add_actions() = CallVat(i + 1, "counter", "increment", "[1]");
    BlockResult b = Block(req);
    EXPECT_TRUE(b.status.ok()) << b.status.error_message();
    auto stats = Json::Parse(b.end.stats_json());
    EXPECT_TRUE(stats.ok());
    const Json* reaps = stats.ok() ? stats->Find("reaps") : nullptr;
    server_.reset();
    RemoveDir(dir_ + "/data");
    return reaps ? reaps->as_int() : -1;
  };
  // 6 deliveries to the counter: reaped after each with 1 (SwingSet's own default), after every
  // 3rd with 3, never within the block with 1000 or by default (a chain's 1,000).
  EXPECT_EQ(reaps_for(1), 6);
  EXPECT_EQ(reaps_for(3), 2);
  EXPECT_EQ(reaps_for(1000), 0);
  EXPECT_EQ(reaps_for(0), 0);
}

TEST_F(LifecycleTest, BudgetExhaustionCarriesWorkIntoLaterBlocks) {
  StartServer();
  InitGenesis(/*max_cranks=*/4);
  // Block 1: startVat x2 and the bootstrap need 3+ cranks, fitting in the budget.
  ASSERT_TRUE(Block(Empty(1)).status.ok());

  // Both actions are admitted before any crank runs, whatever the budget: the chain's work
  // waits, the actions do not (docs/KERNEL.md, "Block admission").
  v1::EndBlockRequest req;
  req.set_height(2);
  *req.add_actions() = CallVat(1, "counter", "chain", "[12]");
  *req.add_actions() = CallVat(2, "counter", "increment", "[5]");
  BlockResult b2 = Block(req);
  ASSERT_TRUE(b2.status.ok()) << b2.status.error_message();
  EXPECT_EQ(b2.end.actions_consumed(), 2u);
  ASSERT_EQ(b2.end.results_size(), 2);
  EXPECT_EQ(b2.end.results(0).id(), 1u);
  EXPECT_EQ(b2.end.results(1).id(), 2u);
  const std::string increment_kpid = b2.end.results(1).result_kpid();
  EXPECT_TRUE(b2.end.work_remains());

  // The chain continues a budget's worth per block.
  int64_t h = 3;
  bool increment_settled = false;
  for (const v1::PromiseResult& p : b2.end.settled()) {
    if (p.kpid() == increment_kpid) increment_settled = true;
  }
  int blocks_with_work = 0;
  for (; h < 20; ++h) {
    BlockResult b = Block(Empty(h));
    ASSERT_TRUE(b.status.ok()) << b.status.error_message();
    for (const v1::PromiseResult& p : b.end.settled()) {
      if (p.kpid() == increment_kpid) increment_settled = true;
    }
    v1::ListRunQueueRequest rq;
    v1::ListRunQueueResponse rq_resp;
    ASSERT_TRUE(server_->inspect()->ListRunQueue(Ctx().get(), rq, &rq_resp).ok());
    if (!b.end.work_remains()) {
      EXPECT_EQ(rq_resp.tail(), rq_resp.head());
      break;
    }
    ++blocks_with_work;
  }
  EXPECT_TRUE(increment_settled);
  // 12 chained sends plus their results cannot finish in one 4-crank block.
  EXPECT_GE(blocks_with_work, 2);
  EXPECT_LT(h, 20);

  // The whole chain ran: the counter vat recorded chain(0).
  v1::ScanKVRequest scan;
  scan.set_prefix(keys::VatStoreKey(VatId(2), "chain.last"));
  v1::ScanKVResponse kv;
  ASSERT_TRUE(server_->inspect()->ScanKV(Ctx().get(), scan, &kv).ok());
  ASSERT_EQ(kv.entries_size(), 1);
  EXPECT_EQ(kv.entries(0).value(), "0");
  scan.set_prefix(keys::VatStoreKey(VatId(2), "count"));
  ASSERT_TRUE(server_->inspect()->ScanKV(Ctx().get(), scan, &kv).ok());
  ASSERT_EQ(kv.entries_size(), 1);
  EXPECT_EQ(kv.entries(0).value(), "5");
}

}  // namespace
}  // namespace testing
}  // namespace swingset
