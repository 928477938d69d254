// LtHash16 (see lthash.h for the definition).
//
// Byte grammar of an entry, the input to SHAKE256 (all integers unsigned, little-endian):
//   entry      := key_len key value_len value
//   key_len    := fixed64      number of bytes in key
//   key        := byte[key_len]
//   value_len  := fixed64      number of bytes in value
//   value      := byte[value_len]
// The element is the first 2048 bytes of SHAKE256(entry); lane i is bytes 2i (low) and 2i+1
// (high). The serialized hash uses the same layout for its own lanes.

#include "consensus/lthash.h"

#include <openssl/evp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define SWINGSET_LTHASH_X8 1
#endif

#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "mixed-endian hosts are not supported");

// One element: 1024 lanes, aligned so the add/subtract loops vectorize cleanly.
struct alignas(64) Element {
  uint16_t lanes[LtHash16::kLanes];
};

void PutFixed64(uint64_t v, unsigned char out[8]) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

// The SHAKE256 algorithm, fetched once per process (OpenSSL 3 recommends explicit fetching
// over EVP_shake256() on hot paths: it avoids a provider lookup per EVP_DigestInit).
const EVP_MD* Shake256() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHAKE256", nullptr);
    SWINGSET_CHECK(fetched != nullptr) << "EVP_MD_fetch(SHAKE256) failed";
    return fetched;
  }();
  return md;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// A digest context per thread, re-initialized for every element, so Add/Remove do not
// allocate after a thread's first call.
EVP_MD_CTX* ThreadShakeContext() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  SWINGSET_CHECK(ctx != nullptr) << "EVP_MD_CTX_new failed";
  return ctx.get();
}

// OpenSSL failures here are not recoverable: a wrong element would fork consensus.
void ComputeElement(std::string_view key, std::string_view value, Element* out) {
  EVP_MD_CTX* ctx = ThreadShakeContext();
  unsigned char key_len[8];
  unsigned char value_len[8];
  PutFixed64(key.size(), key_len);
  PutFixed64(value.size(), value_len);
  SWINGSET_CHECK(EVP_DigestInit_ex2(ctx, Shake256(), nullptr) == 1)
      << "EVP_DigestInit_ex2(SHAKE256)";
  SWINGSET_CHECK(EVP_DigestUpdate(ctx, key_len, sizeof(key_len)) == 1) << "EVP_DigestUpdate";
  SWINGSET_CHECK(EVP_DigestUpdate(ctx, key.data(), key.size()) == 1) << "EVP_DigestUpdate";
  SWINGSET_CHECK(EVP_DigestUpdate(ctx, value_len, sizeof(value_len)) == 1) << "EVP_DigestUpdate";
  SWINGSET_CHECK(EVP_DigestUpdate(ctx, value.data(), value.size()) == 1) << "EVP_DigestUpdate";
  SWINGSET_CHECK(EVP_DigestFinalXOF(ctx, reinterpret_cast<unsigned char*>(out->lanes),
                                    LtHash16::kSerializedSize) == 1)
      << "EVP_DigestFinalXOF";
  if constexpr (std::endian::native == std::endian::big) {
    for (uint16_t& lane : out->lanes) lane = static_cast<uint16_t>((lane >> 8) | (lane << 8));
  }
}

}  // namespace

void LtHash16::Add(std::string_view key, std::string_view value) {
  Element e;
  ComputeElement(key, value, &e);
  uint16_t* __restrict lanes = lanes_.data();
  for (size_t i = 0; i < kLanes; ++i) lanes[i] = static_cast<uint16_t>(lanes[i] + e.lanes[i]);
}

void LtHash16::Remove(std::string_view key, std::string_view value) {
  Element e;
  ComputeElement(key, value, &e);
  uint16_t* __restrict lanes = lanes_.data();
  for (size_t i = 0; i < kLanes; ++i) lanes[i] = static_cast<uint16_t>(lanes[i] - e.lanes[i]);
}

LtHash16& LtHash16::operator+=(const LtHash16& other) {
  uint16_t* __restrict lanes = lanes_.data();
  const uint16_t* __restrict o = other.lanes_.data();
  for (size_t i = 0; i < kLanes; ++i) lanes[i] = static_cast<uint16_t>(lanes[i] + o[i]);
  return *this;
}

std::string LtHash16::Serialize() const {
  std::string out(kSerializedSize, '\0');
  for (size_t i = 0; i < kLanes; ++i) {
    out[2 * i] = static_cast<char>(lanes_[i] & 0xff);
    out[2 * i + 1] = static_cast<char>(lanes_[i] >> 8);
  }
  return out;
}

absl::StatusOr<LtHash16> LtHash16::Deserialize(std::string_view bytes) {
  if (bytes.size() != kSerializedSize) {
    return absl::InvalidArgumentError(StrCat("LtHash16: serialized lanes must be ", kSerializedSize,
                                             " bytes, got ", bytes.size()));
  }
  LtHash16 h;
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  for (size_t i = 0; i < kLanes; ++i) {
    h.lanes_[i] = static_cast<uint16_t>(b[2 * i] | (b[2 * i + 1] << 8));
  }
  return h;
}

std::string LtHash16::DigestHex() const { return Sha256Hex(Serialize()); }

bool LtHash16::IsEmpty() const {
  for (uint16_t lane : lanes_) {
    if (lane != 0) return false;
  }
  return true;
}

std::string LtHashEntryBytes(std::string_view key, std::string_view value) {
  unsigned char len[8];
  std::string out;
  out.reserve(16 + key.size() + value.size());
  PutFixed64(key.size(), len);
  out.append(reinterpret_cast<const char*>(len), sizeof(len));
  out.append(key);
  PutFixed64(value.size(), len);
  out.append(reinterpret_cast<const char*>(len), sizeof(len));
  out.append(value);
  return out;
}

// ---- LtHashBatch: eight SHAKE256 instances side by side (AVX-512)
//
// SHAKE256 has a rate of 136 bytes (17 of Keccak's 25 64-bit state words). An entry whose
// canonical bytes m (at most 135 of them) fit one block is absorbed as that block: m, then the
// padding byte 0x1F, zeros, and 0x80 xor-ed into byte 135. The 2048 output bytes are 15 full
// blocks and the first word of a 16th: 16 permutations in all. Eight entries run as eight
// 64-bit lanes of each state word's zmm register. Output word p (bytes 8p..8p+7 of the
// element, p = 17 * block + word) holds element lanes 4p..4p+3; the batch keeps, for each p,
// a register of eight such words (one per instance), summed as 16-bit lanes: instance j adds
// its word at slot j (or subtracts it, for a Remove). ApplyTo sums the eight slots per word.
// Addition mod 2^16 is commutative, so none of this changes a lane's value.

#if defined(SWINGSET_LTHASH_X8)

// GCC 12's AVX-512 rotate intrinsics start from _mm512_undefined_epi32(), which -Wuninitialized
// reports (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

constexpr size_t kRateBytes = 136;
constexpr size_t kRateWords = kRateBytes / 8;          // 17
constexpr size_t kOutWords = LtHash16::kSerializedSize / 8;  // 256
// Entries of up to this many SHAKE256 blocks (1,087 canonical bytes) run eight at a time.
constexpr size_t kMaxBlocks = 8;
constexpr size_t kWays = 8;

constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

// Keccak-f[1600] on eight states; word (x, y) of the state is a[x + 5 * y]. The loops over
// words are unrolled so every index is a constant and the state stays in registers.
__attribute__((target("avx512f,avx512bw"))) void KeccakF1600x8(__m512i a[25]) {
  for (int round = 0; round < 24; ++round) {
    // theta
    __m512i c[5], d[5];
#pragma GCC unroll 5
    for (int x = 0; x < 5; ++x) {
      c[x] = _mm512_ternarylogic_epi64(a[x], a[x + 5], a[x + 10], 0x96);
      c[x] = _mm512_ternarylogic_epi64(c[x], a[x + 15], a[x + 20], 0x96);
    }
#pragma GCC unroll 5
    for (int x = 0; x < 5; ++x) {
      d[x] = _mm512_xor_si512(c[(x + 4) % 5], _mm512_rol_epi64(c[(x + 1) % 5], 1));
    }
#pragma GCC unroll 25
    for (int i = 0; i < 25; ++i) a[i] = _mm512_xor_si512(a[i], d[i % 5]);
    // rho and pi: word (x, y) moves to (y, 2x + 3y), rotated
    __m512i b[25];
#define SWINGSET_RHO_PI(x, y, r) \
  b[(y) + 5 * ((2 * (x) + 3 * (y)) % 5)] = _mm512_rol_epi64(a[(x) + 5 * (y)], (r))
    b[0] = a[0];
    SWINGSET_RHO_PI(1, 0, 1);  SWINGSET_RHO_PI(2, 0, 62);
    SWINGSET_RHO_PI(3, 0, 28); SWINGSET_RHO_PI(4, 0, 27); SWINGSET_RHO_PI(0, 1, 36);
    SWINGSET_RHO_PI(1, 1, 44); SWINGSET_RHO_PI(2, 1, 6);  SWINGSET_RHO_PI(3, 1, 55);
    SWINGSET_RHO_PI(4, 1, 20); SWINGSET_RHO_PI(0, 2, 3);  SWINGSET_RHO_PI(1, 2, 10);
    SWINGSET_RHO_PI(2, 2, 43); SWINGSET_RHO_PI(3, 2, 25); SWINGSET_RHO_PI(4, 2, 39);
    SWINGSET_RHO_PI(0, 3, 41); SWINGSET_RHO_PI(1, 3, 45); SWINGSET_RHO_PI(2, 3, 15);
    SWINGSET_RHO_PI(3, 3, 21); SWINGSET_RHO_PI(4, 3, 8);  SWINGSET_RHO_PI(0, 4, 18);
    SWINGSET_RHO_PI(1, 4, 2);  SWINGSET_RHO_PI(2, 4, 61); SWINGSET_RHO_PI(3, 4, 56);
    SWINGSET_RHO_PI(4, 4, 14);
#undef SWINGSET_RHO_PI
    // chi: a ^ (~b & c)
#pragma GCC unroll 5
    for (int y = 0; y < 25; y += 5) {
#pragma GCC unroll 5
      for (int x = 0; x < 5; ++x) {
        a[y + x] = _mm512_ternarylogic_epi64(b[y + x], b[y + (x + 1) % 5], b[y + (x + 2) % 5],
                                             0xD2);
      }
    }
    // iota
    a[0] = _mm512_xor_si512(a[0], _mm512_set1_epi64(static_cast<long long>(kRoundConstants[round])));
  }
}

}  // namespace

struct LtHashBatch::Simd {
  // Entries waiting, grouped by how many blocks their padded bytes take (1..kMaxBlocks): group
  // g's words[(i * kRateWords + w) * kWays + j] is word w of block i of instance j.
  struct Group {
    std::vector<uint64_t> words;
    size_t waiting = 0;
    __mmask32 negate = 0;  // the 16-bit lanes of instances that are Removes
  };
  Group groups[kMaxBlocks];
  // sums[p * kWays + j]: output word p of the instances run in slot j, as 16-bit lane sums.
  alignas(64) uint64_t sums[kOutWords * kWays];
  bool dirty = false;

  Simd() {
    for (size_t g = 0; g < kMaxBlocks; ++g) groups[g].words.assign((g + 1) * kRateWords * kWays, 0);
    std::memset(sums, 0, sizeof sums);
  }
  void Run(size_t blocks);
  // Takes the entry unless its padded bytes need more than kMaxBlocks blocks (false: the
  // caller hashes it).
  bool Put(std::string_view key, std::string_view value, bool remove);
  // Runs what waits, adds the sums to `lanes` and starts over.
  void ApplyTo(uint16_t* lanes);
};

bool LtHashBatch::Simd::Put(std::string_view key, std::string_view value, bool remove) {
  const size_t size = 16 + key.size() + value.size();
  const size_t blocks = size / kRateBytes + 1;  // room for the padding byte
  if (blocks > kMaxBlocks) return false;
  // The padded message, bytes in order, then spread into instance j's words.
  unsigned char bytes[kMaxBlocks * kRateBytes];
  std::memset(bytes, 0, blocks * kRateBytes);
  PutFixed64(key.size(), bytes);
  if (!key.empty()) std::memcpy(bytes + 8, key.data(), key.size());
  PutFixed64(value.size(), bytes + 8 + key.size());
  if (!value.empty()) std::memcpy(bytes + 16 + key.size(), value.data(), value.size());
  bytes[size] ^= 0x1F;
  bytes[blocks * kRateBytes - 1] ^= 0x80;
  Group& g = groups[blocks - 1];
  const size_t j = g.waiting;
  for (size_t w = 0; w < blocks * kRateWords; ++w) {
    uint64_t word = 0;
    for (int i = 7; i >= 0; --i) word = (word << 8) | bytes[8 * w + i];  // little-endian
    g.words[w * kWays + j] = word;
  }
  if (remove) g.negate |= static_cast<__mmask32>(0xFu << (4 * j));
  if (++g.waiting == kWays) Run(blocks);
  return true;
}

void LtHashBatch::Simd::ApplyTo(uint16_t* lanes) {
  for (size_t blocks = 1; blocks <= kMaxBlocks; ++blocks) {
    if (groups[blocks - 1].waiting > 0) Run(blocks);
  }
  if (!dirty) return;
  for (size_t p = 0; p < kOutWords; ++p) {
    for (size_t j = 0; j < kWays; ++j) {
      const uint64_t word = sums[p * kWays + j];
      for (size_t k = 0; k < 4; ++k) {
        uint16_t& lane = lanes[4 * p + k];
        lane = static_cast<uint16_t>(lane + static_cast<uint16_t>(word >> (16 * k)));
      }
    }
  }
  std::memset(sums, 0, sizeof sums);
  dirty = false;
}

__attribute__((target("avx512f,avx512bw"))) void LtHashBatch::Simd::Run(size_t blocks) {
  Group& g = groups[blocks - 1];
  __m512i a[25];
  for (size_t w = 0; w < 25; ++w) a[w] = _mm512_setzero_si512();
  // Instances beyond `waiting` hold stale or zero words: computed, then masked out of the sums.
  const __mmask32 active =
      g.waiting >= kWays ? ~__mmask32{0}
                         : static_cast<__mmask32>((uint64_t{1} << (4 * g.waiting)) - 1);
  for (size_t i = 0; i < blocks; ++i) {
    const uint64_t* in = g.words.data() + i * kRateWords * kWays;
    for (size_t w = 0; w < kRateWords; ++w) {
      a[w] = _mm512_xor_si512(a[w], _mm512_loadu_si512(in + w * kWays));
    }
    if (i + 1 < blocks) KeccakF1600x8(a);
  }
  const __m512i zero = _mm512_setzero_si512();
  for (size_t p = 0; p < kOutWords;) {
    KeccakF1600x8(a);
    for (size_t w = 0; w < kRateWords && p < kOutWords; ++w, ++p) {
      __m512i v = _mm512_mask_sub_epi16(a[w], g.negate, zero, a[w]);
      __m512i s = _mm512_load_si512(sums + p * kWays);
      _mm512_store_si512(sums + p * kWays, _mm512_mask_add_epi16(s, active, s, v));
    }
  }
  g.waiting = 0;
  g.negate = 0;
  dirty = true;
}

bool LtHashBatch::SimdAvailable() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  }();
  return available;
}

#pragma GCC diagnostic pop

#else  // no x86-64: one element at a time

struct LtHashBatch::Simd {
  bool Put(std::string_view, std::string_view, bool) { return false; }
  void ApplyTo(uint16_t*) {}
};

bool LtHashBatch::SimdAvailable() { return false; }

#endif

LtHashBatch::LtHashBatch(bool use_simd) {
  if (use_simd && SimdAvailable()) simd_ = std::make_unique<Simd>();
}

LtHashBatch::~LtHashBatch() = default;

void LtHashBatch::Put(std::string_view key, std::string_view value, bool remove) {
  if (simd_ && simd_->Put(key, value, remove)) return;
  if (remove) {
    delta_.Remove(key, value);
  } else {
    delta_.Add(key, value);
  }
}

void LtHashBatch::ApplyTo(LtHash16* hash) {
  if (simd_) simd_->ApplyTo(hash->lanes_.data());
  *hash += delta_;
  delta_ = LtHash16();
}

}  // namespace swingset
