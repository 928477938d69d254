#include "kernel/vat_host.h"

#include "kernel/strings.h"
#include "kernel/base.h"

namespace swingset {
namespace {

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("malformed ", what));
}

Json StringArray(const std::vector<std::string>& v) {
  Json a = Json::MakeArray();
  for (const auto& s : v) a.Push(Json(s));
  return a;
}

absl::StatusOr<std::vector<std::string>> StringArrayFrom(const Json& j, std::string_view what) {
  if (!j.is_array()) return Bad(what);
  std::vector<std::string> out;
  out.reserve(j.as_array().size());
  for (const Json& e : j.as_array()) {
    if (!e.is_string()) return Bad(what);
    out.push_back(e.as_string());
  }
  return out;
}

Json ResolutionsToJson(const std::vector<Resolution>& rs) {
  Json a = Json::MakeArray();
  for (const Resolution& r : rs) {
    a.Push(Json::MakeArray({Json(r.vpid), Json(r.rejected), CapDataToJson(r.data)}));
  }
  return a;
}

absl::StatusOr<std::vector<Resolution>> ResolutionsFromJson(const Json& j) {
  if (!j.is_array()) return Bad("resolutions");
  std::vector<Resolution> out;
  for (const Json& e : j.as_array()) {
    if (!e.is_array() || e.as_array().size() != 3 || !e.as_array()[0].is_string() ||
        !e.as_array()[1].is_bool()) {
      return Bad("resolution");
    }
    Resolution r;
    r.vpid = e.as_array()[0].as_string();
    r.rejected = e.as_array()[1].as_bool();
    ASSIGN_OR_RETURN(r.data, CapDataFromJson(e.as_array()[2]));
    out.push_back(std::move(r));
  }
  return out;
}

// {methargs, result} as in docs/KERNEL_SPEC.md §3.2. `result` is written as null when absent.
Json MessageToJson(const CapData& methargs, const std::optional<std::string>& result) {
  Json m = Json::MakeObject();
  m.Set("methargs", CapDataToJson(methargs));
  m.Set("result", result ? Json(*result) : Json());
  return m;
}

absl::Status MessageFromJson(const Json& j, CapData* methargs, std::optional<std::string>* result) {
  if (!j.is_object()) return Bad("message");
  const Json* ma = j.Find("methargs");
  if (!ma) return Bad("message: no methargs");
  ASSIGN_OR_RETURN(*methargs, CapDataFromJson(*ma));
  const Json* r = j.Find("result");
  if (r && r->is_string()) {
    *result = r->as_string();
  } else if (r && !r->is_null()) {
    return Bad("message result");
  } else {
    result->reset();
  }
  return absl::OkStatus();
}

}  // namespace

Json CapDataToJson(const CapData& c) {
  Json o = Json::MakeObject();
  o.Set("body", Json(c.body));
  o.Set("slots", StringArray(c.slots));
  return o;
}

absl::StatusOr<CapData> CapDataFromJson(const Json& j) {
  if (!j.is_object()) return Bad("capdata");
  const Json* body = j.Find("body");
  const Json* slots = j.Find("slots");
  if (!body || !body->is_string() || !slots) return Bad("capdata");
  CapData c;
  c.body = body->as_string();
  ASSIGN_OR_RETURN(c.slots, StringArrayFrom(*slots, "capdata slots"));
  return c;
}

const char* DeliveryTypeName(VatDelivery::Type t) {
  switch (t) {
    case VatDelivery::Type::kMessage: return "message";
    case VatDelivery::Type::kNotify: return "notify";
    case VatDelivery::Type::kDropExports: return "dropExports";
    case VatDelivery::Type::kRetireExports: return "retireExports";
    case VatDelivery::Type::kRetireImports: return "retireImports";
    case VatDelivery::Type::kBringOutYourDead: return "bringOutYourDead";
    case VatDelivery::Type::kStartVat: return "startVat";
    case VatDelivery::Type::kChangeVatOptions: return "changeVatOptions";
    case VatDelivery::Type::kStopVat: return "stopVat";
  }
  return "?";
}

Json VatDelivery::ToJson() const {
  Json a = Json::MakeArray({Json(DeliveryTypeName(type))});
  switch (type) {
    case Type::kMessage:
      a.Push(Json(target));
      a.Push(MessageToJson(methargs, result));
      break;
    case Type::kNotify: a.Push(ResolutionsToJson(resolutions)); break;
    case Type::kDropExports:
    case Type::kRetireExports:
    case Type::kRetireImports: a.Push(StringArray(vrefs)); break;
    case Type::kBringOutYourDead: break;
    case Type::kStartVat:
    case Type::kStopVat: a.Push(CapDataToJson(vat_parameters)); break;
    case Type::kChangeVatOptions: a.Push(options); break;
  }
  return a;
}

absl::StatusOr<VatDelivery> VatDelivery::FromJson(const Json& j) {
  if (!j.is_array() || j.as_array().empty() || !j.as_array()[0].is_string()) {
    return Bad("delivery");
  }
  const auto& a = j.as_array();
  const std::string& t = a[0].as_string();
  VatDelivery d;
  auto need = [&](size_t n) -> absl::Status {
    return a.size() == n ? absl::OkStatus() : Bad(StrCat("delivery ", t));
  };
  if (t == "message") {
    RETURN_IF_ERROR(need(3));
    if (!a[1].is_string()) return Bad("delivery target");
    d.type = Type::kMessage;
    d.target = a[1].as_string();
    RETURN_IF_ERROR(MessageFromJson(a[2], &d.methargs, &d.result));
  } else if (t == "notify") {
    RETURN_IF_ERROR(need(2));
    d.type = Type::kNotify;
    ASSIGN_OR_RETURN(d.resolutions, ResolutionsFromJson(a[1]));
  } else if (t == "dropExports" || t == "retireExports" || t == "retireImports") {
    RETURN_IF_ERROR(need(2));
    d.type = t == "dropExports"     ? Type::kDropExports
             : t == "retireExports" ? Type::kRetireExports
                                    : Type::kRetireImports;
    ASSIGN_OR_RETURN(d.vrefs, StringArrayFrom(a[1], "vrefs"));
  } else if (t == "bringOutYourDead") {
    RETURN_IF_ERROR(need(1));
    d.type = Type::kBringOutYourDead;
  } else if (t == "startVat" || t == "stopVat") {
    RETURN_IF_ERROR(need(2));
    d.type = t == "startVat" ? Type::kStartVat : Type::kStopVat;
    ASSIGN_OR_RETURN(d.vat_parameters, CapDataFromJson(a[1]));
  } else if (t == "changeVatOptions") {
    RETURN_IF_ERROR(need(2));
    d.type = Type::kChangeVatOptions;
    d.options = a[1];
  } else {
    return Bad(StrCat("delivery type '", t, "'"));
  }
  return d;
}

namespace {
const char* SyscallTypeName(VatSyscall::Type t) {
  switch (t) {
    case VatSyscall::Type::kSend: return "send";
    case VatSyscall::Type::kSubscribe: return "subscribe";
    case VatSyscall::Type::kResolve: return "resolve";
    case VatSyscall::Type::kExit: return "exit";
    case VatSyscall::Type::kVatstoreGet: return "vatstoreGet";
    case VatSyscall::Type::kVatstoreGetNextKey: return "vatstoreGetNextKey";
    case VatSyscall::Type::kVatstoreSet: return "vatstoreSet";
    case VatSyscall::Type::kVatstoreDelete: return "vatstoreDelete";
    case VatSyscall::Type::kDropImports: return "dropImports";
    case VatSyscall::Type::kRetireImports: return "retireImports";
    case VatSyscall::Type::kRetireExports: return "retireExports";
    case VatSyscall::Type::kAbandonExports: return "abandonExports";
    case VatSyscall::Type::kCallNow: return "callNow";
  }
  return "?";
}
}  // namespace

Json VatSyscall::ToJson() const {
  Json a = Json::MakeArray({Json(SyscallTypeName(type))});
  switch (type) {
    case Type::kSend:
      a.Push(Json(target));
      a.Push(MessageToJson(methargs, result));
      break;
    case Type::kSubscribe: a.Push(Json(vpid)); break;
    case Type::kResolve: a.Push(ResolutionsToJson(resolutions)); break;
    case Type::kExit:
      a.Push(Json(is_failure));
      a.Push(CapDataToJson(info));
      break;
    case Type::kVatstoreGet:
    case Type::kVatstoreGetNextKey:
    case Type::kVatstoreDelete: a.Push(Json(key)); break;
    case Type::kVatstoreSet:
      a.Push(Json(key));
      a.Push(Json(value));
      break;
    case Type::kDropImports:
    case Type::kRetireImports:
    case Type::kRetireExports:
    case Type::kAbandonExports: a.Push(StringArray(vrefs)); break;
    case Type::kCallNow:
      a.Push(Json(target));
      a.Push(Json(method));
      a.Push(CapDataToJson(methargs));
      break;
  }
  return a;
}

absl::StatusOr<VatSyscall> VatSyscall::FromJson(const Json& j) {
  if (!j.is_array() || j.as_array().empty() || !j.as_array()[0].is_string()) {
    return Bad("syscall");
  }
  const auto& a = j.as_array();
  const std::string& t = a[0].as_string();
  VatSyscall s;
  auto need = [&](size_t n) -> absl::Status {
    return a.size() == n ? absl::OkStatus() : Bad(StrCat("syscall ", t));
  };
  auto str = [&](size_t i, std::string* out) -> absl::Status {
    if (!a[i].is_string()) return Bad(StrCat("syscall ", t, " argument"));
    *out = a[i].as_string();
    return absl::OkStatus();
  };
  if (t == "send") {
    RETURN_IF_ERROR(need(3));
    s.type = Type::kSend;
    RETURN_IF_ERROR(str(1, &s.target));
    RETURN_IF_ERROR(MessageFromJson(a[2], &s.methargs, &s.result));
  } else if (t == "subscribe") {
    RETURN_IF_ERROR(need(2));
    s.type = Type::kSubscribe;
    RETURN_IF_ERROR(str(1, &s.vpid));
  } else if (t == "resolve") {
    RETURN_IF_ERROR(need(2));
    s.type = Type::kResolve;
    ASSIGN_OR_RETURN(s.resolutions, ResolutionsFromJson(a[1]));
  } else if (t == "exit") {
    RETURN_IF_ERROR(need(3));
    s.type = Type::kExit;
    if (!a[1].is_bool()) return Bad("syscall exit");
    s.is_failure = a[1].as_bool();
    ASSIGN_OR_RETURN(s.info, CapDataFromJson(a[2]));
  } else if (t == "vatstoreGet" || t == "vatstoreGetNextKey" || t == "vatstoreDelete") {
    RETURN_IF_ERROR(need(2));
    s.type = t == "vatstoreGet"          ? Type::kVatstoreGet
             : t == "vatstoreGetNextKey" ? Type::kVatstoreGetNextKey
                                         : Type::kVatstoreDelete;
    RETURN_IF_ERROR(str(1, &s.key));
  } else if (t == "vatstoreSet") {
    RETURN_IF_ERROR(need(3));
    s.type = Type::kVatstoreSet;
    RETURN_IF_ERROR(str(1, &s.key));
    RETURN_IF_ERROR(str(2, &s.value));
  } else if (t == "dropImports" || t == "retireImports" || t == "retireExports" ||
             t == "abandonExports") {
    RETURN_IF_ERROR(need(2));
    s.type = t == "dropImports"     ? Type::kDropImports
             : t == "retireImports" ? Type::kRetireImports
             : t == "retireExports" ? Type::kRetireExports
                                    : Type::kAbandonExports;
    ASSIGN_OR_RETURN(s.vrefs, StringArrayFrom(a[1], "vrefs"));
  } else if (t == "callNow") {
    RETURN_IF_ERROR(need(4));
    s.type = Type::kCallNow;
    RETURN_IF_ERROR(str(1, &s.target));
    RETURN_IF_ERROR(str(2, &s.method));
    ASSIGN_OR_RETURN(s.methargs, CapDataFromJson(a[3]));
  } else {
    return Bad(StrCat("syscall type '", t, "'"));
  }
  return s;
}

Json SyscallResult::ToJson() const {
  if (ok) return Json::MakeArray({Json("ok"), data});
  return Json::MakeArray({Json("error"), Json(error)});
}

absl::StatusOr<SyscallResult> SyscallResult::FromJson(const Json& j) {
  if (!j.is_array() || j.as_array().size() != 2 || !j.as_array()[0].is_string()) {
    return Bad("syscall result");
  }
  SyscallResult r;
  const auto& a = j.as_array();
  if (a[0].as_string() == "ok") {
    r.ok = true;
    r.data = a[1];
  } else if (a[0].as_string() == "error" && a[1].is_string()) {
    r.ok = false;
    r.error = a[1].as_string();
  } else {
    return Bad("syscall result");
  }
  return r;
}

Json DeliveryResult::ToJson() const {
  Json meter;
  if (computrons) {
    meter = Json::MakeObject();
    meter.Set("compute", Json(static_cast<int64_t>(*computrons)));
  }
  if (ok) return Json::MakeArray({Json("ok"), Json(), std::move(meter)});
  return Json::MakeArray({Json("error"), Json(error), std::move(meter)});
}

absl::StatusOr<DeliveryResult> DeliveryResult::FromJson(const Json& j) {
  if (!j.is_array() || j.as_array().empty() || !j.as_array()[0].is_string()) {
    return Bad("delivery result");
  }
  DeliveryResult r;
  const auto& a = j.as_array();
  if (a[0].as_string() == "ok") {
    r.ok = true;
  } else if (a[0].as_string() == "error") {
    r.ok = false;
    r.error = a.size() > 1 && a[1].is_string() ? a[1].as_string() : "delivery failed";
  } else {
    return Bad("delivery result");
  }
  if (a.size() > 2 && a[2].is_object()) {
    const Json* compute = a[2].Find("compute");
    if (!compute || !compute->is_int() || compute->as_int() < 0) return Bad("delivery result meter");
    r.computrons = static_cast<uint64_t>(compute->as_int());
  }
  return r;
}

}  // namespace swingset
