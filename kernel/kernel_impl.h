// File: kernel_impl.h
//
// KernelImpl: all kernel state and logic behind the Kernel facade. The implementation is split
// by concern across:
//   kernel_state.cc    typed accessors over the crank buffer: counters, objects, promises,
//                      c-lists, queues, refcount primitives (docs/KERNEL_SPEC.md §2, §4)
//   kernel_syscall.cc  vat->kernel translation and syscall handling (§4.4, §5)
//   kernel_run.cc      routing, deliveries, GC, reaping, termination, the run loop (§6-§10)
//   kernel_host.cc     host-facing API: genesis, host sends, devices, blocks
//                      (§7.5, docs/DESIGN.md §2)
//   invariants.cc      CheckInvariants(): full recount
// Only kernel sources and kernel tests include this header.

#ifndef SWINGSETD_KERNEL_KERNEL_IMPL_H_
#define SWINGSETD_KERNEL_KERNEL_IMPL_H_

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "kernel/crank_buffer.h"
#include "kernel/gc_actions.h"
#include "kernel/kernel.h"
#include "kernel/key_schema.h"
#include "kernel/smallcaps.h"

namespace swingset {

class ActivityChain;
class CrankText;

// A message as the kernel stores it: methargs slots are krefs.
struct KMessage {
  CapData methargs;
  std::optional<Kref> result;
  bool omit_result = false;  // host sends with policy none: the "result" key is absent
  Json ToJson() const;       // {methargs, result}
  // Appends the same text as ToJson().Dump(), without building a Json tree.
  void EncodeTo(std::string* out) const;
};

// A stored queue event (docs/KERNEL_SPEC.md §3.4).
struct KEvent {
  enum class Type { kSend, kNotify, kStartVat };
  Type type = Type::kSend;
  Kref target;          // send
  KMessage msg;         // send
  VatId vat;            // notify, startVat
  Kref kpid;            // notify
  CapData vat_parameters;  // startVat (kref slots)

  Json ToJson() const;
  // The stored text: the same bytes as ToJson().Dump(), without building a Json tree.
  std::string Encode() const;
  static KEvent FromJsonOrDie(std::string_view text);
};

struct CListEntry {
  bool reachable = false;
  std::string vref;
};

// In-memory view of a vat record (derived from the store; rebuilt on AbortBlock).
struct VatInfo {
  VatId id;
  std::string name;
  bool alive = true;
  bool pipelining = false;
  bool use_transcript = true;
  bool raw = false;
  bool dynamic = false;
  Json reap_threshold;  // the vat's own reapDirtThreshold overlay (object)
};

// How KernelImpl::MapVatSlotToKernel treats a vref (the defaults: a vat citing a slot in a
// syscall).
struct SlotMapping {
  bool set_reachable = true;  // mark the c-list entry reachable (an import the vat uses)
  bool required = false;      // the vref must already be in the c-list (else a vat error)
  bool require_new = false;   // the vref must not be in the c-list yet (a fresh result)
};

class KernelImpl : public Kernel {
 public:
  explicit KernelImpl(KernelOptions options);
  ~KernelImpl() override;

  absl::Status Load();

  // ---- Kernel
  bool IsInitialized() override;
  absl::Status InitializeGenesis(const GenesisConfig& config) override;
  absl::StatusOr<Kref> QueueToVatRoot(std::string_view vat_name, std::string_view method,
                                      const CapData& args) override;
  absl::Status ReleaseHostPromise(const Kref& kpid) override;
  PromiseStatus GetPromiseStatus(const Kref& kpid) override;
  absl::Status WithDevice(std::string_view device_name,
                          const std::function<absl::Status(DeviceContext*)>& fn) override;
  void SetVatLimits(const VatLimits& limits) override { limits_ = limits; }
  RunStats Run(const RunPolicy& policy) override;
  bool Step() override;
  void VisitBlockWrites(
      const std::function<void(std::string_view, const std::optional<std::string>&)>& fn)
      override;
  void VisitBlockWritesWithBase(
      const std::function<void(std::string_view, const std::optional<std::string>&,
                               const std::optional<std::string>*)>& fn) override {
    buf_.VisitBlockWithBase(fn);
  }
  absl::Status CommitBlock(const KvBatch& host_writes, bool sync) override;
  void AbortBlock() override;
  std::optional<std::string> Get(std::string_view key) override { return buf_.Get(key); }
  std::string ActivityHash() override;
  uint64_t CrankNumber() override;
  KernelCounts Counts() override;
  std::optional<VatId> VatIdByName(std::string_view name) override;
  absl::Status CheckInvariants() override;

  // ---- test hooks
  CrankBuffer* TEST_buffer() { return &buf_; }
  absl::Status TEST_TerminateVat(VatId vat, bool reject, std::string_view reason);
  absl::Status TEST_PinObject(const Kref& ko);
  // Queue a send from the host to an arbitrary kref with args whose slots are krefs.
  absl::StatusOr<Kref> TEST_QueueToKref(const Kref& target, const CapData& methargs,
                                        bool with_result);
  uint64_t TEST_cleanup_budget = 0;  // 0 = unlimited

 private:
  friend class SyscallHandlerImpl;
  friend class DeviceContextImpl;
  friend class InvariantChecker;

  // ---------------- kernel_state.cc
  uint64_t AllocCounter(std::string_view key, uint64_t first);
  Kref AllocObject(std::optional<VatId> owner);
  // ref_count: the new promise's initial count (1 when the caller adds the entry holding it).
  Kref AllocPromise(std::optional<VatId> decider, uint64_t ref_count = 0);
  // Objects
  std::optional<std::pair<uint64_t, uint64_t>> GetObjectCounts(const Kref& ko);
  void SetObjectCounts(const Kref& ko, uint64_t r, uint64_t c);
  // The same through the counts entry, for a read-modify-write with one lookup.
  std::optional<std::pair<uint64_t, uint64_t>> GetObjectCounts(const Kref& ko,
                                                                CrankBuffer::EntryRef e);
  void SetObjectCounts(const Kref& ko, CrankBuffer::EntryRef e, uint64_t r, uint64_t c);
  std::optional<VatId> GetOwner(const Kref& ko);
  void DeleteObject(const Kref& ko);
  // Promises
  // A promise's fixed keys (§2.3), for PromiseEntry.
  enum class PromiseKey : uint8_t {
    kState,
    kRefCount,
    kDecider,
    kPolicy,
    kSubscribers,
    kQueueNextId,
    kDataBody,
    kDataSlots,
  };
  static constexpr size_t kPromiseKeys = 8;
  // The entry of kp's key, as buf_.Ref(keys::Promise...(kp)) gives it, remembered for the
  // next uses (see promise_entries_).
  CrankBuffer::EntryRef PromiseEntry(const Kref& kp, PromiseKey key);
  std::string GetPromiseState(const Kref& kp);  // "" when missing
  uint64_t GetPromiseRefCount(const Kref& kp);
  uint64_t GetPromiseRefCount(CrankBuffer::EntryRef e);  // e: the refCount entry
  // Decider: nullopt = no key (settled/missing); VatId() (n==0) = "" (kernel / queued message).
  std::optional<VatId> GetDecider(const Kref& kp);
  std::optional<VatId> GetDecider(const Kref& kp, CrankBuffer::EntryRef e);  // e: the decider
  void SetDecider(CrankBuffer::EntryRef e, VatId vat);
  void AddSubscriber(const Kref& kp, VatId vat);
  CapData GetPromiseData(const Kref& kp);
  void AddMessageToPromiseQueue(const Kref& kp, const KMessage& msg);
  std::vector<KMessage> TakePromiseQueue(const Kref& kp);
  // The same, given the queue.nextID entry `next`, which is left for the caller to write.
  std::vector<KMessage> TakePromiseQueue(const Kref& kp, CrankBuffer::EntryRef next);
  void DeletePromise(const Kref& kp);
  // The same, given the entries of its state, refCount and data.slots keys.
  void DeletePromise(const Kref& kp, CrankBuffer::EntryRef state, CrankBuffer::EntryRef ref_count,
                     CrankBuffer::EntryRef slots);
  // processRefcounts for a promise: if kp exists and its count is zero, releases the slots of
  // its data (if settled) and deletes it. Returns whether it was deleted.
  bool DeletePromiseIfUnreferenced(const Kref& kp);
  // Settles kp (must be unresolved): notifies subscribers, requeues queued messages, writes
  // data (incrementing its slots). docs/KERNEL_SPEC.md §5 resolve.
  void ResolveKernelPromise(const Kref& kp, bool rejected, const CapData& data);
  // The same, given the entries of kp's state and decider keys (which the caller has read).
  void ResolveKernelPromise(const Kref& kp, bool rejected, const CapData& data,
                            CrankBuffer::EntryRef state, CrankBuffer::EntryRef decider);
  // C-lists
  std::optional<CListEntry> CListByKref(VatId vat, const Kref& k);
  std::optional<Kref> CListByVref(VatId vat, std::string_view vref);
  // The same through the key's entry `e` (buf_.Ref of keys::CListByKref / keys::CListByVref),
  // for a lookup that may be followed by a write of that key.
  std::optional<CListEntry> CListByKref(VatId vat, const Kref& k, CrankBuffer::EntryRef e);
  std::optional<Kref> CListByVref(VatId vat, std::string_view vref, CrankBuffer::EntryRef e);
  // A new entry: the kref or the vref was just allocated and the other was not in the c-list.
  // fwd and rev are the entries of its two keys (as above).
  void CListAdd(const Kref& k, std::string_view vref, bool reachable, CrankBuffer::EntryRef fwd,
                CrankBuffer::EntryRef rev);
  void CListDeleteKeys(VatId vat, const Kref& k, std::string_view vref);
  void DeleteCListEntry(VatId vat, const Kref& k, std::string_view vref);
  // The same, for callers that have just read k's entry `e` (saves reading it again).
  void DeleteCListEntry(VatId vat, const Kref& k, const CListEntry& e);
  void SetReachableFlag(VatId vat, const Kref& k);
  void SetReachableFlag(VatId vat, const Kref& k, const CListEntry& e);
  void ClearReachableFlag(VatId vat, const Kref& k);
  void ClearReachableFlag(VatId vat, const Kref& k, const CListEntry& e);
  // Refcount primitives (§4.2).
  void IncRef(const Kref& k, bool is_export = false, bool only_recognizable = false);
  void DecRef(const Kref& k, bool is_export = false, bool only_recognizable = false);
  void AddMaybeFree(const Kref& k);
  void IncMessage(const Kref& target, const KMessage& msg);
  void DecMessage(const Kref& target, const KMessage& msg);
  void IncSlots(const std::vector<std::string>& kslots);
  void DecSlots(const std::vector<std::string>& kslots);
  // Queues
  // `encoded`, when not empty, must be ev.Encode() (as Dequeue gives it): it is stored as is.
  void Enqueue(std::string_view queue, KEvent ev, std::string encoded = std::string());
  // When `encoded` is not null it receives the event's stored text if that is known to be
  // ev.Encode() (the parsed copy Enqueue kept was used), else it is left empty.
  std::optional<KEvent> Dequeue(std::string_view queue, std::string* encoded = nullptr);
  uint64_t QueueLength(std::string_view queue);
  void EnqueueNotify(VatId vat, const Kref& kp);
  void EnqueueSend(const Kref& target, KMessage msg);  // inc holds, acceptance queue
  // Reap queue / terminated list
  // key: one of the vat list handles below.
  std::vector<VatId> GetVatList(CrankBuffer::KeyHandle& key);
  void SetVatList(CrankBuffer::KeyHandle& key, const std::vector<VatId>& vats);
  // Vats
  VatInfo* FindVat(VatId vat);
  bool VatIsAlive(VatId vat);
  std::vector<VatId> LiveImporters(const Kref& ko);
  absl::Status LoadVatInfo();

  // ---------------- kernel_syscall.cc
  absl::StatusOr<Kref> MapVatSlotToKernel(VatId vat, std::string_view vref,
                                          const SlotMapping& how = {});
  // The same for a vref already parsed.
  absl::StatusOr<Kref> MapVatSlotToKernel(VatId vat, const VatRef& vref,
                                          const SlotMapping& how = {});
  std::string MapKernelSlotToVat(VatId vat, const Kref& k, bool set_reachable = true,
                                 bool required = false);
  // The same for k already in the c-list, given its entry `e` as just read.
  std::string MapKernelSlotToVat(VatId vat, const Kref& k, CListEntry e, bool set_reachable);
  absl::StatusOr<CapData> TranslateCapDataToKernel(VatId vat, const CapData& data,
                                                   bool allow_promises = true);
  CapData TranslateCapDataToVat(VatId vat, CapData data);
  // The vat's vatstore byte count (keys::VatStoreBytes) and its update (0 deletes the key).
  uint64_t VatStoreBytes(VatId vat);
  void SetVatStoreBytes(VatId vat, uint64_t bytes);
  SyscallResult HandleSyscall(VatId vat, const VatSyscall& sc, bool* doomed,
                              std::optional<std::pair<bool, CapData>>* exit_request);
  absl::StatusOr<SyscallResult> DoSyscall(VatId vat, const VatSyscall& sc,
                                          std::optional<std::pair<bool, CapData>>* exit_request);
  absl::StatusOr<SyscallResult> DoCallNow(VatId vat, const VatSyscall& sc);
  absl::StatusOr<std::vector<std::string>> DeviceSlotsToKernel(
      DeviceId d, const std::vector<std::string>& slots);
  std::string KernelSlotToDevice(DeviceId d, const Kref& k);

  // ---------------- kernel_run.cc
  // Crank savepoints. Every savepoint and rollback of the crank buffer goes through these so
  // the in-memory GC action set stays consistent with it: SavePoint() flushes the set first,
  // so a later RollbackTo() can simply make the set re-read the stored value.
  size_t SavePoint();
  void RollbackTo(size_t mark);
  bool RunOneCrank(RunStats* stats);
  bool HasWork();
  void StartCrank();
  void EndCrank();
  void ProcessRefcounts();
  void RetireKernelObjects(const std::vector<Kref>& krefs);
  void OrphanKernelObject(const Kref& ko, VatId vat);
  struct Route {
    enum class Kind { kDeliver, kQueue, kSplat } kind;
    VatId vat;
    Kref target;     // deliver: final target (object, or the kpid when pipelined)
    Kref queue_kp;   // queue: the promise
    CapData error;   // splat
  };
  Route RouteSend(const Kref& target, const KMessage& msg);
  void Splat(const Kref& target, const KMessage& msg, const CapData& error);
  // ev_text: ev's stored text, if known to be ev.Encode(), else empty.
  void ProcessRoutingCrank(KEvent ev, std::string ev_text);
  // Delivery cranks. Each returns the crank outcome used for dirt and stats.
  struct DeliveryOutcome {
    bool delivered = false;  // a delivery was made to a vat
    VatId vat;
    bool gc = false;
    uint64_t gc_krefs = 0;
    bool measure_dirt = false;
  };
  DeliveryOutcome ProcessRunQueueEvent(KEvent ev, size_t start_mark);
  // A GC action chosen for delivery: the kref and the vat's c-list entry for it, as read when
  // the action was checked (nothing changes either before the delivery is built).
  struct GcTarget {
    Kref k;
    CListEntry entry;
  };
  DeliveryOutcome ProcessGcDelivery(VatId vat, GcActionType type,
                                    const std::vector<GcTarget>& targets, size_t start_mark);
  DeliveryOutcome ProcessBringOutYourDead(VatId vat, size_t start_mark);
  // Performs one delivery with syscall handling, transcript and failure handling. Returns false
  // when the crank was aborted (rolled back) and the vat terminated.
  bool Deliver(VatId vat, const VatDelivery& d, size_t start_mark, size_t deliver_mark,
               bool consume_on_abort);
  bool EnsureVatLoaded(VatId vat);
  void AddDirt(VatId vat, uint64_t gc_krefs, uint64_t computrons);
  // After a crank's delivery: the computrons it used (Deliver records them) go to the run's
  // stats and are returned; 0 for an unmetered vat.
  uint64_t TakeDeliveryComputrons(VatId vat, RunStats* stats);
  void TerminateVat(VatId vat, bool reject, const CapData& info);
  // Returns true when the vat is fully cleaned up. `budget` 0 = unlimited.
  bool CleanupTerminatedVat(VatId vat, uint64_t budget, uint64_t* work);
  // GC action selection (§8.3): fills vat/type/targets (in kref string order); returns
  // 0 = nothing, 1 = delivery, 2 = negated crank.
  int NextGcAction(VatId* vat, GcActionType* type, std::vector<GcTarget>* targets);

  // ---------------- kernel_host.cc
  void EmitHostCrank();  // fold host-side writes into the block and the activity hash
  void BeginActivityBatch();
  void EndActivityBatch();  // writes the batch's activity hash (outside any crank)

  KernelOptions options_;
  KvStore* store_;
  VatHost* host_;
  CrankBuffer buf_;
  // Pending GC actions over buf_'s `gcActions` key; flushed by EmitHostCrank and SavePoint().
  GcActionSet gc_actions_{&buf_};
  std::unique_ptr<Hasher> hasher_;     // the activity hash of cranks outside Run()
  std::unique_ptr<CrankText> hash_text_;  // scratch for the text of cranks outside Run()
  // The activity hash of Run()'s cranks, hashed on a worker thread while the run goes on; the
  // stored activityhash is written once, when the run ends.
  std::unique_ptr<ActivityChain> activity_;
  // maybeFreeKrefs: insertion-ordered set, not rolled back with the crank (§8.1). Membership
  // is one bit per kref id and kind: ids are dense counters, so the bitmap stays small and a
  // test touches a word that is usually cached (a hash set missed the cache on every insert
  // when a GC crank frees 100,000 objects).
  class KrefBits {
   public:
    bool Insert(const Kref& k) {  // true when k was not in the set
      std::vector<uint64_t>& w = words_[static_cast<int>(k.kind())];
      const uint64_t i = k.n() / 64, bit = uint64_t{1} << (k.n() % 64);
      if (i >= w.size()) w.resize(std::max<size_t>(i + 1, w.size() * 2), 0);
      if (w[i] & bit) return false;
      w[i] |= bit;
      return true;
    }
    void Erase(const Kref& k) {
      std::vector<uint64_t>& w = words_[static_cast<int>(k.kind())];
      const uint64_t i = k.n() / 64;
      if (i < w.size()) w[i] &= ~(uint64_t{1} << (k.n() % 64));
    }

   private:
    std::vector<uint64_t> words_[3];  // by KrefKind
  };
  std::vector<Kref> maybe_free_;
  KrefBits maybe_free_set_;
  // Empties maybeFreeKrefs.
  void ClearMaybeFree() {
    for (const Kref& k : maybe_free_) maybe_free_set_.Erase(k);
    maybe_free_.clear();
  }
  // Vats by id (ordered map: iteration feeds deterministic orders).
  std::map<uint64_t, VatInfo> vats_;
  absl::flat_hash_set<uint64_t> loaded_vats_;
  // Devices by name (registration order) and by id.
  std::map<std::string, std::unique_ptr<Device>> devices_;
  // Queue events this process encoded, kept parsed so Dequeue need not reparse them. Never a
  // source of truth: an entry is used only when its text equals the stored item, so entries
  // left behind by rolled-back or aborted cranks are harmless (and dropped as indexes pass).
  struct ParsedQueueItem {
    uint64_t index;
    std::string text;
    KEvent event;
  };
  struct ParsedQueue {
    explicit ParsedQueue(std::string_view queue) : meta(queue) {}
    CrankBuffer::KeyHandle meta;        // the queue's "[head,tail]" record
    std::deque<ParsedQueueItem> items;  // increasing index
  };
  static constexpr size_t kMaxParsedQueueItems = 1 << 16;
  ParsedQueue* ParsedQueueFor(std::string_view queue);
  std::vector<ParsedQueue> parsed_queues_;  // one per queue name (there are two)
  // kernel.defaultReapDirtThreshold as last parsed: (stored text, value). AddDirt reparses
  // when the stored text differs, so this can never be stale.
  std::optional<std::pair<std::string, Json>> parsed_default_threshold_;
  // The entries of the keys of the last few promises used (a crank reads and writes the keys
  // of the one or two promises it handles several times each), so each key is built and
  // hashed once. Only which entry a key has is kept, never a value: entries do not move, and
  // the buffer erases entries only between cranks, changing its epoch, which empties this.
  struct PromiseEntries {
    Kref kp;
    std::optional<CrankBuffer::EntryRef> entries[kPromiseKeys];
  };
  static constexpr size_t kRememberedPromises = 4;
  std::vector<PromiseEntries> promise_entries_;  // at most kRememberedPromises
  size_t next_promise_entries_ = 0;  // the one to reuse next, once all are in use
  uint64_t promise_entries_epoch_ = 0;
  // Keys read or written on every crank.
  CrankBuffer::KeyHandle crank_number_key_{keys::kCrankNumber};
  CrankBuffer::KeyHandle activity_hash_key_{keys::kActivityHash};
  CrankBuffer::KeyHandle default_reap_threshold_key_{keys::kDefaultReapDirtThreshold};
  // The vat lists (the first two are read by every crank that is not a routing crank).
  CrankBuffer::KeyHandle vats_terminated_key_{keys::kVatsTerminated};
  CrankBuffer::KeyHandle reap_queue_key_{keys::kReapQueue};
  CrankBuffer::KeyHandle vat_dynamic_ids_key_{keys::kVatDynamicIds};
  bool in_crank_ = false;
  std::string last_syscall_error_;  // why the last doomed syscall was refused
  VatLimits limits_;
  // What the syscalls of the delivery in progress did, against limits_ (Deliver resets them).
  bool counting_delivery_ = false;
  uint64_t delivery_enqueued_ = 0;
  uint64_t delivery_clist_added_ = 0;  // new exports of the current delivery
  uint64_t delivery_vatstore_written_ = 0;
  std::string last_load_error_;
  // Computrons of the last delivery (DeliveryResult::computrons), until TakeDeliveryComputrons.
  uint64_t delivery_computrons_ = 0;
};

// Smallcaps (kernel/smallcaps.h) under the names the kernel's .cc files use.
using smallcaps::IsSingleSlotBody;
using smallcaps::MethodNameOf;
// Kernel error capdata: #{"#error":"<text>","name":"Error"}.
inline CapData KernelError(std::string_view text) { return smallcaps::ErrorData(text); }

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_KERNEL_IMPL_H_
