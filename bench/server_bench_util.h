// File: server_bench_util.h
//
// Helpers for the benchmarks that drive a real swingsetd through its Lifecycle service
// (lifecycle_bench, e2e_bench): a timed block, a stats_json field, starting the server. Each
// exits the program with a message on an error (a benchmark has nothing to recover), killing
// the server first.

#ifndef SWINGSETD_BENCH_SERVER_BENCH_UTIL_H_
#define SWINGSETD_BENCH_SERVER_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "kernel/json.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset::bench {

namespace v1 = ::swingsetd::v1;

// The server StartServerOrExit started last: ExitKillingServer stops it, since std::exit runs
// no destructors and would leave it running.
inline testing::ServerProcess*& CurrentServer() {
  static testing::ServerProcess* server = nullptr;
  return server;
}

[[noreturn]] inline void ExitKillingServer() {
  if (CurrentServer() != nullptr) CurrentServer()->Kill();
  std::exit(1);
}

inline void CheckOrExit(const grpc::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.error_message().c_str());
    ExitKillingServer();
  }
}

// An integer field of a stats_json object (0 when absent).
inline int64_t StatsField(const std::string& json, const char* name) {
  auto j = Json::Parse(json);
  const Json* v = j.ok() ? j->Find(name) : nullptr;
  return v ? v->as_int() : 0;
}

// swingsetd on a fresh data dir, or exit.
inline std::unique_ptr<testing::ServerProcess> StartServerOrExit(
    const testing::ServerProcess::Options& options) {
  auto started = testing::ServerProcess::Start(options);
  if (!started.ok()) {
    std::fprintf(stderr, "%s\n", std::string(started.status().message()).c_str());
    std::exit(1);
  }
  CurrentServer() = started->get();
  return std::move(*started);
}

// One block (BeginBlock, EndBlock, Commit) at `height`, timed as the client sees it.
struct TimedBlock {
  v1::EndBlockResponse end;
  v1::CommitResponse commit;
  double end_ms = 0;    // EndBlock
  double whole_ms = 0;  // BeginBlock + EndBlock + Commit
};

inline TimedBlock RunTimedBlock(v1::Lifecycle::Stub* lifecycle, int64_t height,
                                v1::EndBlockRequest req) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  TimedBlock b;
  req.set_height(height);
  auto t0 = Clock::now();
  v1::BeginBlockRequest begin;
  begin.set_height(height);
  v1::BeginBlockResponse begin_resp;
  CheckOrExit(lifecycle->BeginBlock(testing::Ctx().get(), begin, &begin_resp), "BeginBlock");
  auto t1 = Clock::now();
  CheckOrExit(lifecycle->EndBlock(testing::Ctx().get(), req, &b.end), "EndBlock");
  auto t2 = Clock::now();
  v1::CommitRequest commit;
  commit.set_height(height);
  CheckOrExit(lifecycle->Commit(testing::Ctx().get(), commit, &b.commit), "Commit");
  auto t3 = Clock::now();
  b.end_ms = ms(t2 - t1);
  b.whole_ms = ms(t3 - t0);
  return b;
}

}  // namespace swingset::bench

#endif  // SWINGSETD_BENCH_SERVER_BENCH_UTIL_H_
