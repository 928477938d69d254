#include "kernel/testing/fake_vat_host.h"

#include "absl/strings/str_join.h"
#include "kernel/strings.h"

namespace swingset {

namespace {
std::string Slots(const std::vector<std::string>& s) {
  return StrCat("[", absl::StrJoin(s, ","), "]");
}
}  // namespace

std::string DescribeDelivery(const VatDelivery& d) {
  std::string out = DeliveryTypeName(d.type);
  switch (d.type) {
    case VatDelivery::Type::kMessage:
      StrAppend(&out, " ", d.target, " ", d.methargs.body, " ", Slots(d.methargs.slots));
      if (d.result) StrAppend(&out, " -> ", *d.result);
      break;
    case VatDelivery::Type::kNotify:
      for (const Resolution& r : d.resolutions) {
        StrAppend(&out, " ", r.vpid, r.rejected ? " rejected " : " fulfilled ", r.data.body, " ",
                  Slots(r.data.slots));
      }
      break;
    case VatDelivery::Type::kDropExports:
    case VatDelivery::Type::kRetireExports:
    case VatDelivery::Type::kRetireImports:
      for (const std::string& v : d.vrefs) StrAppend(&out, " ", v);
      break;
    case VatDelivery::Type::kStartVat:
    case VatDelivery::Type::kStopVat:
      StrAppend(&out, " ", d.vat_parameters.body, " ", Slots(d.vat_parameters.slots));
      break;
    default:
      break;
  }
  return out;
}

SyscallResult VatCtx::Syscall(const VatSyscall& sc) {
  SyscallResult r = h_->Syscall(sc);
  if (!r.ok) any_failed_ = true;
  return r;
}

SyscallResult VatCtx::Send(const std::string& target, const std::string& method,
                           std::vector<std::string> slots, std::optional<std::string> result,
                           const std::string& args_json) {
  VatSyscall sc;
  sc.type = VatSyscall::Type::kSend;
  sc.target = target;
  std::string m;
  AppendJsonString(method, &m);
  std::string args = args_json;
  if (args.empty()) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < slots.size(); ++i) {
      parts.push_back(StrCat("\"", slots[i][0] == 'p' ? "&" : "$", i,
                             slots[i][0] == 'p' ? "" : ".Alleged: thing", "\""));
    }
    args = StrCat("[", absl::StrJoin(parts, ","), "]");
  }
  sc.methargs.body = StrCat("#[", m, ",", args, "]");
  sc.methargs.slots = std::move(slots);
  sc.result = std::move(result);
  return Syscall(sc);
}

SyscallResult VatCtx::Resolve(const std::string& vpid, bool rejected, const std::string& body,
                              std::vector<std::string> slots) {
  VatSyscall sc;
  sc.type = VatSyscall::Type::kResolve;
  sc.resolutions.push_back(Resolution{vpid, rejected, CapData{body, std::move(slots)}});
  return Syscall(sc);
}

SyscallResult VatCtx::Subscribe(const std::string& vpid) {
  VatSyscall sc;
  sc.type = VatSyscall::Type::kSubscribe;
  sc.vpid = vpid;
  return Syscall(sc);
}

SyscallResult VatCtx::Gc(VatSyscall::Type type, std::vector<std::string> vrefs) {
  VatSyscall sc;
  sc.type = type;
  sc.vrefs = std::move(vrefs);
  return Syscall(sc);
}

SyscallResult VatCtx::Exit(bool failure, const std::string& body) {
  VatSyscall sc;
  sc.type = VatSyscall::Type::kExit;
  sc.is_failure = failure;
  sc.info.body = body;
  return Syscall(sc);
}

absl::Status FakeVatHost::LoadVat(const VatSpec& spec) {
  if (!scripts_.contains(spec.source)) {
    return absl::NotFoundError(StrCat("no scripted vat '", spec.source, "'"));
  }
  loaded_[spec.vat_id.n()] = spec.source;
  return absl::OkStatus();
}

DeliveryResult FakeVatHost::Deliver(VatId vat, const VatDelivery& d, SyscallHandler* handler) {
  DeliveryResult r;
  auto it = loaded_.find(vat.n());
  if (it == loaded_.end()) {
    r.ok = false;
    r.error = "vat not loaded";
    return r;
  }
  if (log_enabled) log_.push_back(StrCat(vat.ToString(), ": ", DescribeDelivery(d)));
  VatCtx ctx(vat, handler);
  scripts_[it->second](d, ctx);
  r.computrons = ctx.computrons();
  if (ctx.failure()) {
    r.ok = false;
    r.error = *ctx.failure();
  }
  return r;
}

std::vector<std::string> FakeVatHost::LogFor(VatId vat) const {
  std::vector<std::string> out;
  std::string prefix = StrCat(vat.ToString(), ": ");
  for (const std::string& l : log_) {
    if (l.compare(0, prefix.size(), prefix) == 0) out.push_back(l.substr(prefix.size()));
  }
  return out;
}

}  // namespace swingset
