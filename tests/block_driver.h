// File: block_driver.h
//
// Plays the Go app against a swingsetd: a genesis of scripted vats, deterministic pseudo-random
// blocks of call_vat and deliver_inbound actions (a pure function of seed and height, so a
// driver that restarts from any height sends the same blocks), and BeginBlock/EndBlock/Commit.
// Used by the end-to-end tests, the demo and the benchmark.

#ifndef SWINGSETD_TESTS_BLOCK_DRIVER_H_
#define SWINGSETD_TESTS_BLOCK_DRIVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "swingsetd/v1/lifecycle.grpc.pb.h"

namespace swingset {
namespace testing {

namespace v1 = ::swingsetd::v1;

// splitmix64: small, fast, and the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }

 private:
  uint64_t s_;
};

// Vats "bootstrap" (scripted:bootstrap, the bootstrap vat and mailbox handler) and "counter"
// (scripted:counter); mailbox peers "alice" and "bob".
v1::Genesis ScriptedGenesis(uint64_t max_cranks_per_block = 0);

// The same chain with JavaScript vats, the demo genesis: "bootstrap" (wires the vats and the
// mailbox device; send, relay), "vattp" (the mailbox handler: echoes and acks inbound mail) and
// "counter" (the scripted counter's methods), read from `dir` (deploy/demo_vats). CHECK-fails
// when a file is missing.
v1::Genesis JsGenesis(const std::string& dir, uint64_t max_cranks_per_block = 0);
// deploy/demo_vats in the source tree (set by CMake).
std::string DemoVatsDir();

v1::Action CallVat(uint64_t id, const std::string& vat, const std::string& method,
                   const std::string& args_json);
v1::Action Inbound(uint64_t id, const std::string& peer, const std::vector<uint64_t>& nums,
                   uint64_t ack);

struct BlockMix {
  int max_actions = 8;
  bool inbound = true;  // deliver_inbound actions (from height 2, once the handler registered)
};

// The actions of block `height`, a pure function of (seed, height, mix).
v1::EndBlockRequest RandomBlock(uint64_t seed, int64_t height, const BlockMix& mix = {});

struct BlockResult {
  grpc::Status status;  // the first failing call's status
  std::string failed_call;
  bool replay = false;
  v1::EndBlockResponse end;
  v1::CommitResponse commit;
};

// BeginBlock(h), EndBlock(req), Commit(h); stops at the first error.
BlockResult RunBlock(v1::Lifecycle::Stub* stub, const v1::EndBlockRequest& req,
                     int64_t time_unix = 0);

grpc::Status InitWith(v1::Lifecycle::Stub* stub, const v1::Genesis& genesis,
                      v1::InitResponse* resp);

// "peer: [1]hello [2]world ack=3" lines for every mailbox in the response.
std::string DescribeMailboxes(const v1::EndBlockResponse& resp);

}  // namespace testing
}  // namespace swingset

#endif  // SWINGSETD_TESTS_BLOCK_DRIVER_H_
