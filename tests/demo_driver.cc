// swingsetd_demo: plays the Go app against a running swingsetd (deploy/run.sh). Init with the
// demo genesis (or continue an existing chain), then blocks of call_vat and deliver_inbound
// actions, printing each block's outbound mailboxes, settled results and hashes.
//
// The demo genesis is three JavaScript vats written like Agoric vats (deploy/demo_vats/:
// bootstrap.js wires vattp.js, the mailbox handler, to the mailbox device; counter.js is the
// application); --scripted uses the built-in C++ test vats instead (a server built as
// swingsetd_testing: the production swingsetd has no scripted vats).
//
//   swingsetd_demo --target HOST:PORT [--blocks N] [--vats DIR | --scripted]

#include <cstdio>
#include <cstdlib>
#include <string>

#include <grpcpp/grpcpp.h>

#include "tests/block_driver.h"

namespace {

namespace v1 = ::swingsetd::v1;
using namespace swingset::testing;

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: swingsetd_demo --target HOST:PORT [--blocks N] [--vats DIR | --scripted]\n");
  std::exit(64);
}

// The first blocks tell a story; later ones are pseudo-random traffic.
v1::EndBlockRequest DemoBlock(int64_t h) {
  v1::EndBlockRequest req;
  req.set_height(h);
  switch (h) {
    case 1:  // the bootstrap wires the vats first, then: count, and say hello to alice
      *req.add_actions() = CallVat(1, "counter", "increment", "[1]");
      *req.add_actions() = CallVat(2, "bootstrap", "send", "[\"alice\",\"hello alice\"]");
      return req;
    case 2:  // alice sends two messages; the handler echoes them and acks
      *req.add_actions() = Inbound(1, "alice", {1, 2}, 0);
      return req;
    case 3:  // alice acknowledges our first three messages; a call relayed vat to vat
      *req.add_actions() = Inbound(1, "alice", {}, 3);
      *req.add_actions() = CallVat(2, "bootstrap", "relay", "[\"counter\",\"increment\",[10]]");
      return req;
    case 4:  // bob joins; an object is made and kept; an unknown method is rejected
      *req.add_actions() = Inbound(1, "bob", {1}, 0);
      *req.add_actions() = CallVat(2, "bootstrap", "relay", "[\"counter\",\"makeThing\",[\"gizmo\"]]");
      *req.add_actions() = CallVat(3, "counter", "frobnicate", "[]");
      return req;
    default:
      return RandomBlock(2024, h, {.max_actions = 6, .inbound = true});
  }
}

std::string Short(const std::string& hash) { return hash.substr(0, 16); }

}  // namespace

int main(int argc, char** argv) {
  std::string target;
  std::string vats_dir = DemoVatsDir();
  bool scripted = false;
  int64_t blocks = 8;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--target" && i + 1 < argc) {
      target = argv[++i];
    } else if (a == "--blocks" && i + 1 < argc) {
      blocks = std::atoll(argv[++i]);
    } else if (a == "--vats" && i + 1 < argc) {
      vats_dir = argv[++i];
    } else if (a == "--scripted") {
      scripted = true;
    } else {
      Usage();
    }
  }
  if (target.empty() || blocks < 1) Usage();
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto lifecycle = v1::Lifecycle::NewStub(channel);

  v1::Genesis genesis = scripted ? ScriptedGenesis() : JsGenesis(vats_dir);
  genesis.set_chain_id("swingsetd-demo");
  v1::InitResponse init;
  grpc::Status s = InitWith(lifecycle.get(), genesis, &init);
  if (!s.ok()) {
    std::fprintf(stderr, "Init failed: %s\n", s.error_message().c_str());
    return 1;
  }
  std::printf("Init: chain %s, %s at height %lld, state_hash %s\n", init.chain_id().c_str(),
              init.genesis_applied() ? "genesis applied" : "existing state",
              static_cast<long long>(init.saved_height()), Short(init.state_hash()).c_str());

  const int64_t first = init.saved_height() + 1;
  for (int64_t h = first; h < first + blocks; ++h) {
    // Height-based story blocks replay only on a fresh chain.
    v1::EndBlockRequest req = init.genesis_applied() ? DemoBlock(h) : RandomBlock(2024, h);
    BlockResult r = RunBlock(lifecycle.get(), req, 1700000000 + h * 6);
    if (!r.status.ok()) {
      std::fprintf(stderr, "block %lld: %s failed: %s\n", static_cast<long long>(h),
                   r.failed_call.c_str(), r.status.error_message().c_str());
      return 1;
    }
    std::printf("\n== block %lld: %llu/%d actions consumed%s\n", static_cast<long long>(h),
                static_cast<unsigned long long>(r.end.actions_consumed()), req.actions_size(),
                r.end.work_remains() ? " (work remains)" : "");
    for (const v1::MailboxState& m : r.end.mailboxes()) {
      std::printf("   outbound to %-6s ack=%llu", m.peer().c_str(),
                  static_cast<unsigned long long>(m.ack()));
      for (const v1::MailboxMessage& msg : m.outbox()) {
        std::printf(" [%llu] %s", static_cast<unsigned long long>(msg.num()), msg.body().c_str());
      }
      std::printf("\n");
    }
    for (const v1::PromiseResult& p : r.end.settled()) {
      std::printf("   result %s %s %s\n", p.kpid().c_str(), p.state().c_str(),
                  p.value_json().c_str());
    }
    std::printf("   state_hash %s  activity_hash %s  stats %s\n", Short(r.end.state_hash()).c_str(),
                Short(r.end.activity_hash()).c_str(), r.end.stats_json().c_str());
  }
  return 0;
}
