// File: kernel.h
//
// The SwingSet kernel (docs/KERNEL_SPEC.md, docs/DESIGN.md §3-§4): vats, c-lists, kernel objects
// and promises with reference counts, the acceptance queue and run-queue, GC actions, reaping and
// vat termination, run on top of a KvStore, with vat code behind a VatHost.
//
// Storage layering: every kernel write goes to a crank buffer (read-your-writes, savepoints,
// rollback); at the end of a crank its net writes are folded, in key order, into the activity
// hash and into the block buffer; CommitBlock() writes the block buffer plus the host's own
// writes as one atomic, synced KvStore batch. Nothing reaches the store outside CommitBlock().
// AbortBlock() forgets the block, which leaves the kernel exactly as if it had been reopened
// on the last committed state.
//
// Errors: bad host input (unknown vat, bad capdata) is absl::Status. Vat misbehaviour never
// surfaces as an error: the vat is terminated and the kernel carries on. A storage failure or a
// broken kernel invariant aborts the process with a message (CHECK).
//
// Thread-safety: a Kernel is used from one thread (the kernel thread). It is not thread-safe.

#ifndef SWINGSETD_KERNEL_KERNEL_H_
#define SWINGSETD_KERNEL_KERNEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernel/hasher.h"
#include "kernel/ids.h"
#include "kernel/kv_store.h"
#include "kernel/vat_host.h"

namespace swingset {

class DeviceContext;

// A native device (docs/KERNEL_SPEC.md §2.5, §5 callNow): synchronous, with consensus state in the
// kernel store. Device nodes are `d+N` on the device side (`d+0` is the root node).
class Device {
 public:
  virtual ~Device() = default;
  // Handles syscall.callNow from a vat. `node` is the device-side slot of the target node;
  // args slots are device-side slots (imports `o-N` etc.). Returns ['ok', capdata] as
  // {ok=true, data=capdata JSON} or an error.
  virtual SyscallResult Invoke(DeviceContext* ctx, std::string_view node, std::string_view method,
                               const CapData& args) = 0;
};

// What a device may do while invoked, or when the host calls into it (Kernel::WithDevice).
class DeviceContext {
 public:
  virtual ~DeviceContext() = default;
  virtual std::optional<std::string> GetState() = 0;
  virtual void SetState(std::string_view state) = 0;
  // Keyed device state, one store key per `key` (for state too large to rewrite per call).
  virtual std::optional<std::string> GetStateKey(std::string_view key) = 0;
  virtual void SetStateKey(std::string_view key, std::string_view value) = 0;
  virtual void DeleteStateKey(std::string_view key) = 0;
  // Queues a one-way message (no result promise) to an object the device holds, named by its
  // device-side slot (e.g. "o-10").
  virtual absl::Status SendOnly(std::string_view target_slot, std::string_view method,
                                const CapData& args) = 0;
  // False when a message sent to `target_slot` now would be dropped unseen: the slot is
  // unknown, or names an object whose owning vat is terminated. True for objects of live vats
  // and for promises (a send to a promise is queued on it or follows its resolution).
  virtual bool CanDeliverTo(std::string_view target_slot) = 0;
};

struct VatConfig {
  std::string name;
  std::string source;
  std::string parameters_json = "{}";  // plain data handed to the vat as vatParameters
  bool raw = false;
  bool enable_pipelining = false;
  uint32_t reap_interval = 0;  // deliveries between bringOutYourDead; 0 = kernel default
  bool use_transcript = true;  // record deliveries for replay (scripted test vats may opt out)
  // The vat's meter, recorded in its options: null (unmetered) or
  // {"version":V,"computrons":N,"maxDepth":D} (vats/js_meter.h).
  Json meter;
};

// Per-vat resource caps (genesis params: the host stores them and hands them to the kernel
// with SetVatLimits before running anything; identical on every node). Exceeding a kernel cap
// makes the syscall vat-fatal: the crank is rolled back and the vat terminated, with the cap
// in the termination reason.
struct VatLimits {
  VatCodeLimits code;  // handed to the vat host in VatSpec::limits
  // Key + value bytes a vat may hold in its vatstore (the running total is consensus state,
  // keys::VatStoreBytes).
  uint64_t max_vatstore_bytes = uint64_t{64} << 20;
  // Key + value bytes of the vatstoreSet calls of one delivery.
  uint64_t max_vatstore_bytes_per_delivery = uint64_t{8} << 20;
  // Events (sends, promise notifications) one delivery's syscalls may add to the kernel queues.
  uint64_t max_enqueued_per_delivery = 10000;
  // Entries one delivery's syscalls may add to the vat's c-list (the objects and promises it
  // exports for the first time).
  uint64_t max_clist_entries_per_delivery = 50000;
};

struct DeviceConfig {
  std::string name;
  std::unique_ptr<Device> device;
};

struct GenesisConfig {
  std::vector<VatConfig> vats;
  std::string bootstrap_vat;  // may be empty: no bootstrap message
  // Devices must also be registered with KernelOptions::devices under the same names.
  std::vector<std::string> device_names;
  Json default_reap_dirt_threshold;  // null = {"deliveries":1,"gcKrefs":20,"computrons":"never"}
};

struct KernelOptions {
  KvStore* store = nullptr;        // not owned; must outlive the kernel
  VatHost* vat_host = nullptr;     // not owned
  HasherFactory hasher_factory;    // SHA-256 for the activity hash
  // Native devices by name (owned by the kernel). The genesis config decides which exist.
  std::vector<DeviceConfig> devices;
};

// Limits for one Run(): the block budget.
struct RunPolicy {
  uint64_t max_cranks = 0;  // 0 = unlimited
  // Routing cranks (moving a message from the acceptance queue to the run-queue or a promise
  // queue; no vat runs) do not count against max_cranks. They take priority over everything
  // else, so counting them would let a block's host sends, once they outnumber the budget,
  // keep every delivery out. They stay bounded: each is one queued send.
  bool routing_is_free = false;
  // 0 = unlimited. Once the run's deliveries have used this many computrons (RunStats::
  // total_computrons), no further crank starts: the crank that reaches it completes.
  uint64_t max_computrons = 0;
};

struct RunStats {
  uint64_t cranks = 0;
  uint64_t routing_cranks = 0;  // of `cranks`
  uint64_t deliveries = 0;
  uint64_t gc_deliveries = 0;
  uint64_t reaps = 0;
  uint64_t cleanups = 0;
  bool work_remains = false;  // stopped by the budget with work still queued
  // Computrons metered vats used in this run's deliveries, by vat number (unmetered vats and
  // vats that used none are absent).
  std::map<uint64_t, uint64_t> computrons;
  uint64_t total_computrons = 0;  // the sum of `computrons`
};

// Host-visible state of a kernel promise (for results of host sends).
struct PromiseStatus {
  std::string state;  // unresolved | fulfilled | rejected | missing
  CapData data;       // when settled
};

// Aggregate counts over the kernel tables, for tests, Inspect and benchmarks.
struct KernelCounts {
  uint64_t objects = 0;
  uint64_t promises = 0;
  uint64_t clist_entries = 0;
  uint64_t run_queue = 0;
  uint64_t acceptance_queue = 0;
  uint64_t gc_actions = 0;
  uint64_t vats_alive = 0;
  uint64_t vats_terminated = 0;
};

class Kernel {
 public:
  static absl::StatusOr<std::unique_ptr<Kernel>> Open(KernelOptions options);
  virtual ~Kernel() = default;

  // True once InitializeGenesis has run (and been committed, or is pending in this block).
  virtual bool IsInitialized() = 0;

  // Creates the static vats and devices and queues their startVat deliveries, then (if named)
  // the bootstrap message `bootstrap(vats, devices)` to the bootstrap vat's root. Writes go to
  // the current block.
  virtual absl::Status InitializeGenesis(const GenesisConfig& config) = 0;

  // Host send to a vat's root object (docs/KERNEL_SPEC.md §7.5). Returns the result kpid;
  // the host keeps an interest in it (a refcount) until ReleaseHostPromise.
  virtual absl::StatusOr<Kref> QueueToVatRoot(std::string_view vat_name, std::string_view method,
                                              const CapData& args) = 0;
  virtual absl::Status ReleaseHostPromise(const Kref& kpid) = 0;
  virtual PromiseStatus GetPromiseStatus(const Kref& kpid) = 0;

  // Lets the host act through a device (e.g. hand inbound mailbox messages to it).
  virtual absl::Status WithDevice(std::string_view device_name,
                                  const std::function<absl::Status(DeviceContext*)>& fn) = 0;

  // The per-vat caps (defaults until called). Call before running anything, after Open.
  virtual void SetVatLimits(const VatLimits& limits) = 0;

  // Runs cranks (docs/KERNEL_SPEC.md §9.1, §9.4) until there is no work or the policy's budget is
  // spent.
  virtual RunStats Run(const RunPolicy& policy) = 0;

  // Runs exactly one crank if there is work; returns false when there was none.
  virtual bool Step() = 0;

  // Visits the block's pending net writes in key order (value nullopt = delete).
  virtual void VisitBlockWrites(
      const std::function<void(std::string_view key, const std::optional<std::string>& value)>&
          fn) = 0;
  // Like VisitBlockWrites, also passing the key's committed value when the kernel already knows
  // it (read before its first write in this block), or nullptr: then the caller must read the
  // store. Lets the state hash skip most store reads.
  virtual void VisitBlockWritesWithBase(
      const std::function<void(std::string_view key, const std::optional<std::string>& value,
                               const std::optional<std::string>* committed)>& fn) = 0;
  // Writes the block buffer plus `host_writes` as one atomic batch (sync), then starts a new
  // block. A storage error is returned and the block stays pending.
  virtual absl::Status CommitBlock(const KvBatch& host_writes, bool sync = true) = 0;
  // Forgets every write since the last commit and all derived in-memory state.
  virtual void AbortBlock() = 0;

  // Reads through the block buffer (for tests and the host).
  virtual std::optional<std::string> Get(std::string_view key) = 0;

  virtual std::string ActivityHash() = 0;
  virtual uint64_t CrankNumber() = 0;
  virtual KernelCounts Counts() = 0;
  virtual std::optional<VatId> VatIdByName(std::string_view name) = 0;

  // Recounts every refcount from c-lists, queues, promise data and pins and compares with the
  // stored counts; checks c-list forward/reverse agreement and flags. Expensive: tests only.
  virtual absl::Status CheckInvariants() = 0;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_KERNEL_H_
