#include "consensus/sha256.h"

#include <openssl/evp.h>

#include <cstring>

#include "kernel/base.h"

namespace swingset {
namespace {

// EVP_sha256() makes OpenSSL 3 fetch the implementation on every init; fetch it once.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  CHECK(md != nullptr) << "OpenSSL has no SHA256";
  return md;
}

class Sha256Hasher : public Hasher {
 public:
  Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
    CHECK(ctx_ != nullptr) << "EVP_MD_CTX_new";
    Reset();
  }
  ~Sha256Hasher() override { EVP_MD_CTX_free(ctx_); }

  void Update(std::string_view data) override {
    CHECK(EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1) << "EVP_DigestUpdate";
  }

  std::string FinishHex() override {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    CHECK(EVP_DigestFinal_ex(ctx_, md, &len) == 1) << "EVP_DigestFinal_ex";
    Reset();
    return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
  }

 private:
  void Reset() { CHECK(EVP_DigestInit_ex(ctx_, Sha256Md(), nullptr) == 1) << "EVP_DigestInit"; }
  EVP_MD_CTX* ctx_;
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
