#include "kernel/utf8.h"

namespace swingset {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

bool IsSurrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

void AppendUtf8Raw(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

size_t DecodeWtf8(std::string_view s, size_t i, uint32_t* cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t v;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds for the first continuation byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 1;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 2;
    v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 3;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n >= s.size()) return 0;  // truncated
  for (size_t k = 1; k <= n; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return 0;
    v = (v << 6) | (d & 0x3F);
  }
  *cp = v;
  return n + 1;
}

void AppendWtf8(uint32_t cp, std::string* out) {
  if (cp >= 0xDC00 && cp <= 0xDFFF && out->size() >= 3) {
    const size_t e = out->size() - 3;
    const unsigned char b0 = static_cast<unsigned char>((*out)[e]);
    const unsigned char b1 = static_cast<unsigned char>((*out)[e + 1]);
    if (b0 == 0xED && b1 >= 0xA0 && b1 <= 0xAF) {
      const uint32_t high =
          0xD000 | ((b1 & 0x3F) << 6) | (static_cast<unsigned char>((*out)[e + 2]) & 0x3F);
      out->resize(e);
      AppendUtf8Raw(0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00), out);
      return;
    }
  }
  AppendUtf8Raw(cp, out);
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    const size_t n = DecodeWtf8(s, i, &cp);
    if (n == 0 || IsSurrogate(cp)) return false;
    i += n;
  }
  return true;
}

std::string ToValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp;
    const size_t n = DecodeWtf8(s, i, &cp);
    if (n == 0 || IsSurrogate(cp)) {
      out.append(kReplacement);
      i += n == 0 ? 1 : n;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  return out;
}

std::string JsonTextToUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp;
    const size_t n = DecodeWtf8(s, i, &cp);
    if (n == 0) {
      out.append(kReplacement);
      ++i;
    } else if (IsSurrogate(cp)) {
      const char esc[6] = {'\\', 'u', kHex[(cp >> 12) & 0xF], kHex[(cp >> 8) & 0xF],
                           kHex[(cp >> 4) & 0xF], kHex[cp & 0xF]};
      out.append(esc, 6);
      i += n;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

std::u16string Wtf8ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp;
    const size_t n = DecodeWtf8(s, i, &cp);
    if (n == 0) {
      out.push_back(u'\uFFFD');
      ++i;
      continue;
    }
    i += n;
    if (cp >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

std::string Utf16ToWtf8(std::u16string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t u = s[i];
    if (u >= 0xD800 && u <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 &&
        s[i + 1] <= 0xDFFF) {
      u = 0x10000 + ((u - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    }
    AppendUtf8Raw(u, &out);
  }
  return out;
}

}  // namespace swingset
