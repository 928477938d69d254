// File: key_schema.h
//
// Every key the kernel persists, in one place (KERNEL_SPEC §2). No other file builds key strings
// by hand.
//
// DO NOT CHANGE any key or value format here: they are part of consensus state, hashed into the
// state hash every validator compares. A change is a consensus-breaking migration.
//
// Key classes (DESIGN §5): keys starting "local." are non-consensus (not hashed); keys starting
// "host." belong to the sidecar host (heights, cached responses; not hashed, never written by
// the kernel); every other key is consensus state.

#ifndef SWINGSETD_KERNEL_KEY_SCHEMA_H_
#define SWINGSETD_KERNEL_KEY_SCHEMA_H_

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

 private:
  void AppendNumber(size_t at, uint64_t n) {
    char digits[20];
    size_t d = 0;
    do {
      digits[d++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    while (d > 0) buf_[at++] = digits[--d];
    len_ = at;
  }
  char buf_[24];
  size_t len_;
};
// Lets StrCat (kernel/strings.h) take an IdText.
inline absl::string_view AsAlphaNumArg(const IdText& t) { return ToAbsl(t.view()); }

inline bool IsLocalKey(std::string_view k) { return k.substr(0, 6) == "local."; }
inline bool IsHostKey(std::string_view k) { return k.substr(0, 5) == "host."; }
inline bool IsConsensusKey(std::string_view k) { return !IsLocalKey(k) && !IsHostKey(k); }

inline std::string VatName(std::string_view name) { return StrCat("vat.name.", name); }
inline std::string DeviceName(std::string_view name) { return StrCat("device.name.", name); }

// Queue items: "<queue>.<i>".
inline std::string QueueItem(std::string_view queue, uint64_t i) {
  return StrCat(queue, ".", i);
}

// ---- kernel objects (§2.2)
inline std::string ObjectOwner(const Kref& ko) { return StrCat(IdText(ko), ".owner"); }
inline std::string ObjectRefCount(const Kref& ko) {
  return StrCat(IdText(ko), ".refCount");
}
// ---- kernel device nodes (§2.5)
inline std::string DeviceNodeOwner(const Kref& kd) { return StrCat(IdText(kd), ".owner"); }

// ---- kernel promises (§2.3)
inline std::string PromisePrefix(const Kref& kp) { return StrCat(IdText(kp), "."); }
inline std::string PromiseState(const Kref& kp) { return StrCat(IdText(kp), ".state"); }
inline std::string PromiseRefCount(const Kref& kp) {
  return StrCat(IdText(kp), ".refCount");
}
inline std::string PromiseDecider(const Kref& kp) {
  return StrCat(IdText(kp), ".decider");
}
inline std::string PromisePolicy(const Kref& kp) { return StrCat(IdText(kp), ".policy"); }
inline std::string PromiseSubscribers(const Kref& kp) {
  return StrCat(IdText(kp), ".subscribers");
}
inline std::string PromiseQueueNextId(const Kref& kp) {
  return StrCat(IdText(kp), ".queue.nextID");
}
inline std::string PromiseQueueItem(const Kref& kp, uint64_t i) {
  return StrCat(IdText(kp), ".queue.", i);
}
inline std::string PromiseDataBody(const Kref& kp) {
  return StrCat(IdText(kp), ".data.body");
}
inline std::string PromiseDataSlots(const Kref& kp) {
  return StrCat(IdText(kp), ".data.slots");
}
inline constexpr std::string_view kPromiseUnresolved = "unresolved";
inline constexpr std::string_view kPromiseFulfilled = "fulfilled";
inline constexpr std::string_view kPromiseRejected = "rejected";

// ---- per-vat keys (§2.4)
inline std::string VatPrefix(VatId v) { return StrCat(IdText(v), "."); }
inline std::string VatNextObject(VatId v) { return StrCat(IdText(v), ".o.nextID"); }
inline std::string VatNextPromise(VatId v) { return StrCat(IdText(v), ".p.nextID"); }
inline std::string VatNextDevice(VatId v) { return StrCat(IdText(v), ".d.nextID"); }
inline std::string VatSource(VatId v) { return StrCat(IdText(v), ".source"); }
inline std::string VatOptions(VatId v) { return StrCat(IdText(v), ".options"); }
inline std::string VatReapDirt(VatId v) { return StrCat(IdText(v), ".reapDirt"); }
inline std::string VatParameters(VatId v) { return StrCat(IdText(v), ".vatParameters"); }
inline std::string VatStorePrefix(VatId v) { return StrCat(IdText(v), ".vs."); }
inline std::string VatStoreKey(VatId v, std::string_view key) {
  return StrCat(IdText(v), ".vs.", key);
}
inline std::string CListPrefix(VatId v) { return StrCat(IdText(v), ".c."); }
inline std::string CListByKref(VatId v, const Kref& k) {
  return StrCat(IdText(v), ".c.", IdText(k));
}
inline std::string CListByVref(VatId v, std::string_view vref) {
  return StrCat(IdText(v), ".c.", vref);
}
// Transcripts (DESIGN §6): entries are kept outside consensus (they are history, committed with
// the block); their running SHA-256 chain and length are consensus state.
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
