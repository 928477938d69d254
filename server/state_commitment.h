// File: state_commitment.h
//
// The sidecar's side of the consensus state hash (docs/DESIGN.md §5, docs/STATE_HASH.md): it keeps
// the committed LtHash16 lanes in memory and, at each end of block, folds the block's net writes
// into a copy of them with consensus::ApplyWrites, reading old values from the committed store.
// The cost is O(block writes): one store read and at most two LtHash elements per consensus
// write, never a scan. The result travels to the store in the block's commit batch as the two
// host keys of consensus/state_hash.h (host.stateHash.lanes, host.stateHash).
//
// Life cycle, matching BlockLifecycle's phases:
//   Load()            after opening the store (and after every Init): committed lanes, or the
//                     empty-set hash for a store that never committed
//   Prepare(writes)   at EndBlock, before anything is written: the block's hash and host writes
//   Committed()       once the commit batch is durable: the prepared hash becomes the committed
//   Abandon()         the prepared block was discarded
// verify-state does not come through here: it is consensus VerifyState (a full recompute).
//
// Thread-safety: not thread-safe; used on the kernel thread only. The store must not be written
// between Prepare and Committed/Abandon except by the commit of the prepared block.

#ifndef SWINGSETD_SERVER_STATE_COMMITMENT_H_
#define SWINGSETD_SERVER_STATE_COMMITMENT_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consensus/lthash.h"
#include "consensus/state_hash.h"
#include "kernel/kv_store.h"

namespace swingset {

class StateCommitment {
 public:
  explicit StateCommitment(const KvStore* store) : store_(store) {}  // not owned

  // Reads the committed lanes. kDataLoss when the stored hash is incomplete or inconsistent.
  absl::Status Load();

  // The committed state hash (hex digest); the empty-set digest before the first commit.
  std::string committed_digest() const { return committed_.DigestHex(); }

  // The state hash after applying `writes` (net writes in key order, each with the key's
  // committed value when known, as Kernel::VisitBlockWritesWithBase yields them) to the
  // committed store. Appends the host writes that
  // record it to *host_writes and remembers it until Committed()/Abandon(). Returns the hex
  // digest. On error nothing is remembered.
  absl::StatusOr<std::string> Prepare(const StateWriteWithBaseSource& writes,
                                      KvBatch* host_writes);

  void Committed();
  void Abandon() { prepared_.reset(); }

 private:
  const KvStore* store_;
  LtHash16 committed_;
  std::optional<LtHash16> prepared_;
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_STATE_COMMITMENT_H_
