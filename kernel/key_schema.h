// File: key_schema.h
//
// Every key the kernel persists, in one place (docs/KERNEL_SPEC.md §2). No other file builds key
// strings by hand.
//
// DO NOT CHANGE any key or value format here: they are part of consensus state, hashed into the
// state hash every validator compares. A change is a consensus-breaking migration.
//
// Key classes (docs/KERNEL_SPEC.md §2, docs/DESIGN.md §5): keys starting "local." are non-consensus
// (not hashed); keys starting "host." belong to the sidecar host (heights, cached responses; not
// hashed, never written by the kernel); every other key is consensus state.

#ifndef SWINGSETD_KERNEL_KEY_SCHEMA_H_
#define SWINGSETD_KERNEL_KEY_SCHEMA_H_

#include <cstring>
#include <ostream>
#include <string>
#include <string_view>

#include "kernel/strings.h"
#include "kernel/ids.h"

namespace swingset {
namespace keys {

// ---- global keys (§2.1)
inline constexpr std::string_view kVersion = "version";
inline constexpr std::string_view kVersionValue = "3";
inline constexpr std::string_view kCrankNumber = "crankNumber";
inline constexpr std::string_view kVatNames = "vat.names";
inline constexpr std::string_view kVatDynamicIds = "vat.dynamicIDs";
inline constexpr std::string_view kVatNextId = "vat.nextID";
inline constexpr std::string_view kVatNextUpgradeId = "vat.nextUpgradeID";
inline constexpr std::string_view kVatsTerminated = "vats.terminated";
inline constexpr std::string_view kDeviceNames = "device.names";
inline constexpr std::string_view kDeviceNextId = "device.nextID";
inline constexpr std::string_view kKoNextId = "ko.nextID";
inline constexpr std::string_view kKpNextId = "kp.nextID";
inline constexpr std::string_view kKdNextId = "kd.nextID";
inline constexpr std::string_view kMeterNextId = "meter.nextID";
inline constexpr std::string_view kRunQueue = "runQueue";
inline constexpr std::string_view kAcceptanceQueue = "acceptanceQueue";
inline constexpr std::string_view kGcActions = "gcActions";
inline constexpr std::string_view kReapQueue = "reapQueue";
inline constexpr std::string_view kPinnedObjects = "pinnedObjects";
inline constexpr std::string_view kDefaultReapDirtThreshold = "kernel.defaultReapDirtThreshold";
inline constexpr std::string_view kActivityHash = "activityhash";
inline constexpr std::string_view kBootstrapVat = "kernel.bootstrapVat";
inline constexpr std::string_view kHostInterest = "kernel.hostInterest.";  // + kpid -> "1"

// First values of the counters (§1).
inline constexpr uint64_t kFirstVatId = 1;
inline constexpr uint64_t kFirstDeviceId = 7;
inline constexpr uint64_t kFirstObjectId = 20;
inline constexpr uint64_t kFirstDeviceNodeId = 30;
inline constexpr uint64_t kFirstPromiseId = 40;
inline constexpr uint64_t kFirstVatImportObject = 50;
inline constexpr uint64_t kFirstVatImportPromise = 60;
inline constexpr uint64_t kFirstVatImportDevice = 70;
inline constexpr uint64_t kFirstDeviceImportObject = 10;
inline constexpr uint64_t kFirstDeviceImportDevice = 20;
inline constexpr uint64_t kFirstDeviceImportPromise = 30;

// The text of a kref ("ko21") or vat id ("v1") in a stack buffer: keys are built several times
// per crank, and this spares the temporary ToString() strings. Same text as ToString().
class IdText {
 public:
  explicit IdText(const Kref& k) {
    buf_[0] = 'k';
    buf_[1] = k.is_object() ? 'o' : k.is_promise() ? 'p' : 'd';
    AppendNumber(2, k.n());
  }
  explicit IdText(VatId v) {
    buf_[0] = 'v';
    AppendNumber(1, v.n());
  }
  std::string_view view() const { return std::string_view(buf_, len_); }

  // The whole buffer, for copying it at a fixed size (the bytes past view() are zeros).
  static constexpr size_t kBufSize = 24;
  const char* buf() const { return buf_; }

 private:
  void AppendNumber(size_t at, uint64_t n) {
    len_ = at + DecimalDigits(n);
    WriteDigitsBefore(buf_ + len_, n);
  }
  char buf_[kBufSize] = {};  // "kp" and 20 digits at most
  size_t len_;
};
// Lets StrCat (kernel/strings.h) take an IdText.
inline absl::string_view AsAlphaNumArg(const IdText& t) { return ToAbsl(t.view()); }

// A key built in place: up to kInline bytes without touching the heap (every kernel key but
// long vatstore keys), so the hot lookups of a crank do not allocate a string per key. Use it
// like a string_view (it converts implicitly) within the expression that built it, or keep
// the KeyText itself; converts to std::string where one is needed.
class KeyText {
 public:
  template <typename... Parts>
  static KeyText Of(const Parts&... parts) {
    KeyText k;
    (k.Append(parts), ...);
    return k;
  }
  KeyText() = default;
  KeyText(const KeyText& o) { Append(o.view()); }
  KeyText& operator=(const KeyText& o) {
    if (this != &o) {
      len_ = 0;
      heap_.clear();
      Append(o.view());
    }
    return *this;
  }

  std::string_view view() const {
    return len_ <= kInline ? std::string_view(inline_, len_) : std::string_view(heap_);
  }
  operator std::string_view() const { return view(); }  // NOLINT: a key is a string
  operator std::string() const { return std::string(view()); }  // NOLINT
  size_t size() const { return len_; }
  friend std::ostream& operator<<(std::ostream& os, const KeyText& k) { return os << k.view(); }
  friend bool operator==(const KeyText& a, std::string_view b) { return a.view() == b; }

 private:
  static constexpr size_t kInline = 56;
  // The inline case is small enough to inline into every key function (a literal part then
  // copies at its fixed size); longer keys take AppendLong.
  void Append(std::string_view s) {
    const size_t n = len_ + s.size();
    if (n > kInline) return AppendLong(s);
    std::memcpy(inline_ + len_, s.data(), s.size());
    len_ = n;
  }
  void AppendLong(std::string_view s) {
    if (len_ <= kInline) heap_.assign(inline_, len_);
    heap_.append(s.data(), s.size());
    len_ += s.size();
  }
  // An id copies its whole (zero-padded) buffer when that fits: a fixed-size copy.
  void Append(const IdText& t) {
    if (len_ + IdText::kBufSize > kInline) return Append(t.view());
    std::memcpy(inline_ + len_, t.buf(), IdText::kBufSize);
    len_ += t.view().size();
  }
  // A literal's length is known at compile time: no strlen. (Of is only given literals and
  // views here, never a char array holding a shorter string.)
  template <size_t N>
  void Append(const char (&s)[N]) {
    Append(std::string_view(s, N - 1));
  }
  void Append(const char* s) { Append(std::string_view(s)); }
  // Decimal digits, written in place when they fit.
  void Append(uint64_t n) {
    const size_t d = DecimalDigits(n);
    if (len_ + d > kInline) {
      char out[20];
      WriteDigitsBefore(out + d, n);
      return AppendLong(std::string_view(out, d));
    }
    len_ += d;
    WriteDigitsBefore(inline_ + len_, n);
  }

  char inline_[kInline];
  size_t len_ = 0;
  std::string heap_;  // the whole key once it is longer than kInline
};
inline absl::string_view AsAlphaNumArg(const KeyText& k) { return ToAbsl(k.view()); }

// (Fixed-length compares, which compile to a few loads: these run for every crank write.)
inline bool IsLocalKey(std::string_view k) {
  return k.size() >= 6 && std::memcmp(k.data(), "local.", 6) == 0;
}
inline bool IsHostKey(std::string_view k) {
  return k.size() >= 5 && std::memcmp(k.data(), "host.", 5) == 0;
}
inline bool IsConsensusKey(std::string_view k) { return !IsLocalKey(k) && !IsHostKey(k); }

inline std::string VatName(std::string_view name) { return StrCat("vat.name.", name); }
inline std::string DeviceName(std::string_view name) { return StrCat("device.name.", name); }

// Queue items: "<queue>.<i>".
inline KeyText QueueItem(std::string_view queue, uint64_t i) {
  return KeyText::Of(queue, ".", i);
}

// ---- kernel objects (§2.2)
inline KeyText ObjectOwner(const Kref& ko) {
  return KeyText::Of(IdText(ko), ".owner");
}
inline KeyText ObjectRefCount(const Kref& ko) {
  return KeyText::Of(IdText(ko), ".refCount");
}
// ---- kernel device nodes (§2.5)
inline std::string DeviceNodeOwner(const Kref& kd) { return StrCat(IdText(kd), ".owner"); }

// ---- kernel promises (§2.3)
inline std::string PromisePrefix(const Kref& kp) { return StrCat(IdText(kp), "."); }
inline KeyText PromiseState(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".state");
}
inline KeyText PromiseRefCount(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".refCount");
}
inline KeyText PromiseDecider(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".decider");
}
inline KeyText PromisePolicy(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".policy");
}
inline KeyText PromiseSubscribers(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".subscribers");
}
inline KeyText PromiseQueueNextId(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".queue.nextID");
}
inline KeyText PromiseQueueItem(const Kref& kp, uint64_t i) {
  return KeyText::Of(IdText(kp), ".queue.", i);
}
inline KeyText PromiseDataBody(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".data.body");
}
inline KeyText PromiseDataSlots(const Kref& kp) {
  return KeyText::Of(IdText(kp), ".data.slots");
}
inline constexpr std::string_view kPromiseUnresolved = "unresolved";
inline constexpr std::string_view kPromiseFulfilled = "fulfilled";
inline constexpr std::string_view kPromiseRejected = "rejected";

// ---- per-vat keys (§2.4)
inline std::string VatPrefix(VatId v) { return StrCat(IdText(v), "."); }
inline KeyText VatNextObject(VatId v) {
  return KeyText::Of(IdText(v), ".o.nextID");
}
inline KeyText VatNextPromise(VatId v) {
  return KeyText::Of(IdText(v), ".p.nextID");
}
inline KeyText VatNextDevice(VatId v) {
  return KeyText::Of(IdText(v), ".d.nextID");
}
inline std::string VatSource(VatId v) { return StrCat(IdText(v), ".source"); }
inline std::string VatOptions(VatId v) { return StrCat(IdText(v), ".options"); }
inline KeyText VatReapDirt(VatId v) {
  return KeyText::Of(IdText(v), ".reapDirt");
}
inline std::string VatParameters(VatId v) { return StrCat(IdText(v), ".vatParameters"); }
inline std::string VatStorePrefix(VatId v) { return StrCat(IdText(v), ".vs."); }
inline std::string VatStoreKey(VatId v, std::string_view key) {
  return StrCat(IdText(v), ".vs.", key);
}
// Total key + value bytes of the vat's vatstore entries (decimal; absent = 0), against
// VatLimits::max_vatstore_bytes.
inline KeyText VatStoreBytes(VatId v) {
  return KeyText::Of(IdText(v), ".vatstoreBytes");
}
inline std::string CListPrefix(VatId v) { return StrCat(IdText(v), ".c."); }
inline KeyText CListByKref(VatId v, const Kref& k) {
  return KeyText::Of(IdText(v), ".c.", IdText(k));
}
inline KeyText CListByVref(VatId v, std::string_view vref) {
  return KeyText::Of(IdText(v), ".c.", vref);
}
// Transcripts (docs/KERNEL_SPEC.md §2.4, §6): entries are kept outside consensus (they are history,
// committed with the block); their running SHA-256 chain and length are consensus state.
inline std::string TranscriptLength(VatId v) { return StrCat(IdText(v), ".t.length"); }
inline std::string TranscriptHash(VatId v) { return StrCat(IdText(v), ".t.hash"); }
inline std::string TranscriptPrefix(VatId v) {
  return StrCat("local.transcript.", IdText(v), ".");
}
inline std::string TranscriptEntry(VatId v, uint64_t i) {
  return StrCat("local.transcript.", IdText(v), ".", i);
}
// Reasons of terminated vats outlive their deletion, for Inspect.
inline std::string TerminatedVatRecord(VatId v) {
  return StrCat("vats.terminatedInfo.", IdText(v));
}

// ---- devices (§2.5)
inline std::string DeviceCListByKref(DeviceId d, const Kref& k) {
  return StrCat(d.ToString(), ".c.", k.ToString());
}
inline std::string DeviceCListBySlot(DeviceId d, std::string_view slot) {
  return StrCat(d.ToString(), ".c.", slot);
}
inline std::string DeviceState(DeviceId d) { return StrCat(d.ToString(), ".deviceState"); }
inline std::string DeviceStateKey(DeviceId d, std::string_view key) {
  return StrCat(d.ToString(), ".deviceState.", key);
}
inline std::string DeviceNextObject(DeviceId d) { return StrCat(d.ToString(), ".o.nextID"); }
inline std::string DeviceNextDevice(DeviceId d) { return StrCat(d.ToString(), ".d.nextID"); }
inline std::string DeviceNextPromise(DeviceId d) {
  return StrCat(d.ToString(), ".p.nextID");
}

}  // namespace keys
}  // namespace swingset

#endif  // SWINGSETD_KERNEL_KEY_SCHEMA_H_
