// File: json.h
//
// A small JSON value for the kernel's stored records (queue events, vat options, gcActions,
// transcripts). Objects keep their members in construction order and serialize compactly, as
// JavaScript's JSON.stringify does, so stored bytes are deterministic.
//
// Numbers follow JavaScript: every number is (conceptually) a double. Parse keeps integers of
// magnitude <= 2^53 as int64 (exact) and everything else as double; Dump writes numbers exactly
// as JSON.stringify writes the double (ECMA-262 Number::toString: shortest round-trip digits,
// "1e+21", "1.5e-7", -0 as "0", non-finite as "null"). An int64 beyond +-2^53 is written as the
// nearest double would be; a uint64 above the int64 range is held as a double.
//
// Strings are WTF-8 (kernel/utf8.h): the parser turns \udxxx escapes of lone surrogates into
// encoded surrogates and accepts raw WTF-8 (rejecting any other invalid byte); Dump escapes each
// lone surrogate as \udxxx (lowercase, as the well-formed JSON.stringify does) and writes U+FFFD
// for a byte that is not WTF-8, so Dump output is always valid UTF-8.
//
// Objects parse in linear time; a duplicate key keeps its first position and takes the last
// value, as JSON.parse does.
//
// Thread-safety: a Json value is a plain value type; no shared state.

#ifndef SWINGSETD_KERNEL_JSON_H_
#define SWINGSETD_KERNEL_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace swingset {

class Json {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::kBool), int_(b ? 1 : 0) {}
  Json(int v) : type_(Type::kInt), int_(v) {}
  Json(int64_t v) : type_(Type::kInt), int_(v) {}
  Json(uint64_t v) {
    if (v <= static_cast<uint64_t>(INT64_MAX)) {
      type_ = Type::kInt;
      int_ = static_cast<int64_t>(v);
    } else {
      type_ = Type::kDouble;
      double_ = static_cast<double>(v);
    }
  }
  Json(double v) : type_(Type::kDouble), double_(v) {}
  Json(const char* s) : type_(Type::kString), str_(s) {}
  Json(std::string s) : type_(Type::kString), str_(std::move(s)) {}
  Json(std::string_view s) : type_(Type::kString), str_(s) {}

  static Json MakeArray(Array a = {});
  static Json MakeObject(Object o = {});
  // An object from members that may repeat a key: linear time; a repeated key keeps its first
  // position and takes its last value (JSON.parse's rule).
  static Json MakeObjectDedup(Object members);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kDouble; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return int_ != 0; }
  // A double is truncated toward zero and clamped to the int64 range (NaN -> 0).
  int64_t as_int() const { return type_ == Type::kDouble ? DoubleToInt(double_) : int_; }
  double as_double() const { return type_ == Type::kInt ? static_cast<double>(int_) : double_; }
  const std::string& as_string() const { return str_; }
  const Array& as_array() const { return arr_; }
  Array& as_array() { return arr_; }
  const Object& as_object() const { return obj_; }
  Object& as_object() { return obj_; }

  // Object access. Find returns nullptr when the member is absent or this is not an object.
  const Json* Find(std::string_view key) const;
  // Sets a member (a linear scan: for building small objects), replacing an existing one in place or appending a new one.
  void Set(std::string_view key, Json value);
  void Erase(std::string_view key);
  // Array append.
  void Push(Json value) { arr_.push_back(std::move(value)); }

  // Compact serialization (no spaces), strings escaped as JSON.stringify does.
  std::string Dump() const;
  void DumpTo(std::string* out) const;

  // Parses one JSON text. Errors are kInvalidArgument naming the offset.
  static absl::StatusOr<Json> Parse(std::string_view text);

  bool operator==(const Json& other) const;
  bool operator!=(const Json& other) const { return !(*this == other); }

 private:
  static int64_t DoubleToInt(double d);

  Type type_ = Type::kNull;
  int64_t int_ = 0;
  double double_ = 0;
  std::string str_;
  Array arr_;
  Object obj_;
};

// Appends s (WTF-8) to out as a quoted JSON string, exactly as JSON.stringify writes the JS
// string (see above for lone surrogates and invalid bytes).
void AppendJsonString(std::string_view s, std::string* out);

// Appends d as JSON.stringify writes a number ("null" when not finite).
void AppendJsonNumber(double d, std::string* out);

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_JSON_H_
