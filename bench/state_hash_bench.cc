// state_hash_bench: cost of updating the consensus state hash (consensus/state_hash.h) for one
// block of 10,000 writes on a LevelDB store, for a small and a large store. The update must be
// O(writes): the large/small ratio of the median block time should stay near 1 (target <= 1.2).
//
// Per store size N:
//   1. fill a fresh LevelDB store with N consensus keys (vatstore-like keys, ~100-byte values),
//      then reopen it so reads go to tables, not just the memtable;
//   2. compute the initial hash by a full scan (timed: this is the cost of verify-state);
//   3. run warm-up + measured blocks: each is 10,000 distinct writes in key order, 50%
//      overwrites of live keys, 25% inserts of new keys, 25% deletes of live keys. Only
//      ApplyWrites (old-value reads + hash update) is timed; the block is then committed with
//      the new hash in one synced batch, as the sidecar does;
//   4. check the incremental hash against a fresh full scan.
//
// Usage: state_hash_bench [--dir DIR] [--blocks B] [--small N] [--large N] [--keep]

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "consensus/lthash.h"
#include "consensus/state_hash.h"
#include "kernel/base.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

constexpr int kWritesPerBlock = 10000;
constexpr int kWarmupBlocks = 1;
constexpr uint64_t kDeleted = UINT64_MAX;

using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string Key(uint64_t id) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "v%u.vs.vom.o+%09llu", static_cast<unsigned>(1 + id % 16),
                static_cast<unsigned long long>(id));
  return buf;
}

std::string Value(std::mt19937_64& rng) {
  std::string v(80 + rng() % 40, '\0');
  for (char& c : v) c = static_cast<char>('!' + rng() % 90);
  return v;
}

struct SizeResult {
  uint64_t keys = 0;
  double fill_ms = 0;
  double full_scan_ms = 0;
  std::vector<double> block_ms;
  double median_ms = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

SizeResult RunSize(const std::string& dir, uint64_t n, int blocks) {
  SizeResult r;
  r.keys = n;
  std::filesystem::remove_all(dir);
  std::mt19937_64 rng(n);
  std::vector<uint64_t> live;
  live.reserve(n + blocks * kWritesPerBlock);
  {
    absl::StatusOr<std::unique_ptr<KvStore>> store = OpenLevelDbKvStore(dir);
    CHECK(store.ok()) << store.status();
    Clock::time_point start = Clock::now();
    KvBatch batch;
    for (uint64_t id = 0; id < n; ++id) {
      batch.push_back({Key(id), Value(rng)});
      live.push_back(id);
      if (batch.size() == 10000 || id + 1 == n) {
        CHECK_OK((*store)->Write(batch, false));
        batch.clear();
      }
    }
    r.fill_ms = MillisSince(start);
  }
  absl::StatusOr<std::unique_ptr<KvStore>> reopened = OpenLevelDbKvStore(dir);
  CHECK(reopened.ok()) << reopened.status();
  std::unique_ptr<KvStore> store = *std::move(reopened);

  Clock::time_point scan_start = Clock::now();
  absl::StatusOr<LtHash16> initial = ComputeStateHash(*store->GetSnapshot());
  CHECK(initial.ok()) << initial.status();
  r.full_scan_ms = MillisSince(scan_start);
  LtHash16 hash = *initial;
  {
    KvBatch host = StateHashHostWrites(hash);
    CHECK_OK(store->Write(host, true));
  }

  uint64_t next_id = n;
  for (int b = 0; b < kWarmupBlocks + blocks; ++b) {
    // Net writes in key order, as Kernel::VisitBlockWrites yields them.
    std::map<std::string, std::optional<std::string>> writes;
    while (writes.size() < kWritesPerBlock) {
      uint64_t kind = rng() % 4;
      if (kind == 0) {
        uint64_t id = next_id++;
        writes[Key(id)] = Value(rng);
        live.push_back(id);
        continue;
      }
      size_t idx = rng() % live.size();
      if (live[idx] == kDeleted) continue;
      std::string key = Key(live[idx]);
      if (writes.count(key)) continue;
      if (kind == 1) {
        writes[key] = std::nullopt;
        live[idx] = kDeleted;  // removed from `live` after the block
      } else {
        writes[key] = Value(rng);
      }
    }
    live.erase(std::remove(live.begin(), live.end(), kDeleted), live.end());

    Clock::time_point start = Clock::now();
    CHECK_OK(ApplyWrites(
        *store,
        [&writes](const StateWriteVisitor& fn) {
          for (const auto& [k, v] : writes) fn(k, v);
        },
        &hash));
    double ms = MillisSince(start);
    if (b >= kWarmupBlocks) r.block_ms.push_back(ms);

    KvBatch batch;
    batch.reserve(writes.size() + 2);
    for (auto& [k, v] : writes) batch.push_back({k, std::move(v)});
    for (KvWrite& w : StateHashHostWrites(hash)) batch.push_back(std::move(w));
    CHECK_OK(store->Write(batch, true));
  }

  absl::StatusOr<LtHash16> check = ComputeStateHash(*store->GetSnapshot());
  CHECK(check.ok()) << check.status();
  CHECK(*check == hash) << "incremental hash differs from full recompute at " << n << " keys";
  r.keys = live.size();
  r.median_ms = Median(r.block_ms);
  return r;
}

// Cost of one LtHash16 element (SHAKE256 of 2048 bytes + lane add), for context.
double MicrosPerElement() {
  std::string value(100, 'v');
  LtHash16 h;
  const int n = 20000;
  Clock::time_point start = Clock::now();
  for (int i = 0; i < n; ++i) h.Add(Key(i), value);
  double us = MillisSince(start) * 1000 / n;
  CHECK(!h.IsEmpty());
  return us;
}

int Main(int argc, char** argv) {
  std::string dir = StrCat(std::filesystem::temp_directory_path().string(), "/state_hash_bench-",
                           ::getpid());
  int blocks = 9;
  uint64_t small = 10000;
  uint64_t large = 1000000;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--dir") {
      dir = next();
    } else if (arg == "--blocks") {
      blocks = std::atoi(next().c_str());
    } else if (arg == "--small") {
      small = std::strtoull(next().c_str(), nullptr, 10);
    } else if (arg == "--large") {
      large = std::strtoull(next().c_str(), nullptr, 10);
    } else if (arg == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: state_hash_bench [--dir DIR] [--blocks B] [--small N] [--large N] "
                   "[--keep]\n");
      return 2;
    }
  }
  if (blocks < 1 || small < 1 || large < 1) {
    std::fprintf(stderr, "--blocks, --small and --large must be positive\n");
    return 2;
  }

  std::printf("state_hash_bench: %d writes/block (50%% overwrite, 25%% insert, 25%% delete), "
              "%d warm-up + %d measured blocks, LevelDB in %s\n",
              kWritesPerBlock, kWarmupBlocks, blocks, dir.c_str());
  std::printf("one LtHash16 element: %.2f us\n", MicrosPerElement());
  std::vector<SizeResult> results;
  for (uint64_t n : {small, large}) {
    SizeResult r = RunSize(StrCat(dir, "/", n), n, blocks);
    std::printf("store %8llu keys: fill %8.0f ms, full scan %8.0f ms; ApplyWrites per block: "
                "median %7.1f ms, min %7.1f ms, max %7.1f ms\n",
                static_cast<unsigned long long>(n), r.fill_ms, r.full_scan_ms, r.median_ms,
                *std::min_element(r.block_ms.begin(), r.block_ms.end()),
                *std::max_element(r.block_ms.begin(), r.block_ms.end()));
    std::fflush(stdout);
    results.push_back(r);
  }
  double ratio = results[1].median_ms / results[0].median_ms;
  std::printf("ratio large/small (median): %.3f  (target <= 1.2: %s)\n", ratio,
              ratio <= 1.2 ? "OK" : "EXCEEDED");
  if (!keep) std::filesystem::remove_all(dir);
  return ratio <= 1.2 ? 0 : 1;
}

}  // namespace
}  // namespace swingset

int main(int argc, char** argv) { return swingset::Main(argc, argv); }
