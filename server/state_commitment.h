// File: state_commitment.h
//
// The sidecar's only seam to the consensus state hash (DESIGN §5): everything the lifecycle and
// verify-state need goes through these functions, so the hash implementation can change in one
// place.
//
// Current implementation (interim, until consensus/state_hash.h lands): SHA-256 over every
// consensus entry (keys not starting "local." or "host.") in key order, each encoded as
// u32be(len(key)) ‖ key ‖ u32be(len(value)) ‖ value. It depends only on the current consensus
// state, like the LtHash it stands in for, but costs O(state) per block instead of O(writes).
//
// Thread-safety: functions are reentrant; the store must tolerate concurrent reads.

#ifndef SWINGSETD_SERVER_STATE_COMMITMENT_H_
#define SWINGSETD_SERVER_STATE_COMMITMENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernel/kv_store.h"

namespace swingset {

struct BlockStateHash {
  std::string state_hash;  // lowercase hex
  KvBatch host_writes;     // to commit with the block (includes host.stateHash)
};

// The state hash of `store` (the last committed state) with `block_writes` (net writes in key
// order; value nullopt = delete) applied.
absl::StatusOr<BlockStateHash> ComputeBlockStateHash(const KvStore& store,
                                                     const std::vector<KvWrite>& block_writes);

// Recomputes the state hash from a full scan of `snapshot`. `progress` (may be empty) is called
// with the number of keys scanned every 100,000 keys.
absl::StatusOr<std::string> RecomputeStateHash(const KvSnapshot& snapshot,
                                               const std::function<void(uint64_t)>& progress);

// The state hash stored by the last commit, or "" when there is none.
absl::StatusOr<std::string> StoredStateHash(const KvSnapshot& snapshot);

}  // namespace swingset

#endif  // SWINGSETD_SERVER_STATE_COMMITMENT_H_
