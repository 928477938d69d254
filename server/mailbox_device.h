// File: mailbox_device.h
//
// The mailbox device (DESIGN §6, issue 4): a native kernel Device through which vats exchange
// numbered messages with peers outside the chain. Per peer it keeps
//   outbox                 numbered outbound message bodies not yet acknowledged by the peer
//   ack                    the highest inbound number our vats acknowledged (sent to the peer)
//   inbound_delivered      the highest inbound number handed to the handler (dedup)
//   inbound_ack_delivered  the highest peer ack handed to the handler
// plus the registered inbound handler object. All of it is the device's state in the kernel
// store (`d<N>.deviceState`), so it is consensus state.
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
// State text: {"handler":<slot>|null,"peers":{<peer>:{"outbox":[[num,body]...],"ack":n,
// "inbound":n,"inboundAck":n}...}} with peers and outbox in ascending order, so equal states
// serialize to equal bytes.
//
// Thread-safety: used on the kernel thread only.

#ifndef SWINGSETD_SERVER_MAILBOX_DEVICE_H_
#define SWINGSETD_SERVER_MAILBOX_DEVICE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernel/kernel.h"

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

struct MailboxDeviceState {
  std::string handler;  // device-side slot of the handler object; empty until registered
  std::map<std::string, PeerMailbox> peers;

  static absl::StatusOr<MailboxDeviceState> Parse(std::string_view text);
  std::string Serialize() const;
};

// Peer names: 1..128 characters from [A-Za-z0-9._:@/+-].
bool IsValidPeerName(std::string_view peer);
// The largest message number or ack accepted (numbers travel as JSON numbers).
inline constexpr uint64_t kMaxMailboxNumber = (uint64_t{1} << 53) - 1;

// Peers whose outbox or ack differ between two states (present in either), in name order.
std::vector<std::string> ChangedPeers(const MailboxDeviceState& before,
                                      const MailboxDeviceState& after);

class MailboxDevice : public Device {
 public:
  MailboxDevice() = default;

  SyscallResult Invoke(DeviceContext* ctx, std::string_view node, std::string_view method,
                       const CapData& args) override;

  // Reads the current state (empty when never written).
  absl::StatusOr<MailboxDeviceState> Load(DeviceContext* ctx);

  // Host side. Hands messages numbered above inbound_delivered to the handler (one
  // deliverInboundMessages send), and the ack if above inbound_ack_delivered
  // (deliverInboundAck). kNotFound for an unknown peer, kFailedPrecondition when no handler is
  // registered; nothing changes on error.
  absl::Status DeliverInbound(DeviceContext* ctx, std::string_view peer,
                              const std::vector<std::pair<uint64_t, std::string>>& messages,
                              uint64_t ack);

  // Makes peers known (genesis).
  absl::Status AddPeers(DeviceContext* ctx, const std::vector<std::string>& peers);

 private:
  // The state as stored now, parsed; edits through the pointer must be followed by Store.
  absl::StatusOr<MailboxDeviceState*> Current(DeviceContext* ctx);
  // Writes cached_state_ as the device state.
  void Store(DeviceContext* ctx);

  // Vats call the device once per message, so re-parsing the state on every call would make a
  // block of N messages cost O(N^2) parse work: keep the last text written or read and its
  // parse. Only a cache: Current() checks it against the stored text on every call.
  std::string cached_text_;
  MailboxDeviceState cached_state_;
  bool cache_valid_ = false;
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_MAILBOX_DEVICE_H_
