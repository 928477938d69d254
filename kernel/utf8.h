// File: utf8.h
//
// UTF-8 and WTF-8 helpers. Strings inside the kernel are WTF-8: UTF-8 that may also hold a lone
// UTF-16 surrogate (U+D800..U+DFFF) encoded as three bytes (ED A0..BF 80..BF), so that any
// JavaScript string (which may hold lone surrogates) survives a trip through the kernel. A
// surrogate pair is always the four-byte form, never two encoded surrogates (JoinSurrogates
// keeps that canonical when text is built piece by piece).
//
// What leaves the process in a protobuf `string` field must be strict UTF-8: JSON text escapes
// lone surrogates (kernel/json.h); other text goes through ToValidUtf8 or JsonTextToUtf8.
//
// Thread-safety: pure functions.

#ifndef SWINGSETD_KERNEL_UTF8_H_
#define SWINGSETD_KERNEL_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace swingset {

// Decodes one generalized UTF-8 sequence at s[i] (surrogates allowed; no overlongs, nothing
// above U+10FFFF, no truncated or stray continuation bytes). Returns its length (1..4) and sets
// *cp, or returns 0 when s[i] does not start a well-formed sequence.
size_t DecodeWtf8(std::string_view s, size_t i, uint32_t* cp);

// Appends code point cp (U+0000..U+10FFFF, surrogates included) to out as (W)UTF-8. A low
// surrogate that follows an encoded high surrogate at the end of out joins it into the one
// four-byte sequence of the pair, as concatenating JS strings does.
void AppendWtf8(uint32_t cp, std::string* out);

// Strict UTF-8, as protobuf requires of string fields (no surrogates, no overlongs).
bool IsValidUtf8(std::string_view s);

// s with each encoded surrogate and each byte that starts no well-formed sequence replaced by
// U+FFFD: for text that is not JSON (error messages, names, reasons) put into string fields.
std::string ToValidUtf8(std::string_view s);

// For JSON text (a capdata body, "#" + JSON): each encoded surrogate becomes the escape
// \udxxx (lowercase hex, as JSON.stringify writes it; a surrogate can only sit inside a JSON
// string, so the text means the same), any other invalid byte becomes U+FFFD. Valid UTF-8
// input is returned unchanged.
std::string JsonTextToUtf8(std::string_view s);

// WTF-8 to UTF-16 code units (for making JS strings); invalid bytes become U+FFFD.
std::u16string Wtf8ToUtf16(std::string_view s);
// UTF-16 code units to WTF-8: lone surrogates are kept (encoded), pairs are joined.
std::string Utf16ToWtf8(std::u16string_view s);

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_UTF8_H_
