// Bad input (docs/DESIGN.md §7): malformed and oversized requests, unknown vats and methods, bad
// args_json, unknown peers and out-of-order calls get a clear error status naming the field,
// change nothing, and the server keeps serving.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("badinput");
    auto s = ServerProcess::Start({.data_dir = dir_ + "/data"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  void TearDown() override {
    server_.reset();
    RemoveDir(dir_);
  }

  std::string Dump() { return DumpCommittedStore(server_->inspect()); }

  // Starts block h and expects EndBlock(req) to fail with `code` and a message containing
  // `text`, with the store unchanged; the block stays open for a valid EndBlock.
  void ExpectRejected(const v1::EndBlockRequest& req, grpc::StatusCode code,
                      const std::string& text) {
    v1::EndBlockResponse resp;
    grpc::Status s = server_->lifecycle()->EndBlock(Ctx().get(), req, &resp);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(text));
  }

  v1::EndBlockRequest One(int64_t h, v1::Action a) {
    v1::EndBlockRequest r;
    r.set_height(h);
    *r.add_actions() = std::move(a);
    return r;
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(BadInputTest, InvalidGenesisIsRejectedAndNothingIsWritten) {
  v1::Genesis g = ScriptedGenesis();
  g.mutable_vats(1)->set_name("bootstrap");
  v1::InitResponse resp;
  grpc::Status s = InitWith(server_->lifecycle(), g, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("genesis.vats[1].name"));

  g = ScriptedGenesis();
  g.set_bootstrap_vat("nobody");
  s = InitWith(server_->lifecycle(), g, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("genesis.bootstrap_vat"));

  g = ScriptedGenesis();
  g.add_mailbox_peers("bad peer!");
  s = InitWith(server_->lifecycle(), g, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("mailbox_peers"));

  g = ScriptedGenesis();
  g.mutable_vats(0)->set_parameters_json("{nope");
  s = InitWith(server_->lifecycle(), g, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("parameters_json"));

  v1::GetStatusResponse status;
  ASSERT_TRUE(server_->inspect()->GetStatus(Ctx().get(), {}, &status).ok());
  EXPECT_FALSE(status.initialized());
  EXPECT_EQ(Dump(), "");

  // A valid genesis still works afterwards.
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &resp).ok());
  EXPECT_TRUE(resp.genesis_applied());
}

TEST_F(BadInputTest, BadActionsAreRejectedWithNoStateChange) {
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &init).ok());
  ASSERT_TRUE(RunBlock(server_->lifecycle(), RandomBlock(1, 1)).status.ok());
  ASSERT_TRUE(RunBlock(server_->lifecycle(), RandomBlock(1, 2)).status.ok());
  const std::string before = Dump();

  v1::BeginBlockRequest begin;
  begin.set_height(3);
  v1::BeginBlockResponse begin_resp;
  ASSERT_TRUE(server_->lifecycle()->BeginBlock(Ctx().get(), begin, &begin_resp).ok());

  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  v1::Action no_kind;
  no_kind.set_id(9);
  ExpectRejected(One(3, no_kind), kInvalid, "actions[0]: no action kind");
  // (An unknown vat or peer depends on state: a per-action error, hostile_blocks_test.)
  ExpectRejected(One(3, CallVat(1, "no such vat", "increment", "[]")), kInvalid,
                 "actions[0].call_vat.vat: not 1-64 of [A-Za-z0-9_-]");
  ExpectRejected(One(3, CallVat(1, "", "increment", "[]")), kInvalid, "call_vat.vat: empty");
  ExpectRejected(One(3, CallVat(1, "counter", "", "[]")), kInvalid, "call_vat.method");
  ExpectRejected(One(3, CallVat(1, "counter", "#special", "[]")), kInvalid, "call_vat.method");
  ExpectRejected(One(3, CallVat(1, "counter", "increment", "[1,")), kInvalid,
                 "call_vat.args_json: args_json is not JSON");
  ExpectRejected(One(3, CallVat(1, "counter", "increment", "{\"a\":1}")), kInvalid,
                 "must be a JSON array");
  ExpectRejected(One(3, CallVat(1, "counter", "increment", std::string(300 << 10, ' '))),
                 kInvalid, "call_vat.args_json");
  ExpectRejected(One(3, Inbound(1, "bad peer", {31}, 0)), kInvalid, "bad peer name");
  ExpectRejected(One(3, Inbound(1, "alice", {0}, 0)), kInvalid, "messages[0].num");
  ExpectRejected(One(3, Inbound(1, "alice", {31}, uint64_t{1} << 60)), kInvalid, "ack");
  // A valid action followed by a bad one: the whole request is refused, the first did not run.
  v1::EndBlockRequest mixed = One(3, CallVat(1, "counter", "increment", "[1]"));
  *mixed.add_actions() = CallVat(2, "ghost/1", "increment", "[1]");
  ExpectRejected(mixed, kInvalid, "actions[1].call_vat.vat");
  v1::EndBlockRequest many;
  many.set_height(3);
  for (int i = 0; i < 10001; ++i) *many.add_actions() = CallVat(i, "counter", "get", "");
  ExpectRejected(many, kInvalid, "at most 10000");

  // Oversized: beyond the 16 MiB receive limit, refused by gRPC itself.
  v1::EndBlockRequest huge = One(3, Inbound(1, "alice", {31}, 0));
  huge.mutable_actions(0)->mutable_deliver_inbound()->mutable_messages(0)->set_body(
      std::string(17 << 20, 'x'));
  {
    v1::EndBlockResponse resp;
    grpc::Status s = server_->lifecycle()->EndBlock(Ctx().get(), huge, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }
  // Wrong height inside the open block.
  ExpectRejected(One(4, CallVat(1, "counter", "get", "")), grpc::StatusCode::FAILED_PRECONDITION,
                 "EndBlock(4)");

  EXPECT_EQ(Dump(), before);

  // The same block then runs normally; an unknown method is the vat's business: the result
  // promise is rejected.
  v1::EndBlockRequest good = One(3, CallVat(7, "counter", "noSuchMethod", "[1]"));
  *good.add_actions() = CallVat(8, "counter", "increment", "[2]");
  v1::EndBlockResponse resp;
  ASSERT_TRUE(server_->lifecycle()->EndBlock(Ctx().get(), good, &resp).ok());
  EXPECT_EQ(resp.actions_consumed(), 2u);
  ASSERT_EQ(resp.results_size(), 2);
  std::string bad_kpid = resp.results(0).result_kpid();
  bool saw_rejection = false;
  for (const v1::PromiseResult& r : resp.settled()) {
    if (r.kpid() == bad_kpid) {
      saw_rejection = true;
      EXPECT_EQ(r.state(), "rejected");
      EXPECT_THAT(r.value_json(), HasSubstr("noSuchMethod"));
    }
  }
  EXPECT_TRUE(saw_rejection);
  v1::CommitRequest commit;
  commit.set_height(3);
  v1::CommitResponse commit_resp;
  ASSERT_TRUE(server_->lifecycle()->Commit(Ctx().get(), commit, &commit_resp).ok());
  EXPECT_NE(Dump(), before);
}

TEST_F(BadInputTest, BadInspectQueriesGetClearErrors) {
  v1::GetObjectRequest get_obj;
  v1::GetObjectResponse obj;
  // Before genesis.
  get_obj.set_kref("ko20");
  EXPECT_EQ(server_->inspect()->GetObject(Ctx().get(), get_obj, &obj).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &init).ok());
  ASSERT_TRUE(RunBlock(server_->lifecycle(), RandomBlock(1, 1)).status.ok());

  get_obj.set_kref("kp40");
  grpc::Status s = server_->inspect()->GetObject(Ctx().get(), get_obj, &obj);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("kref"));
  get_obj.set_kref("ko999999");
  EXPECT_EQ(server_->inspect()->GetObject(Ctx().get(), get_obj, &obj).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::GetPromiseRequest get_p;
  v1::GetPromiseResponse p;
  get_p.set_kpid("ko20");
  EXPECT_EQ(server_->inspect()->GetPromise(Ctx().get(), get_p, &p).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::ListCListRequest clist;
  v1::ListCListResponse clist_resp;
  clist.set_vat("nosuchvat");
  EXPECT_EQ(server_->inspect()->ListCList(Ctx().get(), clist, &clist_resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  clist.set_vat("counter");
  clist.set_page_token("garbage");
  EXPECT_EQ(server_->inspect()->ListCList(Ctx().get(), clist, &clist_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::ListObjectsRequest objs;
  v1::ListObjectsResponse objs_resp;
  objs.set_page_token("-3");
  EXPECT_EQ(server_->inspect()->ListObjects(Ctx().get(), objs, &objs_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::ListRunQueueRequest rq;
  v1::ListRunQueueResponse rq_resp;
  rq.set_queue("sideways");
  EXPECT_EQ(server_->inspect()->ListRunQueue(Ctx().get(), rq, &rq_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetMailboxRequest mb;
  v1::GetMailboxResponse mb_resp;
  mb.set_peer("mallory");
  EXPECT_EQ(server_->inspect()->GetMailbox(Ctx().get(), mb, &mb_resp).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Still serving.
  v1::GetStatusResponse status;
  ASSERT_TRUE(server_->inspect()->GetStatus(Ctx().get(), {}, &status).ok());
  EXPECT_EQ(status.saved_height(), 1);
  ASSERT_TRUE(RunBlock(server_->lifecycle(), RandomBlock(1, 2)).status.ok());
}

}  // namespace
}  // namespace testing
}  // namespace swingset
