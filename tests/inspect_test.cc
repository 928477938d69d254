// Inspect (docs/DESIGN.md §9) over committed state, and server reflection (v1alpha) describing
// every service including grpc.health.v1.Health, so generic clients (grpcurl) need no .proto files.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
namespace refl = ::grpc::reflection::v1alpha;

class InspectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("inspect");
    auto s = ServerProcess::Start({.data_dir = dir_ + "/data"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  void TearDown() override {
    server_.reset();
    RemoveDir(dir_);
  }
  v1::Inspect::Stub* in() { return server_->inspect(); }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(InspectTest, AnswersOperatorQuestionsFromCommittedState) {
  v1::InitResponse init;
  // A one-crank budget leaves a host send queued at the end of a block.
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(/*max_cranks=*/0), &init).ok());
  v1::EndBlockRequest b1;
  b1.set_height(1);
  // A thing only the host's result promise refers to is collected once the host lets go; one
  // made through the bootstrap vat's relay stays imported by it.
  *b1.add_actions() = CallVat(1, "counter", "makeThing", "[\"widget\"]");
  *b1.add_actions() = CallVat(2, "bootstrap", "relay", "[\"counter\",\"makeThing\",[\"gadget\"]]");
  BlockResult r1 = RunBlock(server_->lifecycle(), b1);
  ASSERT_TRUE(r1.status.ok()) << r1.status.error_message();
  v1::EndBlockRequest b2;
  b2.set_height(2);
  *b2.add_actions() = Inbound(1, "alice", {1, 2}, 0);
  BlockResult r2 = RunBlock(server_->lifecycle(), b2);
  ASSERT_TRUE(r2.status.ok()) << r2.status.error_message();
  ASSERT_EQ(r2.end.mailboxes_size(), 1);
  EXPECT_EQ(DescribeMailboxes(r2.end), "alice: [1]echo:msg-1-from-alice [2]echo:msg-2-from-alice ack=2\n");

  // Status.
  v1::GetStatusResponse st;
  ASSERT_TRUE(in()->GetStatus(Ctx().get(), {}, &st).ok());
  EXPECT_TRUE(st.initialized());
  EXPECT_EQ(st.saved_height(), 2);
  EXPECT_EQ(st.state_hash(), r2.end.state_hash());
  EXPECT_EQ(st.activity_hash(), r2.end.activity_hash());
  EXPECT_EQ(st.chain_id(), "swingsetd-test");
  EXPECT_EQ(st.vats_alive(), 2u);
  EXPECT_GT(st.objects(), 2u);
  EXPECT_GT(st.clist_entries(), 2u);
  EXPECT_GT(st.crank_number(), 3u);
  EXPECT_EQ(st.run_queue_length(), 0u);

  // Vats.
  v1::ListVatsResponse vats;
  ASSERT_TRUE(in()->ListVats(Ctx().get(), {}, &vats).ok());
  ASSERT_EQ(vats.vats_size(), 2);
  EXPECT_EQ(vats.vats(0).id(), "v1");
  EXPECT_EQ(vats.vats(0).name(), "bootstrap");
  EXPECT_EQ(vats.vats(1).name(), "counter");
  EXPECT_TRUE(vats.vats(1).alive());
  EXPECT_EQ(vats.vats(1).clist_size(), 2u);  // its root and the kept thing

  // C-list by name, paged one entry at a time, equals the single page.
  v1::ListCListRequest cl;
  cl.set_vat("counter");
  cl.set_page_size(1000);
  v1::ListCListResponse all;
  ASSERT_TRUE(in()->ListCList(Ctx().get(), cl, &all).ok());
  EXPECT_EQ(all.vat_id(), "v2");
  EXPECT_TRUE(all.next_page_token().empty());
  std::string root_kref, thing_kref;
  for (const v1::CListEntry& e : all.entries()) {
    if (e.vref() == "o+0") root_kref = e.kref();
    if (e.vref() == "o+2") thing_kref = e.kref();
    EXPECT_NE(e.vref(), "o+1") << "the dropped thing was not retired";
  }
  ASSERT_FALSE(root_kref.empty());
  ASSERT_FALSE(thing_kref.empty());
  std::vector<std::string> paged;
  cl.set_page_size(1);
  cl.set_vat("v2");
  for (int guard = 0; guard < 100; ++guard) {
    v1::ListCListResponse page;
    ASSERT_TRUE(in()->ListCList(Ctx().get(), cl, &page).ok());
    for (const v1::CListEntry& e : page.entries()) paged.push_back(e.kref() + " " + e.vref());
    if (page.next_page_token().empty()) break;
    cl.set_page_token(page.next_page_token());
  }
  ASSERT_EQ(static_cast<int>(paged.size()), all.entries_size());
  for (int i = 0; i < all.entries_size(); ++i) {
    EXPECT_EQ(paged[i], all.entries(i).kref() + " " + all.entries(i).vref());
  }

  // The counter's root: owned by v2, pinned, imported by the bootstrap vat.
  v1::GetObjectRequest go;
  go.set_kref(root_kref);
  v1::GetObjectResponse obj;
  ASSERT_TRUE(in()->GetObject(Ctx().get(), go, &obj).ok());
  EXPECT_EQ(obj.object().owner(), "v2");
  EXPECT_EQ(obj.object().owner_vref(), "o+0");
  EXPECT_TRUE(obj.object().pinned());
  EXPECT_GE(obj.object().reachable(), 1u);
  ASSERT_GE(obj.object().importers_size(), 1);
  EXPECT_EQ(obj.object().importers(0).vat(), "v1");

  // The bootstrap vat's root is held by the mailbox device (its registered handler).
  v1::ListCListRequest bl;
  bl.set_vat("bootstrap");
  v1::ListCListResponse boot;
  ASSERT_TRUE(in()->ListCList(Ctx().get(), bl, &boot).ok());
  std::string boot_root;
  for (const v1::CListEntry& e : boot.entries()) {
    if (e.vref() == "o+0") boot_root = e.kref();
  }
  go.set_kref(boot_root);
  ASSERT_TRUE(in()->GetObject(Ctx().get(), go, &obj).ok());
  bool device_imports = false;
  for (const v1::Importer& imp : obj.object().importers()) {
    if (imp.vat().rfind("d", 0) == 0) device_imports = true;
  }
  EXPECT_TRUE(device_imports);

  // The kept thing: exported by the counter, imported (reachable) by the bootstrap vat.
  go.set_kref(thing_kref);
  ASSERT_TRUE(in()->GetObject(Ctx().get(), go, &obj).ok());
  EXPECT_EQ(obj.object().owner(), "v2");
  EXPECT_EQ(obj.object().owner_vref(), "o+2");
  EXPECT_FALSE(obj.object().pinned());
  EXPECT_EQ(obj.object().reachable(), 1u);
  EXPECT_EQ(obj.object().recognizable(), 1u);
  ASSERT_EQ(obj.object().importers_size(), 1);
  EXPECT_EQ(obj.object().importers(0).vat(), "v1");
  EXPECT_TRUE(obj.object().importers(0).reachable());

  v1::ListObjectsRequest lo;
  lo.set_owner("counter");
  v1::ListObjectsResponse objs;
  ASSERT_TRUE(in()->ListObjects(Ctx().get(), lo, &objs).ok());
  std::set<std::string> owned;
  for (const v1::ObjectInfo& o : objs.objects()) owned.insert(o.kref());
  EXPECT_THAT(owned, Contains(root_kref));
  EXPECT_THAT(owned, Contains(thing_kref));

  // Mailbox.
  v1::GetMailboxRequest mb;
  mb.set_peer("alice");
  v1::GetMailboxResponse mailbox;
  ASSERT_TRUE(in()->GetMailbox(Ctx().get(), mb, &mailbox).ok());
  EXPECT_TRUE(mailbox.handler_registered());
  ASSERT_EQ(mailbox.mailboxes_size(), 1);
  EXPECT_EQ(mailbox.mailboxes(0).outbox_size(), 2);
  EXPECT_EQ(mailbox.mailboxes(0).ack(), 2u);
  EXPECT_EQ(mailbox.mailboxes(0).inbound_delivered(), 2u);
  mb.clear_peer();
  ASSERT_TRUE(in()->GetMailbox(Ctx().get(), mb, &mailbox).ok());
  EXPECT_EQ(mailbox.mailboxes_size(), 2);  // alice and bob

  // GC actions and promises answer (possibly empty) lists.
  v1::ListGCActionsResponse gc;
  ASSERT_TRUE(in()->ListGCActions(Ctx().get(), {}, &gc).ok());
  v1::ListPromisesResponse promises;
  ASSERT_TRUE(in()->ListPromises(Ctx().get(), {}, &promises).ok());

  // KV scan paging covers a prefix exactly once.
  v1::ScanKVRequest scan;
  scan.set_prefix("v2.");
  scan.set_page_size(3);
  std::set<std::string> keys_seen;
  for (int guard = 0; guard < 1000; ++guard) {
    v1::ScanKVResponse kv;
    ASSERT_TRUE(in()->ScanKV(Ctx().get(), scan, &kv).ok());
    for (const v1::KVEntry& e : kv.entries()) {
      EXPECT_EQ(e.key().rfind("v2.", 0), 0u);
      EXPECT_TRUE(keys_seen.insert(e.key()).second) << e.key();
    }
    if (kv.next_page_token().empty()) break;
    scan.set_page_token(kv.next_page_token());
  }
  EXPECT_GT(keys_seen.size(), 5u);
}

TEST_F(InspectTest, QueuedWorkAndUnresolvedHostPromisesAreVisible) {
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(/*max_cranks=*/1), &init).ok());
  // Drain genesis work one crank per block.
  int64_t h = 1;
  for (; h < 20; ++h) {
    v1::EndBlockRequest req;
    req.set_height(h);
    BlockResult r = RunBlock(server_->lifecycle(), req);
    ASSERT_TRUE(r.status.ok());
    if (!r.end.work_remains()) break;
  }
  ++h;
  v1::EndBlockRequest req;
  req.set_height(h);
  // Routing is free, so both sends reach the run-queue; the one-crank budget delivers the
  // first only.
  *req.add_actions() = CallVat(0, "counter", "increment", "[1]");
  *req.add_actions() = CallVat(1, "counter", "increment", "[4]");
  BlockResult r = RunBlock(server_->lifecycle(), req);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.end.actions_consumed(), 2u);
  ASSERT_TRUE(r.end.work_remains());
  std::string kpid = r.end.results(1).result_kpid();

  v1::GetPromiseRequest gp;
  gp.set_kpid(kpid);
  v1::GetPromiseResponse p;
  ASSERT_TRUE(in()->GetPromise(Ctx().get(), gp, &p).ok());
  EXPECT_EQ(p.promise().state(), "unresolved");
  EXPECT_TRUE(p.promise().host_held());
  EXPECT_GE(p.promise().refcount(), 1u);

  v1::GetStatusResponse st;
  ASSERT_TRUE(in()->GetStatus(Ctx().get(), {}, &st).ok());
  EXPECT_EQ(st.pending_host_promises(), 1u);
  EXPECT_EQ(st.max_cranks_per_block(), 1u);

  // The send waits in the run-queue (routed) with its method and result.
  v1::ListRunQueueResponse rq;
  ASSERT_TRUE(in()->ListRunQueue(Ctx().get(), {}, &rq).ok());
  ASSERT_EQ(rq.items_size(), 1);
  EXPECT_EQ(rq.items(0).type(), "send");
  EXPECT_EQ(rq.items(0).method(), "increment");
  EXPECT_EQ(rq.items(0).kpid(), kpid);

  // A later block (after the first delivery's reap) delivers it; the settlement is reported
  // once.
  std::vector<v1::PromiseResult> settled;
  for (int i = 0; i < 4; ++i) {
    v1::EndBlockRequest next;
    next.set_height(++h);
    BlockResult r2 = RunBlock(server_->lifecycle(), next);
    ASSERT_TRUE(r2.status.ok());
    settled.insert(settled.end(), r2.end.settled().begin(), r2.end.settled().end());
  }
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_EQ(settled[0].kpid(), kpid);
  EXPECT_EQ(settled[0].state(), "fulfilled");
  EXPECT_EQ(settled[0].value_json(), "5");
  ASSERT_TRUE(in()->GetStatus(Ctx().get(), {}, &st).ok());
  EXPECT_EQ(st.pending_host_promises(), 0u);
}

TEST_F(InspectTest, ReflectionListsAndDescribesEveryService) {
  auto stub = refl::ServerReflection::NewStub(server_->channel());
  grpc::ClientContext ctx;
  auto stream = stub->ServerReflectionInfo(&ctx);
  refl::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> services;
  for (const auto& s : resp.list_services_response().service()) services.insert(s.name());
  EXPECT_THAT(services, Contains("swingsetd.v1.Lifecycle"));
  EXPECT_THAT(services, Contains("swingsetd.v1.Inspect"));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
  EXPECT_THAT(services, Contains("grpc.reflection.v1alpha.ServerReflection"));

  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  // Each symbol resolves to its file (a fresh stream each: the server sends a file once per
  // stream).
  for (const auto& [symbol, file] :
       std::vector<std::pair<std::string, std::string>>{
           {"grpc.health.v1.Health", "grpc/health/v1/health.proto"},
           {"swingsetd.v1.Inspect", "swingsetd/v1/inspect.proto"},
           {"swingsetd.v1.Lifecycle", "swingsetd/v1/lifecycle.proto"},
           {"swingsetd.v1.EndBlockResponse", "swingsetd/v1/lifecycle.proto"}}) {
    grpc::ClientContext fctx;
    auto fs = stub->ServerReflectionInfo(&fctx);
    refl::ServerReflectionRequest fr;
    fr.set_file_containing_symbol(symbol);
    ASSERT_TRUE(fs->Write(fr));
    refl::ServerReflectionResponse f;
    ASSERT_TRUE(fs->Read(&f));
    ASSERT_TRUE(f.has_file_descriptor_response()) << symbol << ": "
                                                  << f.error_response().error_message();
    std::set<std::string> files;
    for (const std::string& bytes : f.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto fd;
      ASSERT_TRUE(fd.ParseFromString(bytes));
      files.insert(fd.name());
    }
    EXPECT_THAT(files, Contains(file)) << symbol;
    fs->WritesDone();
    EXPECT_TRUE(fs->Finish().ok());
  }
}
}  // namespace
}  // namespace testing
}  // namespace swingset
