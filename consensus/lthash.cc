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

#include <bit>
#include <cstring>
#include <memory>

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
    CHECK(fetched != nullptr) << "EVP_MD_fetch(SHAKE256) failed";
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
  CHECK(ctx != nullptr) << "EVP_MD_CTX_new failed";
  return ctx.get();
}

// OpenSSL failures here are not recoverable: a wrong element would fork consensus.
void ComputeElement(std::string_view key, std::string_view value, Element* out) {
  EVP_MD_CTX* ctx = ThreadShakeContext();
  unsigned char key_len[8];
  unsigned char value_len[8];
  PutFixed64(key.size(), key_len);
  PutFixed64(value.size(), value_len);
  CHECK(EVP_DigestInit_ex2(ctx, Shake256(), nullptr) == 1) << "EVP_DigestInit_ex2(SHAKE256)";
  CHECK(EVP_DigestUpdate(ctx, key_len, sizeof(key_len)) == 1) << "EVP_DigestUpdate";
  CHECK(EVP_DigestUpdate(ctx, key.data(), key.size()) == 1) << "EVP_DigestUpdate";
  CHECK(EVP_DigestUpdate(ctx, value_len, sizeof(value_len)) == 1) << "EVP_DigestUpdate";
  CHECK(EVP_DigestUpdate(ctx, value.data(), value.size()) == 1) << "EVP_DigestUpdate";
  CHECK(EVP_DigestFinalXOF(ctx, reinterpret_cast<unsigned char*>(out->lanes),
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

}  // namespace swingset
