// Vat<->kernel translation (docs/KERNEL_SPEC.md §4.3-§4.5) and syscall handling (§5).
//
// Errors returned here are vat-fatal: the syscall answers ['error', ...] and the vat is doomed
// (its crank is rolled back and it is terminated after the delivery). Contradictions in kernel
// state are CHECKs.

#include <algorithm>

#include "kernel/base.h"
#include "kernel/kernel_impl.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {

namespace {
absl::Status VatError(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }
}  // namespace

uint64_t KernelImpl::VatStoreBytes(VatId vat) {
  uint64_t n = 0;
  if (std::optional<std::string> v = buf_.Get(keys::VatStoreBytes(vat))) {
    SWINGSET_CHECK(ParseNat(*v, &n)) << "corrupt " << keys::VatStoreBytes(vat);
  }
  return n;
}

void KernelImpl::SetVatStoreBytes(VatId vat, uint64_t bytes) {
  if (bytes == 0) {
    buf_.Delete(keys::VatStoreBytes(vat));
  } else {
    buf_.Set(keys::VatStoreBytes(vat), StrCat(bytes));
  }
}

absl::StatusOr<Kref> KernelImpl::MapVatSlotToKernel(VatId vat, std::string_view vref_text,
                                                    const SlotMapping& how) {
  ASSIGN_OR_RETURN(VatRef vref, VatRef::Parse(vref_text));
  return MapVatSlotToKernel(vat, vref, how);
}

absl::StatusOr<Kref> KernelImpl::MapVatSlotToKernel(VatId vat, const VatRef& vref,
                                                    const SlotMapping& how) {
  const bool set_reachable = how.set_reachable;
  const bool required = how.required;
  const bool require_new = how.require_new;
  CrankBuffer::EntryRef rev = buf_.Ref(keys::CListByVref(vat, vref.str()));
  std::optional<Kref> k = CListByVref(vat, vref.str(), rev);
  if (k && require_new) {
    return VatError(StrCat("vref ", vref.str(), " is already allocated"));
  }
  if (!k) {
    if (required) return VatError(StrCat("vref ", vref.str(), " is not in the c-list"));
    if (!vref.is_export()) return VatError(StrCat("unknown vatSlot ", vref.str()));
    if (vref.is_device()) return VatError(StrCat("vats cannot export device nodes: ", vref.str()));
    if (vref.is_object()) {
      k = AllocObject(vat);
    } else {
      k = AllocPromise(vat, /*ref_count=*/1);  // the count of the entry added below
    }
    // A new export's entry starts with its final flag: setting the flag of an export entry
    // changes no count.
    if (counting_delivery_) ++delivery_clist_added_;
    CListAdd(*k, vref.str(), set_reachable, buf_.Ref(keys::CListByKref(vat, *k)), rev);
    return *k;
  }
  if (set_reachable) {
    if (vref.is_export()) {
      SetReachableFlag(vat, *k);
    } else {
      auto e = CListByKref(vat, *k);
      SWINGSET_CHECK(e) << "c-list reverse entry missing for " << vref.str();
      if (!e->reachable && k->is_object()) {
        return VatError(StrCat("vat tried to access unreachable import ", vref.str()));
      }
    }
  }
  return *k;
}

std::string KernelImpl::MapKernelSlotToVat(VatId vat, const Kref& k, bool set_reachable,
                                           bool required) {
  CrankBuffer::EntryRef fwd = buf_.Ref(keys::CListByKref(vat, k));
  if (std::optional<CListEntry> e = CListByKref(vat, k, fwd)) {
    return MapKernelSlotToVat(vat, k, *std::move(e), set_reachable);
  }
  SWINGSET_CHECK(!required) << "kernel slot " << k.ToString() << " not in c-list of "
                            << vat.ToString();
  VrefType type;
  uint64_t n;
  if (k.is_object()) {
    type = VrefType::kObject;
    n = AllocCounter(keys::VatNextObject(vat), keys::kFirstVatImportObject);
  } else if (k.is_promise()) {
    type = VrefType::kPromise;
    n = AllocCounter(keys::VatNextPromise(vat), keys::kFirstVatImportPromise);
  } else {
    type = VrefType::kDevice;
    n = AllocCounter(keys::VatNextDevice(vat), keys::kFirstVatImportDevice);
  }
  std::string vref = VatRef::Import(type, n).str();
  // A new import is counted and flagged as it ends up: recognizable, and reachable too when
  // set_reachable (the count SetReachableFlag would add to an object import).
  IncRef(k, /*is_export=*/false, /*only_recognizable=*/!set_reachable);
  CListAdd(k, vref, set_reachable, fwd, buf_.Ref(keys::CListByVref(vat, vref)));
  return vref;
}

std::string KernelImpl::MapKernelSlotToVat(VatId vat, const Kref& k, CListEntry e,
                                           bool set_reachable) {
  if (set_reachable) {
    if (e.vref[1] == '-') {
      SetReachableFlag(vat, k, e);
    } else {
      SWINGSET_CHECK(e.reachable || !k.is_object())
          << "kernel sent unreachable export " << k.ToString() << " (" << e.vref << ") to "
          << vat.ToString();
    }
  }
  return std::move(e.vref);
}

absl::StatusOr<CapData> KernelImpl::TranslateCapDataToKernel(VatId vat, const CapData& data,
                                                             bool allow_promises) {
  CapData out;
  out.body = data.body;
  out.slots.reserve(data.slots.size());
  for (const std::string& s : data.slots) {
    if (!allow_promises && !s.empty() && s[0] == 'p') {
      return VatError(StrCat("promises are not allowed here: ", s));
    }
    ASSIGN_OR_RETURN(Kref k, MapVatSlotToKernel(vat, s));
    out.slots.push_back(k.ToString());
  }
  return out;
}

CapData KernelImpl::TranslateCapDataToVat(VatId vat, CapData data) {
  for (std::string& s : data.slots) s = MapKernelSlotToVat(vat, *Kref::Parse(s));
  return data;
}

SyscallResult KernelImpl::HandleSyscall(VatId vat, const VatSyscall& sc, bool* doomed,
                                        std::optional<std::pair<bool, CapData>>* exit_request) {
  if (!*doomed) {
    absl::StatusOr<SyscallResult> res = DoSyscall(vat, sc, exit_request);
    if (res.ok() && counting_delivery_ &&
        delivery_enqueued_ > limits_.max_enqueued_per_delivery) {
      res = VatError(StrCat("vat limit: more than ", limits_.max_enqueued_per_delivery,
                            " sends and notifications queued by one delivery"));
    }
    if (res.ok() && counting_delivery_ &&
        delivery_clist_added_ > limits_.max_clist_entries_per_delivery) {
      res = VatError(StrCat("vat limit: more than ", limits_.max_clist_entries_per_delivery,
                            " c-list entries added by one delivery"));
    }
    if (res.ok()) return *std::move(res);
    *doomed = true;
    last_syscall_error_ = std::string(res.status().message());
  }
  SyscallResult r;
  r.ok = false;
  r.error = "syscall translation error: prepare to die";
  return r;
}

absl::StatusOr<SyscallResult> KernelImpl::DoSyscall(
    VatId vat, const VatSyscall& sc, std::optional<std::pair<bool, CapData>>* exit_request) {
  VatInfo* info = FindVat(vat);
  SWINGSET_CHECK(info) << "syscall from unknown vat " << vat.ToString();
  SyscallResult ok;
  ok.ok = true;
  switch (sc.type) {
    case VatSyscall::Type::kSend: {
      ASSIGN_OR_RETURN(Kref target, MapVatSlotToKernel(vat, sc.target));
      if (target.is_device()) return VatError("cannot send to a device node");
      KMessage msg;
      ASSIGN_OR_RETURN(msg.methargs, TranslateCapDataToKernel(vat, sc.methargs));
      if (sc.result) {
        ASSIGN_OR_RETURN(VatRef rv, VatRef::Parse(*sc.result));
        if (!rv.is_promise()) return VatError(StrCat("result must be a promise: ", *sc.result));
        ASSIGN_OR_RETURN(Kref kr, MapVatSlotToKernel(vat, rv, {.require_new = !info->pipelining}));
        if (GetPromiseState(kr) != keys::kPromiseUnresolved) {
          return VatError(StrCat("result promise ", *sc.result, " is already resolved"));
        }
        CrankBuffer::EntryRef decider_entry = PromiseEntry(kr, PromiseKey::kDecider);
        std::optional<VatId> decider = GetDecider(kr, decider_entry);
        if (!decider || *decider != vat) {
          return VatError(StrCat("result promise ", *sc.result, " is not decided by ",
                                 vat.ToString()));
        }
        SetDecider(decider_entry, VatId());
        msg.result = kr;
      }
      EnqueueSend(target, std::move(msg));
      return ok;
    }
    case VatSyscall::Type::kSubscribe: {
      ASSIGN_OR_RETURN(VatRef v, VatRef::Parse(sc.vpid));
      if (!v.is_promise()) return VatError(StrCat("subscribe to non-promise ", sc.vpid));
      ASSIGN_OR_RETURN(Kref kp, MapVatSlotToKernel(vat, v));
      std::string state = GetPromiseState(kp);
      SWINGSET_CHECK(!state.empty()) << "subscribe to missing promise " << kp.ToString();
      if (state == keys::kPromiseUnresolved) {
        AddSubscriber(kp, vat);
      } else {
        EnqueueNotify(vat, kp);
      }
      return ok;
    }
    case VatSyscall::Type::kResolve: {
      struct Res {
        Kref kp;
        bool rejected;
        CapData data;
        CrankBuffer::EntryRef state;    // kp's state and decider entries: checked, then
        CrankBuffer::EntryRef decider;  // written by ResolveKernelPromise
      };
      std::vector<Res> list;
      for (const Resolution& r : sc.resolutions) {
        if (!r.rejected && r.data.slots.size() == 1 && !r.data.slots[0].empty() &&
            r.data.slots[0][0] == 'p' && IsSingleSlotBody(r.data.body)) {
          return VatError("cannot resolve to a promise");
        }
        ASSIGN_OR_RETURN(VatRef v, VatRef::Parse(r.vpid));
        if (!v.is_promise()) return VatError(StrCat("resolve of non-promise ", r.vpid));
        ASSIGN_OR_RETURN(Kref kp, MapVatSlotToKernel(vat, v));
        ASSIGN_OR_RETURN(CapData kdata, TranslateCapDataToKernel(vat, r.data));
        list.push_back(Res{kp, r.rejected, std::move(kdata), PromiseEntry(kp, PromiseKey::kState),
                           PromiseEntry(kp, PromiseKey::kDecider)});
      }
      // The decider check happens before any c-list change so a refused resolve leaves the
      // vat's tables as they were (docs/DESIGN.md §7: vat-fatal rather than a kernel panic).
      for (size_t i = 0; i < list.size(); ++i) {
        const Res& r = list[i];
        for (size_t j = 0; j < i; ++j) {
          if (list[j].kp == r.kp) return VatError("promise resolved twice in one syscall");
        }
        const std::string* state = buf_.Find(r.state);
        if (!state || *state != keys::kPromiseUnresolved) {
          return VatError(StrCat(r.kp.ToString(), " is already resolved"));
        }
        std::optional<VatId> decider = GetDecider(r.kp, r.decider);
        if (!decider || *decider != vat) {
          return VatError(StrCat(r.kp.ToString(), " is decided by ",
                                 decider && decider->valid() ? decider->ToString() : "the kernel",
                                 ", not ", vat.ToString()));
        }
      }
      for (size_t i = 0; i < list.size(); ++i) {
        auto e = CListByKref(vat, list[i].kp);
        SWINGSET_CHECK(e) << "resolver lost its c-list entry";
        DeleteCListEntry(vat, list[i].kp, *e);
      }
      for (const Res& r : list) {
        ResolveKernelPromise(r.kp, r.rejected, r.data, r.state, r.decider);
      }
      return ok;
    }
    case VatSyscall::Type::kExit: {
      ASSIGN_OR_RETURN(CapData info_k, TranslateCapDataToKernel(vat, sc.info));
      *exit_request = std::make_pair(sc.is_failure, std::move(info_k));
      return ok;
    }
    case VatSyscall::Type::kVatstoreGet: {
      auto v = buf_.Get(keys::VatStoreKey(vat, sc.key));
      SyscallResult r;
      r.data = v ? Json(*v) : Json();
      return r;
    }
    case VatSyscall::Type::kVatstoreGetNextKey: {
      std::string prefix = keys::VatStorePrefix(vat);
      auto next = buf_.NextAfter(keys::VatStoreKey(vat, sc.key), prefix);
      SyscallResult r;
      r.data = next ? Json(next->first.substr(prefix.size())) : Json();
      return r;
    }
    case VatSyscall::Type::kVatstoreSet: {
      const uint64_t size = sc.key.size() + sc.value.size();
      if (counting_delivery_) {
        delivery_vatstore_written_ += size;
        if (delivery_vatstore_written_ > limits_.max_vatstore_bytes_per_delivery) {
          return VatError(StrCat("vat limit: more than ", limits_.max_vatstore_bytes_per_delivery,
                                 " vatstore bytes written by one delivery"));
        }
      }
      const std::string key = keys::VatStoreKey(vat, sc.key);
      std::optional<std::string> old = buf_.Get(key);
      // (Saturating: a store written before the counter existed has no count for old keys.)
      const uint64_t held = VatStoreBytes(vat);
      const uint64_t replaced = old ? sc.key.size() + old->size() : 0;
      const uint64_t total = (held > replaced ? held - replaced : 0) + size;
      if (total > limits_.max_vatstore_bytes) {
        return VatError(StrCat("vat limit: vatstore would hold ", total, " bytes (cap ",
                               limits_.max_vatstore_bytes, ")"));
      }
      buf_.Set(key, sc.value);
      SetVatStoreBytes(vat, total);
      return ok;
    }
    case VatSyscall::Type::kVatstoreDelete: {
      const std::string key = keys::VatStoreKey(vat, sc.key);
      if (std::optional<std::string> old = buf_.Get(key)) {
        buf_.Delete(key);
        const uint64_t held = VatStoreBytes(vat);
        const uint64_t freed = sc.key.size() + old->size();
        SetVatStoreBytes(vat, held > freed ? held - freed : 0);
      }
      return ok;
    }
    case VatSyscall::Type::kDropImports:
    case VatSyscall::Type::kRetireImports:
    case VatSyscall::Type::kRetireExports:
    case VatSyscall::Type::kAbandonExports: {
      const bool want_export = sc.type == VatSyscall::Type::kRetireExports ||
                               sc.type == VatSyscall::Type::kAbandonExports;
      std::vector<std::pair<Kref, std::string>> items;
      items.reserve(sc.vrefs.size());
      auto vref_pf = buf_.MakePrefetcher(sc.vrefs.size(), [&](size_t j, auto&& fn) {
        fn(keys::CListByVref(vat, sc.vrefs[j]));
      });
      for (size_t i = 0; i < sc.vrefs.size(); ++i) {
        vref_pf.Step(i);
        const std::string& s = sc.vrefs[i];
        ASSIGN_OR_RETURN(VatRef v, VatRef::Parse(s));
        if (!v.is_object() || v.is_export() != want_export) {
          return VatError(StrCat("bad vref for GC syscall: ", s));
        }
        ASSIGN_OR_RETURN(Kref k,
                         MapVatSlotToKernel(vat, v, {.set_reachable = false, .required = true}));
        items.emplace_back(k, v.str());
      }
      // The loops below touch each kref's c-list entry and (for imports) its counts.
      auto pf = buf_.MakePrefetcher(items.size(), [&](size_t j, auto&& fn) {
        fn(keys::CListByKref(vat, items[j].first));
        if (!want_export) fn(keys::ObjectRefCount(items[j].first));
      });
      if (sc.type == VatSyscall::Type::kDropImports) {
        for (size_t i = 0; i < items.size(); ++i) {
          pf.Step(i);
          ClearReachableFlag(vat, items[i].first);
        }
      } else if (sc.type == VatSyscall::Type::kRetireImports) {
        for (size_t i = 0; i < items.size(); ++i) {
          pf.Step(i);
          auto& [k, v] = items[i];
          auto e = CListByKref(vat, k);
          if (!e) return VatError(StrCat("retireImports of ", v, " twice"));
          if (e->reachable) return VatError(StrCat("retireImports of ", v, ": still reachable"));
          DeleteCListEntry(vat, k, *e);
        }
      } else if (sc.type == VatSyscall::Type::kRetireExports) {
        std::vector<Kref> krefs;
        for (size_t i = 0; i < items.size(); ++i) {
          pf.Step(i);
          auto& [k, v] = items[i];
          auto e = CListByKref(vat, k);
          if (!e) return VatError(StrCat("retireExports of ", v, " twice"));
          if (e->reachable) return VatError(StrCat("retireExports of ", v, ": still reachable"));
          DeleteCListEntry(vat, k, *e);
          krefs.push_back(k);
        }
        RetireKernelObjects(krefs);
      } else {
        for (auto& [k, v] : items) {
          if (!CListByKref(vat, k)) return VatError(StrCat("abandonExports of ", v, " twice"));
          std::optional<VatId> owner = GetOwner(k);
          if (!owner || *owner != vat) {
            return VatError(StrCat("abandonExports of ", v, ": not owned by ", vat.ToString()));
          }
          OrphanKernelObject(k, vat);
        }
      }
      return ok;
    }
    case VatSyscall::Type::kCallNow:
      return DoCallNow(vat, sc);
  }
  return VatError("unknown syscall");
}

}  // namespace swingset
