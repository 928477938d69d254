// File: vat_host.h
//
// The seam between the kernel and whatever runs vat code (docs/KERNEL_SPEC.md §3.5-§3.6,
// docs/DESIGN.md §6). The kernel hands a VatHost one delivery at a time for one vat; the vat makes
// synchronous syscalls back through a SyscallHandler during the delivery; the host returns a
// DeliveryResult. All references in these types are *vrefs* as the vat sees them, unvalidated text:
// the kernel's translator validates them, and a bad one makes the syscall fail and dooms the vat.
//
// Implementations: vats/ (SpiderMonkey, liveslots and raw JS vats) and
// kernel/testing/fake_vat_host.h (scripted C++ vats for kernel unit tests).
//
// Thread-safety: all calls happen on the single kernel thread.

#ifndef SWINGSETD_KERNEL_VAT_HOST_H_
#define SWINGSETD_KERNEL_VAT_HOST_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kernel/ids.h"
#include "kernel/json.h"

namespace swingset {

// {body, slots}: body is smallcaps text ("#" + JSON); slots are vrefs or krefs by context.
struct CapData {
  std::string body;
  std::vector<std::string> slots;
  bool operator==(const CapData& o) const { return body == o.body && slots == o.slots; }
};

Json CapDataToJson(const CapData& c);
absl::StatusOr<CapData> CapDataFromJson(const Json& j);

// One settled promise in a notify delivery or a resolve syscall.
struct Resolution {
  std::string vpid;
  bool rejected = false;
  CapData data;
};

struct VatDelivery {
  enum class Type {
    kMessage,            // target, methargs, result
    kNotify,             // resolutions
    kDropExports,        // vrefs
    kRetireExports,      // vrefs
    kRetireImports,      // vrefs
    kBringOutYourDead,   // -
    kStartVat,           // vat_parameters
    kChangeVatOptions,   // options
    kStopVat,            // vat_parameters (shape only; never sent)
  };
  Type type = Type::kMessage;
  std::string target;
  CapData methargs;
  std::optional<std::string> result;  // vpid, or none
  std::vector<Resolution> resolutions;
  std::vector<std::string> vrefs;
  CapData vat_parameters;
  Json options;

  // docs/KERNEL_SPEC.md §3.5 array form, e.g. ["message","o+0",{"methargs":{...},"result":"p-60"}].
  Json ToJson() const;
  static absl::StatusOr<VatDelivery> FromJson(const Json& j);
};

const char* DeliveryTypeName(VatDelivery::Type t);

struct VatSyscall {
  enum class Type {
    kSend,               // target, methargs, result
    kSubscribe,          // vpid
    kResolve,            // resolutions
    kExit,               // is_failure, info
    kVatstoreGet,        // key
    kVatstoreGetNextKey, // key (the prior key)
    kVatstoreSet,        // key, value
    kVatstoreDelete,     // key
    kDropImports,        // vrefs
    kRetireImports,      // vrefs
    kRetireExports,      // vrefs
    kAbandonExports,     // vrefs
    kCallNow,            // target (device vref), method, methargs (args capdata)
  };
  Type type = Type::kSend;
  std::string target;
  CapData methargs;
  std::optional<std::string> result;
  std::string vpid;
  std::vector<Resolution> resolutions;
  bool is_failure = false;
  CapData info;
  std::string key;
  std::string value;
  std::vector<std::string> vrefs;
  std::string method;

  // docs/KERNEL_SPEC.md §3.6 array form, e.g. ["send","o-50",{"methargs":{...},"result":"p+5"}].
  Json ToJson() const;
  static absl::StatusOr<VatSyscall> FromJson(const Json& j);
};

// ['ok', data] or ['error', text]. `data` is null, a string (vatstoreGet*) or capdata (callNow).
struct SyscallResult {
  bool ok = true;
  Json data;
  std::string error;
  Json ToJson() const;
  static absl::StatusOr<SyscallResult> FromJson(const Json& j);
};

// ['ok', null, meter] or ['error', text, meter]; meter is null or {"compute": N}.
struct DeliveryResult {
  bool ok = true;
  std::string error;
  // Computrons the delivery used, for a metered vat (["ok", null, {"compute": N}]); consensus
  // data, recorded in the transcript. Unset for an unmetered vat.
  std::optional<uint64_t> computrons;
  // A node-local limit of the host (wall clock, heap, native stack) ended the delivery of a vat
  // whose outcomes must be the same on every node: the kernel halts the node rather than record
  // it. Not serialized.
  bool node_fault = false;
  Json ToJson() const;
  static absl::StatusOr<DeliveryResult> FromJson(const Json& j);
};

// Called by the vat host during a delivery. Never fails the process: a refused syscall returns
// {ok=false, error}, and the kernel remembers that the vat is doomed.
class SyscallHandler {
 public:
  virtual ~SyscallHandler() = default;
  virtual SyscallResult Syscall(const VatSyscall& syscall) = 0;
};

// Read access to a vat's committed transcript (docs/KERNEL_SPEC.md §6). Entry i is the JSON text
//   {"d": <delivery>, "sc": [[<syscall>, <syscall result>], ...], "r": <delivery result>}
// with the forms of VatDelivery/VatSyscall/SyscallResult/DeliveryResult::ToJson(). The kernel
// records an entry after every delivery to a vat whose VatSpec::use_transcript is true (aborted
// deliveries of a vat being terminated are not recorded).
class TranscriptSource {
 public:
  virtual ~TranscriptSource() = default;
  virtual uint64_t Length() = 0;
  virtual std::optional<std::string> Entry(uint64_t index) = 0;
};

// Size caps a vat host enforces inside the vat's own code (genesis params, identical on every
// node; a vat exceeding one gets a deterministic error it may catch, e.g. a JS RangeError).
// Hosts that run no vat code of their own (scripted C++ vats) ignore them.
struct VatCodeLimits {
  uint64_t max_buffer_bytes = uint64_t{64} << 20;                // one ArrayBuffer / TypedArray
  uint64_t max_buffer_bytes_per_delivery = uint64_t{256} << 20;  // all buffers made in a delivery
  uint64_t max_string_length = uint64_t{1} << 25;                // UTF-16 units, from builtins
  // Bits of a BigInt that an operator or conversion of a metered vat (meter version >= 2) may
  // make; above it the operation throws RangeError (js/meter_prelude.js).
  uint64_t max_bigint_bits = 262144;
};
// The newest meter version (docs/METERING.md) this build's vat hosts run. A vat's options may
// name any version from 1 up to it; each is a fixed set of tick costs, and a vat keeps the
// version it was created with (the instrumenter and the prelude gate every change on it).
inline constexpr uint32_t kMeterVersion = 3;

// What the kernel recorded when the vat was created; handed to the host so it can (re)build the
// vat lazily, e.g. after a restart.
struct VatSpec {
  VatId vat_id;
  std::string name;
  std::string source;        // host-defined: ES module text, module-map JSON, or a script name
  std::string options_json;  // the kernel's v<N>.options record
  bool raw = false;
  bool use_transcript = true;
  VatCodeLimits limits;
  // Valid only during LoadVat: the deliveries to replay (empty for a new vat).
  TranscriptSource* transcript = nullptr;
};

class VatHost {
 public:
  virtual ~VatHost() = default;

  // Makes the vat ready for deliveries (starting a worker, replaying a transcript...). Called by
  // the kernel before the first delivery to `spec.vat_id` in this process. An error terminates
  // the vat (as a delivery failure would), except kUnavailable: a node-local limit decided it,
  // and the kernel halts the node instead (DeliveryResult::node_fault).
  virtual absl::Status LoadVat(const VatSpec& spec) = 0;

  // Runs one delivery. The host calls handler->Syscall() synchronously for each syscall. A vat
  // that throws, runs out of memory, or is killed by a watchdog returns {ok=false, error}.
  virtual DeliveryResult Deliver(VatId vat, const VatDelivery& delivery,
                                 SyscallHandler* handler) = 0;

  // The vat was terminated: free its worker. Its stored data is the kernel's to delete.
  virtual void StopVat(VatId vat) = 0;

  // Called when the kernel discards uncommitted work (a block that never committed): the host
  // must forget in-memory vat state derived from it, so the next delivery rebuilds the vat from
  // committed data. The default drops every loaded vat.
  virtual void DiscardUncommitted() {}
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_VAT_HOST_H_
