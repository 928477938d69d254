// File: block_lifecycle.h
//
// The block lifecycle of docs/DESIGN.md §2 over a Kernel: strict heights, genesis on an empty
// store, actions consumed in order within the crank budget, one synced batch per Commit holding the
// block's kernel writes and the host's keys (server/host_keys.h), and replay of the committed
// height from the stored EndBlock response. The gRPC layer (grpc_services.h) is a thin adapter
// over this class.
//
// Phases:  (not initialized) --Init--> idle --BeginBlock(saved+1)--> begun --EndBlock--> ended
//          --Commit--> idle;  idle --BeginBlock(saved)--> replay-begun --EndBlock--> replay-ended
//          --Commit--> idle.  Init from any phase discards an uncommitted block.
// Any call out of this order, or with another height, is kFailedPrecondition and changes nothing.
// A request that fails validation is kInvalidArgument and changes nothing.
//
// Thread-safety: not thread-safe; used on the kernel thread only.

#ifndef SWINGSETD_SERVER_BLOCK_LIFECYCLE_H_
#define SWINGSETD_SERVER_BLOCK_LIFECYCLE_H_

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
#include "kernel/json.h"
#include "kernel/kernel.h"
#include "kernel/kv_store.h"
#include "kernel/vat_host.h"
#include "server/mailbox_device.h"
#include "server/state_commitment.h"
#include "swingsetd/v1/lifecycle.pb.h"

namespace swingset {

namespace v1 = ::swingsetd::v1;

// Limits on request contents (beyond gRPC's message size limit).
struct LifecycleLimits {
  size_t max_actions = 10000;
  size_t max_args_json_bytes = 256 << 10;
  size_t max_method_bytes = 256;
  size_t max_inbound_messages = 10000;  // per deliver_inbound action
  size_t max_body_bytes = 256 << 10;
};

// The genesis params (proto Params) in effect: consensus state, stored under host.params and,
// for the mailbox limits, in the mailbox device's state. A 0 in the proto selects the default.
// The meter new JS vats get (docs/METERING.md), recorded in each vat's options.
struct MeterParams {
  uint32_t version = 2;  // a chain keeps the version its genesis named
  uint64_t computrons_per_delivery = 100'000'000;
  uint32_t max_call_depth = 1000;
  // The vat options' "meter" member.
  Json ToVatOption() const;
};

struct BlockParams {
  uint64_t max_cranks_per_block = 10000;
  uint64_t max_computrons_per_block = 65'000'000;
  uint64_t max_result_bytes = 64 << 10;
  uint64_t max_settled_bytes_per_block = 1 << 20;
  MailboxLimits mailbox;
  VatLimits vat;  // handed to the kernel (Kernel::SetVatLimits)
  MeterParams meter;

  static BlockParams FromProto(const v1::Params& p);
  // The stored form, {"maxCranksPerBlock":n,...}; absent or 0 fields read as the default.
  Json ToJson() const;
  static BlockParams FromJson(const Json& j);
};

// Deliveries between bringOutYourDead for a genesis without default_reap_interval (Agoric's
// chain value; SwingSet's own default is 1).
inline constexpr uint32_t kChainDefaultReapInterval = 1000;
// Per-action error texts are cut to this many bytes (they count against the response bound).
inline constexpr size_t kMaxActionErrorBytes = 100;
// The server's gRPC send limit: genesis is refused when its params allow a larger EndBlock
// response.
inline constexpr uint64_t kMaxEndBlockResponseBytes = 64 << 20;
// The largest EndBlock response (encoded bytes) that `params` and `limits` allow.
uint64_t EndBlockResponseBound(const BlockParams& params, const LifecycleLimits& limits);

class BlockLifecycle {
 public:
  // Testing only: called at named points (end_block_mid, end_block_done, commit_before_write,
  // commit_after_write) with the height, so crash tests can kill the process there.
  using CrashHook = std::function<void(std::string_view point, int64_t height)>;

  struct Options {
    KvStore* store = nullptr;     // not owned; must outlive this object
    VatHost* vat_host = nullptr;  // not owned
    LifecycleLimits limits;
    CrashHook crash_hook;
  };

  // Opens the kernel on the store. Errors: whatever Kernel::Open reports.
  static absl::StatusOr<std::unique_ptr<BlockLifecycle>> Open(Options options);

  // The cheap consistency check of the committed host state run before serving (no scan):
  // the stored state hash lanes digest to the stored state hash, a saved height comes with a
  // state hash and the reverse, and the stored EndBlock response is the saved height's and
  // carries the stored state hash. kDataLoss naming what disagrees; OK for an empty store.
  static absl::Status CheckStoredHostState(const KvStore& store);

  // On an empty store applies req.genesis. On an existing store a genesis, when given, must be
  // the one the store was created with: a different chain_id, or (for stores that recorded it)
  // a different genesis hash, is kFailedPrecondition and changes nothing.
  absl::Status Init(const v1::InitRequest& req, v1::InitResponse* resp);
  absl::Status BeginBlock(const v1::BeginBlockRequest& req, v1::BeginBlockResponse* resp);
  absl::Status EndBlock(const v1::EndBlockRequest& req, v1::EndBlockResponse* resp);
  absl::Status Commit(const v1::CommitRequest& req, v1::CommitResponse* resp);

  bool initialized() const { return phase_ != Phase::kNotInitialized; }

  // Discards an uncommitted block (shutdown).
  void AbortPendingBlock();

 private:
  enum class Phase { kNotInitialized, kIdle, kBegun, kEnded, kReplayBegun, kReplayEnded };

  BlockLifecycle(Options options, std::unique_ptr<Kernel> kernel, MailboxDevice* mailbox);

  absl::Status LoadHostState();
  absl::Status ApplyGenesis(const v1::Genesis& genesis, v1::InitResponse* resp);
  absl::Status ValidateGenesis(const v1::Genesis& genesis);
  absl::Status ValidateActions(const v1::EndBlockRequest& req);
  // Runs the block; on error the caller aborts it. Fills the block's counters and run time into
  // `stats` (an object).
  absl::Status ExecuteBlock(const v1::EndBlockRequest& req, v1::EndBlockResponse* resp,
                            Json* stats);
  // Adds every peer whose outbox or ack the block changed to `resp` (in name order).
  absl::Status ReportChangedMailboxes(v1::EndBlockResponse* resp);
  // Hashes, host writes and the stored response; fills the hashes into `resp`. With `stats`,
  // adds the hash preparation's time and the EndBlock's wall time since `start` to it and sets
  // it as resp's stats_json (before the response is stored).
  absl::Status PrepareCommit(int64_t height, v1::EndBlockResponse* resp, Json* stats = nullptr,
                             std::chrono::steady_clock::time_point start = {});
  void Crash(std::string_view point, int64_t height) {
    if (options_.crash_hook) options_.crash_hook(point, height);
  }
  std::string PhaseName() const;

  Options options_;
  std::unique_ptr<Kernel> kernel_;
  MailboxDevice* mailbox_;  // owned by kernel_

  Phase phase_ = Phase::kNotInitialized;
  int64_t saved_height_ = -1;    // last committed height; -1 = empty store
  int64_t current_height_ = -1;  // the block in progress (begun/ended phases)
  BlockParams params_;
  std::string chain_id_;
  StateCommitment state_hash_;  // committed lanes; the block's hash between EndBlock and Commit
  std::vector<std::string> pending_promises_;  // committed list of host-held result kpids
  // Committed computrons by vat number (host_keys::kVatComputrons).
  std::map<uint64_t, uint64_t> vat_computrons_;

  // Prepared by EndBlock, written by Commit.
  KvBatch commit_writes_;
  std::vector<std::string> commit_pending_promises_;
  std::optional<std::map<uint64_t, uint64_t>> commit_vat_computrons_;  // when it changed
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_BLOCK_LIFECYCLE_H_
