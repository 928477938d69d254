#include "kernel/ids.h"

#include "kernel/strings.h"

namespace swingset {

bool ParseNat(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

absl::StatusOr<VatId> VatId::Parse(std::string_view s) {
  uint64_t n;
  if (s.size() < 2 || s[0] != 'v' || !ParseNat(s.substr(1), &n) || n == 0) {
    return absl::InvalidArgumentError(StrCat("bad vat id '", s, "'"));
  }
  return VatId(n);
}

std::string VatId::ToString() const { return StrCat("v", n_); }

absl::StatusOr<DeviceId> DeviceId::Parse(std::string_view s) {
  uint64_t n;
  if (s.size() < 2 || s[0] != 'd' || !ParseNat(s.substr(1), &n)) {
    return absl::InvalidArgumentError(StrCat("bad device id '", s, "'"));
  }
  return DeviceId(n);
}

std::string DeviceId::ToString() const { return StrCat("d", n_); }

absl::StatusOr<Kref> Kref::Parse(std::string_view s) {
  uint64_t n;
  if (s.size() >= 3 && s[0] == 'k' && ParseNat(s.substr(2), &n)) {
    switch (s[1]) {
      case 'o': return Kref::Object(n);
      case 'p': return Kref::Promise(n);
      case 'd': return Kref::Device(n);
      default: break;
    }
  }
  return absl::InvalidArgumentError(StrCat("bad kref '", s, "'"));
}

void Kref::AppendTo(std::string* out) const {
  const char* prefix = kind_ == KrefKind::kObject ? "ko" : kind_ == KrefKind::kPromise ? "kp" : "kd";
  StrAppend(out, prefix, n_);
}

std::string Kref::ToString() const {
  const char* prefix = kind_ == KrefKind::kObject ? "ko" : kind_ == KrefKind::kPromise ? "kp" : "kd";
  return StrCat(prefix, n_);
}

bool KrefStringLess(const Kref& a, const Kref& b) { return a.ToString() < b.ToString(); }

absl::StatusOr<VatRef> VatRef::Parse(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("bad vref '", s, "': ", why));
  };
  if (s.size() < 3) return bad("too short");
  VatRef r;
  switch (s[0]) {
    case 'o': r.type_ = VrefType::kObject; break;
    case 'p': r.type_ = VrefType::kPromise; break;
    case 'd': r.type_ = VrefType::kDevice; break;
    default: return bad("unknown type");
  }
  if (s[1] == '+') {
    r.is_export_ = true;
  } else if (s[1] != '-') {
    return bad("expected + or -");
  }
  std::string_view rest = s.substr(2);
  uint64_t n;
  if (ParseNat(rest, &n)) {
    r.text_ = std::string(s);
    return r;
  }
  // Virtual / durable forms: o+vK/I or o+dK/I, optional :F facet.
  if (r.type_ != VrefType::kObject || !r.is_export_) return bad("bad number");
  if (rest[0] != 'v' && rest[0] != 'd') return bad("bad number");
  std::string_view body = rest.substr(1);
  size_t slash = body.find('/');
  if (slash == std::string_view::npos) return bad("missing /");
  std::string_view kind = body.substr(0, slash);
  std::string_view inst = body.substr(slash + 1);
  std::string_view facet;
  size_t colon = inst.find(':');
  if (colon != std::string_view::npos) {
    facet = inst.substr(colon + 1);
    inst = inst.substr(0, colon);
    if (!ParseNat(facet, &n)) return bad("bad facet");
  }
  if (!ParseNat(kind, &n) || !ParseNat(inst, &n)) return bad("bad virtual id");
  r.text_ = std::string(s);
  return r;
}

VatRef VatRef::Import(VrefType type, uint64_t n) {
  VatRef r;
  r.type_ = type;
  r.is_export_ = false;
  char c = type == VrefType::kObject ? 'o' : type == VrefType::kPromise ? 'p' : 'd';
  r.text_ = StrCat(std::string(1, c), "-", n);
  return r;
}

}  // namespace swingset
