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
inline std::string ObjectOwner(const Kref& ko) { return StrCat(ko.ToString(), ".owner"); }
inline std::string ObjectRefCount(const Kref& ko) {
  return StrCat(ko.ToString(), ".refCount");
}
// ---- kernel device nodes (§2.5)
inline std::string DeviceNodeOwner(const Kref& kd) { return StrCat(kd.ToString(), ".owner"); }

// ---- kernel promises (§2.3)
inline std::string PromisePrefix(const Kref& kp) { return StrCat(kp.ToString(), "."); }
inline std::string PromiseState(const Kref& kp) { return StrCat(kp.ToString(), ".state"); }
inline std::string PromiseRefCount(const Kref& kp) {
  return StrCat(kp.ToString(), ".refCount");
}
inline std::string PromiseDecider(const Kref& kp) {
  return StrCat(kp.ToString(), ".decider");
}
inline std::string PromisePolicy(const Kref& kp) { return StrCat(kp.ToString(), ".policy"); }
inline std::string PromiseSubscribers(const Kref& kp) {
  return StrCat(kp.ToString(), ".subscribers");
}
inline std::string PromiseQueueNextId(const Kref& kp) {
  return StrCat(kp.ToString(), ".queue.nextID");
}
inline std::string PromiseQueueItem(const Kref& kp, uint64_t i) {
  return StrCat(kp.ToString(), ".queue.", i);
}
inline std::string PromiseDataBody(const Kref& kp) {
  return StrCat(kp.ToString(), ".data.body");
}
inline std::string PromiseDataSlots(const Kref& kp) {
  return StrCat(kp.ToString(), ".data.slots");
}
inline constexpr std::string_view kPromiseUnresolved = "unresolved";
inline constexpr std::string_view kPromiseFulfilled = "fulfilled";
inline constexpr std::string_view kPromiseRejected = "rejected";

// ---- per-vat keys (§2.4)
inline std::string VatPrefix(VatId v) { return StrCat(v.ToString(), "."); }
inline std::string VatNextObject(VatId v) { return StrCat(v.ToString(), ".o.nextID"); }
inline std::string VatNextPromise(VatId v) { return StrCat(v.ToString(), ".p.nextID"); }
inline std::string VatNextDevice(VatId v) { return StrCat(v.ToString(), ".d.nextID"); }
inline std::string VatSource(VatId v) { return StrCat(v.ToString(), ".source"); }
inline std::string VatOptions(VatId v) { return StrCat(v.ToString(), ".options"); }
inline std::string VatReapDirt(VatId v) { return StrCat(v.ToString(), ".reapDirt"); }
inline std::string VatParameters(VatId v) { return StrCat(v.ToString(), ".vatParameters"); }
inline std::string VatStorePrefix(VatId v) { return StrCat(v.ToString(), ".vs."); }
inline std::string VatStoreKey(VatId v, std::string_view key) {
  return StrCat(v.ToString(), ".vs.", key);
}
inline std::string CListPrefix(VatId v) { return StrCat(v.ToString(), ".c."); }
inline std::string CListByKref(VatId v, const Kref& k) {
  return StrCat(v.ToString(), ".c.", k.ToString());
}
inline std::string CListByVref(VatId v, std::string_view vref) {
  return StrCat(v.ToString(), ".c.", vref);
}
// Transcripts (DESIGN §6): entries are kept outside consensus (they are history, committed with
// the block); their running SHA-256 chain and length are consensus state.
inline std::string TranscriptLength(VatId v) { return StrCat(v.ToString(), ".t.length"); }
inline std::string TranscriptHash(VatId v) { return StrCat(v.ToString(), ".t.hash"); }
inline std::string TranscriptPrefix(VatId v) {
  return StrCat("local.transcript.", v.ToString(), ".");
}
inline std::string TranscriptEntry(VatId v, uint64_t i) {
  return StrCat("local.transcript.", v.ToString(), ".", i);
}
// Reasons of terminated vats outlive their deletion, for Inspect.
inline std::string TerminatedVatRecord(VatId v) {
  return StrCat("vats.terminatedInfo.", v.ToString());
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
