// File: crank_buffer.h
//
// The kernel's write path: three layers read top-down (DESIGN §2, STYLE point 4):
//   crank layer  writes of the crank in progress, with savepoints (an undo log)
//   block layer  net writes of the block so far (folded from finished cranks)
//   store        the last committed state (KvStore)
// Reads below the crank layer go through one hash map (`view_`) holding the newest known value
// of every key seen: block writes and cached store reads. The ordered block map is kept only
// for iteration and commit.
// Nothing reaches the store until TakeBlock() is written by the owner. Iteration merges the three
// layers in key order, so prefix scans see uncommitted writes.
//
// A read or iteration error from the store is a storage failure: CHECK (fatal), as DESIGN §7
// requires, since continuing could fork consensus.
//
// Thread-safety: single-threaded (the kernel thread).

#ifndef SWINGSETD_KERNEL_CRANK_BUFFER_H_
#define SWINGSETD_KERNEL_CRANK_BUFFER_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/flat_hash_map.h"
#include "kernel/kv_store.h"

namespace swingset {

class CrankBuffer {
 public:

  explicit CrankBuffer(KvStore* store) : store_(store) {}
  CrankBuffer(const CrankBuffer&) = delete;
  CrankBuffer& operator=(const CrankBuffer&) = delete;

  std::optional<std::string> Get(std::string_view key);
  bool Has(std::string_view key) { return Get(key).has_value(); }
  void Set(std::string_view key, std::string_view value);
  void Delete(std::string_view key);

  // The first live key strictly greater than `after` that starts with `prefix`, with its value.
  std::optional<std::pair<std::string, std::string>> NextAfter(std::string_view after,
                                                               std::string_view prefix);
  // All live keys with the prefix, in key order.
  std::vector<std::pair<std::string, std::string>> ScanPrefix(std::string_view prefix);

  // Savepoints: a mark into the undo log; RollbackTo undoes crank writes made after it.
  size_t SavePoint() const { return undo_.size(); }
  void RollbackTo(size_t mark);

  // Ends the crank: appends its net writes, in key order, to *writes (if non-null), folds them
  // into the block layer and clears the crank layer.
  void FinishCrank(std::vector<KvWrite>* writes);
  // Drops the crank layer (used when a host operation fails half-way).
  void DiscardCrank();

  // Visits the block layer in key order.
  void VisitBlock(
      const std::function<void(std::string_view, const std::optional<std::string>&)>& fn) const;
  // The same, also passing each key's committed value when the buffer knows it (it was read
  // before its first write in this block), or nullptr when it does not.
  void VisitBlockWithBase(const std::function<void(std::string_view,
                                                   const std::optional<std::string>&,
                                                   const std::optional<std::string>*)>& fn) const;
  size_t BlockSize() const { return block_.size(); }
  // The block as a batch; the block layer is left intact until BlockCommitted().
  KvBatch BlockBatch() const;
  // The block was written to the store: move it into the read cache and clear it.
  void BlockCommitted();
  // Forgets the crank and block layers and the read cache.
  void AbortBlock();

 private:
  std::optional<std::string> ReadStore(std::string_view key);
  const std::optional<std::string>& BlockValue(std::string_view key) const;
  using CrankEntry = std::pair<const std::string*, const std::optional<std::string>*>;
  // Crank-layer entries whose key starts with prefix, in key order.
  std::vector<CrankEntry> SortedCrank(std::string_view prefix) const;

  struct Undo {
    std::string key;
    bool existed;                       // key was present in crank_ before the write
    std::optional<std::string> before;  // its crank-layer value then
  };

  KvStore* store_;
  // The crank layer: hashed for O(1) access; sorted only when the crank ends or a scan needs it.
  absl::flat_hash_map<std::string, std::optional<std::string>> crank_;
  std::vector<Undo> undo_;
  // Keys written in this block (their values are in view_). Unordered; BlockKeys() sorts them
  // on demand (commit, scans) and caches the order until the next crank folds in.
  absl::flat_hash_set<std::string> block_;
  // Committed values of block keys that were read before their first write in this block.
  absl::flat_hash_map<std::string, std::optional<std::string>> block_base_;
  mutable std::vector<const std::string*> block_sorted_;
  mutable bool block_sorted_valid_ = true;
  const std::vector<const std::string*>& BlockKeys() const;
  // Newest value of every key seen (block writes and store reads; nullopt = absent). Lookups
  // only, never iterated. Entries for keys in block_ must stay until the block is committed.
  absl::flat_hash_map<std::string, std::optional<std::string>> view_;
  static constexpr size_t kMaxCacheEntries = 1 << 20;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_CRANK_BUFFER_H_
