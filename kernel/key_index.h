// File: key_index.h
//
// KeyIndex<Value>: a hash index from string keys to nodes it owns, each holding the key and a
// Value. Built for a table much larger than the cache, where every lookup is a memory-latency
// problem:
//   - Each slot of the open-addressing table is 8 bytes: the low 32 bits of the key's hash
//     beside the node's cell number. A lookup loads the slot and then only the node it finds
//     (a mismatch is nearly always rejected on the stored hash bits), and a prefetch can go two
//     steps ahead, PrefetchSlot(hash) to load the slot and PrefetchNode(hash), once that slot
//     is cached, to load the node without comparing any key. Small slots matter: the table is
//     touched at random, and at half the size it stays in the last-level cache for twice as
//     many keys.
//   - Keys of up to kInlineKey bytes (all the kernel's keys but unusual vatstore keys) are
//     stored in the node, next to the value's start, so comparing the key costs no extra miss.
//   - Nodes come from the index's own slabs, not the general heap: however long the process
//     has run and whatever else it allocated and freed, the live nodes stay packed in a region
//     proportional to their number, instead of scattered across the heap's history (which made
//     the same GC work ~40% slower after a few rounds in a process holding a million objects).
// Node addresses never change while the node is in the index, so callers may keep Node
// pointers until the node is erased.
//
// Linear probing, at most 3/4 full, deletion by backward shift (no tombstones). A key's home
// slot is its hash's low bits, which the stored 32 bits include (the table never reaches 2^32
// slots), so moving slots never needs the nodes. The hash (KeyHash) is seeded per process from
// std::random_device, so vat-chosen keys cannot aim at collisions. Iteration order is never
// exposed, so the seed cannot affect anything but speed.
//
// Thread-safety: none (used by the single kernel thread).

#ifndef SWINGSETD_KERNEL_KEY_INDEX_H_
#define SWINGSETD_KERNEL_KEY_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "kernel/base.h"

namespace swingset {

namespace key_index_internal {

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// The 128-bit product of a and b with its halves xor-ed: every input bit reaches the low bits.
inline uint64_t MulFold(uint64_t a, uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
}

// Two secret words, drawn once per process.
struct KeySeed {
  uint64_t a;
  uint64_t b;
};
inline const KeySeed& GetKeySeed() {
  static const KeySeed seed = [] {
    std::random_device rd;
    auto word = [&rd] {
      return (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd());
    };
    KeySeed s;
    s.a = word();
    s.b = word();
    return s;
  }();
  return seed;
}

// Whether the n bytes at a and b are equal: word compares for short keys, where a memcmp call
// costs more than the comparison.
inline bool BytesEqual(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    if (n > 64) return std::memcmp(a, b, n) == 0;
    // Whole words, then the last 8 bytes (overlapping the previous word unless n % 8 == 0).
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (Load64(a + i) != Load64(b + i)) return false;
    }
    return Load64(a + n - 8) == Load64(b + n - 8);
  }
  if (n >= 4) return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace key_index_internal

// The index's hash: the key's bytes, read as 64-bit words, pass through multiply-folds with the
// secret seed words, 16 bytes per fold (one fold for the kernel's keys of up to 16 bytes, two
// or three for the rest). Keys of equal length give distinct (a, b) word pairs, and the length
// is mixed in, so distinct keys collide only through the fold itself. Not cryptographic: with
// the seed unknown, vat-chosen keys cannot aim at collisions, which is all the index needs.
struct KeyHash {
  uint64_t operator()(std::string_view key) const {
    using namespace key_index_internal;
    const KeySeed& seed = GetKeySeed();
    const char* p = key.data();
    const size_t n = key.size();
    uint64_t h = seed.b ^ (n * 0x9e3779b97f4a7c15u);
    uint64_t a, b;
    if (n <= 16) {
      if (n >= 8) {
        a = Load64(p);
        b = Load64(p + n - 8);
      } else if (n >= 4) {
        a = Load32(p);
        b = Load32(p + n - 4);
      } else if (n > 0) {
        a = (uint64_t{static_cast<unsigned char>(p[0])} << 16) |
            (uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
            static_cast<unsigned char>(p[n - 1]);
        b = 0;
      } else {
        a = b = 0;
      }
    } else {
      // Every 16-byte block but the last, then the last 16 bytes (overlapping the previous
      // block when n is not a multiple of 16).
      const char* end = p + n;
      for (; end - p > 16; p += 16) h = MulFold(Load64(p) ^ seed.a, Load64(p + 8) ^ h);
      a = Load64(end - 16);
      b = Load64(end - 8);
    }
    return MulFold(a ^ seed.a, b ^ h);
  }
};

// A node: key() is the key (the node's own copy), `second` the value. The header and a key of
// up to kInlineKey bytes take the first 56 bytes, so a key comparison reads one cache line
// and the value starts right after it.
template <typename Value>
struct KeyNode {
  static constexpr size_t kInlineKey = 40;
  static constexpr size_t kPrefixBytes = 16;
  static_assert(kInlineKey >= kPrefixBytes);

  explicit KeyNode(std::string_view key) : key_size(static_cast<uint32_t>(key.size())) {
    char* dst = key_chars;
    if (!KeyInline()) {
      dst = new char[key.size()];
      std::memcpy(key_chars, &dst, sizeof dst);  // a longer key lives on the heap
    } else {
      std::memset(key_chars + key.size(), 0, kInlineKey - key.size());
    }
    if (!key.empty()) std::memcpy(dst, key.data(), key.size());
  }
  ~KeyNode() {
    if (!KeyInline()) delete[] HeapKey();
  }
  KeyNode(const KeyNode&) = delete;
  KeyNode& operator=(const KeyNode&) = delete;

  bool KeyInline() const { return key_size <= kInlineKey; }
  const char* KeyData() const { return KeyInline() ? key_chars : HeapKey(); }
  std::string_view key() const { return std::string_view(KeyData(), key_size); }
  // The key's first kPrefixBytes bytes, zero-padded when the key is shorter: an inline key is
  // followed by zeros to the end of key_chars, and a heap key is longer than kInlineKey.
  const char* KeyPrefix() const { return KeyData(); }

  uint64_t hash = 0;  // the key's hash
  uint32_t cell = 0;  // where KeyIndex keeps the node
  uint32_t key_size;
  char key_chars[kInlineKey];  // the key, or (when longer) a pointer to it
  Value second{};

 private:
  char* HeapKey() const {
    char* p;
    std::memcpy(&p, key_chars, sizeof p);
    return p;
  }
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
    const uint32_t tag = static_cast<uint32_t>(h);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.cell == kEmpty) return nullptr;
      if (s.tag == tag) {
        Node* n = NodeAt(s.cell);
        if (n->key_size == key.size() &&
            key_index_internal::BytesEqual(n->KeyData(), key.data(), key.size())) {
          return n;
        }
      }
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
    Place(Slot{static_cast<uint32_t>(h), cell});
    ++size_;
    return node;
  }

  // Removes and destroys n (which must be in the index).
  void Erase(Node* n) {
    const uint64_t h = n->hash;
    size_t i = h & mask_;
    while (slots_[i].cell != n->cell) i = (i + 1) & mask_;
    // Backward shift: move later members of the probe run into the hole when their home slot
    // is not after it (cyclically), so every key stays reachable from its home slot.
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j].cell != kEmpty; j = (j + 1) & mask_) {
      const size_t home = slots_[j].tag & mask_;
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
      if (s.cell != kEmpty) NodeAt(s.cell)->~Node();
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
      const Node* n = NodeAt(s->cell);
      __builtin_prefetch(n);
      __builtin_prefetch(reinterpret_cast<const char*>(n) + 64);
    }
  }
  void PrefetchKeyChars(uint64_t h) const {
    if (const Slot* s = SlotWithHash(h)) {
      const Node* n = NodeAt(s->cell);
      if (!n->KeyInline()) __builtin_prefetch(n->KeyData());
    }
  }

 private:
  static constexpr uint32_t kEmpty = ~uint32_t{0};  // the cell of an empty slot
  struct Slot {
    uint32_t tag = 0;  // the low 32 bits of the key's hash
    uint32_t cell = kEmpty;
  };
  // Storage for one node.
  struct alignas(sizeof(Node) % 64 == 0 ? 64 : alignof(Node)) Cell {
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
  Cell* CellAt(size_t cell) const {
    return &slabs_[cell / kNodesPerSlab][cell % kNodesPerSlab];
  }
  Node* NodeAt(uint32_t cell) const { return std::launder(reinterpret_cast<Node*>(CellAt(cell))); }

  // The first slot of hash h's probe run holding hash h (looking at most 8 slots), or null.
  const Slot* SlotWithHash(uint64_t h) const {
    if (slots_.empty()) return nullptr;
    const uint32_t tag = static_cast<uint32_t>(h);
    for (size_t i = h & mask_, probes = 0; probes < 8; i = (i + 1) & mask_, ++probes) {
      const Slot& s = slots_[i];
      if (s.cell == kEmpty) return nullptr;
      if (s.tag == tag) return &s;
    }
    return nullptr;
  }

  void Place(Slot slot) {
    size_t i = slot.tag & mask_;
    while (slots_[i].cell != kEmpty) i = (i + 1) & mask_;
    slots_[i] = slot;
  }

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t cap = old.empty() ? 64 : old.size() * 2;
    // Home slots come from the stored 32 hash bits, and cell numbers are 32-bit.
    SWINGSET_CHECK(cap <= (size_t{1} << 32)) << "hash index beyond 2^32 slots";
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.cell != kEmpty) Place(s);
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
