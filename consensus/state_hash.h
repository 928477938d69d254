// File: state_hash.h
//
// The consensus state hash (docs/DESIGN.md §5, docs/STATE_HASH.md): an LtHash16 over every
// consensus entry of the store, i.e. every key that does not start with "local." or "host."
// (keys::IsConsensusKey). It is updated in O(writes) at each block commit (ApplyWrites), can be
// recomputed from a full scan (ComputeStateHash), and is kept by the host in two host keys
// (written in the block's commit batch, outside the hash):
//   host.stateHash.lanes   LtHash16::Serialize(), 2048 bytes
//   host.stateHash         LtHash16::DigestHex(), 64 lowercase hex characters
// VerifyState backs `swingsetd verify-state`.
//
// Typical use at end of block, before CommitBlock:
//   ASSIGN_OR_RETURN(std::optional<LtHash16> stored, ReadStoredStateHash(*store->GetSnapshot()));
//   LtHash16 hash = stored.value_or(LtHash16());
//   RETURN_IF_ERROR(ApplyWrites(*store,
//       [&](const StateWriteVisitor& fn) { kernel->VisitBlockWrites(fn); }, &hash));
//   KvBatch host_writes = StateHashHostWrites(hash);  // + saved height etc.
//   RETURN_IF_ERROR(kernel->CommitBlock(host_writes));
//
// Thread-safety: the functions keep no state; the stores they read must be safe to read.

#ifndef SWINGSETD_CONSENSUS_STATE_HASH_H_
#define SWINGSETD_CONSENSUS_STATE_HASH_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consensus/lthash.h"
#include "kernel/kv_store.h"

namespace swingset {

// Host keys holding the committed state hash. DO NOT CHANGE: read back after restarts.
inline constexpr std::string_view kStateHashLanesKey = "host.stateHash.lanes";
inline constexpr std::string_view kStateHashKey = "host.stateHash";

// ComputeStateHash reports progress every this many consensus keys.
inline constexpr uint64_t kStateHashProgressInterval = 100000;

// Receives one net write: value nullopt = delete. Same shape as Kernel::VisitBlockWrites' fn.
using StateWriteVisitor =
    std::function<void(std::string_view key, const std::optional<std::string>& value)>;
// Calls its argument once per net write (e.g. [&](auto& fn) { kernel->VisitBlockWrites(fn); }).
using StateWriteSource = std::function<void(const StateWriteVisitor&)>;

// Updates *hash, the hash of `before`'s consensus entries, to the hash after the writes: for
// every write to a consensus key it removes the entry (key, old value) when `before` holds the
// key and adds (key, new value) unless the write is a delete. Writes to local./host. keys are
// ignored and not read. Cost: one `before.Get` plus at most two LtHash16 elements per
// consensus write; a write that leaves the value unchanged costs only the Get.
//
// `before` must be the state *hash describes, i.e. the committed store before the writes are
// applied. Writes must be net writes in strictly increasing byte order of key (one write per
// key), as Kernel::VisitBlockWrites yields them; otherwise kInvalidArgument. On any error
// (including a read error from `before`) *hash is left unchanged.
absl::Status ApplyWrites(const KvStore& before, const StateWriteSource& visit_writes,
                         LtHash16* hash);
absl::Status ApplyWrites(const KvSnapshot& before, const StateWriteSource& visit_writes,
                         LtHash16* hash);
// The same with writes that may carry the key's committed value (as
// Kernel::VisitBlockWritesWithBase yields them): where `committed` is non-null it is used instead
// of reading `before`, so only keys the kernel never read cost a store read.
using StateWriteWithBaseVisitor =
    std::function<void(std::string_view key, const std::optional<std::string>& value,
                       const std::optional<std::string>* committed)>;
using StateWriteWithBaseSource = std::function<void(const StateWriteWithBaseVisitor&)>;
absl::Status ApplyWritesWithBase(const KvStore& before, const StateWriteWithBaseSource& visit_writes,
                                 LtHash16* hash);
// The same for a batch, which must likewise be sorted by key with no key repeated.
absl::Status ApplyWrites(const KvStore& before, const KvBatch& writes, LtHash16* hash);

// The hash of every consensus entry in `snap`, by a full scan in key order. `progress`, if
// set, is called with the number of consensus keys hashed so far every
// kStateHashProgressInterval keys and once at the end. Returns the iterator's error if the
// scan fails.
absl::StatusOr<LtHash16> ComputeStateHash(
    const KvSnapshot& snap, const std::function<void(uint64_t keys_done)>& progress = nullptr);

// The two host writes that record `hash` as the committed state hash; put them in the same
// batch as the block's writes.
KvBatch StateHashHostWrites(const LtHash16& hash);

// Reads the stored state hash. nullopt when neither host key exists (a store that never
// committed a block). kDataLoss when only one exists, the lanes are not 2048 bytes, or the
// stored digest is not the digest of the stored lanes.
absl::StatusOr<std::optional<LtHash16>> ReadStoredStateHash(const KvSnapshot& snap);

// Recomputes the state hash of a snapshot of `store` by a full scan and compares it with the
// stored lanes and digest. Sets *matches to true only if the stored lanes equal the recomputed
// hash and the stored digest equals its digest. Writes progress lines and a final report
// (stored and computed digests, "verify-state: OK" or "verify-state: MISMATCH") to
// `progress_out`. Errors: kFailedPrecondition when the store has no stored state hash,
// kDataLoss when the stored lanes are not 2048 bytes, or a storage error; *matches is then
// false.
absl::Status VerifyState(const KvStore& store, std::ostream& progress_out, bool* matches);

}  // namespace swingset

#endif  // SWINGSETD_CONSENSUS_STATE_HASH_H_
