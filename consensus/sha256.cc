// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but they are still
// part of its API, and each digest through EVP costs a provider-context reset on top of the
// compression: ~400 ns against ~315 ns for the two digests of a crank (the activity hash runs
// two per crank).
#define OPENSSL_SUPPRESS_DEPRECATED

#include "consensus/sha256.h"

#include <openssl/sha.h>

#include <cstring>

#include "kernel/base.h"

namespace swingset {
namespace {

class Sha256Hasher : public Hasher {
 public:
  Sha256Hasher() { Reset(); }

  void Update(std::string_view data) override {
    SWINGSET_CHECK(SHA256_Update(&ctx_, data.data(), data.size()) == 1) << "SHA256_Update";
  }

  std::string FinishHex() override {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SWINGSET_CHECK(SHA256_Final(md, &ctx_) == 1) << "SHA256_Final";
    Reset();
    return HexEncode(std::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
  }

 private:
  void Reset() { SWINGSET_CHECK(SHA256_Init(&ctx_) == 1) << "SHA256_Init"; }
  SHA256_CTX ctx_;
};

}  // namespace

std::unique_ptr<Hasher> NewSha256Hasher() { return std::make_unique<Sha256Hasher>(); }

HasherFactory Sha256HasherFactory() {
  return [] { return NewSha256Hasher(); };
}

namespace {
// The two hex digits of every byte value (two digests per crank go through HexEncode).
struct HexPairs {
  char pairs[256][2];
  constexpr HexPairs() : pairs() {
    const char* digits = "0123456789abcdef";
    for (int b = 0; b < 256; ++b) {
      pairs[b][0] = digits[b >> 4];
      pairs[b][1] = digits[b & 15];
    }
  }
};
constexpr HexPairs kHexPairs;
}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string out(bytes.size() * 2, '\0');
  char* p = out.data();
  for (unsigned char c : bytes) {
    std::memcpy(p, kHexPairs.pairs[c], 2);
    p += 2;
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  Sha256Hasher h;
  h.Update(data);
  return h.FinishHex();
}

}  // namespace swingset
