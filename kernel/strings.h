// File: strings.h
//
// StrCat / StrAppend that accept std::string_view. Debian's Abseil is built with its own
// absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW=0), so absl::StrCat does not take a
// std::string_view; these forward each argument through AsAlphaNumArg first.

#ifndef SWINGSETD_KERNEL_STRINGS_H_
#define SWINGSETD_KERNEL_STRINGS_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace swingset {

inline absl::string_view AsAlphaNumArg(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline absl::string_view AsAlphaNumArg(const std::string& s) {
  return absl::string_view(s.data(), s.size());
}
inline absl::string_view AsAlphaNumArg(const char* s) { return absl::string_view(s); }
template <typename T>
inline const T& AsAlphaNumArg(const T& v) {
  return v;
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(AsAlphaNumArg(args)...);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, AsAlphaNumArg(args)...);
}

inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Decimal text of numbers (in keys and counter values) without a division per digit.
namespace strings_internal {
// "00", "01", ..., "99".
struct DigitPairs {
  char c[200];
  constexpr DigitPairs() : c() {
    for (int i = 0; i < 100; ++i) {
      c[2 * i] = static_cast<char>('0' + i / 10);
      c[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
  }
};
inline constexpr DigitPairs kDigitPairs{};
}  // namespace strings_internal

// 10^0 ... 10^19.
inline constexpr uint64_t kPowersOf10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull};

// How many decimal digits n has (1 for 0).
inline size_t DecimalDigits(uint64_t n) {
  n |= 1;  // 0 has one digit, like 1
  // t = floor(bit_width * log10(2)) (1233/4096 ~ log10(2)) is the digit count or one less.
  const size_t t = (static_cast<size_t>(std::bit_width(n)) * 1233) >> 12;
  return t + 1 - (n < kPowersOf10[t]);
}

// Writes n's DecimalDigits(n) digits ending just before `end`, two at a time from the last.
inline void WriteDigitsBefore(char* end, uint64_t n) {
  using strings_internal::kDigitPairs;
  while (n >= 100) {
    const uint64_t r = n % 100;
    n /= 100;
    end -= 2;
    std::memcpy(end, kDigitPairs.c + 2 * r, 2);
  }
  if (n >= 10) {
    std::memcpy(end - 2, kDigitPairs.c + 2 * n, 2);
  } else {
    end[-1] = static_cast<char>('0' + n);
  }
}

// Numbers and single characters joined in a stack buffer, the same text StrCat makes: for the
// short values written on every crank (counters, refcounts, queue records), which then need no
// heap string. NumText('[', head, ',', tail, ']').view() == StrCat("[", head, ",", tail, "]").
class NumText {
 public:
  template <typename... Parts>
  explicit NumText(const Parts&... parts) {
    static_assert(sizeof...(Parts) * 20 <= sizeof(buf_), "too many parts");
    (Append(parts), ...);
  }
  std::string_view view() const { return std::string_view(buf_, len_); }
  operator std::string_view() const { return view(); }  // NOLINT: a value is a string

 private:
  void Append(char c) { buf_[len_++] = c; }
  void Append(uint64_t n) {
    len_ += DecimalDigits(n);
    WriteDigitsBefore(buf_ + len_, n);
  }
  char buf_[100];
  size_t len_ = 0;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_STRINGS_H_
