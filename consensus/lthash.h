// File: lthash.h
//
// LtHash16: a homomorphic multiset hash over key/value entries (docs/DESIGN.md §5,
// docs/STATE_HASH.md). The hash of a set of entries is the lane-wise sum, mod 2^16, of one
// 1024-lane element per entry, so it can be updated in O(1) per entry (Add/Remove) and does not
// depend on the order in which entries were added.
//
//   element(key, value) = SHAKE256(u64le(len(key)) ‖ key ‖ u64le(len(value)) ‖ value),
//                         2048 output bytes read as 1024 little-endian uint16 lanes
//   Add(key, value)     lanes[i] += element[i]  (mod 2^16)
//   Remove(key, value)  lanes[i] -= element[i]  (mod 2^16)
//   Serialize()         lanes as 2048 bytes, lane 0 first, each lane little-endian
//   DigestHex()         lowercase hex SHA-256 of Serialize()
//
// DO NOT CHANGE the encoding: the digest is consensus state compared across validators.
//
// Example:
//   LtHash16 h;
//   h.Add("ko20.owner", "v1");
//   h.Remove("ko20.owner", "v1");  // back to the empty-set hash
//   std::string hex = h.DigestHex();
//
// Thread-safety: an LtHash16 is a plain value; concurrent reads are safe, writes need external
// synchronization. Add/Remove on different objects may run on different threads.

#ifndef SWINGSETD_CONSENSUS_LTHASH_H_
#define SWINGSETD_CONSENSUS_LTHASH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace swingset {

class LtHash16 {
 public:
  static constexpr size_t kLanes = 1024;
  static constexpr size_t kSerializedSize = kLanes * sizeof(uint16_t);  // 2048

  // The hash of the empty multiset: every lane zero.
  LtHash16() : lanes_{} {}

  LtHash16(const LtHash16&) = default;
  LtHash16& operator=(const LtHash16&) = default;

  // Adds the entry (key, value) to the multiset. Does not allocate.
  void Add(std::string_view key, std::string_view value);
  // Removes one occurrence of (key, value). Removing an entry that was never added is not
  // detected: the result is the hash of a multiset with a negative count.
  void Remove(std::string_view key, std::string_view value);

  // The 2048-byte serialization: lane 0 first, each lane little-endian.
  std::string Serialize() const;
  // Inverse of Serialize. kInvalidArgument unless `bytes` is exactly kSerializedSize long.
  static absl::StatusOr<LtHash16> Deserialize(std::string_view bytes);

  // Lowercase hex SHA-256 of Serialize() (64 characters).
  std::string DigestHex() const;

  bool IsEmpty() const;
  uint16_t lane(size_t i) const { return lanes_[i]; }

  // The union of two multisets: lane-wise sum.
  LtHash16& operator+=(const LtHash16& other);

  friend bool operator==(const LtHash16& a, const LtHash16& b) { return a.lanes_ == b.lanes_; }
  friend bool operator!=(const LtHash16& a, const LtHash16& b) { return !(a == b); }

 private:
  friend class LtHashBatch;
  alignas(64) std::array<uint16_t, kLanes> lanes_;
};

// Many Add/Remove at once, for a block's writes or a whole store: the same lanes as
// LtHash16::Add/Remove one by one (it is the same SHAKE256), computed eight elements at a time
// with AVX-512 when the CPU has it: an entry waits for seven others whose canonical bytes take
// as many SHAKE256 blocks (136 bytes each, with padding; up to eight blocks, 1,087 bytes). A
// longer one, and every entry on a CPU without AVX-512F/BW, takes the one-at-a-time path. Which path an entry
// takes changes only the speed, never the result (lthash_test compares them).
//
//   LtHashBatch batch;
//   batch.Remove("ko20.owner", "v1");
//   batch.Add("ko20.owner", "v2");
//   batch.ApplyTo(&hash);  // hash now reflects both
//
// Thread-safety: none; one batch per thread.
class LtHashBatch {
 public:
  // use_simd = false forces the one-at-a-time path (tests compare the two).
  explicit LtHashBatch(bool use_simd = true);
  ~LtHashBatch();
  LtHashBatch(const LtHashBatch&) = delete;
  LtHashBatch& operator=(const LtHashBatch&) = delete;

  void Add(std::string_view key, std::string_view value) { Put(key, value, false); }
  void Remove(std::string_view key, std::string_view value) { Put(key, value, true); }
  // Adds the batch's net change to *hash and empties the batch.
  void ApplyTo(LtHash16* hash);

  // Whether this process computes elements eight at a time (the CPU has AVX-512F and BW).
  static bool SimdAvailable();

 private:
  struct Simd;
  void Put(std::string_view key, std::string_view value, bool remove);

  LtHash16 delta_;              // the one-at-a-time path's net change
  std::unique_ptr<Simd> simd_;  // null without SIMD
};

// The canonical bytes of an entry that SHAKE256 is applied to:
// u64le(len(key)) ‖ key ‖ u64le(len(value)) ‖ value. Exposed for tests and documentation;
// LtHash16::Add streams the same bytes without building this string.
std::string LtHashEntryBytes(std::string_view key, std::string_view value);

}  // namespace swingset

#endif  // SWINGSETD_CONSENSUS_LTHASH_H_
