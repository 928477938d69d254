// File: strings.h
//
// StrCat / StrAppend that accept std::string_view. Debian's Abseil is built with its own
// absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW=0), so absl::StrCat does not take a
// std::string_view; these forward each argument through AsAlphaNumArg first.

#ifndef SWINGSETD_KERNEL_STRINGS_H_
#define SWINGSETD_KERNEL_STRINGS_H_

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

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_STRINGS_H_
