// kernel/json under libFuzzer. Invariants:
//   - Parse never crashes on any bytes (depth limit, invalid UTF-8 refused);
//   - Dump output is always valid UTF-8 (lone surrogates escaped, bad bytes replaced);
//   - parse -> dump -> parse -> dump is identical, and the second parse equals the third;
//   - any bytes as a string value dump to valid UTF-8 that parses back to a string, and a
//     WTF-8 string comes back exactly.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "kernel/json.h"
#include "kernel/utf8.h"

namespace swingset {
namespace {

// True when s is canonical WTF-8: every byte sequence decodes and no encoded high surrogate is
// directly followed by an encoded low one (those would be one pair).
bool IsCanonicalWtf8(std::string_view s) {
  bool last_high = false;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t n = DecodeWtf8(s, i, &cp);
    if (n == 0) return false;
    if (last_high && cp >= 0xDC00 && cp <= 0xDFFF) return false;
    last_high = cp >= 0xD800 && cp <= 0xDBFF;
    i += n;
  }
  return true;
}

}  // namespace
}  // namespace swingset

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using swingset::Json;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Arbitrary bytes as one string value.
  const std::string quoted = Json(text).Dump();
  FUZZ_CHECK(swingset::IsValidUtf8(quoted)) << quoted;
  absl::StatusOr<Json> str = Json::Parse(quoted);
  FUZZ_CHECK(str.ok() && str->is_string()) << quoted;
  if (swingset::IsCanonicalWtf8(text)) {
    FUZZ_CHECK(str->as_string() == text) << quoted;
  }

  // The bytes as JSON text.
  absl::StatusOr<Json> a = Json::Parse(text);
  if (!a.ok()) return 0;
  const std::string d1 = a->Dump();
  FUZZ_CHECK(swingset::IsValidUtf8(d1)) << d1;
  absl::StatusOr<Json> b = Json::Parse(d1);
  FUZZ_CHECK(b.ok()) << d1 << " " << b.status().message();
  const std::string d2 = b->Dump();
  FUZZ_CHECK(d1 == d2) << d1 << " vs " << d2;
  absl::StatusOr<Json> c = Json::Parse(d2);
  FUZZ_CHECK(c.ok() && *b == *c) << d2;
  return 0;
}
