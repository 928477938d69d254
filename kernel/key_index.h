// File: key_index.h
//
// KeyIndex<Value>: a hash index from string keys to nodes it owns, each holding the key and a
// Value. Built for a table much larger than the cache, where every lookup is a memory-latency
// problem:
//   - Each slot of the open-addressing table holds the key's full 64-bit hash beside the node
//     pointer: a lookup loads the slot and then only the node it finds (a mismatch is rejected
//     on the stored hash), and a prefetch can go two steps ahead, PrefetchSlot(hash) to load the
//     slot and PrefetchNode(hash), once that slot is cached, to load the node without comparing
//     any key.
//   - Keys of up to kInlineKey bytes (all the kernel's keys but unusual vatstore keys) are
//     stored in the node, next to the value's start, so comparing the key costs no extra miss.
//   - Nodes come from the index's own slabs, not the general heap: however long the process
//     has run and whatever else it allocated and freed, the live nodes stay packed in a region
//     proportional to their number, instead of scattered across the heap's history (which made
//     the same GC work ~40% slower after a few rounds in a process holding a million objects).
// Node addresses never change while the node is in the index, so callers may keep Node
// pointers until the node is erased.
//
// Linear probing, at most 3/4 full, deletion by backward shift (no tombstones). The hash is
// absl::Hash, which is seeded per process, so vat-chosen keys cannot aim at collisions.
// Iteration order is never exposed.
//
// Thread-safety: none (used by the single kernel thread).

#ifndef SWINGSETD_KERNEL_KEY_INDEX_H_
#define SWINGSETD_KERNEL_KEY_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace swingset {

// absl::Hash of the key as an absl::string_view (Debian's Abseil has its own string_view type,
// and hashing a std::string_view would fall back to the unseeded std::hash).
struct KeyHash {
  uint64_t operator()(std::string_view key) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(key.data(), key.size()));
  }
};

// A node: `first` is the key (a view of the node's own copy), `second` the value.
template <typename Value>
struct KeyNode {
  static constexpr size_t kInlineKey = 40;

  explicit KeyNode(std::string_view key) {
    char* dst = inline_key;
    if (key.size() > kInlineKey) dst = new char[key.size()];
    if (!key.empty()) std::memcpy(dst, key.data(), key.size());
    first = std::string_view(dst, key.size());
  }
  ~KeyNode() {
    if (!KeyInline()) delete[] first.data();
  }
  KeyNode(const KeyNode&) = delete;
  KeyNode& operator=(const KeyNode&) = delete;

  bool KeyInline() const { return first.data() == inline_key; }

  std::string_view first;
  char inline_key[kInlineKey];
  uint32_t cell = 0;  // where KeyIndex keeps the node
  uint64_t hash = 0;  // the key's hash
  Value second{};
};

// Hash is replaceable for tests (to force collisions and long probe runs).
template <typename Value, typename Hash = KeyHash>
class KeyIndex {
 public:
  using Node = KeyNode<Value>;

  KeyIndex() = default;
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;
  ~KeyIndex() { Clear(); }

  static uint64_t HashOf(std::string_view key) { return Hash{}(key); }

  // The node for key (whose hash is h), or null.
  Node* Find(std::string_view key, uint64_t h) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.node == nullptr) return nullptr;
      if (s.hash == h && s.node->first == key) return s.node;
    }
  }

  // The node for key, created with a value-initialized Value if absent.
  Node* FindOrInsert(std::string_view key, uint64_t h) {
    if (Node* n = Find(key, h)) return n;
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    uint32_t cell;
    void* mem = Allocate(&cell);
    Node* node = new (mem) Node(key);
    node->cell = cell;
    node->hash = h;
    Place(Slot{h, node});
    ++size_;
    return node;
  }

  // Removes and destroys n (which must be in the index).
  void Erase(Node* n) {
    const uint64_t h = n->hash;
    size_t i = h & mask_;
    while (slots_[i].node != n) i = (i + 1) & mask_;
    // Backward shift: move later members of the probe run into the hole when their home slot
    // is not after it (cyclically), so every key stays reachable from its home slot.
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j].node != nullptr; j = (j + 1) & mask_) {
      const size_t home = slots_[j].hash & mask_;
      if (((j - home) & mask_) >= ((j - hole) & mask_)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    const uint32_t cell = n->cell;
    n->~Node();
    Release(cell);
  }

  // Destroys every node and returns the slabs.
  void Clear() {
    for (Slot& s : slots_) {
      if (s.node != nullptr) s.node->~Node();
    }
    slots_.clear();
    slots_.shrink_to_fit();
    mask_ = 0;
    size_ = 0;
    slabs_.clear();
    free_bits_.clear();
    first_free_word_ = 0;
  }

  size_t size() const { return size_; }

  // Cache hints (no effect on contents): the slot where a lookup of hash h starts; (when that
  // slot is already cached) the node of the first slot holding hash h; and (when that node is
  // cached too) its key's characters if they are not inline.
  void PrefetchSlot(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  void PrefetchNode(uint64_t h) const {
    if (const Slot* s = SlotWithHash(h)) {
      __builtin_prefetch(s->node);
      __builtin_prefetch(reinterpret_cast<const char*>(s->node) + 64);
    }
  }
  void PrefetchKeyChars(uint64_t h) const {
    if (const Slot* s = SlotWithHash(h)) {
      if (!s->node->KeyInline()) __builtin_prefetch(s->node->first.data());
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    Node* node = nullptr;
  };
  // Storage for one node.
  struct alignas(Node) Cell {
    unsigned char bytes[sizeof(Node)];
  };
  static constexpr size_t kNodesPerSlab = 512;  // a multiple of 64
  static constexpr size_t kWordsPerSlab = kNodesPerSlab / 64;

  // The lowest free cell. Reusing freed cells in address order (not last-freed first) keeps
  // nodes made one after another next to each other, as they were freed: after a GC frees a
  // run of objects, the next objects' nodes fill that run in order. A LIFO free list
  // scrambles that order a little more each time, and sequential work over objects then
  // misses the cache at every node (measured: +40% after five GC rounds).
  void* Allocate(uint32_t* cell_out) {
    for (size_t w = first_free_word_; w < free_bits_.size(); ++w) {
      if (free_bits_[w] != 0) {
        const size_t bit = __builtin_ctzll(free_bits_[w]);
        free_bits_[w] &= free_bits_[w] - 1;
        first_free_word_ = w;
        return CellAt(*cell_out = static_cast<uint32_t>(w * 64 + bit));
      }
    }
    first_free_word_ = free_bits_.size();
    slabs_.push_back(std::make_unique<Cell[]>(kNodesPerSlab));
    free_bits_.resize(free_bits_.size() + kWordsPerSlab, ~uint64_t{0});
    free_bits_[first_free_word_] &= ~uint64_t{1};
    return CellAt(*cell_out = static_cast<uint32_t>(first_free_word_ * 64));
  }
  void Release(uint32_t cell) {
    free_bits_[cell / 64] |= uint64_t{1} << (cell % 64);
    if (cell / 64 < first_free_word_) first_free_word_ = cell / 64;
  }
  Cell* CellAt(size_t cell) { return &slabs_[cell / kNodesPerSlab][cell % kNodesPerSlab]; }

  // The first slot of hash h's probe run holding hash h (looking at most 8 slots), or null.
  const Slot* SlotWithHash(uint64_t h) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = h & mask_, probes = 0; probes < 8; i = (i + 1) & mask_, ++probes) {
      const Slot& s = slots_[i];
      if (s.node == nullptr) return nullptr;
      if (s.hash == h) return &s;
    }
    return nullptr;
  }

  void Place(Slot slot) {
    size_t i = slot.hash & mask_;
    while (slots_[i].node != nullptr) i = (i + 1) & mask_;
    slots_[i] = slot;
  }

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t cap = old.empty() ? 64 : old.size() * 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.node != nullptr) Place(s);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  std::vector<std::unique_ptr<Cell[]>> slabs_;
  std::vector<uint64_t> free_bits_;  // one bit per cell of slabs_, set while free
  size_t first_free_word_ = 0;       // free_bits_ words before this one are all zero
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_KEY_INDEX_H_
