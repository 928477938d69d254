// File: fault_kv_store.h
//
// A KvStore that forwards to another one and fails chosen calls, to test what a storage failure
// does (docs/DESIGN.md §7): the process stops without committing, says what failed, and restarts
// cleanly from its last commit. Used by the tests and by swingsetd's testing flag
// --store-faults; never by a node in production.
//
//   StoreFaults faults = *StoreFaults::Parse("write:3");
//   auto store = NewFaultKvStore(std::move(leveldb), faults);
//   ... store->Arm();   // counting starts here
//   // the third Write from now fails with kUnavailable "injected storage fault: write #3"
//
// Thread-safety: as the wrapped store; the counters are atomic.

#ifndef SWINGSETD_KERNEL_STORAGE_FAULT_KV_STORE_H_
#define SWINGSETD_KERNEL_STORAGE_FAULT_KV_STORE_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "kernel/kv_store.h"

namespace swingset {

// Which calls fail, counted from Arm(): the n-th (1-based; 0 = none) of each kind, and with
// `sticky` every later call of that kind too.
struct StoreFaults {
  uint64_t get = 0;      // Get, on the store or on any snapshot
  uint64_t iterate = 0;  // iterator steps (Seek or Next): the iterator turns invalid with an error
  uint64_t write = 0;    // Write (one batch: a block's commit is one)
  bool sticky = false;

  // "KIND:N[,KIND:N...][,sticky]", KIND one of get, iterate, write.
  static absl::StatusOr<StoreFaults> Parse(std::string_view spec);
};

class FaultKvStore : public KvStore {
 public:
  // Starts counting calls (calls before Arm never fail).
  virtual void Arm() = 0;
  // How many faults it has injected so far.
  virtual uint64_t injected() const = 0;
};

std::unique_ptr<FaultKvStore> NewFaultKvStore(std::unique_ptr<KvStore> base, StoreFaults faults);

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_STORAGE_FAULT_KV_STORE_H_
