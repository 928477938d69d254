#include "server/mailbox_device.h"

#include <algorithm>
#include <functional>
#include <memory>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"

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

// The counters of a peer record (everything but the outbox bodies).
struct PeerCounters {
  uint64_t ack = 0;
  uint64_t inbound = 0;
  uint64_t inbound_ack = 0;
  uint64_t out_bytes = 0;  // sum over the outbox of body size + kOutboxMessageOverhead
  uint64_t out_count = 0;  // messages in the outbox
};

std::string SerializeCounters(const PeerCounters& c) {
  return StrCat("{\"ack\":", c.ack, ",\"inbound\":", c.inbound, ",\"inboundAck\":", c.inbound_ack,
                ",\"outBytes\":", c.out_bytes, ",\"outCount\":", c.out_count, "}");
}

// An absent field reads as 0 (records written before the outbox counts existed).
bool GetOptionalNat(const Json& j, std::string_view key, uint64_t* out) {
  const Json* v = j.Find(key);
  if (!v) {
    *out = 0;
    return true;
  }
  return GetNat(v, out);
}

absl::StatusOr<PeerCounters> ParseCounters(std::string_view peer, std::string_view text) {
  absl::StatusOr<Json> j = Json::Parse(text);
  PeerCounters c;
  if (!j.ok() || !j->is_object() || !GetNat(j->Find("ack"), &c.ack) ||
      !GetNat(j->Find("inbound"), &c.inbound) || !GetNat(j->Find("inboundAck"), &c.inbound_ack) ||
      !GetOptionalNat(*j, "outBytes", &c.out_bytes) ||
      !GetOptionalNat(*j, "outCount", &c.out_count)) {
    return Corrupt(StrCat("bad record for peer ", peer));
  }
  return c;
}

std::string SerializeLimits(const MailboxLimits& l) {
  return StrCat("{\"maxBodyBytes\":", l.max_body_bytes, ",\"maxOutboxBytes\":", l.max_outbox_bytes,
                ",\"maxOutboxMessages\":", l.max_outbox_messages, ",\"maxPeers\":", l.max_peers,
                "}");
}

absl::StatusOr<MailboxLimits> ReadLimits(DeviceContext* ctx) {
  MailboxLimits l;
  std::optional<std::string> text = ctx->GetStateKey(mailbox_keys::kLimits);
  if (!text) return l;
  absl::StatusOr<Json> j = Json::Parse(*text);
  auto get = [&](std::string_view key, uint64_t* out) {
    const Json* v = j->Find(key);
    if (!v || !v->is_int() || v->as_int() < 0) return false;
    *out = static_cast<uint64_t>(v->as_int());
    return true;
  };
  if (!j.ok() || !j->is_object() || !get("maxBodyBytes", &l.max_body_bytes) ||
      !get("maxOutboxBytes", &l.max_outbox_bytes) ||
      !get("maxOutboxMessages", &l.max_outbox_messages) || !get("maxPeers", &l.max_peers)) {
    return Corrupt("bad limits record");
  }
  return l;
}

absl::StatusOr<uint64_t> ReadPeerCount(DeviceContext* ctx) {
  std::optional<std::string> text = ctx->GetStateKey(mailbox_keys::kPeerCount);
  uint64_t n = 0;
  if (text && !ParseNat(*text, &n)) return Corrupt("bad peer count");
  return n;
}

// The number at the end of an outbox key ("...|0000000000000042").
bool ParseOutboxNum(std::string_view key, uint64_t* num) {
  size_t bar = key.rfind('|');
  if (bar == std::string_view::npos || key.size() - bar - 1 != 16) return false;
  uint64_t v = 0;
  for (char c : key.substr(bar + 1)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *num = v;
  return v <= kMaxMailboxNumber;
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

// Reads a peer's counters through the device context; nullopt for an unknown peer.
absl::StatusOr<std::optional<PeerCounters>> ReadCounters(DeviceContext* ctx,
                                                         std::string_view peer) {
  std::optional<std::string> text = ctx->GetStateKey(mailbox_keys::Peer(peer));
  if (!text) return std::optional<PeerCounters>();
  ASSIGN_OR_RETURN(PeerCounters c, ParseCounters(peer, *text));
  return std::optional<PeerCounters>(c);
}

// The peer's counters, creating the peer record if the peer is new. kResourceExhausted when a
// new peer would exceed `max_peers` (nothing written).
absl::StatusOr<PeerCounters> EnsurePeer(DeviceContext* ctx, std::string_view peer,
                                        uint64_t max_peers) {
  ASSIGN_OR_RETURN(std::optional<PeerCounters> c, ReadCounters(ctx, peer));
  if (c) return *c;
  ASSIGN_OR_RETURN(uint64_t count, ReadPeerCount(ctx));
  if (count >= max_peers) {
    return absl::ResourceExhaustedError(
        StrCat("a new peer would exceed the limit of ", max_peers, " peers (max_mailbox_peers)"));
  }
  ctx->SetStateKey(mailbox_keys::kPeerCount, StrCat(count + 1));
  ctx->SetStateKey(mailbox_keys::Peer(peer), SerializeCounters(PeerCounters()));
  return PeerCounters();
}

}  // namespace

namespace mailbox_keys {
std::string Peer(std::string_view peer) { return StrCat(kPeerPrefix, peer); }
std::string OutboxPrefix(std::string_view peer) { return StrCat("out.", peer, "|"); }
std::string Outbox(std::string_view peer, uint64_t num) {
  std::string digits = StrCat(num);
  return StrCat(OutboxPrefix(peer), std::string(16 - std::min<size_t>(16, digits.size()), '0'),
                digits);
}
}  // namespace mailbox_keys

bool IsValidPeerName(std::string_view peer) {
  if (peer.empty() || peer.size() > 128) return false;
  for (char c : peer) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// ---- MailboxDevice

SyscallResult MailboxDevice::Invoke(DeviceContext* ctx, std::string_view node,
                                    std::string_view method, const CapData& args) {
  if (node != "d+0") return Error(StrCat("unknown device node ", node));
  absl::StatusOr<Json> decoded = smallcaps::Decode(args);
  if (!decoded.ok()) return Error(std::string(decoded.status().message()));
  if (!decoded->is_array()) return Error("arguments are not an array");
  const Json& a = *decoded;

  std::string peer;
  uint64_t num = 0;
  if (method == "registerInboundHandler") {
    if (a.as_array().size() != 1 || !smallcaps::IsSlotRef(a.as_array()[0])) {
      return Error("registerInboundHandler(handler) needs one object");
    }
    ctx->SetStateKey(mailbox_keys::kHandler, smallcaps::SlotOf(a.as_array()[0]));
    return Ok();
  }
  if (method == "add") {
    if (a.as_array().size() != 3 || !ArgPeer(a, 0, &peer) || !ArgNat(a, 1, &num) ||
        !a.as_array()[2].is_string()) {
      return Error("add(peer, num, body) needs a peer name, a number and a string");
    }
    // Bodies leave in a protobuf string field (MailboxMessage.body), which must be UTF-8: a
    // body holding a lone surrogate is refused here, at the vat's callNow, deterministically.
    if (!IsValidUtf8(a.as_array()[2].as_string())) {
      return Error("add: the body is not well-formed Unicode (it holds a lone surrogate)");
    }
  } else if (method == "remove" || method == "setAcknum") {
    if (a.as_array().size() != 2 || !ArgPeer(a, 0, &peer) || !ArgNat(a, 1, &num)) {
      return Error(StrCat(method, "(peer, num) needs a peer name and a number"));
    }
  } else if (method == "addPeer") {
    if (a.as_array().size() != 1 || !ArgPeer(a, 0, &peer)) {
      return Error("addPeer(peer) needs a peer name");
    }
  } else {
    return Error(StrCat("unknown method ", method));
  }

  absl::StatusOr<MailboxLimits> limits = ReadLimits(ctx);
  if (!limits.ok()) return Error(std::string(limits.status().message()));
  // An add is checked against the limits before anything is written.
  const std::string out_key = mailbox_keys::Outbox(peer, num);
  std::optional<std::string> old_body;
  if (method == "add" || method == "remove") old_body = ctx->GetStateKey(out_key);
  if (method == "add") {
    const std::string& body = a.as_array()[2].as_string();
    if (body.size() > limits->max_body_bytes) {
      return Error(StrCat("add: a body of ", body.size(), " bytes exceeds the limit of ",
                          limits->max_body_bytes, " (max_mailbox_body_bytes)"));
    }
  }
  absl::StatusOr<PeerCounters> counters = EnsurePeer(ctx, peer, limits->max_peers);
  if (!counters.ok()) return Error(std::string(counters.status().message()));
  if (method == "add") {
    const std::string& body = a.as_array()[2].as_string();
    PeerCounters next = *counters;
    if (old_body) {
      next.out_bytes -= std::min(next.out_bytes, old_body->size() + kOutboxMessageOverhead);
      next.out_count -= std::min<uint64_t>(next.out_count, 1);
    }
    next.out_bytes += body.size() + kOutboxMessageOverhead;
    next.out_count += 1;
    if (next.out_count > limits->max_outbox_messages) {
      return Error(StrCat("add: the outbox for ", peer, " holds ", counters->out_count,
                          " messages, the limit (max_outbox_messages)"));
    }
    if (next.out_bytes > limits->max_outbox_bytes) {
      return Error(StrCat("add: the outbox for ", peer, " would hold ", next.out_bytes,
                          " bytes, above the limit of ", limits->max_outbox_bytes,
                          " (max_outbox_bytes)"));
    }
    touched_.insert(peer);
    ctx->SetStateKey(out_key, body);
    ctx->SetStateKey(mailbox_keys::Peer(peer), SerializeCounters(next));
    return Ok();
  }
  touched_.insert(peer);
  if (method == "remove") {
    if (old_body) {
      PeerCounters next = *counters;
      next.out_bytes -= std::min(next.out_bytes, old_body->size() + kOutboxMessageOverhead);
      next.out_count -= std::min<uint64_t>(next.out_count, 1);
      ctx->DeleteStateKey(out_key);
      ctx->SetStateKey(mailbox_keys::Peer(peer), SerializeCounters(next));
    }
  } else if (method == "setAcknum" && counters->ack != num) {
    counters->ack = num;
    ctx->SetStateKey(mailbox_keys::Peer(peer), SerializeCounters(*counters));
  }
  return Ok();
}

absl::Status MailboxDevice::DeliverInbound(
    DeviceContext* ctx, std::string_view peer,
    const std::vector<std::pair<uint64_t, std::string>>& messages, uint64_t ack) {
  ASSIGN_OR_RETURN(std::optional<PeerCounters> counters, ReadCounters(ctx, peer));
  if (!counters) return absl::NotFoundError(StrCat("unknown mailbox peer '", peer, "'"));
  std::optional<std::string> handler = ctx->GetStateKey(mailbox_keys::kHandler);
  if (!handler) {
    return absl::FailedPreconditionError("no inbound handler registered with the mailbox device");
  }
  // A send to an object of a terminated vat is dropped: marking the messages delivered (and
  // the ack forwarded) would lose them for good.
  if (!ctx->CanDeliverTo(*handler)) {
    return absl::FailedPreconditionError(
        "the mailbox handler's vat is terminated; nothing was delivered");
  }
  // Messages may arrive unsorted or repeated; hand each new number over once, in order (the
  // first copy of a number wins).
  std::vector<const std::pair<uint64_t, std::string>*> fresh;
  for (const auto& m : messages) {
    if (m.first > counters->inbound) fresh.push_back(&m);
  }
  std::stable_sort(fresh.begin(), fresh.end(),
                   [](const auto* x, const auto* y) { return x->first < y->first; });
  PeerCounters next = *counters;
  if (!fresh.empty()) {
    Json list = Json::MakeArray();
    uint64_t last = 0;
    for (const auto* m : fresh) {
      if (!list.as_array().empty() && m->first == last) continue;
      list.Push(Json::MakeArray({Json(m->first), Json(m->second)}));
      last = m->first;
    }
    CapData args{smallcaps::EncodePlain(Json::MakeArray({Json(peer), std::move(list)})), {}};
    RETURN_IF_ERROR(ctx->SendOnly(*handler, "deliverInboundMessages", args));
    next.inbound = last;
  }
  if (ack > counters->inbound_ack) {
    CapData args{smallcaps::EncodePlain(Json::MakeArray({Json(peer), Json(ack)})), {}};
    RETURN_IF_ERROR(ctx->SendOnly(*handler, "deliverInboundAck", args));
    next.inbound_ack = ack;
  }
  if (next.inbound != counters->inbound || next.inbound_ack != counters->inbound_ack) {
    ctx->SetStateKey(mailbox_keys::Peer(peer), SerializeCounters(next));
  }
  return absl::OkStatus();
}

absl::Status MailboxDevice::AddPeers(DeviceContext* ctx, const std::vector<std::string>& peers) {
  for (const std::string& p : peers) {
    if (!IsValidPeerName(p)) return absl::InvalidArgumentError(StrCat("bad peer name '", p, "'"));
  }
  ASSIGN_OR_RETURN(MailboxLimits limits, ReadLimits(ctx));
  ASSIGN_OR_RETURN(uint64_t count, ReadPeerCount(ctx));
  if (count + peers.size() > limits.max_peers) {
    return absl::InvalidArgumentError(StrCat(count + peers.size(), " peers exceed the limit of ",
                                             limits.max_peers, " (max_mailbox_peers)"));
  }
  for (const std::string& p : peers) RETURN_IF_ERROR(EnsurePeer(ctx, p, limits.max_peers).status());
  return absl::OkStatus();
}

void MailboxDevice::SetLimits(DeviceContext* ctx, const MailboxLimits& limits) {
  ctx->SetStateKey(mailbox_keys::kLimits, SerializeLimits(limits));
}

absl::StatusOr<bool> MailboxDevice::IsKnownPeer(DeviceContext* ctx, std::string_view peer) {
  return ctx->GetStateKey(mailbox_keys::Peer(peer)).has_value();
}

absl::StatusOr<bool> MailboxDevice::HasHandler(DeviceContext* ctx) {
  return ctx->GetStateKey(mailbox_keys::kHandler).has_value();
}

// ---- MailboxReader

absl::StatusOr<std::optional<std::string>> MailboxReader::Get(const std::string& key) const {
  std::string full = StrCat(prefix_, key);
  if (overlay_) {
    auto it = overlay_->find(full);
    if (it != overlay_->end()) return it->second;
  }
  return snap_->Get(full);
}

absl::Status MailboxReader::Scan(
    const std::string& prefix,
    const std::function<absl::Status(std::string_view, std::string_view)>& fn) const {
  const std::string full = StrCat(prefix_, prefix);
  auto in_range = [&](std::string_view k) { return k.substr(0, full.size()) == full; };
  std::unique_ptr<KvIterator> it = snap_->NewIterator();
  it->Seek(full);
  Overlay::const_iterator o, o_end;
  if (overlay_) {
    o = overlay_->lower_bound(full);
    o_end = overlay_->end();
  }
  auto overlay_valid = [&] { return overlay_ && o != o_end && in_range(o->first); };
  // Merge the two sorted sequences; an overlay entry replaces (or deletes) the stored one.
  while ((it->Valid() && in_range(it->key())) || overlay_valid()) {
    bool take_store = it->Valid() && in_range(it->key()) &&
                      (!overlay_valid() || it->key() < std::string_view(o->first));
    if (take_store) {
      RETURN_IF_ERROR(fn(it->key().substr(prefix_.size()), it->value()));
      it->Next();
      continue;
    }
    if (it->Valid() && it->key() == std::string_view(o->first)) it->Next();
    if (o->second) {
      RETURN_IF_ERROR(fn(std::string_view(o->first).substr(prefix_.size()), *o->second));
    }
    ++o;
  }
  return it->status();
}

absl::StatusOr<std::optional<PeerMailbox>> MailboxReader::ReadPeer(std::string_view peer) const {
  ASSIGN_OR_RETURN(std::optional<std::string> record, Get(mailbox_keys::Peer(peer)));
  if (!record) return std::optional<PeerMailbox>();
  ASSIGN_OR_RETURN(PeerCounters c, ParseCounters(peer, *record));
  PeerMailbox box;
  box.ack = c.ack;
  box.inbound_delivered = c.inbound;
  box.inbound_ack_delivered = c.inbound_ack;
  RETURN_IF_ERROR(Scan(mailbox_keys::OutboxPrefix(peer),
                       [&](std::string_view key, std::string_view body) -> absl::Status {
                         uint64_t num;
                         if (!ParseOutboxNum(key, &num)) {
                           return Corrupt(StrCat("bad outbox key ", key));
                         }
                         box.outbox[num] = std::string(body);
                         return absl::OkStatus();
                       }));
  return std::optional<PeerMailbox>(std::move(box));
}

absl::StatusOr<std::vector<std::string>> MailboxReader::Peers() const {
  std::vector<std::string> peers;
  RETURN_IF_ERROR(Scan(std::string(mailbox_keys::kPeerPrefix),
                       [&](std::string_view key, std::string_view) -> absl::Status {
                         peers.push_back(
                             std::string(key.substr(mailbox_keys::kPeerPrefix.size())));
                         return absl::OkStatus();
                       }));
  return peers;
}

absl::StatusOr<bool> MailboxReader::HasHandler() const {
  ASSIGN_OR_RETURN(std::optional<std::string> h, Get(std::string(mailbox_keys::kHandler)));
  return h.has_value();
}

}  // namespace swingset
