// File: host_keys.h
//
// Every key the sidecar host writes (docs/DESIGN.md §2, §5). All start with "host.": the kernel
// never writes them and they are not part of the state hash. They are committed in the same batch
// as the block's kernel writes, so they always describe the committed kernel state next to them.
// The state hash (host.stateHash, host.stateHash.lanes) belongs to consensus/ and is named in
// consensus/state_hash.h.
//
// DO NOT CHANGE: a renamed key makes existing data dirs unreadable.

#ifndef SWINGSETD_SERVER_HOST_KEYS_H_
#define SWINGSETD_SERVER_HOST_KEYS_H_

#include <string_view>

namespace swingset {
namespace host_keys {

inline constexpr std::string_view kSavedHeight = "host.savedHeight";        // decimal
inline constexpr std::string_view kActivityHash = "host.activityHash";      // hex
// The last committed EndBlockResponse (serialized protobuf, replayed=true), for replays.
inline constexpr std::string_view kEndBlockResponse = "host.endBlockResponse";
inline constexpr std::string_view kChainId = "host.chainId";
// SHA-256 (hex) of the genesis the store was created with (GenesisHash in block_lifecycle.cc);
// absent in stores created before it was recorded.
inline constexpr std::string_view kGenesisHash = "host.genesisHash";
// The genesis params (BlockParams::ToJson: {"maxCranksPerBlock":n,...}, the vat caps included;
// absent keys read as their defaults).
inline constexpr std::string_view kParams = "host.params";
// Result promises of call_vat actions the host still holds: JSON array of kpids, in the order
// they were created.
inline constexpr std::string_view kPendingPromises = "host.pendingPromises";
// Computrons each metered vat's deliveries have used since it was created, by vat id:
// JSON {"v1":n,...}. Rewritten by the blocks in which metered vats ran (for Inspect).
inline constexpr std::string_view kVatComputrons = "host.vatComputrons";

}  // namespace host_keys
}  // namespace swingset

#endif  // SWINGSETD_SERVER_HOST_KEYS_H_
