// File: json.h
//
// A small JSON value for the kernel's stored records (queue events, vat options, gcActions,
// transcripts). Objects keep their members in construction order and serialize compactly, as
// JavaScript's JSON.stringify does, so stored bytes are deterministic. Numbers are kept as int64
// when they are integers that fit, otherwise as double.
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
  Json(uint64_t v) : type_(Type::kInt), int_(static_cast<int64_t>(v)) {}
  Json(double v) : type_(Type::kDouble), double_(v) {}
  Json(const char* s) : type_(Type::kString), str_(s) {}
  Json(std::string s) : type_(Type::kString), str_(std::move(s)) {}
  Json(std::string_view s) : type_(Type::kString), str_(s) {}

  static Json MakeArray(Array a = {});
  static Json MakeObject(Object o = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kDouble; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return type_ == Type::kDouble ? static_cast<int64_t>(double_) : int_; }
  double as_double() const { return type_ == Type::kInt ? static_cast<double>(int_) : double_; }
  const std::string& as_string() const { return str_; }
  const Array& as_array() const { return arr_; }
  Array& as_array() { return arr_; }
  const Object& as_object() const { return obj_; }
  Object& as_object() { return obj_; }

  // Object access. Find returns nullptr when the member is absent or this is not an object.
  const Json* Find(std::string_view key) const;
  // Sets a member, replacing an existing one in place or appending a new one.
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
  Type type_ = Type::kNull;
  int64_t int_ = 0;
  double double_ = 0;
  std::string str_;
  Array arr_;
  Object obj_;
};

// Appends s to out as a quoted JSON string.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_JSON_H_
