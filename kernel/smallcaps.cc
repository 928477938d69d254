#include "kernel/smallcaps.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "kernel/base.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"

namespace swingset {
namespace smallcaps {
namespace {

bool StartsSpecially(std::string_view s) { return !s.empty() && s[0] >= '!' && s[0] <= '-'; }

std::string EscapeString(std::string_view s) {
  if (StartsSpecially(s)) return StrCat("!", s);
  return std::string(s);
}

// The inverse of EscapeString for text that must be a string (error messages, method names).
std::string UnescapeString(std::string_view s) {
  if (!s.empty() && s[0] == '!') return std::string(s.substr(1));
  return std::string(s);
}

Json EncodeValue(const Json& v) {
  switch (v.type()) {
    case Json::Type::kString:
      return Json(EscapeString(v.as_string()));
    case Json::Type::kArray: {
      Json out = Json::MakeArray();
      for (const Json& e : v.as_array()) out.Push(EncodeValue(e));
      return out;
    }
    case Json::Type::kObject: {
      // Records are encoded with sorted property names, in JavaScript's sort order (UTF-16
      // code units, which differs from byte order above U+FFFF). A later duplicate key wins,
      // as in JSON.parse (MakeObjectDedup, linear time).
      // Where each surviving key's last value is: positions in the input, last one winning.
      std::vector<std::pair<std::u16string, size_t>> order;
      {
        Json::Object with_index;
        with_index.reserve(v.as_object().size());
        for (size_t i = 0; i < v.as_object().size(); ++i) {
          with_index.emplace_back(v.as_object()[i].first, Json(static_cast<int64_t>(i)));
        }
        const Json last = Json::MakeObjectDedup(std::move(with_index));
        order.reserve(last.as_object().size());
        for (const auto& [k, index] : last.as_object()) {
          order.emplace_back(Wtf8ToUtf16(k), static_cast<size_t>(index.as_int()));
        }
      }
      std::sort(order.begin(), order.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      Json::Object members;
      members.reserve(order.size());
      for (const auto& [unused, index] : order) {
        const auto& [k, val] = v.as_object()[index];
        members.emplace_back(EscapeString(k), EncodeValue(val));
      }
      return Json::MakeObject(std::move(members));
    }
    default:
      return v;
  }
}

Json Tagged(std::string_view tag, Json value) {
  Json o = Json::MakeObject();
  o.Set(tag, std::move(value));
  return o;
}

absl::StatusOr<Json> DecodeString(const std::string& s, const std::vector<std::string>& slots) {
  if (!StartsSpecially(s)) return Json(s);
  char c = s[0];
  std::string_view rest = std::string_view(s).substr(1);
  switch (c) {
    case '!':
      return Json(std::string(rest));
    case '#':
      if (rest == "undefined") return Tagged("@undefined", Json(true));
      if (rest == "NaN" || rest == "Infinity" || rest == "-Infinity" || rest == "-0") {
        return Tagged("@number", Json(std::string(rest)));
      }
      return absl::InvalidArgumentError(StrCat("unknown smallcaps special '", s, "'"));
    case '+':
    case '-': {
      uint64_t n;
      if (!ParseNat(rest, &n) && !(rest.size() > 19 && std::all_of(rest.begin(), rest.end(),
                                                                  [](char d) {
                                                                    return d >= '0' && d <= '9';
                                                                  }))) {
        return absl::InvalidArgumentError(StrCat("bad bigint '", s, "'"));
      }
      return Tagged("@bigint", Json(c == '-' ? s : std::string(rest)));
    }
    case '$':
    case '&': {
      size_t dot = rest.find('.');
      std::string_view index_text = rest.substr(0, dot);
      uint64_t index;
      if (!ParseNat(index_text, &index) || index >= slots.size()) {
        return absl::InvalidArgumentError(StrCat("bad slot reference '", s, "'"));
      }
      if (c == '&') return Tagged("@promise", Json(slots[index]));
      Json o = Json::MakeObject();
      o.Set("@slot", Json(slots[index]));
      o.Set("iface", Json(dot == std::string_view::npos ? std::string()
                                                        : std::string(rest.substr(dot + 1))));
      return o;
    }
    default:
      return absl::InvalidArgumentError(StrCat("reserved smallcaps prefix in '", s, "'"));
  }
}

absl::StatusOr<Json> DecodeValue(const Json& v, const std::vector<std::string>& slots) {
  switch (v.type()) {
    case Json::Type::kString:
      return DecodeString(v.as_string(), slots);
    case Json::Type::kArray: {
      Json out = Json::MakeArray();
      for (const Json& e : v.as_array()) {
        ASSIGN_OR_RETURN(Json d, DecodeValue(e, slots));
        out.Push(std::move(d));
      }
      return out;
    }
    case Json::Type::kObject: {
      if (const Json* err = v.Find("#error")) {
        Json o = Json::MakeObject();
        Json message = err->is_string() ? Json(UnescapeString(err->as_string())) : Json(err->Dump());
        o.Set("@error", std::move(message));
        const Json* name = v.Find("name");
        o.Set("name", name && name->is_string() ? *name : Json("Error"));
        return o;
      }
      if (const Json* tag = v.Find("#tag")) {
        Json o = Json::MakeObject();
        o.Set("@tag", *tag);
        const Json* payload = v.Find("payload");
        if (payload) {
          ASSIGN_OR_RETURN(Json p, DecodeValue(*payload, slots));
          o.Set("payload", std::move(p));
        }
        return o;
      }
      Json::Object members;
      members.reserve(v.as_object().size());
      for (const auto& [k, val] : v.as_object()) {
        std::string key = k;
        if (StartsSpecially(key)) {
          if (key[0] != '!') {
            return absl::InvalidArgumentError(StrCat("reserved record key '", key, "'"));
          }
          key = key.substr(1);
        }
        ASSIGN_OR_RETURN(Json d, DecodeValue(val, slots));
        members.emplace_back(std::move(key), std::move(d));
      }
      // "!x" and "x" may both decode to "x": folded in linear time, the later one winning.
      return Json::MakeObjectDedup(std::move(members));
    }
    default:
      return v;
  }
}

}  // namespace

std::string EncodePlain(const Json& plain) { return StrCat("#", EncodeValue(plain).Dump()); }

std::string EncodeString(std::string_view s) { return Json(EscapeString(s)).Dump(); }

absl::StatusOr<CapData> ArgsFromJson(std::string_view args_json) {
  if (args_json.empty()) return CapData{"#[]", {}};
  absl::StatusOr<Json> parsed = Json::Parse(args_json);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        StrCat("args_json is not JSON: ", parsed.status().message()));
  }
  if (!parsed->is_array()) {
    return absl::InvalidArgumentError("args_json must be a JSON array of arguments");
  }
  return CapData{EncodePlain(*parsed), {}};
}

absl::StatusOr<Json> Decode(const CapData& data) {
  if (data.body.empty() || data.body[0] != '#') {
    return absl::InvalidArgumentError("capdata body is not smallcaps (no leading '#')");
  }
  ASSIGN_OR_RETURN(Json v, Json::Parse(std::string_view(data.body).substr(1)));
  return DecodeValue(v, data.slots);
}

bool IsSlotRef(const Json& v) { return v.is_object() && v.Find("@slot") != nullptr; }

std::string SlotOf(const Json& v) {
  const Json* s = v.is_object() ? v.Find("@slot") : nullptr;
  return s && s->is_string() ? s->as_string() : std::string();
}

std::string UndefinedBody() { return "#\"#undefined\""; }

std::string ErrorBody(std::string_view message) {
  Json e = Json::MakeObject();
  e.Set("#error", Json(EscapeString(message)));
  e.Set("name", Json("Error"));
  return StrCat("#", e.Dump());
}

CapData ErrorData(std::string_view message) { return CapData{ErrorBody(message), {}}; }

bool IsSingleSlotBody(std::string_view body) {
  if (body.size() < 4 || body[0] != '#' || body[1] != '"' || body.back() != '"') return false;
  absl::StatusOr<Json> s = Json::Parse(body.substr(1));
  if (!s.ok() || !s->is_string()) return false;
  const std::string& v = s->as_string();
  if (v == "&0") return true;
  return v.size() >= 2 && v[0] == '$' && v[1] == '0' && (v.size() == 2 || v[2] == '.');
}

std::string MethodNameOf(const CapData& methargs) {
  if (methargs.body.empty() || methargs.body[0] != '#') return "?";
  absl::StatusOr<Json> j = Json::Parse(std::string_view(methargs.body).substr(1));
  if (!j.ok() || !j->is_array() || j->as_array().empty() || !j->as_array()[0].is_string()) {
    return "?";
  }
  return UnescapeString(j->as_array()[0].as_string());
}

}  // namespace smallcaps
}  // namespace swingset
