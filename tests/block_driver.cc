#include "tests/block_driver.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "kernel/base.h"
#include "kernel/strings.h"

namespace swingset {
namespace testing {
namespace {

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  return ctx;
}

}  // namespace

v1::Genesis ScriptedGenesis(uint64_t max_cranks_per_block) {
  v1::Genesis g;
  g.set_chain_id("swingsetd-test");
  v1::VatConfig* boot = g.add_vats();
  boot->set_name("bootstrap");
  boot->set_source("scripted:bootstrap");
  v1::VatConfig* counter = g.add_vats();
  counter->set_name("counter");
  counter->set_source("scripted:counter");
  counter->set_parameters_json("{\"start\":0}");
  g.set_bootstrap_vat("bootstrap");
  g.mutable_params()->set_max_cranks_per_block(max_cranks_per_block);
  g.add_mailbox_peers("alice");
  g.add_mailbox_peers("bob");
  return g;
}

std::string DemoVatsDir() { return SWINGSETD_DEMO_VATS_DIR; }

v1::Genesis JsGenesis(const std::string& dir, uint64_t max_cranks_per_block) {
  auto read = [&dir](const std::string& name) {
    std::ifstream in(dir + "/" + name);
    SWINGSET_CHECK(in.good()) << "cannot read " << dir << "/" << name;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  v1::Genesis g;
  g.set_chain_id("swingsetd-js");
  v1::VatConfig* boot = g.add_vats();
  boot->set_name("bootstrap");
  boot->set_source(read("bootstrap.js"));
  v1::VatConfig* vattp = g.add_vats();
  vattp->set_name("vattp");
  vattp->set_source(read("vattp.js"));
  v1::VatConfig* counter = g.add_vats();
  counter->set_name("counter");
  counter->set_source(read("counter.js"));
  counter->set_parameters_json("{\"start\":0}");
  g.set_bootstrap_vat("bootstrap");
  g.mutable_params()->set_max_cranks_per_block(max_cranks_per_block);
  g.add_mailbox_peers("alice");
  g.add_mailbox_peers("bob");
  return g;
}

v1::Action CallVat(uint64_t id, const std::string& vat, const std::string& method,
                   const std::string& args_json) {
  v1::Action a;
  a.set_id(id);
  a.mutable_call_vat()->set_vat(vat);
  a.mutable_call_vat()->set_method(method);
  a.mutable_call_vat()->set_args_json(args_json);
  return a;
}

v1::Action Inbound(uint64_t id, const std::string& peer, const std::vector<uint64_t>& nums,
                   uint64_t ack) {
  v1::Action a;
  a.set_id(id);
  v1::DeliverInbound* d = a.mutable_deliver_inbound();
  d->set_peer(peer);
  for (uint64_t n : nums) {
    v1::MailboxMessage* m = d->add_messages();
    m->set_num(n);
    m->set_body(StrCat("msg-", n, "-from-", peer));
  }
  d->set_ack(ack);
  return a;
}

v1::EndBlockRequest RandomBlock(uint64_t seed, int64_t height, const BlockMix& mix) {
  Rng rng(seed * 0x100000001b3ULL ^ static_cast<uint64_t>(height) * 0x9e3779b97f4a7c15ULL);
  v1::EndBlockRequest req;
  req.set_height(height);
  int n = static_cast<int>(rng.Below(static_cast<uint64_t>(mix.max_actions) + 1));
  uint64_t h = static_cast<uint64_t>(height);
  for (int i = 0; i < n; ++i) {
    uint64_t id = h * 1000 + static_cast<uint64_t>(i);
    uint64_t pick = rng.Below(100);
    const char* peer = rng.Below(2) == 0 ? "alice" : "bob";
    if (pick < 20 && mix.inbound && height >= 2) {
      // Fresh numbers for this height, sometimes with an old one repeated (must be dropped).
      std::vector<uint64_t> nums;
      uint64_t k = 1 + rng.Below(3);
      for (uint64_t j = 0; j < k; ++j) nums.push_back(h * 10 + j + 10 * static_cast<uint64_t>(i));
      if (rng.Below(3) == 0) nums.push_back(h * 10 - 1);
      *req.add_actions() = Inbound(id, peer, nums, h * 2);
    } else if (pick < 45) {
      *req.add_actions() = CallVat(id, "counter", "increment", StrCat("[", 1 + rng.Below(5), "]"));
    } else if (pick < 55) {
      *req.add_actions() = CallVat(id, "counter", "chain", StrCat("[", rng.Below(5), "]"));
    } else if (pick < 63) {
      *req.add_actions() = CallVat(id, "counter", "makeThing", StrCat("[\"t", h, ".", i, "\"]"));
    } else if (pick < 67) {
      *req.add_actions() = CallVat(id, "counter", "fail", "[\"on purpose\"]");
    } else if (pick < 72) {
      *req.add_actions() =
          CallVat(id, "counter", "echo", StrCat("[\"#tricky!\",{\"b\":1,\"a\":[", h, ",null]}]"));
    } else if (pick < 77) {
      *req.add_actions() = CallVat(id, "counter", "store",
                                   StrCat("[\"k", rng.Below(4), "\",", h, "]"));
    } else if (pick < 85) {
      *req.add_actions() =
          CallVat(id, "bootstrap", "relay", StrCat("[\"counter\",\"increment\",[2]]"));
    } else {
      *req.add_actions() =
          CallVat(id, "bootstrap", "send", StrCat("[\"", peer, "\",\"hello ", h, ".", i, "\"]"));
    }
  }
  return req;
}

BlockResult RunBlock(v1::Lifecycle::Stub* stub, const v1::EndBlockRequest& req,
                     int64_t time_unix) {
  BlockResult r;
  v1::BeginBlockRequest begin;
  begin.set_height(req.height());
  begin.set_time_unix(time_unix);
  v1::BeginBlockResponse begin_resp;
  r.status = stub->BeginBlock(Context().get(), begin, &begin_resp);
  if (!r.status.ok()) {
    r.failed_call = "BeginBlock";
    return r;
  }
  r.replay = begin_resp.replay();
  r.status = stub->EndBlock(Context().get(), req, &r.end);
  if (!r.status.ok()) {
    r.failed_call = "EndBlock";
    return r;
  }
  v1::CommitRequest commit;
  commit.set_height(req.height());
  r.status = stub->Commit(Context().get(), commit, &r.commit);
  if (!r.status.ok()) r.failed_call = "Commit";
  return r;
}

grpc::Status InitWith(v1::Lifecycle::Stub* stub, const v1::Genesis& genesis,
                      v1::InitResponse* resp) {
  v1::InitRequest req;
  *req.mutable_genesis() = genesis;
  return stub->Init(Context().get(), req, resp);
}

std::string DescribeMailboxes(const v1::EndBlockResponse& resp) {
  std::string out;
  for (const v1::MailboxState& m : resp.mailboxes()) {
    StrAppend(&out, m.peer(), ":");
    for (const v1::MailboxMessage& msg : m.outbox()) StrAppend(&out, " [", msg.num(), "]", msg.body());
    StrAppend(&out, " ack=", m.ack(), "\n");
  }
  return out;
}

}  // namespace testing
}  // namespace swingset
