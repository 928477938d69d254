#include "server/mailbox_device.h"

#include <algorithm>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/strings.h"
#include "server/smallcaps.h"

namespace swingset {
namespace {

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(StrCat("mailbox device state: ", what));
}

bool GetNat(const Json* j, uint64_t* out) {
  if (!j || !j->is_int() || j->as_int() < 0) return false;
  *out = static_cast<uint64_t>(j->as_int());
  return *out <= kMaxMailboxNumber;
}

SyscallResult Ok() {
  SyscallResult r;
  r.ok = true;
  r.data = CapDataToJson(CapData{smallcaps::UndefinedBody(), {}});
  return r;
}

SyscallResult Error(std::string message) {
  SyscallResult r;
  r.ok = false;
  r.error = StrCat("mailbox: ", message);
  return r;
}

// Argument accessors over a decoded args array.
bool ArgPeer(const Json& args, size_t i, std::string* peer) {
  if (i >= args.as_array().size() || !args.as_array()[i].is_string()) return false;
  *peer = args.as_array()[i].as_string();
  return IsValidPeerName(*peer);
}

bool ArgNat(const Json& args, size_t i, uint64_t* n) {
  return i < args.as_array().size() && GetNat(&args.as_array()[i], n);
}

}  // namespace

bool IsValidPeerName(std::string_view peer) {
  if (peer.empty() || peer.size() > 128) return false;
  for (char c : peer) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<MailboxDeviceState> MailboxDeviceState::Parse(std::string_view text) {
  absl::StatusOr<Json> parsed = Json::Parse(text);
  if (!parsed.ok()) return Corrupt(std::string(parsed.status().message()));
  const Json& j = *parsed;
  if (!j.is_object()) return Corrupt("not an object");
  MailboxDeviceState state;
  const Json* handler = j.Find("handler");
  if (handler && handler->is_string()) {
    state.handler = handler->as_string();
  } else if (handler && !handler->is_null()) {
    return Corrupt("bad handler");
  }
  const Json* peers = j.Find("peers");
  if (!peers || !peers->is_object()) return Corrupt("no peers");
  for (const auto& [name, p] : peers->as_object()) {
    if (!p.is_object()) return Corrupt("bad peer");
    PeerMailbox box;
    if (!GetNat(p.Find("ack"), &box.ack) || !GetNat(p.Find("inbound"), &box.inbound_delivered) ||
        !GetNat(p.Find("inboundAck"), &box.inbound_ack_delivered)) {
      return Corrupt(StrCat("bad counters for peer ", name));
    }
    const Json* outbox = p.Find("outbox");
    if (!outbox || !outbox->is_array()) return Corrupt("bad outbox");
    for (const Json& m : outbox->as_array()) {
      uint64_t num;
      if (!m.is_array() || m.as_array().size() != 2 || !GetNat(&m.as_array()[0], &num) ||
          !m.as_array()[1].is_string()) {
        return Corrupt("bad outbox message");
      }
      box.outbox[num] = m.as_array()[1].as_string();
    }
    state.peers[name] = std::move(box);
  }
  return state;
}

std::string MailboxDeviceState::Serialize() const {
  // Written directly (not through Json) because vats call the device once per message: this
  // runs for every add/remove. The bytes equal Json's compact form of the same structure.
  std::string out = "{\"handler\":";
  if (handler.empty()) {
    out += "null";
  } else {
    AppendJsonString(handler, &out);
  }
  out += ",\"peers\":{";
  bool first_peer = true;
  for (const auto& [name, box] : peers) {
    if (!first_peer) out += ',';
    first_peer = false;
    AppendJsonString(name, &out);
    out += ":{\"outbox\":[";
    bool first_msg = true;
    for (const auto& [num, body] : box.outbox) {
      if (!first_msg) out += ',';
      first_msg = false;
      StrAppend(&out, "[", num, ",");
      AppendJsonString(body, &out);
      out += ']';
    }
    StrAppend(&out, "],\"ack\":", box.ack, ",\"inbound\":", box.inbound_delivered,
              ",\"inboundAck\":", box.inbound_ack_delivered, "}");
  }
  out += "}}";
  return out;
}

std::vector<std::string> ChangedPeers(const MailboxDeviceState& before,
                                      const MailboxDeviceState& after) {
  std::vector<std::string> changed;
  auto b = before.peers.begin();
  auto a = after.peers.begin();
  static const PeerMailbox kEmpty;
  while (b != before.peers.end() || a != after.peers.end()) {
    if (a == after.peers.end() || (b != before.peers.end() && b->first < a->first)) {
      if (!b->second.SameOutbound(kEmpty)) changed.push_back(b->first);
      ++b;
    } else if (b == before.peers.end() || a->first < b->first) {
      if (!a->second.SameOutbound(kEmpty)) changed.push_back(a->first);
      ++a;
    } else {
      if (!a->second.SameOutbound(b->second)) changed.push_back(a->first);
      ++a;
      ++b;
    }
  }
  return changed;
}

absl::StatusOr<MailboxDeviceState*> MailboxDevice::Current(DeviceContext* ctx) {
  std::optional<std::string> text = ctx->GetState();
  if (!text) {
    cached_state_ = MailboxDeviceState();
    cached_text_.clear();
    cache_valid_ = false;  // nothing stored yet
    return &cached_state_;
  }
  if (!cache_valid_ || *text != cached_text_) {
    cache_valid_ = false;
    ASSIGN_OR_RETURN(cached_state_, MailboxDeviceState::Parse(*text));
    cached_text_ = std::move(*text);
    cache_valid_ = true;
  }
  return &cached_state_;
}

absl::StatusOr<MailboxDeviceState> MailboxDevice::Load(DeviceContext* ctx) {
  ASSIGN_OR_RETURN(MailboxDeviceState * state, Current(ctx));
  return *state;
}

void MailboxDevice::Store(DeviceContext* ctx) {
  cached_text_ = cached_state_.Serialize();
  ctx->SetState(cached_text_);
  cache_valid_ = true;
}

SyscallResult MailboxDevice::Invoke(DeviceContext* ctx, std::string_view node,
                                    std::string_view method, const CapData& args) {
  if (node != "d+0") return Error(StrCat("unknown device node ", node));
  absl::StatusOr<Json> decoded = smallcaps::Decode(args);
  if (!decoded.ok()) return Error(std::string(decoded.status().message()));
  if (!decoded->is_array()) return Error("arguments are not an array");
  const Json& a = *decoded;
  absl::StatusOr<MailboxDeviceState*> current = Current(ctx);
  if (!current.ok()) return Error(std::string(current.status().message()));
  // Edited in place: the cache is re-validated against the stored text on every call, so a
  // failed call (or a rolled-back crank) cannot leak into the next one.
  MailboxDeviceState& state = **current;

  std::string peer;
  uint64_t num = 0;
  if (method == "registerInboundHandler") {
    if (a.as_array().size() != 1 || !smallcaps::IsSlotRef(a.as_array()[0])) {
      return Error("registerInboundHandler(handler) needs one object");
    }
    state.handler = smallcaps::SlotOf(a.as_array()[0]);
  } else if (method == "add") {
    if (a.as_array().size() != 3 || !ArgPeer(a, 0, &peer) || !ArgNat(a, 1, &num) ||
        !a.as_array()[2].is_string()) {
      return Error("add(peer, num, body) needs a peer name, a number and a string");
    }
    state.peers[peer].outbox[num] = a.as_array()[2].as_string();
  } else if (method == "remove") {
    if (a.as_array().size() != 2 || !ArgPeer(a, 0, &peer) || !ArgNat(a, 1, &num)) {
      return Error("remove(peer, num) needs a peer name and a number");
    }
    state.peers[peer].outbox.erase(num);
  } else if (method == "setAcknum") {
    if (a.as_array().size() != 2 || !ArgPeer(a, 0, &peer) || !ArgNat(a, 1, &num)) {
      return Error("setAcknum(peer, num) needs a peer name and a number");
    }
    state.peers[peer].ack = num;
  } else if (method == "addPeer") {
    if (a.as_array().size() != 1 || !ArgPeer(a, 0, &peer)) {
      return Error("addPeer(peer) needs a peer name");
    }
    state.peers[peer];
  } else {
    return Error(StrCat("unknown method ", method));
  }
  Store(ctx);
  return Ok();
}

absl::Status MailboxDevice::DeliverInbound(
    DeviceContext* ctx, std::string_view peer,
    const std::vector<std::pair<uint64_t, std::string>>& messages, uint64_t ack) {
  ASSIGN_OR_RETURN(MailboxDeviceState state, Load(ctx));
  auto it = state.peers.find(std::string(peer));
  if (it == state.peers.end()) {
    return absl::NotFoundError(StrCat("unknown mailbox peer '", peer, "'"));
  }
  if (state.handler.empty()) {
    return absl::FailedPreconditionError("no inbound handler registered with the mailbox device");
  }
  PeerMailbox& box = it->second;
  Json fresh = Json::MakeArray();
  uint64_t highest = box.inbound_delivered;
  for (const auto& [num, body] : messages) {
    // Messages may arrive unsorted or repeated; hand each new number over once, in order.
    if (num > box.inbound_delivered) fresh.Push(Json::MakeArray({Json(num), Json(body)}));
    if (num > highest) highest = num;
  }
  if (!fresh.as_array().empty()) {
    std::sort(fresh.as_array().begin(), fresh.as_array().end(), [](const Json& x, const Json& y) {
      return x.as_array()[0].as_int() < y.as_array()[0].as_int();
    });
    Json dedup = Json::MakeArray();
    for (Json& m : fresh.as_array()) {
      if (!dedup.as_array().empty() &&
          dedup.as_array().back().as_array()[0].as_int() == m.as_array()[0].as_int()) {
        continue;  // the first copy of a number wins
      }
      dedup.Push(std::move(m));
    }
    CapData args{smallcaps::EncodePlain(Json::MakeArray({Json(peer), std::move(dedup)})), {}};
    RETURN_IF_ERROR(ctx->SendOnly(state.handler, "deliverInboundMessages", args));
    box.inbound_delivered = highest;
  }
  if (ack > box.inbound_ack_delivered) {
    CapData args{smallcaps::EncodePlain(Json::MakeArray({Json(peer), Json(ack)})), {}};
    RETURN_IF_ERROR(ctx->SendOnly(state.handler, "deliverInboundAck", args));
    box.inbound_ack_delivered = ack;
  }
  cached_state_ = std::move(state);
  Store(ctx);
  return absl::OkStatus();
}

absl::Status MailboxDevice::AddPeers(DeviceContext* ctx, const std::vector<std::string>& peers) {
  ASSIGN_OR_RETURN(MailboxDeviceState state, Load(ctx));
  for (const std::string& p : peers) {
    if (!IsValidPeerName(p)) return absl::InvalidArgumentError(StrCat("bad peer name '", p, "'"));
    state.peers[p];
  }
  cached_state_ = std::move(state);
  Store(ctx);
  return absl::OkStatus();
}

}  // namespace swingset
