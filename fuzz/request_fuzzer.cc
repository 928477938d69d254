// File: request_fuzzer.cc
//
// libFuzzer harness for request validation: whatever a well-formed protobuf request holds, the
// block lifecycle answers with a status and, when it refuses, changes no state. The first input
// byte picks the request; the rest is its protobuf encoding (inputs that are not a valid encoding
// are gRPC's to refuse and are skipped here):
//   even: an EndBlockRequest for block 2 of a chain of scripted vats (bootstrap, counter) whose
//         block 1 ran the bootstrap; a refused EndBlock must leave the state hash as it was and
//         the block still runnable; an accepted one must commit;
//   odd:  an InitRequest on an empty store; a refused Init must leave the store empty.
// Everything runs on an in-memory store with the built-in C++ vats.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "kernel/storage/mem_kv_store.h"
#include "server/block_lifecycle.h"
#include "server/scripted_vat_host.h"

namespace swingset {
namespace {

void Check(bool ok, const char* what, const absl::Status& s = absl::OkStatus()) {
  if (ok) return;
  std::fprintf(stderr, "request_fuzz: %s %s\n", what, s.ToString().c_str());
  std::abort();
}

v1::Genesis GoodGenesis() {
  v1::Genesis g;
  g.set_chain_id("fuzz");
  v1::VatConfig* b = g.add_vats();
  b->set_name("bootstrap");
  b->set_source("scripted:bootstrap");
  v1::VatConfig* c = g.add_vats();
  c->set_name("counter");
  c->set_source("scripted:counter");
  g.set_bootstrap_vat("bootstrap");
  g.add_mailbox_peers("peer1");
  return g;
}

struct Chain {
  std::unique_ptr<KvStore> store = NewMemKvStore();
  ScriptedVatHost host;
  std::unique_ptr<BlockLifecycle> lc;

  Chain() {
    BlockLifecycle::Options o;
    o.store = store.get();
    o.vat_host = &host;
    auto opened = BlockLifecycle::Open(std::move(o));
    Check(opened.ok(), "Open", opened.status());
    lc = *std::move(opened);
  }

  // Block `height` with no actions, committed.
  void EmptyBlock(int64_t height) {
    v1::BeginBlockRequest bb;
    bb.set_height(height);
    v1::BeginBlockResponse bbr;
    Check(lc->BeginBlock(bb, &bbr).ok(), "BeginBlock");
    v1::EndBlockRequest eb;
    eb.set_height(height);
    v1::EndBlockResponse ebr;
    Check(lc->EndBlock(eb, &ebr).ok(), "EndBlock");
    v1::CommitRequest cr;
    cr.set_height(height);
    v1::CommitResponse crr;
    Check(lc->Commit(cr, &crr).ok(), "Commit");
  }
};

void FuzzEndBlock(const uint8_t* data, size_t size) {
  v1::EndBlockRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return;
  req.set_height(2);
  Chain chain;
  v1::InitRequest init;
  *init.mutable_genesis() = GoodGenesis();
  v1::InitResponse init_resp;
  Check(chain.lc->Init(init, &init_resp).ok(), "Init");
  chain.EmptyBlock(1);
  v1::BeginBlockRequest bb;
  bb.set_height(2);
  v1::BeginBlockResponse bbr;
  Check(chain.lc->BeginBlock(bb, &bbr).ok(), "BeginBlock(2)");
  v1::EndBlockResponse resp;
  absl::Status s = chain.lc->EndBlock(req, &resp);
  if (s.ok()) {
    v1::CommitRequest cr;
    cr.set_height(2);
    v1::CommitResponse crr;
    Check(chain.lc->Commit(cr, &crr).ok(), "Commit(2)");
    return;
  }
  Check(s.code() == absl::StatusCode::kInvalidArgument, "EndBlock refused with", s);
  Check(!s.message().empty(), "EndBlock refused with an empty message");
  // Refused whole: the block is still open and runs as if the request had not come.
  v1::EndBlockRequest empty;
  empty.set_height(2);
  v1::EndBlockResponse empty_resp;
  Check(chain.lc->EndBlock(empty, &empty_resp).ok(), "EndBlock after a refusal");
  Chain twin;
  Check(twin.lc->Init(init, &init_resp).ok(), "twin Init");
  twin.EmptyBlock(1);
  Check(twin.lc->BeginBlock(bb, &bbr).ok(), "twin BeginBlock(2)");
  v1::EndBlockResponse twin_resp;
  Check(twin.lc->EndBlock(empty, &twin_resp).ok(), "twin EndBlock");
  Check(twin_resp.state_hash() == empty_resp.state_hash(),
        "a refused EndBlock changed the state");
}

void FuzzInit(const uint8_t* data, size_t size) {
  v1::InitRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return;
  Chain chain;
  v1::InitResponse resp;
  absl::Status s = chain.lc->Init(req, &resp);
  if (s.ok()) {
    chain.EmptyBlock(1);
    return;
  }
  Check(!s.message().empty(), "Init refused with an empty message");
  // Refused: the store is still empty, so a good genesis still applies.
  v1::InitRequest good;
  *good.mutable_genesis() = GoodGenesis();
  Check(chain.lc->Init(good, &resp).ok() && resp.genesis_applied(),
        "a refused Init left state behind");
}

}  // namespace
}  // namespace swingset

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 256 * 1024) return 0;
  if (data[0] % 2 == 0) {
    swingset::FuzzEndBlock(data + 1, size - 1);
  } else {
    swingset::FuzzInit(data + 1, size - 1);
  }
  return 0;
}
