// kernel/smallcaps under libFuzzer. The input is a capdata body (first line) and slots (one per
// further line). Invariants:
//   - Decode, MethodNameOf and IsSingleSlotBody never crash on any body and slots;
//   - a decoded value dumps to valid UTF-8 JSON that parses back;
//   - for a body that is plain JSON: EncodePlain is idempotent through Decode
//     (EncodePlain(Decode(EncodePlain(v))) == EncodePlain(v)), and ArgsFromJson of an array
//     gives a body that decodes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "kernel/json.h"
#include "kernel/smallcaps.h"
#include "kernel/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using swingset::CapData;
  using swingset::Json;
  namespace smallcaps = swingset::smallcaps;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CapData cap;
  size_t nl = in.find('\n');
  cap.body = std::string(in.substr(0, nl));
  while (nl != std::string_view::npos && cap.slots.size() < 64) {
    in.remove_prefix(nl + 1);
    nl = in.find('\n');
    cap.slots.emplace_back(in.substr(0, nl));
  }

  (void)smallcaps::MethodNameOf(cap);
  (void)smallcaps::IsSingleSlotBody(cap.body);
  absl::StatusOr<Json> decoded = smallcaps::Decode(cap);
  if (decoded.ok()) {
    const std::string d = decoded->Dump();
    FUZZ_CHECK(swingset::IsValidUtf8(d)) << d;
    FUZZ_CHECK(Json::Parse(d).ok()) << d;
  }

  // The body without its '#' as plain data.
  std::string_view plain_text(cap.body);
  if (!plain_text.empty() && plain_text[0] == '#') plain_text.remove_prefix(1);
  absl::StatusOr<Json> plain = Json::Parse(plain_text);
  if (!plain.ok()) return 0;
  const std::string e1 = smallcaps::EncodePlain(*plain);
  FUZZ_CHECK(swingset::IsValidUtf8(e1)) << e1;
  absl::StatusOr<Json> back = smallcaps::Decode(CapData{e1, {}});
  FUZZ_CHECK(back.ok()) << e1 << " " << back.status().message();
  const std::string e2 = smallcaps::EncodePlain(*back);
  FUZZ_CHECK(e1 == e2) << e1 << " vs " << e2;
  if (plain->is_array()) {
    absl::StatusOr<CapData> args = smallcaps::ArgsFromJson(plain_text);
    FUZZ_CHECK(args.ok()) << plain_text;
    FUZZ_CHECK(smallcaps::Decode(*args).ok()) << args->body;
  }
  return 0;
}
