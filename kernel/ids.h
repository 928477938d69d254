// File: ids.h
//
// Distinct value types for every kind of identifier the kernel handles (docs/KERNEL_SPEC.md §1):
//   VatId            v<N>       from vat.nextID = 1
//   DeviceId         d<N>       from device.nextID = 7
//   Kref             ko<N> | kp<N> | kd<N>   kernel objects (from 20), promises (40), devices (30)
//   VatRef           o+N o-N p+N p-N d+N d-N, plus the virtual forms o+vK/I, o+dK/I[:F]
// A function taking a VatId cannot be handed a Kref or a VatRef. Every type has Parse() that
// validates text from vats or gRPC, returning kInvalidArgument, and ToString().
//
// DO NOT CHANGE the textual forms: they are part of consensus state.

#ifndef SWINGSETD_KERNEL_IDS_H_
#define SWINGSETD_KERNEL_IDS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace swingset {

// Parses a decimal natural number with no sign, no leading zeros (except "0"), fitting uint64.
bool ParseNat(std::string_view s, uint64_t* out);

class VatId {
 public:
  VatId() = default;
  explicit VatId(uint64_t n) : n_(n) {}
  static absl::StatusOr<VatId> Parse(std::string_view s);
  uint64_t n() const { return n_; }
  bool valid() const { return n_ != 0; }
  std::string ToString() const;
  bool operator==(const VatId& o) const { return n_ == o.n_; }
  bool operator!=(const VatId& o) const { return n_ != o.n_; }
  template <typename H>
  friend H AbslHashValue(H h, const VatId& v) {
    return H::combine(std::move(h), v.n_);
  }

 private:
  uint64_t n_ = 0;
};

// Vat ids sort as strings in every consensus-visible ordering ("v10" < "v2"), as in SwingSet.
inline bool VatIdStringLess(const VatId& a, const VatId& b) {
  return a.ToString() < b.ToString();
}

class DeviceId {
 public:
  DeviceId() = default;
  explicit DeviceId(uint64_t n) : n_(n) {}
  static absl::StatusOr<DeviceId> Parse(std::string_view s);
  uint64_t n() const { return n_; }
  std::string ToString() const;
  bool operator==(const DeviceId& o) const { return n_ == o.n_; }

 private:
  uint64_t n_ = 0;
};

enum class KrefKind : uint8_t { kObject, kPromise, kDevice };

// A kernel reference. The kind is part of the value, so a promise kref never compares equal to an
// object kref with the same number.
class Kref {
 public:
  Kref() = default;
  Kref(KrefKind kind, uint64_t n) : kind_(kind), n_(n) {}
  static Kref Object(uint64_t n) { return Kref(KrefKind::kObject, n); }
  static Kref Promise(uint64_t n) { return Kref(KrefKind::kPromise, n); }
  static Kref Device(uint64_t n) { return Kref(KrefKind::kDevice, n); }
  static absl::StatusOr<Kref> Parse(std::string_view s);

  KrefKind kind() const { return kind_; }
  uint64_t n() const { return n_; }
  bool is_object() const { return kind_ == KrefKind::kObject; }
  bool is_promise() const { return kind_ == KrefKind::kPromise; }
  bool is_device() const { return kind_ == KrefKind::kDevice; }
  bool valid() const { return n_ != 0 || kind_ != KrefKind::kObject; }
  std::string ToString() const;
  void AppendTo(std::string* out) const;

  bool operator==(const Kref& o) const { return kind_ == o.kind_ && n_ == o.n_; }
  bool operator!=(const Kref& o) const { return !(*this == o); }
  template <typename H>
  friend H AbslHashValue(H h, const Kref& k) {
    return H::combine(std::move(h), static_cast<int>(k.kind_), k.n_);
  }

 private:
  KrefKind kind_ = KrefKind::kObject;
  uint64_t n_ = 0;
};

// Krefs in consensus-visible orderings sort by their string form ("ko100" < "ko21").
bool KrefStringLess(const Kref& a, const Kref& b);

enum class VrefType : uint8_t { kObject, kPromise, kDevice };

// A vat-side reference. The canonical text is kept as given (it is already canonical after
// Parse succeeds); `is_export` is true for '+' (allocated by the vat).
class VatRef {
 public:
  VatRef() = default;
  static absl::StatusOr<VatRef> Parse(std::string_view s);
  // Kernel-allocated import forms.
  static VatRef Import(VrefType type, uint64_t n);

  VrefType type() const { return type_; }
  bool is_export() const { return is_export_; }
  bool is_object() const { return type_ == VrefType::kObject; }
  bool is_promise() const { return type_ == VrefType::kPromise; }
  bool is_device() const { return type_ == VrefType::kDevice; }
  const std::string& str() const { return text_; }
  bool operator==(const VatRef& o) const { return text_ == o.text_; }

 private:
  VrefType type_ = VrefType::kObject;
  bool is_export_ = false;
  std::string text_;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_IDS_H_
