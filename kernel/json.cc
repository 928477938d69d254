#include "kernel/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/container/flat_hash_map.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"

namespace swingset {

Json Json::MakeArray(Array a) {
  Json j;
  j.type_ = Type::kArray;
  j.arr_ = std::move(a);
  return j;
}

Json Json::MakeObject(Object o) {
  Json j;
  j.type_ = Type::kObject;
  j.obj_ = std::move(o);
  return j;
}

namespace {

// Collects object members in order, folding repeated keys in linear time: small objects by a
// scan, larger ones through a hash index built once they pass kScanLimit members.
class ObjectBuilder {
 public:
  void Add(std::string key, Json value) {
    if (index_.empty()) {
      for (auto& m : members_) {
        if (m.first == key) {
          m.second = std::move(value);
          return;
        }
      }
      members_.emplace_back(std::move(key), std::move(value));
      if (members_.size() > kScanLimit) {
        index_.reserve(members_.size() * 2);
        for (size_t i = 0; i < members_.size(); ++i) index_.emplace(members_[i].first, i);
      }
      return;
    }
    auto [it, inserted] = index_.try_emplace(key, members_.size());
    if (!inserted) {
      members_[it->second].second = std::move(value);
      return;
    }
    members_.emplace_back(std::move(key), std::move(value));
  }
  Json::Object Take() { return std::move(members_); }

 private:
  static constexpr size_t kScanLimit = 16;
  Json::Object members_;
  absl::flat_hash_map<std::string, size_t> index_;  // key -> position; lookups only
};

}  // namespace

Json Json::MakeObjectDedup(Object members) {
  ObjectBuilder b;
  for (auto& m : members) b.Add(std::move(m.first), std::move(m.second));
  return MakeObject(b.Take());
}

int64_t Json::DoubleToInt(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9223372036854775808.0) return INT64_MAX;
  if (d < -9223372036854775808.0) return INT64_MIN;
  return static_cast<int64_t>(d);
}

const Json* Json::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& m : obj_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

void Json::Set(std::string_view key, Json value) {
  if (type_ != Type::kObject) {
    *this = MakeObject();
  }
  for (auto& m : obj_) {
    if (m.first == key) {
      m.second = std::move(value);
      return;
    }
  }
  obj_.emplace_back(std::string(key), std::move(value));
}

void Json::Erase(std::string_view key) {
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    if (it->first == key) {
      obj_.erase(it);
      return;
    }
  }
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes copied as they are
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      uint32_t cp;
      const size_t n = DecodeWtf8(s, i, &cp);
      if (n != 0 && (cp < 0xD800 || cp > 0xDFFF)) {
        i += n;  // well-formed UTF-8: copied as is
        continue;
      }
      out->append(s.data() + run, i - run);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");  // not WTF-8: one U+FFFD per such byte
        i += 1;
      } else {
        uint32_t low;
        if (cp <= 0xDBFF && i + 3 < s.size() && DecodeWtf8(s, i + 3, &low) == 3 &&
            low >= 0xDC00 && low <= 0xDFFF) {
          // Two encoded halves of a pair (text concatenated outside the parser): one character.
          const uint32_t full = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          out->push_back(static_cast<char>(0xF0 | (full >> 18)));
          out->push_back(static_cast<char>(0x80 | ((full >> 12) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | ((full >> 6) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | (full & 0x3F)));
          i += 6;
        } else {
          const char esc[6] = {'\\', 'u', kHex[(cp >> 12) & 0xF], kHex[(cp >> 8) & 0xF],
                               kHex[(cp >> 4) & 0xF], kHex[cp & 0xF]};
          out->append(esc, 6);
          i += 3;
        }
      }
      run = i;
      continue;
    }
    out->append(s.data() + run, i - run);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(esc, 6);
      }
    }
    ++i;
    run = i;
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendJsonNumber(double d, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  if (d == 0) {  // +0 and -0
    out->push_back('0');
    return;
  }
  // Shortest round-trip digits (std::to_chars), then ECMA-262 Number::toString's layout.
  char buf[64];
  const std::to_chars_result r =
      std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));  // [-]d[.ddd]e(+|-)xx
  if (sci[0] == '-') {
    out->push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  char digits[32];
  int k = 0;
  for (size_t i = 0; i < e_pos; ++i) {
    if (sci[i] != '.') digits[k++] = sci[i];
  }
  int exp = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exp);
  const int n = exp + 1;  // the decimal point sits after n digits
  if (k <= n && n <= 21) {
    out->append(digits, k);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, n);
    out->push_back('.');
    out->append(digits + n, k - n);
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits, k);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits + 1, k - 1);
    }
    out->push_back('e');
    out->push_back(n - 1 < 0 ? '-' : '+');
    StrAppend(out, n - 1 < 0 ? 1 - n : n - 1);
  }
}

namespace {
constexpr int64_t kMaxSafe = int64_t{1} << 53;
}  // namespace

void Json::DumpTo(std::string* out) const {
  switch (type_) {
    case Type::kNull: out->append("null"); break;
    case Type::kBool: out->append(int_ ? "true" : "false"); break;
    case Type::kInt:
      // Exact up to 2^53; beyond, written as the double JS would hold.
      if (int_ >= -kMaxSafe && int_ <= kMaxSafe) {
        StrAppend(out, int_);
      } else {
        AppendJsonNumber(static_cast<double>(int_), out);
      }
      break;
    case Type::kDouble: AppendJsonNumber(double_, out); break;
    case Type::kString: AppendJsonString(str_, out); break;
    case Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const auto& v : arr_) {
        if (!first) out->push_back(',');
        first = false;
        v.DumpTo(out);
      }
      out->push_back(']');
      break;
    }
    case Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& m : obj_) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(m.first, out);
        out->push_back(':');
        m.second.DumpTo(out);
      }
      out->push_back('}');
      break;
    }
  }
}

std::string Json::Dump() const {
  std::string out;
  DumpTo(&out);
  return out;
}

bool Json::operator==(const Json& o) const {
  if (is_number() && o.is_number()) {
    if (type_ == Type::kInt && o.type_ == Type::kInt) return int_ == o.int_;
    return as_double() == o.as_double();
  }
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNull: return true;
    case Type::kBool: return int_ == o.int_;
    case Type::kString: return str_ == o.str_;
    case Type::kArray: return arr_ == o.arr_;
    case Type::kObject: return obj_ == o.obj_;
    default: return false;
  }
}

namespace {

// Recursive-descent parser over a string_view with a depth limit, so hostile input (from gRPC or
// a vat) cannot overflow the stack.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  absl::StatusOr<Json> ParseTop() {
    Json v;
    if (!ParseValue(&v, 0)) return Error();
    SkipWs();
    if (pos_ != s_.size()) {
      err_ = "trailing characters";
      return Error();
    }
    return v;
  }

 private:
  static constexpr int kMaxDepth = 512;

  // The value of a JSON number that from_chars reports out of double's range: +-infinity when
  // its magnitude is huge, +-0 when it is tiny (the grammar was checked already).
  static double FromCharsOutOfRange(const char* p, const char* end) {
    const bool negative = *p == '-';
    if (negative) ++p;
    int64_t magnitude = 0;  // decimal exponent of the leading nonzero digit, roughly
    bool seen_nonzero = false;
    for (; p < end && *p >= '0' && *p <= '9'; ++p) {
      if (*p != '0') seen_nonzero = true;
      if (seen_nonzero) ++magnitude;
    }
    if (p < end && *p == '.') {
      for (++p; p < end && *p >= '0' && *p <= '9'; ++p) {
        if (!seen_nonzero) {
          if (*p != '0') {
            seen_nonzero = true;
          } else {
            --magnitude;
          }
        }
      }
    }
    int64_t exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
      ++p;
      const bool exp_negative = *p == '-';
      if (*p == '+' || *p == '-') ++p;
      for (; p < end; ++p) {
        if (exp < 1000000) exp = exp * 10 + (*p - '0');
      }
      if (exp_negative) exp = -exp;
    }
    const double v = magnitude + exp > 0 ? HUGE_VAL : 0.0;
    return negative ? -v : v;
  }

  absl::Status Error() const {
    return absl::InvalidArgumentError(StrCat("bad JSON at offset ", pos_, ": ", err_));
  }

  void SkipWs() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) == lit) {
      pos_ += lit.size();
      return true;
    }
    err_ = "bad literal";
    return false;
  }

  bool ParseValue(Json* out, int depth) {
    if (depth > kMaxDepth) {
      err_ = "nesting too deep";
      return false;
    }
    SkipWs();
    if (pos_ >= s_.size()) {
      err_ = "unexpected end";
      return false;
    }
    char c = s_[pos_];
    if (c == 'n') {
      if (!Literal("null")) return false;
      *out = Json();
      return true;
    }
    if (c == 't') {
      if (!Literal("true")) return false;
      *out = Json(true);
      return true;
    }
    if (c == 'f') {
      if (!Literal("false")) return false;
      *out = Json(false);
      return true;
    }
    if (c == '"') {
      std::string s;
      if (!ParseString(&s)) return false;
      *out = Json(std::move(s));
      return true;
    }
    if (c == '[') {
      ++pos_;
      Json arr = Json::MakeArray();
      SkipWs();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        *out = std::move(arr);
        return true;
      }
      while (true) {
        Json v;
        if (!ParseValue(&v, depth + 1)) return false;
        arr.Push(std::move(v));
        SkipWs();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          break;
        }
        err_ = "expected , or ]";
        return false;
      }
      *out = std::move(arr);
      return true;
    }
    if (c == '{') {
      ++pos_;
      ObjectBuilder obj;
      SkipWs();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        *out = Json::MakeObject();
        return true;
      }
      while (true) {
        SkipWs();
        if (pos_ >= s_.size() || s_[pos_] != '"') {
          err_ = "expected member name";
          return false;
        }
        std::string key;
        if (!ParseString(&key)) return false;
        SkipWs();
        if (pos_ >= s_.size() || s_[pos_] != ':') {
          err_ = "expected :";
          return false;
        }
        ++pos_;
        Json v;
        if (!ParseValue(&v, depth + 1)) return false;
        obj.Add(std::move(key), std::move(v));
        SkipWs();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          break;
        }
        err_ = "expected , or }";
        return false;
      }
      *out = Json::MakeObject(obj.Take());
      return true;
    }
    return ParseNumber(out);
  }

  bool ParseNumber(Json* out) {
    size_t start = pos_;
    bool is_int = true;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    size_t digits = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ == digits) {
      err_ = "bad value";
      return false;
    }
    if (s_[digits] == '0' && pos_ - digits > 1) {
      err_ = "leading zero in number";
      return false;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      is_int = false;
      ++pos_;
      size_t frac = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == frac) {
        err_ = "bad number";
        return false;
      }
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      is_int = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      size_t exp = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == exp) {
        err_ = "bad number";
        return false;
      }
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    if (is_int && pos_ - start <= 18) {
      int64_t v = 0;
      std::from_chars(first, last, v);
      if (v >= -kMaxSafe && v <= kMaxSafe) {
        *out = Json(v);
        return true;
      }
    }
    // JSON's number grammar is a subset of from_chars's; out-of-range values come back as
    // +-infinity or +-0 with result_out_of_range, as JavaScript reads them.
    double d = 0;
    const std::from_chars_result r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) {
      d = FromCharsOutOfRange(first, last);
    }
    *out = Json(d);
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (pos_ + 4 > s_.size()) {
      err_ = "bad \\u escape";
      return false;
    }
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      r <<= 4;
      if (c >= '0' && c <= '9') {
        r |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        r |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        r |= c - 'A' + 10;
      } else {
        err_ = "bad \\u escape";
        return false;
      }
    }
    *v = r;
    return true;
  }

  bool ParseString(std::string* out) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= s_.size()) {
        err_ = "unterminated string";
        return false;
      }
      // A run of plain ASCII, copied at once.
      size_t run = pos_;
      while (run < s_.size()) {
        const unsigned char b = static_cast<unsigned char>(s_[run]);
        if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
        ++run;
      }
      out->append(s_.data() + pos_, run - pos_);
      pos_ = run;
      if (pos_ >= s_.size()) continue;
      char c = s_[pos_];
      if (static_cast<unsigned char>(c) >= 0x80) {
        uint32_t cp;
        const size_t n = DecodeWtf8(s_, pos_, &cp);
        if (n == 0) {
          err_ = "invalid UTF-8 in string";
          return false;
        }
        pos_ += n;
        if (n == 3 && cp >= 0xD800 && cp <= 0xDFFF) {
          AppendWtf8(cp, out);  // raw WTF-8 surrogate: kept canonical
        } else {
          out->append(s_.data() + pos_ - n, n);
        }
        continue;
      }
      ++pos_;
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) {
        err_ = "control character in string";
        return false;
      }
      if (pos_ >= s_.size()) {
        err_ = "bad escape";
        return false;
      }
      char e = s_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          AppendWtf8(cp, out);  // a low surrogate right after a high one joins it
          break;
        }
        default:
          err_ = "bad escape";
          return false;
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string err_;
};

}  // namespace

absl::StatusOr<Json> Json::Parse(std::string_view text) { return Parser(text).ParseTop(); }

}  // namespace swingset
