// File: crank_buffer.h
//
// The kernel's write path: three layers read top-down (docs/DESIGN.md §2):
//   crank layer  writes of the crank in progress, with savepoints (an undo log)
//   block layer  net writes of the block so far (folded from finished cranks)
//   store        the last committed state (KvStore)
// All three layers of a key live in one entry of a hash index (`entries_`, kernel/key_index.h),
// so a read, a write or the fold at the end of a crank costs one key hash: the entry holds the
// crank-layer value (if written in this crank), the newest value below it (a block write or a
// cached store read), and whether a block key was read before its first block write (its
// committed value then sits in a side list, read only by the state hash). Separate key lists
// (pointers to the index's nodes, which never move) record which keys are in the crank and
// block layers, for sorting and iteration; each crank appends its new block keys as one sorted
// run, and the block merges the runs when it is read in order.
// Batch loops over many keys use a Prefetcher (below), since at GC scale every lookup is a
// cache miss.
// Nothing reaches the store until BlockBatch() is written by the owner. Iteration merges the
// three layers in key order, so prefix scans see uncommitted writes.
//
// A read or iteration error from the store is a storage failure: CHECK (fatal), as docs/DESIGN.md
// §7 requires, since continuing could fork consensus.
//
// Thread-safety: single-threaded (the kernel thread).

#ifndef SWINGSETD_KERNEL_CRANK_BUFFER_H_
#define SWINGSETD_KERNEL_CRANK_BUFFER_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernel/key_index.h"
#include "kernel/kv_store.h"

namespace swingset {

class CrankBuffer {
 private:
  struct Entry;
  using Node = KeyNode<Entry>;  // n->key(): the key, n->second: the entry

 public:
  // A fixed key whose entry is looked up once and remembered, for the few keys the kernel
  // touches on every crank (queue heads, crankNumber, activityhash). The remembered entry is
  // dropped whenever the buffer erases entries, so it never dangles.
  class KeyHandle {
   public:
    explicit KeyHandle(std::string_view key) : key_(key) {}
    const std::string& key() const { return key_; }

   private:
    friend class CrankBuffer;
    std::string key_;
    Node* node_ = nullptr;
    uint64_t epoch_ = 0;  // the buffer's epoch_ when node_ was found
  };

  explicit CrankBuffer(KvStore* store) : store_(store) {}
  CrankBuffer(const CrankBuffer&) = delete;
  CrankBuffer& operator=(const CrankBuffer&) = delete;

  std::optional<std::string> Get(std::string_view key);
  // The current value of key without copying it, or null when absent. The pointer is valid
  // until the next non-const call on this buffer.
  const std::string* Find(std::string_view key);
  bool Has(std::string_view key) { return Find(key) != nullptr; }
  void Set(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // The same for a KeyHandle (no hashing after the first use).
  const std::string* Find(KeyHandle& key);
  void Set(KeyHandle& key, std::string_view value);
  // A key's entry, for reading and then writing the same key with one lookup. Valid within
  // the crank that made it (entries are only erased when a block is committed or aborted).
  class EntryRef {
   private:
    friend class CrankBuffer;
    explicit EntryRef(Node* n) : node_(n) {}
    Node* node_;
  };
  EntryRef Ref(std::string_view key) { return EntryRef(NodeFor(key)); }
  // Changes whenever entries are erased (block commit or abort, never within a crank): an
  // EntryRef made in an older epoch must not be used.
  uint64_t epoch() const { return epoch_; }
  const std::string* Find(EntryRef r) { return Lookup(r.node_); }
  void Set(EntryRef r, std::string_view value) { Write(r.node_, value); }
  void Delete(EntryRef r) { Write(r.node_, std::nullopt); }

  // Records that key is absent from the committed store, as a read would, without reading:
  // for keys named after a freshly allocated id or queue index, which cannot exist yet. The
  // caller must be sure (a wrong call would make reads miss a stored value). Knowing the
  // committed value lets the block skip deleting a key the store never had, and spares the
  // state hash a store read (VisitBlockWithBase passes the known absence). No-op for a key
  // the buffer already knows or has written.
  void AssumeAbsent(std::string_view key);
  void AssumeAbsent(EntryRef r) { MarkAbsent(r.node_); }
  // AssumeAbsent(key) then Set(key, value), with one lookup.
  void Create(std::string_view key, std::string_view value);
  void Create(EntryRef r, std::string_view value) {
    MarkAbsent(r.node_);
    Write(r.node_, value);
  }

  // Cache hints for batch loops over many keys (a GC syscall or delivery naming thousands of
  // objects): the entries live in scattered heap nodes, and a loop that waits for each miss in
  // turn is bound by memory latency. A Prefetcher runs ahead of such a loop in three stages,
  // each issued some iterations after the previous one has had time to arrive: the key's hash
  // slot, then its entry, then the key's characters when they are held on the heap. Hints
  // only: no effect on contents, never reads the store.
  //
  //   auto pf = buf.MakePrefetcher(n, [&](size_t j, auto&& fn) { fn(key1(j)); fn(key2(j)); });
  //   for (size_t i = 0; i < n; ++i) { pf.Step(i); ... }
  //
  // keys_of(j, fn) calls fn(key) for (at most kMaxKeys of) the keys item j will touch.
  template <typename KeysOf>
  class Prefetcher {
   public:
    static constexpr size_t kMaxKeys = 4;
    Prefetcher(const CrankBuffer* buf, size_t n, KeysOf keys_of)
        : buf_(buf), n_(n), keys_of_(std::move(keys_of)) {}
    // Call at the top of iteration i (i = 0, 1, ... in order).
    void Step(size_t i) {
      if (i == 0) {
        // Ramp-up: the first items get the stages they would have had before the loop.
        for (size_t j = 0; j < 3 * kDistance; ++j) Slot(j);
        for (size_t j = 0; j < 2 * kDistance; ++j) Later(j, 1);
        for (size_t j = 0; j < kDistance; ++j) Later(j, 2);
        return;
      }
      Slot(i + 3 * kDistance - 1);
      Later(i + 2 * kDistance - 1, 1);
      Later(i + kDistance - 1, 2);
    }

   private:
    static constexpr size_t kDistance = 4;
    static constexpr size_t kRing = 4 * kDistance;  // > 3 * kDistance: no live item reused
    struct Hashes {
      uint64_t h[kMaxKeys];
      size_t count;
    };
    void Slot(size_t j) {
      if (j >= n_) return;
      Hashes& r = ring_[j % kRing];
      r.count = 0;
      keys_of_(j, [&](std::string_view k) {
        if (r.count == kMaxKeys) return;
        const uint64_t h = Index::HashOf(k);
        r.h[r.count++] = h;
        buf_->entries_.PrefetchSlot(h);
      });
    }
    void Later(size_t j, int stage) {
      if (j >= n_) return;
      const Hashes& r = ring_[j % kRing];
      for (size_t k = 0; k < r.count; ++k) {
        if (stage == 1) {
          buf_->entries_.PrefetchNode(r.h[k]);
        } else {
          buf_->entries_.PrefetchKeyChars(r.h[k]);
        }
      }
    }
    const CrankBuffer* buf_;
    size_t n_;
    KeysOf keys_of_;
    Hashes ring_[kRing];
  };
  template <typename KeysOf>
  Prefetcher<KeysOf> MakePrefetcher(size_t n, KeysOf keys_of) const {
    return Prefetcher<KeysOf>(this, n, std::move(keys_of));
  }

  // The first live key strictly greater than `after` that starts with `prefix`, with its value.
  std::optional<std::pair<std::string, std::string>> NextAfter(std::string_view after,
                                                               std::string_view prefix);
  // All live keys with the prefix, in key order.
  std::vector<std::pair<std::string, std::string>> ScanPrefix(std::string_view prefix);

  // Savepoints: a mark into the undo log; RollbackTo undoes crank writes made after it.
  size_t SavePoint() const { return undo_.size(); }
  void RollbackTo(size_t mark);

  // Visits the crank's net writes in key order (the crank layer is left intact).
  void VisitCrank(
      const std::function<void(std::string_view, const std::optional<std::string>&)>& fn);
  // The same without the std::function indirection, for the per-crank hash: fn(key, value)
  // with value null for a delete. The sort is kept for FinishCrank, so a crank's keys are
  // sorted once.
  template <typename Fn>
  void ForEachCrankWrite(Fn&& fn) {
    const std::vector<SortedNode>& nodes = SortedCrankKeys();
    for (size_t i = 0; i < nodes.size(); ++i) {
      PrefetchNodes(nodes.data(), i, nodes.size());
      const Entry& e = nodes[i].n->second;
      fn(nodes[i].n->key(), e.has_crank ? &e.crank : nullptr);
    }
  }
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
  size_t BlockSize() const { return block_keys_.size(); }
  // The block as a batch; the block layer is left intact until BlockCommitted(). Deletes of
  // keys known to be absent from the committed store are left out (they would be no-ops).
  KvBatch BlockBatch() const;
  // The block was written to the store: move it into the read cache and clear it.
  void BlockCommitted();
  // Forgets the crank and block layers and the read cache.
  void AbortBlock();

 private:
  // Size matters: at GC scale the entries far outgrow the caches, and every byte of a node
  // costs memory traffic (a node 128 bytes larger made the GC benchmark 15% slower). With the
  // key, a node is 128 bytes, two cache lines: the header, key and flags, then the two values.
  // The committed value of a block key (rarely read: by the state hash) lives in bases_.
  struct Entry {
    bool in_crank : 1 = false;
    bool known : 1 = false;      // `value` (with has_value) is the newest value below the crank
    bool has_value : 1 = false;  // layer: a block write or the committed value
    bool has_crank : 1 = false;  // valid while in_crank: the crank layer's value, or a delete
    bool in_block : 1 = false;
    // While has_base: the committed value of a block key read before its first write in this
    // block, absent or bases_[base_index].
    bool has_base : 1 = false;
    bool base_present : 1 = false;
    // An in_block key absent both before the block and now, left out of block_keys_ when the
    // runs were merged (it changes nothing); it sits in block_dead_ until it is written again.
    bool block_dead : 1 = false;
    uint32_t base_index = 0;
    std::string value;
    std::string crank;
  };
  static_assert(sizeof(Node) == 128, "see Entry");

  struct Undo {
    Node* node;
    bool existed;                       // key was in the crank layer before the write
    std::optional<std::string> before;  // its crank-layer value then
  };

  // A node with the first 16 bytes of its key as two big-endian words (zero-padded): if one
  // key's words are less than another's, that key is less, so sorting and merging compare
  // words held in the array and follow node pointers only on ties.
  struct SortedNode {
    uint64_t hi;
    uint64_t lo;
    Node* n;
  };
  static SortedNode WithWords(Node* n);
  // Key order on SortedNodes (a function object, so sorts and merges inline it).
  struct NodeLess {
    bool operator()(const SortedNode& a, const SortedNode& b) const {
      if (a.hi != b.hi) return a.hi < b.hi;
      if (a.lo != b.lo) return a.lo < b.lo;
      return a.n->key() < b.n->key();
    }
  };
  static Node* NodeOf(Node* n) { return n; }
  static Node* NodeOf(const SortedNode& s) { return s.n; }
  // In a loop over an array of nodes (scattered in memory), starts loading node i + 8 and the
  // heap-held key characters of node i + 4, which that loop will read soon.
  template <typename T>
  static void PrefetchNodes(const T* nodes, size_t i, size_t n) {
    if (i + 8 < n) {
      __builtin_prefetch(NodeOf(nodes[i + 8]));
      __builtin_prefetch(reinterpret_cast<const char*>(NodeOf(nodes[i + 8])) + 64);
    }
    if (i + 4 < n && !NodeOf(nodes[i + 4])->KeyInline()) {
      __builtin_prefetch(NodeOf(nodes[i + 4])->KeyData());
    }
  }
  // A block key absent both before the block and now (created and deleted within it): it
  // changes nothing, so the block needs neither its write nor its delete.
  static bool IsNoOp(const Entry& e) { return !e.has_value && e.has_base && !e.base_present; }
  // Copies of an entry's crank-layer value and of the value below the crank layer.
  static std::optional<std::string> CrankValue(const Entry& e) {
    if (!e.has_crank) return std::nullopt;
    return e.crank;
  }
  static std::optional<std::string> BelowValue(const Entry& e) {
    if (!e.has_value) return std::nullopt;
    return e.value;
  }
  // The entry for key, created (empty) if absent.
  Node* NodeFor(std::string_view key);
  Node* NodeFor(KeyHandle& key);
  // The value of key seen from the top of the layers, or null when absent; reads the store
  // (and caches) on a miss.
  const std::string* Lookup(Node* n);
  void Write(Node* n, std::optional<std::string_view> value);
  void MarkAbsent(Node* n);
  // Crank-layer nodes whose key starts with prefix, in key order.
  std::vector<Node*> SortedCrank(std::string_view prefix) const;
  // crank_keys_ in key order (cached in sorted_crank_ until the crank's key set changes).
  const std::vector<SortedNode>& SortedCrankKeys();
  // Block-layer nodes in key order (the sorted runs cranks appended are merged lazily).
  const std::vector<SortedNode>& BlockKeys() const;

  KvStore* store_;
  // Incremented whenever entries are erased from entries_; KeyHandles found in an older epoch
  // look their key up again.
  uint64_t epoch_ = 1;
  // Every key seen: crank writes, block writes and cached store reads. Never iterated. Nodes
  // stay where they are until erased, so Node pointers stay valid across inserts.
  using Index = KeyIndex<Entry>;
  Index entries_;
  std::vector<Node*> crank_keys_;  // keys in the crank layer, in first-write order
  std::vector<SortedNode> sorted_crank_;  // crank_keys_ sorted by key; valid while crank_sorted_
  bool crank_sorted_ = false;
  std::vector<Undo> undo_;
  // Keys in the block layer; the first block_sorted_count_ are sorted, the rest were appended
  // by cranks since, each crank's new keys as one sorted run starting at an index recorded in
  // block_runs_, and are merged in by BlockKeys().
  mutable std::vector<SortedNode> block_keys_;
  mutable size_t block_sorted_count_ = 0;
  mutable std::vector<size_t> block_runs_;
  // Block keys moved out of block_keys_ as no-ops (Entry::block_dead; may repeat a node that
  // was written again and dropped again).
  mutable std::vector<Node*> block_dead_;
  std::vector<std::string> bases_;  // committed values of block keys (Entry::base_index)
  static constexpr size_t kMaxCacheEntries = 1 << 20;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_CRANK_BUFFER_H_
