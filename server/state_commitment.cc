#include "server/state_commitment.h"

#include <memory>
#include <utility>

#include "kernel/base.h"

namespace swingset {

absl::Status StateCommitment::Load() {
  std::unique_ptr<KvSnapshot> snap = store_->GetSnapshot();
  ASSIGN_OR_RETURN(std::optional<LtHash16> stored, ReadStoredStateHash(*snap));
  committed_ = stored.value_or(LtHash16());
  prepared_.reset();
  return absl::OkStatus();
}

absl::StatusOr<std::string> StateCommitment::Prepare(const StateWriteWithBaseSource& writes,
                                                     KvBatch* host_writes) {
  LtHash16 hash = committed_;
  RETURN_IF_ERROR(ApplyWritesWithBase(*store_, writes, &hash));
  for (KvWrite& w : StateHashHostWrites(hash)) host_writes->push_back(std::move(w));
  std::string digest = hash.DigestHex();
  prepared_ = hash;
  return digest;
}

void StateCommitment::Committed() {
  SWINGSET_CHECK(prepared_.has_value()) << "StateCommitment::Committed without a prepared block";
  committed_ = *prepared_;
  prepared_.reset();
}

}  // namespace swingset
