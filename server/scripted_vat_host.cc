#include "server/scripted_vat_host.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

constexpr std::string_view kRoot = "o+0";

// Thrown-free control flow: every helper records the first failed syscall, after which the
// delivery returns an error (the kernel has already doomed the vat).
class VatCall {
 public:
  explicit VatCall(SyscallHandler* h) : h_(h) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  SyscallResult Do(const VatSyscall& sc) {
    if (failed()) return SyscallResult{false, Json(), error_};
    SyscallResult r = h_->Syscall(sc);
    if (!r.ok) error_ = StrCat("syscall ", sc.ToJson().Dump(), " failed: ", r.error);
    return r;
  }

  std::optional<std::string> VsGet(std::string_view key) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kVatstoreGet;
    sc.key = std::string(key);
    SyscallResult r = Do(sc);
    if (!r.ok || !r.data.is_string()) return std::nullopt;
    return r.data.as_string();
  }
  uint64_t VsGetNat(std::string_view key, uint64_t dflt) {
    std::optional<std::string> v = VsGet(key);
    uint64_t n;
    return v && ParseNat(*v, &n) ? n : dflt;
  }
  void VsSet(std::string_view key, std::string_view value) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kVatstoreSet;
    sc.key = std::string(key);
    sc.value = std::string(value);
    Do(sc);
  }
  void VsDelete(std::string_view key) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kVatstoreDelete;
    sc.key = std::string(key);
    Do(sc);
  }
  // Allocates from a vatstore counter starting at 1.
  uint64_t Allocate(std::string_view counter) {
    uint64_t n = VsGetNat(counter, 1);
    VsSet(counter, StrCat(n + 1));
    return n;
  }

  void Resolve(const std::string& vpid, bool rejected, CapData data) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kResolve;
    sc.resolutions.push_back(Resolution{vpid, rejected, std::move(data)});
    Do(sc);
  }
  void Send(std::string_view target, std::string_view method, const Json& args,
            std::optional<std::string> result) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kSend;
    sc.target = std::string(target);
    sc.methargs = CapData{smallcaps::EncodePlain(Json::MakeArray({Json(method), args})), {}};
    sc.result = std::move(result);
    Do(sc);
  }
  void Subscribe(std::string_view vpid) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kSubscribe;
    sc.vpid = std::string(vpid);
    Do(sc);
  }
  void CallNow(std::string_view device, std::string_view method, CapData args) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kCallNow;
    sc.target = std::string(device);
    sc.method = std::string(method);
    sc.methargs = std::move(args);
    Do(sc);
  }
  void CallNowPlain(std::string_view device, std::string_view method, const Json& args) {
    CallNow(device, method, CapData{smallcaps::EncodePlain(args), {}});
  }
  void Exit(std::string_view reason) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kExit;
    sc.is_failure = true;
    sc.info = CapData{smallcaps::ErrorBody(reason), {}};
    Do(sc);
  }
  void RetireExports(std::vector<std::string> vrefs) {
    VatSyscall sc;
    sc.type = VatSyscall::Type::kRetireExports;
    sc.vrefs = std::move(vrefs);
    Do(sc);
  }

 private:
  SyscallHandler* h_;
  std::string error_;
};

// The message being handled: method, decoded args and the result promise (if any).
struct Call {
  std::string target;
  std::string method;
  Json args;  // decoded array
  std::optional<std::string> result;
};

void Fulfill(VatCall& vc, const Call& c, const Json& plain) {
  if (c.result) vc.Resolve(*c.result, false, CapData{smallcaps::EncodePlain(plain), {}});
}
void FulfillUndefined(VatCall& vc, const Call& c) {
  if (c.result) vc.Resolve(*c.result, false, CapData{smallcaps::UndefinedBody(), {}});
}
void Reject(VatCall& vc, const Call& c, std::string_view message) {
  if (c.result) vc.Resolve(*c.result, true, CapData{smallcaps::ErrorBody(message), {}});
}

const Json* Arg(const Call& c, size_t i) {
  return i < c.args.as_array().size() ? &c.args.as_array()[i] : nullptr;
}
std::string ArgString(const Call& c, size_t i) {
  const Json* a = Arg(c, i);
  return a && a->is_string() ? a->as_string() : std::string();
}
bool ArgInt(const Call& c, size_t i, int64_t* out) {
  const Json* a = Arg(c, i);
  if (!a || !a->is_int()) return false;
  *out = a->as_int();
  return true;
}

void NoMethod(VatCall& vc, const Call& c) {
  Reject(vc, c, StrCat("data is not callable, has no method ", c.method));
}

// ---- scripted:counter

void CounterRoot(VatCall& vc, const Call& c) {
  const std::string& m = c.method;
  if (m == "increment") {
    int64_t n = 1;
    if (Arg(c, 0) && (!ArgInt(c, 0, &n) || n < 0)) return Reject(vc, c, "increment(n): n must be a natural number");
    uint64_t count = vc.VsGetNat("count", 0) + static_cast<uint64_t>(n);
    vc.VsSet("count", StrCat(count));
    return Fulfill(vc, c, Json(count));
  }
  if (m == "get") return Fulfill(vc, c, Json(vc.VsGetNat("count", 0)));
  if (m == "echo") return Fulfill(vc, c, c.args);
  if (m == "chain") {
    int64_t n;
    if (!ArgInt(c, 0, &n) || n < 0) return Reject(vc, c, "chain(n): n must be a natural number");
    if (n > 0) vc.Send(kRoot, "chain", Json::MakeArray({Json(n - 1)}), std::nullopt);
    vc.VsSet("chain.last", StrCat(n));
    return Fulfill(vc, c, Json(n));
  }
  if (m == "fail") return Reject(vc, c, ArgString(c, 0).empty() ? "failed" : ArgString(c, 0));
  if (m == "makeThing") {
    uint64_t n = vc.Allocate("sys.nextExport");
    std::string vref = StrCat("o+", n);
    vc.VsSet(StrCat("thing.", vref), ArgString(c, 0));
    if (c.result) vc.Resolve(*c.result, false, CapData{"#\"$0.Alleged: thing\"", {vref}});
    return;
  }
  if (m == "store") {
    std::string key = ArgString(c, 0);
    const Json* v = Arg(c, 1);
    if (key.empty() || !v) return Reject(vc, c, "store(key, value) needs a key and a value");
    vc.VsSet(StrCat("data.", key), v->Dump());
    return FulfillUndefined(vc, c);
  }
  if (m == "load") {
    std::optional<std::string> v = vc.VsGet(StrCat("data.", ArgString(c, 0)));
    if (!v) return Fulfill(vc, c, Json());
    absl::StatusOr<Json> parsed = Json::Parse(*v);
    return Fulfill(vc, c, parsed.ok() ? *parsed : Json());
  }
  if (m == "burn") {
    int64_t n;
    if (!ArgInt(c, 0, &n) || n < 0 || n > 100000) return Reject(vc, c, "burn(n): 0 <= n <= 100000");
    uint64_t round = vc.Allocate("burn.round");
    for (int64_t i = 0; i < n; ++i) vc.VsSet(StrCat("burn.", i), StrCat(round, ":", i));
    return Fulfill(vc, c, Json(n));
  }
  if (m == "die") {
    vc.Exit(ArgString(c, 0).empty() ? "died" : ArgString(c, 0));
    return Reject(vc, c, "vat is exiting");
  }
  NoMethod(vc, c);
}

void CounterThing(VatCall& vc, const Call& c) {
  std::optional<std::string> label = vc.VsGet(StrCat("thing.", c.target));
  if (!label) return Reject(vc, c, StrCat("no such object ", c.target));
  if (c.method == "describe") return Fulfill(vc, c, Json(*label));
  NoMethod(vc, c);
}

// ---- scripted:bootstrap

void BootstrapRoot(VatCall& vc, const Call& c) {
  const std::string& m = c.method;
  if (m == "bootstrap") {
    const Json* vats = Arg(c, 0);
    const Json* devices = Arg(c, 1);
    if (vats && vats->is_object()) {
      for (const auto& [name, ref] : vats->as_object()) {
        if (smallcaps::IsSlotRef(ref)) vc.VsSet(StrCat("vat.", name), smallcaps::SlotOf(ref));
      }
    }
    if (devices && devices->is_object()) {
      for (const auto& [name, ref] : devices->as_object()) {
        if (smallcaps::IsSlotRef(ref)) vc.VsSet(StrCat("dev.", name), smallcaps::SlotOf(ref));
      }
    }
    if (std::optional<std::string> mailbox = vc.VsGet("dev.mailbox")) {
      vc.CallNow(*mailbox, "registerInboundHandler",
                 CapData{"#[\"$0.Alleged: inbound handler\"]", {std::string(kRoot)}});
    }
    return FulfillUndefined(vc, c);
  }
  if (m == "ping") return Fulfill(vc, c, Json("pong"));
  if (m == "deliverInboundMessages" || m == "send") {
    std::optional<std::string> mailbox = vc.VsGet("dev.mailbox");
    std::string peer = ArgString(c, 0);
    if (!mailbox) return Reject(vc, c, "no mailbox device");
    if (peer.empty()) return Reject(vc, c, StrCat(m, ": no peer"));
    std::string next_key = StrCat("out.next.", peer);
    uint64_t next = vc.VsGetNat(next_key, 1);
    if (m == "send") {
      vc.CallNowPlain(*mailbox, "add", Json::MakeArray({Json(peer), Json(next), Json(ArgString(c, 1))}));
      vc.VsSet(next_key, StrCat(next + 1));
      return Fulfill(vc, c, Json(next));
    }
    const Json* msgs = Arg(c, 1);
    if (!msgs || !msgs->is_array()) return;
    int64_t last = -1;
    for (const Json& msg : msgs->as_array()) {
      if (!msg.is_array() || msg.as_array().size() != 2 || !msg.as_array()[1].is_string()) continue;
      vc.CallNowPlain(*mailbox, "add",
                      Json::MakeArray({Json(peer), Json(next++),
                                       Json(StrCat("echo:", msg.as_array()[1].as_string()))}));
      last = msg.as_array()[0].as_int();
    }
    vc.VsSet(next_key, StrCat(next));
    if (last >= 0) vc.CallNowPlain(*mailbox, "setAcknum", Json::MakeArray({Json(peer), Json(last)}));
    return;
  }
  if (m == "deliverInboundAck") {
    std::optional<std::string> mailbox = vc.VsGet("dev.mailbox");
    std::string peer = ArgString(c, 0);
    int64_t ack;
    if (!mailbox || peer.empty() || !ArgInt(c, 1, &ack) || ack < 0) return;
    std::string low_key = StrCat("out.low.", peer);
    uint64_t low = vc.VsGetNat(low_key, 1);
    uint64_t next = vc.VsGetNat(StrCat("out.next.", peer), 1);
    uint64_t upto = std::min<uint64_t>(static_cast<uint64_t>(ack), next - 1);
    for (uint64_t n = low; n <= upto; ++n) {
      vc.CallNowPlain(*mailbox, "remove", Json::MakeArray({Json(peer), Json(n)}));
    }
    if (upto + 1 > low) vc.VsSet(low_key, StrCat(upto + 1));
    return;
  }
  if (m == "relay") {
    std::string vat = ArgString(c, 0);
    std::string method = ArgString(c, 1);
    const Json* args = Arg(c, 2);
    std::optional<std::string> target = vc.VsGet(StrCat("vat.", vat));
    if (!target) return Reject(vc, c, StrCat("relay: unknown vat ", vat));
    if (method.empty()) return Reject(vc, c, "relay: no method");
    std::string p = StrCat("p+", vc.Allocate("sys.nextPromise"));
    vc.Send(*target, method, args && args->is_array() ? *args : Json::MakeArray(), p);
    vc.Subscribe(p);
    if (c.result) vc.VsSet(StrCat("relay.", p), *c.result);
    return;
  }
  NoMethod(vc, c);
}

// Forwards settled relay promises to the callers' result promises.
void BootstrapNotify(VatCall& vc, const std::vector<Resolution>& resolutions) {
  for (const Resolution& r : resolutions) {
    std::string key = StrCat("relay.", r.vpid);
    std::optional<std::string> outer = vc.VsGet(key);
    if (!outer) continue;
    vc.VsDelete(key);
    vc.Resolve(*outer, r.rejected, r.data);
  }
}

absl::StatusOr<Call> ParseMessage(const VatDelivery& d) {
  ASSIGN_OR_RETURN(Json methargs, smallcaps::Decode(d.methargs));
  if (!methargs.is_array() || methargs.as_array().size() != 2 ||
      !methargs.as_array()[0].is_string() || !methargs.as_array()[1].is_array()) {
    return absl::InvalidArgumentError("methargs is not [method, args]");
  }
  Call c;
  c.target = d.target;
  c.method = methargs.as_array()[0].as_string();
  c.args = methargs.as_array()[1];
  c.result = d.result;
  return c;
}

}  // namespace

absl::Status ScriptedVatHost::LoadVat(const VatSpec& spec) {
  if (!Handles(spec.source)) {
    return absl::InvalidArgumentError(StrCat("not a scripted vat source: ", spec.source));
  }
  std::string kind = spec.source.substr(kSourcePrefix.size());
  if (kind != "counter" && kind != "bootstrap") {
    return absl::InvalidArgumentError(StrCat("unknown scripted vat kind '", kind, "'"));
  }
  kinds_[spec.vat_id.n()] = kind;
  return absl::OkStatus();
}

void ScriptedVatHost::StopVat(VatId vat) { kinds_.erase(vat.n()); }

DeliveryResult ScriptedVatHost::Deliver(VatId vat, const VatDelivery& d, SyscallHandler* handler) {
  auto it = kinds_.find(vat.n());
  if (it == kinds_.end()) return DeliveryResult{false, StrCat("vat ", vat.ToString(), " not loaded")};
  const std::string& kind = it->second;
  VatCall vc(handler);
  switch (d.type) {
    case VatDelivery::Type::kMessage: {
      absl::StatusOr<Call> call = ParseMessage(d);
      if (!call.ok()) return DeliveryResult{false, std::string(call.status().message())};
      if (kind == "counter") {
        if (call->target == kRoot) {
          CounterRoot(vc, *call);
        } else {
          CounterThing(vc, *call);
        }
      } else if (call->target == kRoot) {
        BootstrapRoot(vc, *call);
      } else {
        Reject(vc, *call, StrCat("no such object ", call->target));
      }
      break;
    }
    case VatDelivery::Type::kNotify:
      if (kind == "bootstrap") BootstrapNotify(vc, d.resolutions);
      break;
    case VatDelivery::Type::kDropExports: {
      // Things are not held anywhere else: once the kernel drops them they can be retired.
      std::vector<std::string> retire;
      for (const std::string& vref : d.vrefs) {
        if (vref != kRoot) {
          retire.push_back(vref);
          vc.VsDelete(StrCat("thing.", vref));
        }
      }
      if (!retire.empty()) vc.RetireExports(std::move(retire));
      break;
    }
    default:
      break;  // startVat, retire*, bringOutYourDead, changeVatOptions: nothing to do
  }
  if (vc.failed()) return DeliveryResult{false, vc.error()};
  return DeliveryResult{true, ""};
}

}  // namespace swingset
