#include "vats/js_regex.h"

#include <algorithm>
#include <cmath>
#include <list>
#include <map>
#include <memory>
#include <utility>

#include <js/Array.h>
#include <js/Conversions.h>
#include <js/ErrorReport.h>
#include <js/Exception.h>
#include <js/PropertyAndElement.h>
#include <js/RegExp.h>
#include <js/RegExpFlags.h>
#include <js/String.h>
#include <jsapi.h>
#include <re2/re2.h>

#include "absl/strings/str_cat.h"

#include "kernel/base.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"
#include "vats/js_engine.h"
#include "vats/js_meter.h"

namespace swingset {
namespace {

// ---------------------------------------------------------------------------------------------
// Translation

// Character sets over JS characters: UTF-16 code units without the u flag, code points with it.
using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

constexpr uint32_t kMaxUnit = 0xFFFF;
constexpr uint32_t kMaxCodePoint = 0x10FFFF;
// Where lone surrogates go: U+10F800 + (unit - 0xD800), the last 2048 code points.
constexpr uint32_t kSurrogateBase = 0x10F800;
// RE2's own cap on a counted repetition.
constexpr uint32_t kMaxRepeat = 1000;

Ranges Normalize(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& [a, b] : r) {
    if (!out.empty() && a <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, b);
    } else {
      out.emplace_back(a, b);
    }
  }
  return out;
}

Ranges Complement(const Ranges& r, uint32_t max) {
  Ranges out;
  uint32_t next = 0;
  for (const auto& [a, b] : r) {
    if (a > next) out.emplace_back(next, a - 1);
    next = b + 1;
  }
  if (next <= max) out.emplace_back(next, max);
  return out;
}

struct Node {
  enum class Kind { kSeq, kAlt, kGroup, kQuant, kSet, kAssert };
  explicit Node(Kind k) : kind(k) {}
  Kind kind;
  std::vector<std::unique_ptr<Node>> kids;
  int capture = 0;  // kGroup: its number, 0 for a non-capturing group
  uint32_t min = 0, max = 0;
  bool unbounded = false, greedy = true;  // kQuant
  Ranges set;                             // kSet (normalized, after case closure)
  std::string assertion;                  // kAssert: its RE2 text
};

bool IsLead(uint32_t u) { return u >= 0xD800 && u <= 0xDBFF; }
bool IsTrail(uint32_t u) { return u >= 0xDC00 && u <= 0xDFFF; }
bool IsSurrogate(uint32_t u) { return u >= 0xD800 && u <= 0xDFFF; }
bool IsHex(char16_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
uint32_t HexValue(char16_t c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
bool IsAsciiLetter(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(uint32_t c) { return c >= '0' && c <= '9'; }

class Translator {
 public:
  Translator(std::u16string_view src, const JsRegexFlags& flags) : src_(src), flags_(flags) {}

  absl::StatusOr<JsRegexTranslation> Run() {
    has_named_groups_ = ScanForNamedGroups();
    std::unique_ptr<Node> root = ParseAlternation();
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    if (pos_ != src_.size()) return absl::InvalidArgumentError("unbalanced parenthesis");
    JsRegexTranslation out;
    out.re2_pattern = "(?:";
    Emit(*root, &out.re2_pattern);
    out.re2_pattern += ")";
    out.group_names = std::move(names_);
    out.has_named_groups = has_named_groups_;
    out.multiline_anchors = multiline_anchors_;
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    return out;
  }

 private:
  uint32_t Universe() const { return flags_.unicode ? kMaxCodePoint : kMaxUnit; }
  bool AtEnd() const { return pos_ >= src_.size(); }
  char16_t Peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : 0;
  }
  bool Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    pos_ = src_.size();
    return false;
  }
  std::unique_ptr<Node> Failed(std::string why) {
    Fail(std::move(why));
    return std::make_unique<Node>(Node::Kind::kSeq);
  }

  // Whether the pattern has a named group (then \k is a backreference even without u).
  bool ScanForNamedGroups() const {
    bool in_class = false;
    for (size_t i = 0; i < src_.size(); ++i) {
      char16_t c = src_[i];
      if (c == '\\') {
        ++i;
      } else if (in_class) {
        if (c == ']') in_class = false;
      } else if (c == '[') {
        in_class = true;
      } else if (c == '(' && i + 2 < src_.size() && src_[i + 1] == '?' && src_[i + 2] == '<' &&
                 i + 3 < src_.size() && src_[i + 3] != '=' && src_[i + 3] != '!') {
        return true;
      }
    }
    return false;
  }

  // A JS character (code unit, or with u a code point) read as a literal.
  uint32_t ReadSourceChar() {
    uint32_t c = src_[pos_++];
    if (flags_.unicode && IsLead(c) && !AtEnd() && IsTrail(Peek())) {
      c = 0x10000 + ((c - 0xD800) << 10) + (Peek() - 0xDC00);
      ++pos_;
    }
    return c;
  }

  std::unique_ptr<Node> ParseAlternation() {
    std::vector<std::unique_ptr<Node>> alts;
    alts.push_back(ParseSequence());
    while (!AtEnd() && Peek() == '|') {
      ++pos_;
      alts.push_back(ParseSequence());
    }
    if (alts.size() == 1) return std::move(alts[0]);
    auto n = std::make_unique<Node>(Node::Kind::kAlt);
    n->kids = std::move(alts);
    return n;
  }

  std::unique_ptr<Node> ParseSequence() {
    auto seq = std::make_unique<Node>(Node::Kind::kSeq);
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      std::unique_ptr<Node> atom = ParseAtom();
      if (!error_.empty()) return seq;
      atom = ParseQuantifier(std::move(atom));
      seq->kids.push_back(std::move(atom));
    }
    return seq;
  }

  // {n}, {n,}, {n,m} at pos_: true and the bounds, or false with pos_ unchanged.
  bool ParseBraces(uint32_t* min, uint32_t* max, bool* unbounded) {
    size_t p = pos_ + 1;
    auto number = [&](uint32_t* v) {
      size_t start = p;
      uint64_t n = 0;
      while (p < src_.size() && IsDigit(src_[p])) {
        n = std::min<uint64_t>(n * 10 + (src_[p] - '0'), uint64_t{1} << 32);
        ++p;
      }
      *v = static_cast<uint32_t>(std::min<uint64_t>(n, 0xFFFFFFFF));
      return p > start;
    };
    if (!number(min)) return false;
    *unbounded = false;
    *max = *min;
    if (p < src_.size() && src_[p] == ',') {
      ++p;
      if (!number(max)) *unbounded = true;
    }
    if (p >= src_.size() || src_[p] != '}') return false;
    pos_ = p + 1;
    return true;
  }

  std::unique_ptr<Node> ParseQuantifier(std::unique_ptr<Node> atom) {
    if (AtEnd()) return atom;
    uint32_t min = 0, max = 0;
    bool unbounded = false;
    char16_t c = Peek();
    if (c == '*') {
      unbounded = true;
      ++pos_;
    } else if (c == '+') {
      min = 1;
      unbounded = true;
      ++pos_;
    } else if (c == '?') {
      max = 1;
      ++pos_;
    } else if (c == '{') {
      if (!ParseBraces(&min, &max, &unbounded)) return atom;  // a literal '{' (Annex B)
    } else {
      return atom;
    }
    bool greedy = true;
    if (!AtEnd() && Peek() == '?') {
      greedy = false;
      ++pos_;
    }
    if (atom->kind == Node::Kind::kAssert) return Failed("a quantified assertion");
    if (min > kMaxRepeat || (!unbounded && max > kMaxRepeat)) {
      return Failed(StrCat("a repetition count above ", kMaxRepeat));
    }
    if (!(min == 1 && max == 1 && !unbounded)) {
      // JS refuses an iteration that matches the empty string where RE2 (like Perl) takes it,
      // and JS resets the captures inside the quantified atom at each iteration where RE2 keeps
      // the last ones: refuse what could tell them apart.
      if (Nullable(*atom)) return Failed("a quantified subpattern that can match the empty string");
      if ((unbounded || max > 1) && !CapturesAlwaysSet(*atom, true)) {
        return Failed("a capture group that a repetition can leave unset");
      }
    }
    auto q = std::make_unique<Node>(Node::Kind::kQuant);
    q->min = min;
    q->max = max;
    q->unbounded = unbounded;
    q->greedy = greedy;
    q->kids.push_back(std::move(atom));
    return q;
  }

  static bool Nullable(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kSet: return false;
      case Node::Kind::kAssert: return true;
      case Node::Kind::kSeq:
        return std::all_of(n.kids.begin(), n.kids.end(), [](const auto& k) { return Nullable(*k); });
      case Node::Kind::kAlt:
        return std::any_of(n.kids.begin(), n.kids.end(), [](const auto& k) { return Nullable(*k); });
      case Node::Kind::kGroup: return Nullable(*n.kids[0]);
      case Node::Kind::kQuant: return n.min == 0 || Nullable(*n.kids[0]);
    }
    return true;
  }

  // Whether every capture group in `n` participates in every match of `n`.
  static bool CapturesAlwaysSet(const Node& n, bool always) {
    if (n.kind == Node::Kind::kGroup && n.capture != 0 && !always) return false;
    bool kids_always = always;
    if (n.kind == Node::Kind::kAlt) kids_always = false;
    if (n.kind == Node::Kind::kQuant && n.min == 0) kids_always = false;
    for (const auto& k : n.kids) {
      if (!CapturesAlwaysSet(*k, kids_always)) return false;
    }
    return true;
  }

  std::unique_ptr<Node> MakeSet(Ranges r) {
    auto n = std::make_unique<Node>(Node::Kind::kSet);
    n->set = Normalize(std::move(r));
    return n;
  }
  std::unique_ptr<Node> MakeAssert(std::string text) {
    auto n = std::make_unique<Node>(Node::Kind::kAssert);
    n->assertion = std::move(text);
    return n;
  }

  // The case closure of a set of literal characters under the i flag. JS (without u) compares
  // toUpperCase forms but never maps a non-ASCII character to an ASCII one; with u it compares
  // simple case folds, where U+017F folds to 's' and U+212A to 'k'. Only ASCII literals are
  // translated; a non-ASCII one would need Unicode's case tables.
  bool CaseClose(Ranges* r) {
    if (!flags_.ignore_case) return true;
    Ranges extra;
    for (const auto& [a, b] : *r) {
      if (b >= 0x80) return Fail("a case-insensitive match of a non-ASCII character");
      for (uint32_t c = a; c <= b; ++c) {
        if (!IsAsciiLetter(c)) continue;
        uint32_t other = c ^ 0x20;
        extra.emplace_back(other, other);
        if (flags_.unicode && (c | 0x20) == 's') extra.emplace_back(0x17F, 0x17F);
        if (flags_.unicode && (c | 0x20) == 'k') extra.emplace_back(0x212A, 0x212A);
      }
    }
    r->insert(r->end(), extra.begin(), extra.end());
    return true;
  }

  Ranges WordSet() const {
    Ranges r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    if (flags_.unicode && flags_.ignore_case) {
      r.emplace_back(0x17F, 0x17F);
      r.emplace_back(0x212A, 0x212A);
    }
    return Normalize(r);
  }
  static Ranges SpaceSet() {
    return Normalize({{9, 13}, {0x20, 0x20}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
                      {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
                      {0xFEFF, 0xFEFF}});
  }

  // \d \D \s \S \w \W after the backslash: true and the set if `c` is one.
  bool ClassEscape(char16_t c, Ranges* out) const {
    switch (c) {
      case 'd': *out = {{'0', '9'}}; return true;
      case 'D': *out = Complement({{'0', '9'}}, Universe()); return true;
      case 's': *out = SpaceSet(); return true;
      case 'S': *out = Complement(SpaceSet(), Universe()); return true;
      case 'w': *out = WordSet(); return true;
      case 'W': *out = Complement(WordSet(), Universe()); return true;
      default: return false;
    }
  }

  // A character escape after the backslash (pos_ at the character after it): the character,
  // or -1 after Fail. `in_class`: inside [...] (\b is a backspace there, \- a dash).
  int64_t CharacterEscape(bool in_class) {
    char16_t c = src_[pos_++];
    switch (c) {
      case 't': return '\t';
      case 'n': return '\n';
      case 'v': return '\v';
      case 'f': return '\f';
      case 'r': return '\r';
      case 'c': {
        char16_t l = Peek();
        if (!AtEnd() && (IsAsciiLetter(l) || (in_class && !flags_.unicode &&
                                              (IsDigit(l) || l == '_')))) {
          ++pos_;
          return l % 32;
        }
        if (flags_.unicode) return Fail("an invalid \\c escape"), -1;
        --pos_;  // Annex B: a literal backslash; the 'c' is read again as a literal
        return '\\';
      }
      case '0':
        if (!AtEnd() && IsDigit(Peek())) return Fail("a legacy octal escape"), -1;
        return 0;
      case 'x':
        if (pos_ + 1 < src_.size() && IsHex(Peek()) && IsHex(Peek(1))) {
          uint32_t v = HexValue(Peek()) * 16 + HexValue(Peek(1));
          pos_ += 2;
          return v;
        }
        if (flags_.unicode) return Fail("an invalid \\x escape"), -1;
        return 'x';
      case 'u': {
        if (flags_.unicode && Peek() == '{') {
          size_t p = pos_ + 1;
          uint64_t v = 0;
          while (p < src_.size() && IsHex(src_[p]) && v <= kMaxCodePoint) v = v * 16 + HexValue(src_[p++]);
          if (p == pos_ + 1 || p >= src_.size() || src_[p] != '}' || v > kMaxCodePoint) {
            return Fail("an invalid \\u{} escape"), -1;
          }
          pos_ = p + 1;
          return v;
        }
        uint32_t v;
        if (!Hex4(pos_, &v)) {
          if (flags_.unicode) return Fail("an invalid \\u escape"), -1;
          return 'u';
        }
        pos_ += 4;
        uint32_t trail;
        if (flags_.unicode && IsLead(v) && Peek() == '\\' && Peek(1) == 'u' &&
            Hex4(pos_ + 2, &trail) && IsTrail(trail)) {
          pos_ += 6;
          v = 0x10000 + ((v - 0xD800) << 10) + (trail - 0xDC00);
        }
        return v;
      }
      default:
        break;
    }
    if (IsDigit(c)) return Fail("a backreference or legacy octal escape"), -1;
    if (c == 'k' && (flags_.unicode || has_named_groups_)) return Fail("a backreference"), -1;
    if ((c == 'p' || c == 'P') && flags_.unicode) return Fail("a Unicode property escape"), -1;
    if (flags_.unicode) {
      static constexpr std::u16string_view kSyntax = u"^$\\.*+?()[]{}|/";
      if (kSyntax.find(c) == std::u16string_view::npos && !(in_class && c == '-')) {
        return Fail("an invalid identity escape"), -1;
      }
      return c;
    }
    // Without u: an identity escape stands for the code unit itself (a surrogate pair after
    // the backslash is two characters, the second read as a literal next).
    return c;
  }

  bool Hex4(size_t p, uint32_t* v) const {
    if (p + 4 > src_.size()) return false;
    uint32_t x = 0;
    for (size_t i = p; i < p + 4; ++i) {
      if (!IsHex(src_[i])) return false;
      x = x * 16 + HexValue(src_[i]);
    }
    *v = x;
    return true;
  }

  std::unique_ptr<Node> LiteralSet(uint32_t c) {
    Ranges r = {{c, c}};
    if (!CaseClose(&r)) return Failed(error_);
    return MakeSet(std::move(r));
  }

  std::unique_ptr<Node> ParseAtom() {
    char16_t c = Peek();
    switch (c) {
      case '^':
        ++pos_;
        if (flags_.multiline) multiline_anchors_ = true;
        return MakeAssert(flags_.multiline ? "(?m:^)" : "\\A");
      case '$':
        ++pos_;
        if (flags_.multiline) multiline_anchors_ = true;
        return MakeAssert(flags_.multiline ? "(?m:$)" : "\\z");
      case '.': {
        ++pos_;
        if (flags_.dot_all) return MakeSet({{0, Universe()}});
        return MakeSet(Complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}, Universe()));
      }
      case '(':
        return ParseGroup();
      case '[':
        return ParseClass();
      case '\\':
        return ParseAtomEscape();
      case '*':
      case '+':
      case '?':
        return Failed("nothing to repeat");
      case '{': {
        uint32_t a, b;
        bool u;
        size_t save = pos_;
        if (flags_.unicode || ParseBraces(&a, &b, &u)) {
          pos_ = save;
          return Failed("nothing to repeat");
        }
        ++pos_;
        return LiteralSet('{');
      }
      default:
        return LiteralSet(ReadSourceChar());
    }
  }

  std::unique_ptr<Node> ParseGroup() {
    ++pos_;  // (
    auto g = std::make_unique<Node>(Node::Kind::kGroup);
    if (Peek() == '?') {
      char16_t k = Peek(1);
      if (k == ':') {
        pos_ += 2;
      } else if (k == '=' || k == '!') {
        return Failed("a lookahead assertion");
      } else if (k == '<' && (Peek(2) == '=' || Peek(2) == '!')) {
        return Failed("a lookbehind assertion");
      } else if (k == '<') {
        pos_ += 2;
        std::u16string name;
        while (!AtEnd() && Peek() != '>') {
          if (Peek() == '\\') {
            ++pos_;
            if (Peek() != 'u') return Failed("an invalid group name");
            int64_t v = CharacterEscape(false);
            if (v < 0) return Failed(error_);
            if (v > 0xFFFF) {
              name += static_cast<char16_t>(0xD800 + ((v - 0x10000) >> 10));
              name += static_cast<char16_t>(0xDC00 + ((v - 0x10000) & 0x3FF));
            } else {
              name += static_cast<char16_t>(v);
            }
          } else {
            name += src_[pos_++];
          }
        }
        if (AtEnd()) return Failed("an invalid group name");
        ++pos_;  // >
        names_.push_back(std::move(name));
        g->capture = static_cast<int>(names_.size());
      } else {
        return Failed("an invalid group");
      }
    } else {
      names_.emplace_back();
      g->capture = static_cast<int>(names_.size());
    }
    g->kids.push_back(ParseAlternation());
    if (!error_.empty()) return g;
    if (AtEnd() || Peek() != ')') return Failed("unterminated group");
    ++pos_;
    return g;
  }

  std::unique_ptr<Node> ParseAtomEscape() {
    ++pos_;  // backslash
    if (AtEnd()) return Failed("\\ at end of pattern");
    char16_t c = Peek();
    if (c == 'b' || c == 'B') {
      ++pos_;
      // With u and i, JS word characters include U+017F and U+212A; RE2's \b is ASCII.
      if (flags_.unicode && flags_.ignore_case) return Failed("\\b or \\B with the i and u flags");
      return MakeAssert(c == 'b' ? "\\b" : "\\B");
    }
    Ranges set;
    if (ClassEscape(c, &set)) {
      ++pos_;
      return MakeSet(std::move(set));
    }
    int64_t v = CharacterEscape(false);
    if (v < 0) return Failed(error_);
    return LiteralSet(static_cast<uint32_t>(v));
  }

  // One class atom at pos_: a character (true, *ch) or a set from a class escape (false, *set).
  bool ClassAtom(uint32_t* ch, Ranges* set, bool* is_set) {
    *is_set = false;
    if (Peek() != '\\') {
      *ch = ReadSourceChar();
      return true;
    }
    ++pos_;
    if (AtEnd()) return Fail("\\ at end of pattern");
    char16_t c = Peek();
    if (ClassEscape(c, set)) {
      ++pos_;
      *is_set = true;
      return true;
    }
    if (c == 'b') {
      ++pos_;
      *ch = 8;
      return true;
    }
    if (c == '-' && flags_.unicode) {
      ++pos_;
      *ch = '-';
      return true;
    }
    if (c == 'B' || (c == 'k' && !flags_.unicode)) {
      if (flags_.unicode) return Fail("an invalid class escape");
      ++pos_;
      *ch = c;
      return true;
    }
    int64_t v = CharacterEscape(true);
    if (v < 0) return false;
    *ch = static_cast<uint32_t>(v);
    return true;
  }

  std::unique_ptr<Node> ParseClass() {
    ++pos_;  // [
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    Ranges closed;   // class escapes: already closed under case
    Ranges literal;  // characters and ranges: closed below under i
    while (true) {
      if (AtEnd()) return Failed("unterminated character class");
      if (Peek() == ']') {
        ++pos_;
        break;
      }
      uint32_t a = 0;
      Ranges aset;
      bool a_is_set;
      if (!ClassAtom(&a, &aset, &a_is_set)) return Failed(error_);
      if (Peek() == '-' && Peek(1) != ']' && pos_ + 1 < src_.size()) {
        ++pos_;  // -
        uint32_t b = 0;
        Ranges bset;
        bool b_is_set;
        if (!ClassAtom(&b, &bset, &b_is_set)) return Failed(error_);
        if (a_is_set || b_is_set) {
          if (flags_.unicode) return Failed("a class escape in a range");
          // Annex B: the union of both sides and the dash.
          if (a_is_set) {
            closed.insert(closed.end(), aset.begin(), aset.end());
          } else {
            literal.emplace_back(a, a);
          }
          if (b_is_set) {
            closed.insert(closed.end(), bset.begin(), bset.end());
          } else {
            literal.emplace_back(b, b);
          }
          literal.emplace_back('-', '-');
          continue;
        }
        if (a > b) return Failed("a class range out of order");
        literal.emplace_back(a, b);
        continue;
      }
      if (a_is_set) {
        closed.insert(closed.end(), aset.begin(), aset.end());
      } else {
        literal.emplace_back(a, a);
      }
    }
    if (!CaseClose(&literal)) return Failed(error_);
    closed.insert(closed.end(), literal.begin(), literal.end());
    Ranges set = Normalize(std::move(closed));
    if (negate) set = Complement(set, Universe());
    return MakeSet(std::move(set));
  }

  // RE2 ranges of a set of JS characters: surrogates to U+10F800.., and with u the real code
  // points U+10F800..U+10FFFF dropped (an input holding one is refused).
  Ranges Mapped(const Ranges& r) const {
    Ranges out;
    uint32_t real_max = flags_.unicode ? kSurrogateBase - 1 : kMaxUnit;
    for (const auto& [a, b] : r) {
      if (a <= 0xD7FF) out.emplace_back(a, std::min<uint32_t>(b, 0xD7FF));
      if (b >= 0xD800 && a <= 0xDFFF) {
        out.emplace_back(std::max<uint32_t>(a, 0xD800) - 0xD800 + kSurrogateBase,
                         std::min<uint32_t>(b, 0xDFFF) - 0xD800 + kSurrogateBase);
      }
      if (b >= 0xE000 && a <= real_max) {
        out.emplace_back(std::max<uint32_t>(a, 0xE000), std::min(b, real_max));
      }
    }
    return Normalize(out);
  }

  static void AppendCodePoint(uint32_t c, std::string* out) {
    absl::StrAppend(out, "\\x{", absl::Hex(c), "}");
  }

  void Emit(const Node& n, std::string* out) const {
    switch (n.kind) {
      case Node::Kind::kSeq:
        if (n.kids.empty()) *out += "(?:)";
        for (const auto& k : n.kids) Emit(*k, out);
        return;
      case Node::Kind::kAlt:
        for (size_t i = 0; i < n.kids.size(); ++i) {
          if (i > 0) *out += "|";
          *out += "(?:";
          Emit(*n.kids[i], out);
          *out += ")";
        }
        return;
      case Node::Kind::kGroup:
        *out += n.capture != 0 ? "(" : "(?:";
        Emit(*n.kids[0], out);
        *out += ")";
        return;
      case Node::Kind::kQuant:
        *out += "(?:";
        Emit(*n.kids[0], out);
        *out += ")";
        if (n.unbounded && n.min == 0) {
          *out += "*";
        } else if (n.unbounded && n.min == 1) {
          *out += "+";
        } else if (!n.unbounded && n.min == 0 && n.max == 1) {
          *out += "?";
        } else if (n.unbounded) {
          absl::StrAppend(out, "{", n.min, ",}");
        } else {
          absl::StrAppend(out, "{", n.min, ",", n.max, "}");
        }
        if (!n.greedy) *out += "?";
        return;
      case Node::Kind::kSet: {
        Ranges m = Mapped(n.set);
        if (m.empty()) {
          *out += "[^\\x{0}-\\x{10ffff}]";
          return;
        }
        *out += "[";
        for (const auto& [a, b] : m) {
          AppendCodePoint(a, out);
          if (b != a) {
            *out += "-";
            AppendCodePoint(b, out);
          }
        }
        *out += "]";
        return;
      }
      case Node::Kind::kAssert:
        *out += n.assertion;
        return;
    }
  }

  std::u16string_view src_;
  JsRegexFlags flags_;
  size_t pos_ = 0;
  std::string error_;
  bool has_named_groups_ = false;
  bool multiline_anchors_ = false;
  std::vector<std::u16string> names_;
};

// ---------------------------------------------------------------------------------------------
// Compiled patterns, cached per thread.

// RE2's memory budget per pattern: a fixed constant, so whether a pattern is "too large" is the
// same on every node.
constexpr int64_t kMaxMem = 1 << 20;
constexpr size_t kCacheEntries = 64;  // with kMaxMem: at most 64 MiB of compiled patterns
constexpr uint64_t kCacheInstructions = 1 << 19;

struct Compiled {
  std::unique_ptr<RE2> re;
  JsRegexTranslation translation;
  std::string error;  // when the pattern is refused
  uint64_t program_size = 0;
};

class RegexCache {
 public:
  const Compiled& Get(std::u16string_view source, const JsRegexFlags& flags) {
    uint8_t bits = (flags.ignore_case ? 1 : 0) | (flags.multiline ? 2 : 0) |
                   (flags.dot_all ? 4 : 0) | (flags.unicode ? 8 : 0);
    Key key(bits, std::u16string(source));
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return lru_.front().second;
    }
    Compiled c = Compile(source, flags);
    instructions_ += c.program_size;
    lru_.emplace_front(key, std::move(c));
    index_.emplace(std::move(key), lru_.begin());
    while (lru_.size() > 1 && (lru_.size() > kCacheEntries || instructions_ > kCacheInstructions)) {
      instructions_ -= lru_.back().second.program_size;
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return lru_.front().second;
  }

 private:
  using Key = std::pair<uint8_t, std::u16string>;

  static Compiled Compile(std::u16string_view source, const JsRegexFlags& flags) {
    Compiled c;
    absl::StatusOr<JsRegexTranslation> t = TranslateJsRegex(source, flags);
    if (!t.ok()) {
      c.error = std::string(t.status().message());
      return c;
    }
    c.translation = *std::move(t);
    RE2::Options o;
    o.set_encoding(RE2::Options::EncodingUTF8);
    o.set_log_errors(false);
    o.set_max_mem(kMaxMem);
    o.set_case_sensitive(true);
    c.re = std::make_unique<RE2>(c.translation.re2_pattern, o);
    if (!c.re->ok()) {
      c.error = c.re->error_code() == RE2::ErrorPatternTooLarge
                    ? "a pattern too large for the regex engine"
                    : StrCat("a pattern the regex engine refuses (", c.re->error(), ")");
      c.re.reset();
      return c;
    }
    c.program_size = static_cast<uint64_t>(c.re->ProgramSize());
    return c;
  }

  std::list<std::pair<Key, Compiled>> lru_;
  std::map<Key, std::list<std::pair<Key, Compiled>>::iterator> index_;
  uint64_t instructions_ = 0;
};

RegexCache& Cache() {
  thread_local RegexCache cache;
  return cache;
}

// ---------------------------------------------------------------------------------------------
// The native

bool Throw(JSContext* cx, JSExnType type, const std::string& message) {
  JS::RootedString msg(cx, JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(message.data(), message.size())));
  JS::RootedString file(cx, JS_GetEmptyString(cx));
  if (!msg || !file) return false;
  JS::RootedValue err(cx);
  JS::Rooted<mozilla::Maybe<JS::Value>> cause(cx, mozilla::Nothing());
  if (!JS::CreateError(cx, type, nullptr, file, 0, 0, nullptr, msg, cause, &err)) return false;
  JS_SetPendingException(cx, err);
  return false;
}

// $__m.c -= n, as the prelude's charges do (js_meter.h).
bool Charge(JSContext* cx, JS::HandleObject meter, uint64_t n) {
  return ChargeMeter(cx, meter, n);
}

// Set(R, "lastIndex", v, true): a TypeError when it fails (a frozen RegExp).
bool SetLastIndex(JSContext* cx, JS::HandleObject re, double index) {
  JS::RootedString name(cx, JS_AtomizeAndPinString(cx, "lastIndex"));
  if (!name) return false;
  JS::RootedId id(cx);
  if (!JS_StringToId(cx, name, &id)) return false;
  JS::RootedValue v(cx, JS::NumberValue(index));
  JS::RootedValue receiver(cx, JS::ObjectValue(*re));
  JS::ObjectOpResult result;
  if (!JS_ForwardSetPropertyTo(cx, re, id, v, receiver, result)) return false;
  if (!result.ok()) return Throw(cx, JSEXN_TYPEERR, "lastIndex is read-only");
  return true;
}

void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// The text RE2 matches: units [begin, end) of `chars` in the mapping of js_regex.h. Returns an
// error message for an input the translation cannot match exactly.
template <typename Char>
std::string EncodeText(const Char* chars, size_t begin, size_t end, bool unicode,
                       bool multiline_anchors, std::string* out) {
  out->reserve((end - begin) * 2);
  for (size_t i = begin; i < end; ++i) {
    uint32_t u = chars[i];
    if (multiline_anchors && (u == '\r' || u == 0x2028 || u == 0x2029)) {
      return "^ or $ with the m flag on an input with a line terminator other than \\n";
    }
    if (unicode && IsLead(u) && i + 1 < end && IsTrail(chars[i + 1])) {
      uint32_t c = 0x10000 + ((u - 0xD800) << 10) + (chars[i + 1] - 0xDC00);
      if (c >= kSurrogateBase) {
        return "an input with a code point in U+10F800..U+10FFFF (reserved by the regex engine)";
      }
      AppendUtf8(c, out);
      ++i;
    } else if (IsSurrogate(u)) {
      AppendUtf8(kSurrogateBase + (u - 0xD800), out);
    } else {
      AppendUtf8(u, out);
    }
  }
  return "";
}

// UTF-16 index (from `base`) of each byte offset in `offsets` (sorted in place with them).
void BytesToUnits(std::string_view text, size_t base, std::vector<std::pair<size_t, size_t*>>* offsets) {
  std::sort(offsets->begin(), offsets->end());
  size_t byte = 0, unit = base;
  for (auto& [off, slot] : *offsets) {
    while (byte < off) {
      uint8_t b = static_cast<uint8_t>(text[byte]);
      if (b < 0x80) {
        byte += 1;
        unit += 1;
      } else if (b < 0xE0) {
        byte += 2;
        unit += 1;
      } else if (b < 0xF0) {
        byte += 3;
        unit += 1;
      } else {
        uint32_t c = ((b & 0x07u) << 18) | ((static_cast<uint8_t>(text[byte + 1]) & 0x3Fu) << 12) |
                     ((static_cast<uint8_t>(text[byte + 2]) & 0x3Fu) << 6) |
                     (static_cast<uint8_t>(text[byte + 3]) & 0x3Fu);
        byte += 4;
        unit += c >= kSurrogateBase ? 1 : 2;  // a mapped lone surrogate, or a pair
      }
    }
    *slot = unit;
  }
}

bool RegexExec(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  if (args.length() < 3 || !args[0].isObject()) {
    JS_ReportErrorASCII(cx, "regex exec: bad arguments");
    return false;
  }
  JS::RootedObject meter(cx, &args[0].toObject());
  bool is_regexp = false;
  JS::RootedObject re(cx);
  if (args[1].isObject()) {
    re = &args[1].toObject();
    if (!JS::ObjectIsRegExp(cx, re, &is_regexp)) return false;
  }
  if (!is_regexp) {
    return Throw(cx, JSEXN_TYPEERR, "RegExp.prototype.exec called on an incompatible receiver");
  }
  JS::RootedString str(cx, JS::ToString(cx, args[2]));
  if (!str) return false;
  JS::RootedValue v(cx);
  if (!JS_GetProperty(cx, re, "lastIndex", &v)) return false;
  double li;
  if (!JS::ToNumber(cx, v, &li)) return false;
  li = std::isnan(li) || li <= 0 ? 0 : std::min(std::trunc(li), 9007199254740991.0);
  JS::RegExpFlags rf = JS::GetRegExpFlags(cx, re);
  bool global = rf.global(), sticky = rf.sticky();
  if (!global && !sticky) li = 0;
  JS::RootedString source(cx, JS::GetRegExpSource(cx, re));
  if (!source) return false;

  // Translate and compile (cached), charged by the pattern's length.
  size_t source_length = JS_GetStringLength(source);
  if (!Charge(cx, meter, RegexCompileCharge(source_length))) return false;
  std::u16string source16(source_length, u'\0');
  if (!JS_CopyStringChars(cx, mozilla::Range<char16_t>(source16.data(), source16.size()), source)) {
    return false;
  }
  JsRegexFlags flags;
  flags.ignore_case = rf.ignoreCase();
  flags.multiline = rf.multiline();
  flags.dot_all = rf.dotAll();
  flags.unicode = rf.unicode();
  const Compiled& compiled = Cache().Get(source16, flags);
  if (!compiled.re) {
    return Throw(cx, JSEXN_SYNTAXERR,
                 StrCat("RegExp /", ToValidUtf8(Utf16ToWtf8(source16)), "/: the metered regex engine (RE2) "
                        "cannot run ", compiled.error));
  }
  // The match, charged before it starts by the text from lastIndex and the program size.
  size_t length = JS_GetStringLength(str);
  uint64_t remaining = li < static_cast<double>(length) ? length - static_cast<size_t>(li) : 0;
  if (!Charge(cx, meter, RegexExecCharge(remaining, compiled.program_size))) return false;
  if (li > static_cast<double>(length)) {
    if ((global || sticky) && !SetLastIndex(cx, re, 0)) return false;
    args.rval().setNull();
    return true;
  }
  size_t last_index = static_cast<size_t>(li);

  JSLinearString* linear = JS_EnsureLinearString(cx, str);
  if (!linear) return false;
  std::string text;
  size_t begin = 0;
  std::string refused;
  {
    JS::AutoCheckCannotGC nogc;
    size_t n;
    auto encode = [&](const auto* chars) {
      // With u, lastIndex inside a surrogate pair starts the match at the pair (as the engine).
      if (flags.unicode && last_index > 0 && last_index < n && IsTrail(chars[last_index]) &&
          IsLead(chars[last_index - 1])) {
        --last_index;
      }
      // One character of context before lastIndex, for \b, \B and ^.
      begin = last_index;
      if (begin > 0) {
        --begin;
        if (flags.unicode && begin > 0 && IsTrail(chars[begin]) && IsLead(chars[begin - 1])) {
          --begin;
        }
      }
      refused = EncodeText(chars, begin, n, flags.unicode,
                           compiled.translation.multiline_anchors, &text);
    };
    if (JS::StringHasLatin1Chars(str)) {
      encode(JS_GetLatin1StringCharsAndLength(cx, nogc, str, &n));
    } else {
      encode(JS_GetTwoByteStringCharsAndLength(cx, nogc, str, &n));
    }
  }
  if (!refused.empty()) {
    return Throw(cx, JSEXN_RANGEERR, StrCat("RegExp: the metered regex engine cannot match ",
                                             refused));
  }
  // Byte offset of lastIndex in `text`: after the context character.
  size_t start_byte = 0;
  if (begin < last_index) {
    uint8_t b = static_cast<uint8_t>(text[0]);
    start_byte = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  }
  int ngroups = compiled.re->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> sub(ngroups + 1);
  bool matched = compiled.re->Match(text, start_byte, text.size(),
                                    sticky ? RE2::ANCHOR_START : RE2::UNANCHORED, sub.data(),
                                    ngroups + 1);
  if (!matched) {
    if ((global || sticky) && !SetLastIndex(cx, re, 0)) return false;
    args.rval().setNull();
    return true;
  }
  std::vector<size_t> starts(ngroups + 1), ends(ngroups + 1);
  std::vector<std::pair<size_t, size_t*>> offsets;
  for (int i = 0; i <= ngroups; ++i) {
    if (sub[i].data() == nullptr) continue;
    offsets.emplace_back(sub[i].data() - text.data(), &starts[i]);
    offsets.emplace_back(sub[i].data() - text.data() + sub[i].size(), &ends[i]);
  }
  BytesToUnits(text, begin, &offsets);
  if (global || sticky) {
    if (!SetLastIndex(cx, re, static_cast<double>(ends[0]))) return false;
  }

  // The result array (RegExpBuiltinExec): elements, index, input, groups, and with d indices.
  JS::RootedObject result(cx, JS::NewArrayObject(cx, ngroups + 1));
  if (!result) return false;
  v.setNumber(static_cast<double>(starts[0]));
  if (!JS_DefineProperty(cx, result, "index", v, JSPROP_ENUMERATE)) return false;
  v.setString(str);
  if (!JS_DefineProperty(cx, result, "input", v, JSPROP_ENUMERATE)) return false;
  const JsRegexTranslation& t = compiled.translation;
  JS::RootedObject groups(cx);
  JS::RootedObject index_groups(cx);
  JS::RootedObject indices(cx);
  if (rf.hasIndices()) {
    indices = JS::NewArrayObject(cx, ngroups + 1);
    if (!indices) return false;
  }
  if (t.has_named_groups) {
    groups = JS_NewObjectWithGivenProto(cx, nullptr, nullptr);
    if (!groups) return false;
    if (indices) {
      index_groups = JS_NewObjectWithGivenProto(cx, nullptr, nullptr);
      if (!index_groups) return false;
    }
  }
  JS::RootedValue pair(cx);
  for (int i = 0; i <= ngroups; ++i) {
    bool in = sub[i].data() != nullptr;
    if (in) {
      JSString* s = JS_NewDependentString(cx, str, starts[i], ends[i] - starts[i]);
      if (!s) return false;
      v.setString(s);
    } else {
      v.setUndefined();
    }
    if (!JS_DefineElement(cx, result, i, v, JSPROP_ENUMERATE)) return false;
    const std::u16string* name =
        i > 0 && !t.group_names[i - 1].empty() ? &t.group_names[i - 1] : nullptr;
    if (name && !JS_DefineUCProperty(cx, groups, name->data(), name->size(), v, JSPROP_ENUMERATE)) {
      return false;
    }
    if (indices) {
      pair.setUndefined();
      if (in) {
        JS::RootedValueArray<2> se(cx);
        se[0].setNumber(static_cast<double>(starts[i]));
        se[1].setNumber(static_cast<double>(ends[i]));
        JSObject* p = JS::NewArrayObject(cx, se);
        if (!p) return false;
        pair.setObject(*p);
      }
      if (!JS_DefineElement(cx, indices, i, pair, JSPROP_ENUMERATE)) return false;
      if (name && !JS_DefineUCProperty(cx, index_groups, name->data(), name->size(), pair,
                                       JSPROP_ENUMERATE)) {
        return false;
      }
    }
  }
  v = groups ? JS::ObjectValue(*groups) : JS::UndefinedValue();
  if (!JS_DefineProperty(cx, result, "groups", v, JSPROP_ENUMERATE)) return false;
  if (indices) {
    v = index_groups ? JS::ObjectValue(*index_groups) : JS::UndefinedValue();
    if (!JS_DefineProperty(cx, indices, "groups", v, JSPROP_ENUMERATE)) return false;
    v.setObject(*indices);
    if (!JS_DefineProperty(cx, result, "indices", v, JSPROP_ENUMERATE)) return false;
  }
  args.rval().setObject(*result);
  return true;
}

}  // namespace

absl::StatusOr<JsRegexTranslation> TranslateJsRegex(std::u16string_view source,
                                                    const JsRegexFlags& flags) {
  return Translator(source, flags).Run();
}

uint64_t RegexExecCharge(uint64_t remaining, uint64_t program_size) {
  return 1 + (remaining + 1) * (program_size + 1) / 4;
}

uint64_t RegexCompileCharge(uint64_t source_length) { return 1 + source_length / 16; }

bool DefineRegexNative(JSContext* cx) {
  JS::RootedObject global(cx, JS::CurrentGlobalOrNull(cx));
  return global && JS_DefineFunction(cx, global, "$__regexExec", &RegexExec, 3, 0);
}

}  // namespace swingset
