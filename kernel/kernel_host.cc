// Host-facing parts of the kernel: opening, genesis, host sends, devices (callNow and the host's
// access to device state), block commit/abort. Smallcaps encoding is kernel/smallcaps.h.

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kernel/activity_chain.h"
#include "kernel/base.h"
#include "kernel/kernel_impl.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {

// ---------------------------------------------------------------- opening

KernelImpl::KernelImpl(KernelOptions options)
    : options_(std::move(options)),
      store_(options_.store),
      host_(options_.vat_host),
      buf_(options_.store) {
  for (DeviceConfig& d : options_.devices) devices_[d.name] = std::move(d.device);
  options_.devices.clear();
}

KernelImpl::~KernelImpl() = default;

absl::StatusOr<std::unique_ptr<Kernel>> Kernel::Open(KernelOptions options) {
  if (!options.store) return absl::InvalidArgumentError("KernelOptions.store is required");
  if (!options.vat_host) return absl::InvalidArgumentError("KernelOptions.vat_host is required");
  if (!options.hasher_factory) {
    return absl::InvalidArgumentError("KernelOptions.hasher_factory is required");
  }
  auto k = std::make_unique<KernelImpl>(std::move(options));
  RETURN_IF_ERROR(k->Load());
  return std::unique_ptr<Kernel>(std::move(k));
}

absl::Status KernelImpl::Load() {
  hasher_ = options_.hasher_factory();
  activity_ = std::make_unique<ActivityChain>(options_.hasher_factory);
  hash_text_ = std::make_unique<CrankText>();
  if (auto v = buf_.Get(keys::kVersion); v && *v != keys::kVersionValue) {
    return absl::FailedPreconditionError(StrCat("store has kernel schema version ", *v,
                                                ", this build reads ", keys::kVersionValue));
  }
  return LoadVatInfo();
}

bool KernelImpl::IsInitialized() { return buf_.Get(keys::kVersion).has_value(); }

// ---------------------------------------------------------------- genesis

absl::Status KernelImpl::InitializeGenesis(const GenesisConfig& config) {
  if (IsInitialized()) return absl::FailedPreconditionError("kernel is already initialized");
  if (in_crank_) return absl::FailedPreconditionError("genesis inside a crank");
  // Validate everything before writing anything.
  std::vector<std::string> seen;
  for (const VatConfig& v : config.vats) {
    if (v.name.empty()) return absl::InvalidArgumentError("vat name must not be empty");
    if (v.name.find_first_of(".,\" ") != std::string::npos) {
      return absl::InvalidArgumentError(StrCat("vat name '", v.name, "' has illegal characters"));
    }
    if (std::find(seen.begin(), seen.end(), v.name) != seen.end()) {
      return absl::InvalidArgumentError(StrCat("duplicate vat name '", v.name, "'"));
    }
    seen.push_back(v.name);
    auto p = Json::Parse(v.parameters_json.empty() ? "{}" : v.parameters_json);
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          StrCat("vat '", v.name, "' parameters_json: ", p.status().message()));
    }
  }
  if (!config.bootstrap_vat.empty() &&
      std::find(seen.begin(), seen.end(), config.bootstrap_vat) == seen.end()) {
    return absl::InvalidArgumentError(
        StrCat("bootstrap vat '", config.bootstrap_vat, "' is not among the vats"));
  }
  for (const std::string& d : config.device_names) {
    if (!devices_.contains(d)) {
      return absl::InvalidArgumentError(StrCat("device '", d, "' is not registered"));
    }
  }
  Json threshold = config.default_reap_dirt_threshold;
  if (threshold.is_null()) {
    threshold = Json::MakeObject();
    threshold.Set("deliveries", 1);
    threshold.Set("gcKrefs", 20);
    threshold.Set("computrons", "never");
  }
  if (!threshold.is_object()) {
    return absl::InvalidArgumentError("default reap threshold must be an object");
  }

  buf_.Set(keys::kVersion, keys::kVersionValue);
  buf_.Set(keys::kCrankNumber, "0");
  buf_.Set(keys::kVatNames, "[]");
  buf_.Set(keys::kVatDynamicIds, "[]");
  buf_.Set(keys::kVatNextId, StrCat(keys::kFirstVatId));
  buf_.Set(keys::kVatNextUpgradeId, "1");
  buf_.Set(keys::kVatsTerminated, "[]");
  buf_.Set(keys::kDeviceNames, "[]");
  buf_.Set(keys::kDeviceNextId, StrCat(keys::kFirstDeviceId));
  buf_.Set(keys::kKoNextId, StrCat(keys::kFirstObjectId));
  buf_.Set(keys::kKpNextId, StrCat(keys::kFirstPromiseId));
  buf_.Set(keys::kKdNextId, StrCat(keys::kFirstDeviceNodeId));
  buf_.Set(keys::kMeterNextId, "1");
  buf_.Set(keys::kRunQueue, "[1,1]");
  buf_.Set(keys::kAcceptanceQueue, "[1,1]");
  buf_.Set(keys::kGcActions, "[]");
  gc_actions_.Invalidate();
  buf_.Set(keys::kReapQueue, "[]");
  buf_.Set(keys::kDefaultReapDirtThreshold, threshold.Dump());

  Json names = Json::MakeArray();
  std::vector<std::pair<std::string, VatId>> vat_ids;
  for (const VatConfig& v : config.vats) {
    VatId id(AllocCounter(keys::kVatNextId, keys::kFirstVatId));
    vat_ids.emplace_back(v.name, id);
    names.Push(Json(v.name));
    buf_.Set(keys::VatName(v.name), id.ToString());
    buf_.Set(keys::VatNextObject(id), StrCat(keys::kFirstVatImportObject));
    buf_.Set(keys::VatNextPromise(id), StrCat(keys::kFirstVatImportPromise));
    buf_.Set(keys::VatNextDevice(id), StrCat(keys::kFirstVatImportDevice));
    Json source = Json::MakeObject();
    source.Set("bundle", v.source);
    buf_.Set(keys::VatSource(id), source.Dump());
    Json opts = Json::MakeObject();
    opts.Set("name", v.name);
    opts.Set("enablePipelining", v.enable_pipelining);
    opts.Set("useTranscript", v.use_transcript);
    opts.Set("raw", v.raw);
    if (!v.meter.is_null()) opts.Set("meter", v.meter);
    if (v.reap_interval > 0) {
      Json t = Json::MakeObject();
      t.Set("deliveries", static_cast<int64_t>(v.reap_interval));
      opts.Set("reapDirtThreshold", std::move(t));
    }
    buf_.Set(keys::VatOptions(id), opts.Dump());
    buf_.Set(keys::VatReapDirt(id), "{}");
    KEvent ev;
    ev.type = KEvent::Type::kStartVat;
    ev.vat = id;
    ev.vat_parameters.body =
        smallcaps::EncodePlain(*Json::Parse(v.parameters_json.empty() ? "{}" : v.parameters_json));
    Enqueue(keys::kRunQueue, ev);
  }
  buf_.Set(keys::kVatNames, names.Dump());

  Json dev_names = Json::MakeArray();
  std::vector<std::pair<std::string, Kref>> dev_roots;
  for (const std::string& name : config.device_names) {
    DeviceId id(AllocCounter(keys::kDeviceNextId, keys::kFirstDeviceId));
    dev_names.Push(Json(name));
    buf_.Set(keys::DeviceName(name), id.ToString());
    buf_.Set(keys::DeviceNextObject(id), StrCat(keys::kFirstDeviceImportObject));
    buf_.Set(keys::DeviceNextDevice(id), StrCat(keys::kFirstDeviceImportDevice));
    buf_.Set(keys::DeviceNextPromise(id), StrCat(keys::kFirstDeviceImportPromise));
    Kref kd = Kref::Device(AllocCounter(keys::kKdNextId, keys::kFirstDeviceNodeId));
    buf_.Set(keys::DeviceNodeOwner(kd), id.ToString());
    buf_.Set(keys::DeviceCListByKref(id, kd), "d+0");
    buf_.Set(keys::DeviceCListBySlot(id, "d+0"), kd.ToString());
    dev_roots.emplace_back(name, kd);
  }
  buf_.Set(keys::kDeviceNames, dev_names.Dump());
  RETURN_IF_ERROR(LoadVatInfo());

  // Every static vat's root object is exported and pinned: the host can always send to it
  // (call_vat), so it must never be collected.
  {
    std::vector<std::string> pins;
    for (const auto& [name, id] : vat_ids) {
      auto root = MapVatSlotToKernel(id, "o+0");
      SWINGSET_CHECK(root.ok()) << root.status().ToString();
      IncRef(*root);
      pins.push_back(root->ToString());
    }
    std::sort(pins.begin(), pins.end());
    if (!pins.empty()) buf_.Set(keys::kPinnedObjects, absl::StrJoin(pins, ","));
  }
  if (!config.bootstrap_vat.empty()) {
    VatId boot;
    CapData args;
    std::vector<std::pair<std::string, Json>> vat_members, dev_members;
    for (const auto& [name, id] : vat_ids) {
      if (name == config.bootstrap_vat) boot = id;
      auto root = MapVatSlotToKernel(id, "o+0");
      SWINGSET_CHECK(root.ok()) << root.status().ToString();
      vat_members.emplace_back(name, Json(StrCat("$", args.slots.size(), ".Alleged: root")));
      args.slots.push_back(root->ToString());
    }
    for (const auto& [name, kd] : dev_roots) {
      dev_members.emplace_back(name, Json(StrCat("$", args.slots.size(), ".Alleged: device")));
      args.slots.push_back(kd.ToString());
    }
    auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
    std::sort(vat_members.begin(), vat_members.end(), by_key);
    std::sort(dev_members.begin(), dev_members.end(), by_key);
    Json body = Json::MakeArray({Json("bootstrap"),
                                 Json::MakeArray({Json::MakeObject(std::move(vat_members)),
                                                  Json::MakeObject(std::move(dev_members))})});
    args.body = StrCat("#", body.Dump());
    auto root = MapVatSlotToKernel(boot, "o+0");
    SWINGSET_CHECK(root.ok());
    buf_.Set(keys::kBootstrapVat, boot.ToString());
    KMessage msg;
    msg.methargs = std::move(args);
    msg.omit_result = true;
    EnqueueSend(*root, msg);
  }
  EmitHostCrank();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- host sends

absl::StatusOr<Kref> KernelImpl::QueueToVatRoot(std::string_view vat_name,
                                                std::string_view method, const CapData& args) {
  if (in_crank_) return absl::FailedPreconditionError("host send inside a crank");
  if (!IsInitialized()) return absl::FailedPreconditionError("kernel is not initialized");
  auto id_text = buf_.Get(keys::VatName(vat_name));
  if (!id_text) return absl::NotFoundError(StrCat("no live vat named '", vat_name, "'"));
  VatId vat = *VatId::Parse(*id_text);
  if (args.body.size() < 3 || args.body[0] != '#' || args.body[1] != '[' ||
      args.body.back() != ']') {
    return absl::InvalidArgumentError("args must be a smallcaps array body (#[...])");
  }
  if (!Json::Parse(std::string_view(args.body).substr(1)).ok()) {
    return absl::InvalidArgumentError("args body is not valid smallcaps JSON");
  }
  if (!args.slots.empty()) return absl::InvalidArgumentError("host sends carry no slots");
  auto root = MapVatSlotToKernel(vat, "o+0");
  SWINGSET_CHECK(root.ok()) << root.status().ToString();
  Kref kp = AllocPromise(std::nullopt);
  IncRef(kp);
  buf_.Set(StrCat(keys::kHostInterest, kp.ToString()), "1");
  KMessage msg;
  std::string inner(std::string_view(args.body).substr(2, args.body.size() - 3));
  std::string m = smallcaps::EncodeString(method);
  msg.methargs.body = inner.empty() ? StrCat("#[", m, ",[]]") : StrCat("#[", m, ",[", inner, "]]");
  msg.result = kp;
  EnqueueSend(*root, msg);
  EmitHostCrank();
  return kp;
}

absl::Status KernelImpl::ReleaseHostPromise(const Kref& kp) {
  if (in_crank_) return absl::FailedPreconditionError("inside a crank");
  std::string key = StrCat(keys::kHostInterest, kp.ToString());
  if (!buf_.Get(key)) return absl::NotFoundError(StrCat("no host interest in ", kp.ToString()));
  buf_.Delete(key);
  DecRef(kp);
  ProcessRefcounts();
  EmitHostCrank();
  return absl::OkStatus();
}

PromiseStatus KernelImpl::GetPromiseStatus(const Kref& kp) {
  PromiseStatus s;
  s.state = GetPromiseState(kp);
  if (s.state.empty()) {
    s.state = "missing";
  } else if (s.state != keys::kPromiseUnresolved) {
    s.data = GetPromiseData(kp);
  }
  return s;
}

absl::StatusOr<Kref> KernelImpl::TEST_QueueToKref(const Kref& target, const CapData& methargs,
                                                  bool with_result) {
  KMessage msg;
  msg.methargs = methargs;
  if (with_result) {
    Kref kp = AllocPromise(std::nullopt);
    IncRef(kp);
    buf_.Set(StrCat(keys::kHostInterest, kp.ToString()), "1");
    msg.result = kp;
  } else {
    msg.omit_result = true;
  }
  EnqueueSend(target, msg);
  EmitHostCrank();
  return msg.result.value_or(Kref());
}

absl::Status KernelImpl::TEST_TerminateVat(VatId vat, bool reject, std::string_view reason) {
  if (!VatIsAlive(vat)) return absl::NotFoundError("vat not alive");
  TerminateVat(vat, reject, KernelError(reason));
  ProcessRefcounts();
  EmitHostCrank();
  return absl::OkStatus();
}

absl::Status KernelImpl::TEST_PinObject(const Kref& ko) {
  std::vector<std::string> pins;
  if (auto v = buf_.Get(keys::kPinnedObjects); v && !v->empty()) {
    for (absl::string_view p : absl::StrSplit(ToAbsl(*v), ',')) pins.emplace_back(p);
  }
  if (std::find(pins.begin(), pins.end(), ko.ToString()) != pins.end()) return absl::OkStatus();
  IncRef(ko);
  pins.push_back(ko.ToString());
  std::sort(pins.begin(), pins.end());
  buf_.Set(keys::kPinnedObjects, absl::StrJoin(pins, ","));
  EmitHostCrank();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- devices

class DeviceContextImpl : public DeviceContext {
 public:
  DeviceContextImpl(KernelImpl* k, DeviceId d) : k_(k), d_(d) {}
  std::optional<std::string> GetState() override { return k_->buf_.Get(keys::DeviceState(d_)); }
  void SetState(std::string_view state) override { k_->buf_.Set(keys::DeviceState(d_), state); }
  std::optional<std::string> GetStateKey(std::string_view key) override {
    return k_->buf_.Get(keys::DeviceStateKey(d_, key));
  }
  void SetStateKey(std::string_view key, std::string_view value) override {
    k_->buf_.Set(keys::DeviceStateKey(d_, key), value);
  }
  void DeleteStateKey(std::string_view key) override {
    k_->buf_.Delete(keys::DeviceStateKey(d_, key));
  }
  absl::Status SendOnly(std::string_view target_slot, std::string_view method,
                        const CapData& args) override {
    auto target = k_->buf_.Get(keys::DeviceCListBySlot(d_, target_slot));
    if (!target) {
      return absl::InvalidArgumentError(StrCat("device has no slot ", target_slot));
    }
    if (args.body.size() < 3 || args.body[0] != '#' || args.body[1] != '[') {
      return absl::InvalidArgumentError("device send args must be a smallcaps array");
    }
    KMessage msg;
    ASSIGN_OR_RETURN(msg.methargs.slots, k_->DeviceSlotsToKernel(d_, args.slots));
    std::string m = smallcaps::EncodeString(method);
    std::string inner(std::string_view(args.body).substr(2, args.body.size() - 3));
    msg.methargs.body =
        inner.empty() ? StrCat("#[", m, ",[]]") : StrCat("#[", m, ",[", inner, "]]");
    k_->EnqueueSend(*Kref::Parse(*target), msg);
    return absl::OkStatus();
  }
  bool CanDeliverTo(std::string_view target_slot) override {
    auto target = k_->buf_.Get(keys::DeviceCListBySlot(d_, target_slot));
    if (!target) return false;
    absl::StatusOr<Kref> k = Kref::Parse(*target);
    if (!k.ok()) return false;
    if (!k->is_object()) return true;
    std::optional<VatId> owner = k_->GetOwner(*k);
    return owner.has_value() && k_->VatIsAlive(*owner);
  }

 private:
  KernelImpl* k_;
  DeviceId d_;
};

absl::StatusOr<std::vector<std::string>> KernelImpl::DeviceSlotsToKernel(
    DeviceId d, const std::vector<std::string>& slots) {
  std::vector<std::string> out;
  for (const std::string& s : slots) {
    ASSIGN_OR_RETURN(VatRef v, VatRef::Parse(s));
    auto k = buf_.Get(keys::DeviceCListBySlot(d, v.str()));
    if (k) {
      out.push_back(*k);
      continue;
    }
    if (!(v.is_device() && v.is_export())) {
      return absl::InvalidArgumentError(StrCat("device slot ", s, " is unknown"));
    }
    Kref kd = Kref::Device(AllocCounter(keys::kKdNextId, keys::kFirstDeviceNodeId));
    buf_.Set(keys::DeviceNodeOwner(kd), d.ToString());
    buf_.Set(keys::DeviceCListByKref(d, kd), v.str());
    buf_.Set(keys::DeviceCListBySlot(d, v.str()), kd.ToString());
    out.push_back(kd.ToString());
  }
  return out;
}

std::string KernelImpl::KernelSlotToDevice(DeviceId d, const Kref& k) {
  if (auto s = buf_.Get(keys::DeviceCListByKref(d, k))) return *s;
  std::string slot;
  if (k.is_object()) {
    slot = StrCat("o-", AllocCounter(keys::DeviceNextObject(d), keys::kFirstDeviceImportObject));
    IncRef(k);  // permanent hold of a device import
  } else if (k.is_device()) {
    slot = StrCat("d-", AllocCounter(keys::DeviceNextDevice(d), keys::kFirstDeviceImportDevice));
  } else {
    slot = StrCat("p-", AllocCounter(keys::DeviceNextPromise(d), keys::kFirstDeviceImportPromise));
    IncRef(k);
  }
  buf_.Set(keys::DeviceCListByKref(d, k), slot);
  buf_.Set(keys::DeviceCListBySlot(d, slot), k.ToString());
  return slot;
}

absl::StatusOr<SyscallResult> KernelImpl::DoCallNow(VatId vat, const VatSyscall& sc) {
  ASSIGN_OR_RETURN(VatRef tv, VatRef::Parse(sc.target));
  if (!tv.is_device()) return absl::InvalidArgumentError("callNow target is not a device node");
  ASSIGN_OR_RETURN(Kref kd, MapVatSlotToKernel(vat, sc.target, {.required = true}));
  auto owner_text = buf_.Get(keys::DeviceNodeOwner(kd));
  SWINGSET_CHECK(owner_text) << "device node " << kd.ToString() << " without owner";
  DeviceId dev = *DeviceId::Parse(*owner_text);
  ASSIGN_OR_RETURN(CapData kargs, TranslateCapDataToKernel(vat, sc.methargs, false));
  CapData dargs;
  dargs.body = kargs.body;
  for (const std::string& s : kargs.slots) dargs.slots.push_back(KernelSlotToDevice(dev, *Kref::Parse(s)));
  std::string node = *buf_.Get(keys::DeviceCListByKref(dev, kd));
  Device* device = nullptr;
  for (auto& [name, dptr] : devices_) {
    auto id = buf_.Get(keys::DeviceName(name));
    if (id && *id == dev.ToString()) device = dptr.get();
  }
  SyscallResult r;
  if (!device) {
    r.ok = false;
    r.error = StrCat("device ", dev.ToString(), " is not available");
    return r;
  }
  DeviceContextImpl ctx(this, dev);
  r = device->Invoke(&ctx, node, sc.method, dargs);
  if (!r.ok) return r;
  auto result_cap = CapDataFromJson(r.data);
  if (!result_cap.ok()) {
    r.ok = false;
    r.error = "device returned malformed capdata";
    r.data = Json();
    return r;
  }
  auto kslots = DeviceSlotsToKernel(dev, result_cap->slots);
  if (!kslots.ok()) {
    r.ok = false;
    r.error = std::string(kslots.status().message());
    r.data = Json();
    return r;
  }
  CapData kres{result_cap->body, *kslots};
  r.data = CapDataToJson(TranslateCapDataToVat(vat, kres));
  return r;
}

absl::Status KernelImpl::WithDevice(std::string_view device_name,
                                    const std::function<absl::Status(DeviceContext*)>& fn) {
  if (in_crank_) return absl::FailedPreconditionError("WithDevice inside a crank");
  auto id = buf_.Get(keys::DeviceName(device_name));
  if (!id) return absl::NotFoundError(StrCat("no device named '", device_name, "'"));
  DeviceContextImpl ctx(this, *DeviceId::Parse(*id));
  absl::Status s = fn(&ctx);
  if (!s.ok()) {
    buf_.DiscardCrank();
    gc_actions_.Invalidate();
    ClearMaybeFree();
    return s;
  }
  ProcessRefcounts();
  EmitHostCrank();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- blocks

void KernelImpl::VisitBlockWrites(
    const std::function<void(std::string_view, const std::optional<std::string>&)>& fn) {
  buf_.VisitBlock(fn);
}

absl::Status KernelImpl::CommitBlock(const KvBatch& host_writes, bool sync) {
  if (in_crank_) return absl::FailedPreconditionError("commit inside a crank");
  KvBatch batch = buf_.BlockBatch();
  for (const KvWrite& w : host_writes) {
    if (!keys::IsHostKey(w.key)) {
      return absl::InvalidArgumentError(StrCat("host write to non-host key ", w.key));
    }
    batch.push_back(w);
  }
  RETURN_IF_ERROR(store_->Write(batch, sync));
  buf_.BlockCommitted();
  return absl::OkStatus();
}

void KernelImpl::AbortBlock() {
  SWINGSET_CHECK(!in_crank_) << "abort inside a crank";
  buf_.AbortBlock();
  gc_actions_.Invalidate();
  parsed_queues_.clear();
  ClearMaybeFree();
  loaded_vats_.clear();
  host_->DiscardUncommitted();
  SWINGSET_CHECK_OK(LoadVatInfo());
}

std::string KernelImpl::ActivityHash() {
  if (activity_->active()) return activity_->Current();  // asked from inside Run()
  return buf_.Get(keys::kActivityHash).value_or("");
}

uint64_t KernelImpl::CrankNumber() {
  uint64_t n = 0;
  if (auto v = buf_.Get(keys::kCrankNumber)) ParseNat(*v, &n);
  return n;
}

std::optional<VatId> KernelImpl::VatIdByName(std::string_view name) {
  auto v = buf_.Get(keys::VatName(name));
  if (!v) return std::nullopt;
  return *VatId::Parse(*v);
}

KernelCounts KernelImpl::Counts() {
  KernelCounts c;
  for (const auto& [k, v] : buf_.ScanPrefix("ko")) {
    if (absl::EndsWith(ToAbsl(k), ".refCount")) ++c.objects;
  }
  for (const auto& [k, v] : buf_.ScanPrefix("kp")) {
    if (absl::EndsWith(ToAbsl(k), ".state")) ++c.promises;
  }
  for (const auto& [n, info] : vats_) {
    for (const auto& [k, v] : buf_.ScanPrefix(keys::CListPrefix(info.id))) {
      if (k.size() > 2 && k[keys::CListPrefix(info.id).size()] == 'k') ++c.clist_entries;
    }
    if (info.alive) {
      ++c.vats_alive;
    } else {
      ++c.vats_terminated;
    }
  }
  c.run_queue = QueueLength(keys::kRunQueue);
  c.acceptance_queue = QueueLength(keys::kAcceptanceQueue);
  c.gc_actions = gc_actions_.size();
  return c;
}

}  // namespace swingset
