// File: js_regex.h
//
// Regular expressions of metered vats (meter version >= 2) on RE2, a linear-time engine, instead
// of SpiderMonkey's backtracking irregexp (docs/METERING.md, "Regular expressions").
//
// The meter prelude replaces RegExp.prototype.exec by a wrapper around the native defined here.
// The native implements RegExpBuiltinExec (lastIndex, the g/y/i/m/s/u/d flags, captures, named
// groups, indices) on RE2 and charges the meter before it matches. SpiderMonkey's self-hosted
// test/match/matchAll/replace/split/search call a replaced exec, so they all run on RE2.
//
// JS patterns are translated to RE2 syntax exactly, or refused (fail closed): a pattern RE2
// cannot run as JS would (backreferences, lookaround, a quantified subpattern that can match
// the empty string, a capture that a later iteration can leave unset, case-insensitive non-ASCII
// literals, ...) gives a SyntaxError when exec'd, the same on every node.
//
// Text: JS strings are UTF-16 and RE2 matches UTF-8. Without the u flag each UTF-16 code unit is
// one character; with it a surrogate pair is one code point. Surrogate code units that are not
// part of a pair (all of them without u) become the private code points U+10F800 + (unit -
// 0xD800), which nothing else maps to; with u, an input that holds a real code point in
// U+10F800..U+10FFFF is refused (a RangeError), since it would collide with them.
//
// Thread-safety: kernel thread only. The compiled patterns are cached per thread (the kernel
// thread of a host), in a bounded LRU cache; the cache only saves work, it changes no result and
// no charge.

#ifndef SWINGSETD_VATS_JS_REGEX_H_
#define SWINGSETD_VATS_JS_REGEX_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct JSContext;

namespace swingset {

struct JsRegexFlags {
  bool ignore_case = false;
  bool multiline = false;
  bool dot_all = false;
  bool unicode = false;
};

struct JsRegexTranslation {
  std::string re2_pattern;
  // Capture group names by group number - 1 (empty for an unnamed group).
  std::vector<std::u16string> group_names;
  bool has_named_groups = false;
  // `^` or `$` with the m flag: RE2 knows only '\n' as a line terminator, so the match refuses
  // an input that holds '\r', U+2028 or U+2029.
  bool multiline_anchors = false;
};

// Translates a JS pattern (the `source` of a RegExp, which the engine has already checked for
// its flags) to an RE2 pattern over the character mapping above. kInvalidArgument for what the
// translation refuses.
absl::StatusOr<JsRegexTranslation> TranslateJsRegex(std::u16string_view source,
                                                    const JsRegexFlags& flags);

// Computrons charged for one exec before it matches: 1 + (remaining + 1) * (program + 1) / 4,
// with `remaining` the UTF-16 units from lastIndex to the end and `program` RE2's program size
// (instructions; it bounds the NFA's work per input byte, and a counted repetition makes it
// much larger than the pattern text). The divisor 4 makes a computron of RE2's work cost about
// what one of JIT-compiled JS does (measured: 1e6 characters through `^(a|b)*$`, `(x+x+)+y` or
// a 17-way case-insensitive alternation: 1.6-3.1 million computrons in 9-17 ms, 0.9-2.2e8/s).
uint64_t RegexExecCharge(uint64_t remaining, uint64_t program_size);
// Computrons charged before a pattern is translated and compiled: 1 + its length / 16.
uint64_t RegexCompileCharge(uint64_t source_length);

// Defines the native `$__regexExec(meter, regexp, string)` on the current global: exec of
// `regexp` on `string`, charging the meter object {c} (js_meter.h) before the work. When the
// meter runs out it ends the delivery uncatchably like the meter's own natives.
bool DefineRegexNative(JSContext* cx);

}  // namespace swingset

#endif  // SWINGSETD_VATS_JS_REGEX_H_
