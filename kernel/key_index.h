// File: key_index.h
//
// KeyIndex<Value>: a hash index from string keys to heap nodes `std::pair<const std::string,
// Value>` that it owns. Node addresses never change (so callers may keep Node pointers until
// the node is erased), and each slot of the open-addressing table holds the key's full 64-bit
// hash next to the node pointer. That makes two things cheap that a node-based hash map makes
// expensive when the table is much larger than the cache:
//   - a lookup touches the slot and then only the node it finds (a mismatch is rejected on the
//     stored hash without loading the other node);
//   - a prefetch can go two steps ahead: PrefetchSlot(hash) loads the slot, and PrefetchNode(hash)
//     (once that slot is cached) loads the node, without comparing any key.
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
#include <memory>
#include <string>
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

// Hash is replaceable for tests (to force collisions and long probe runs).
template <typename Value, typename Hash = KeyHash>
class KeyIndex {
 public:
  using Node = std::pair<const std::string, Value>;

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
    auto node = std::make_unique<Node>(std::piecewise_construct,
                                       std::forward_as_tuple(key), std::forward_as_tuple());
    Place(Slot{h, node.get()});
    ++size_;
    return node.release();
  }

  // Removes and destroys n (which must be in the index; h is its key's hash).
  void Erase(Node* n, uint64_t h) {
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
    delete n;
  }

  // Destroys every node.
  void Clear() {
    for (Slot& s : slots_) delete s.node;
    slots_.clear();
    mask_ = 0;
    size_ = 0;
  }

  size_t size() const { return size_; }

  // Cache hints (no effect on contents): the slot where a lookup of hash h starts; (when that
  // slot is already cached) the node of the first slot holding hash h.
  void PrefetchSlot(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  void PrefetchNode(uint64_t h) const {
    if (const Slot* s = SlotWithHash(h)) {
      __builtin_prefetch(s->node);
      __builtin_prefetch(reinterpret_cast<const char*>(s->node) + 64);
    }
  }
  // And (when that node is already cached) the characters of its key if they are on the heap.
  void PrefetchKeyChars(uint64_t h) const {
    if (const Slot* s = SlotWithHash(h)) {
      const std::string& key = s->node->first;
      if (key.size() > 15) __builtin_prefetch(key.data());
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    Node* node = nullptr;
  };

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
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_KEY_INDEX_H_
