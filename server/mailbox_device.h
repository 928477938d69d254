// File: mailbox_device.h
//
// The mailbox device (docs/DESIGN.md §6, issue 4): a native kernel Device through which vats
// exchange numbered messages with peers outside the chain. Per peer it keeps
//   outbox                 numbered outbound message bodies not yet acknowledged by the peer
//   ack                    the highest inbound number our vats acknowledged (sent to the peer)
//   inbound_delivered      the highest inbound number handed to the handler (dedup)
//   inbound_ack_delivered  the highest peer ack handed to the handler
// plus the registered inbound handler object. All of it is consensus state, kept as keyed
// device state (DeviceContext::SetStateKey, stored at d<N>.deviceState.<key>), one store key per
// item, so every call reads and writes O(1) keys of O(1) size whatever the outbox holds:
//
//   handler                      device-side slot of the handler object (absent until registered)
//   limits                       {"maxBodyBytes":n,"maxOutboxBytes":n,"maxOutboxMessages":n,
//                                 "maxPeers":n}  (genesis params; absent = MailboxLimits defaults)
//   peerCount                    number of known peers, decimal (absent = 0)
//   peer.<peer>                  {"ack":n,"inbound":n,"inboundAck":n,"outBytes":n,"outCount":n}
//                                (present iff the peer is known)
//   out.<peer>|<num>             body of outbound message <num>, num as 16 zero-padded digits
//
// The bytes are canonical (fixed field order, decimal numbers, no whitespace) and '|' is not a
// peer-name character, so a peer's outbox is exactly the keys with prefix "out.<peer>|", in
// ascending number order. Numbers and acks are at most 2^53-1 (16 digits).
//
// Vat interface (syscall.callNow on the device root d+0; results are `undefined`):
//   registerInboundHandler(handler)   handler gets deliverInboundMessages(peer, [[num, body]...])
//                                     and deliverInboundAck(peer, ack) as one-way sends
//   add(peer, num, body)              put an outbound message (replaces the same number)
//   remove(peer, num)                 drop an outbound message (absent: no-op)
//   setAcknum(peer, num)              set the ack we send to the peer
//   addPeer(peer)                     make a peer known without sending
// Any call naming a peer makes that peer known. The host side (DeliverInbound) accepts only
// known peers, and only once a handler is registered.
//
// Limits (MailboxLimits, genesis params): a body above max_body_bytes, an outbox above
// max_outbox_messages or max_outbox_bytes (each message counted as its body plus
// kOutboxMessageOverhead), or a new peer beyond max_peers makes the vat's device call fail with
// an error, and nothing changes. They bound what the EndBlock response reports for mailboxes.
//
// Reading whole mailboxes (the outbox of a peer, every peer) needs a key scan, which a device
// cannot do; MailboxReader does it on a store snapshot, optionally overlaid with a block's
// pending writes.
//
// Thread-safety: MailboxDevice is used on the kernel thread only; MailboxReader is as
// thread-safe as the snapshot it reads.

#ifndef SWINGSETD_SERVER_MAILBOX_DEVICE_H_
#define SWINGSETD_SERVER_MAILBOX_DEVICE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernel/ids.h"
#include "kernel/kernel.h"
#include "kernel/kv_store.h"

namespace swingset {

inline constexpr std::string_view kMailboxDeviceName = "mailbox";

struct PeerMailbox {
  std::map<uint64_t, std::string> outbox;
  uint64_t ack = 0;
  uint64_t inbound_delivered = 0;
  uint64_t inbound_ack_delivered = 0;

  // Equal as far as the peer can see (outbox and ack).
  bool SameOutbound(const PeerMailbox& o) const { return outbox == o.outbox && ack == o.ack; }
};

// Peer names: 1..128 characters from [A-Za-z0-9._:@/+-].
bool IsValidPeerName(std::string_view peer);
inline constexpr size_t kMaxPeerNameBytes = 128;
// What an outbox message costs against MailboxLimits::max_outbox_bytes besides its body.
inline constexpr uint64_t kOutboxMessageOverhead = 16;

// Consensus limits of the mailbox device (genesis params, stored in the device state).
struct MailboxLimits {
  uint64_t max_body_bytes = 16 << 10;
  uint64_t max_outbox_messages = 256;
  uint64_t max_outbox_bytes = 64 << 10;
  uint64_t max_peers = 16;
};
// The largest message number or ack accepted (numbers travel as JSON numbers).
inline constexpr uint64_t kMaxMailboxNumber = (uint64_t{1} << 53) - 1;

// Device state keys (relative to d<N>.deviceState.), as laid out above.
namespace mailbox_keys {
inline constexpr std::string_view kHandler = "handler";
inline constexpr std::string_view kLimits = "limits";
inline constexpr std::string_view kPeerCount = "peerCount";
inline constexpr std::string_view kPeerPrefix = "peer.";
std::string Peer(std::string_view peer);
std::string OutboxPrefix(std::string_view peer);  // "out.<peer>|"
std::string Outbox(std::string_view peer, uint64_t num);
}  // namespace mailbox_keys

class MailboxDevice : public Device {
 public:
  MailboxDevice() = default;

  SyscallResult Invoke(DeviceContext* ctx, std::string_view node, std::string_view method,
                       const CapData& args) override;

  // Host side. Hands messages numbered above inbound_delivered to the handler (one
  // deliverInboundMessages send), and the ack if above inbound_ack_delivered
  // (deliverInboundAck). kNotFound for an unknown peer, kFailedPrecondition when no handler is
  // registered, or when the handler's vat is gone (terminated: nothing would receive the
  // messages, so they are not marked delivered); nothing changes on error.
  absl::Status DeliverInbound(DeviceContext* ctx, std::string_view peer,
                              const std::vector<std::pair<uint64_t, std::string>>& messages,
                              uint64_t ack);

  // Makes peers known (genesis). kInvalidArgument for a bad name or more peers than
  // max_peers, before anything is written.
  absl::Status AddPeers(DeviceContext* ctx, const std::vector<std::string>& peers);
  // Stores the limits (genesis, before AddPeers).
  void SetLimits(DeviceContext* ctx, const MailboxLimits& limits);

  absl::StatusOr<bool> IsKnownPeer(DeviceContext* ctx, std::string_view peer);
  absl::StatusOr<bool> HasHandler(DeviceContext* ctx);

  // Peers whose outbox or ack a vat call may have changed since ResetTouchedPeers() (a superset
  // of those that did: a call in a crank that was later rolled back still counts). The host
  // compares before/after with MailboxReader to report exactly the changed ones.
  const std::set<std::string>& touched_peers() const { return touched_; }
  void ResetTouchedPeers() { touched_.clear(); }

 private:
  std::set<std::string> touched_;
};

// Reads mailbox device state from the store. `device_state_prefix` is "d<N>.deviceState."
// for the mailbox device's id. With an overlay (net writes of a pending block, full store keys,
// nullopt = delete), reads see the block's writes on top of the snapshot.
class MailboxReader {
 public:
  using Overlay = std::map<std::string, std::optional<std::string>, std::less<>>;

  MailboxReader(const KvSnapshot* snapshot, std::string device_state_prefix,
                const Overlay* overlay = nullptr)
      : snap_(snapshot), prefix_(std::move(device_state_prefix)), overlay_(overlay) {}

  // The peer's mailbox, or nullopt for an unknown peer. kDataLoss for malformed state.
  absl::StatusOr<std::optional<PeerMailbox>> ReadPeer(std::string_view peer) const;
  // Every known peer, in name order.
  absl::StatusOr<std::vector<std::string>> Peers() const;
  absl::StatusOr<bool> HasHandler() const;

 private:
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) const;
  // Calls fn(key, value) for every key with `prefix`, in key order.
  absl::Status Scan(const std::string& prefix,
                    const std::function<absl::Status(std::string_view, std::string_view)>& fn)
      const;

  const KvSnapshot* snap_;
  std::string prefix_;
  const Overlay* overlay_;
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_MAILBOX_DEVICE_H_
