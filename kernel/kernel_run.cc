// The run loop and everything a crank does (docs/KERNEL_SPEC.md §6-§10): routing, deliveries,
// splats, processRefcounts, GC-action selection, reaping, termination and slow cleanup.

#include <algorithm>

#include "absl/strings/str_join.h"
#include "kernel/activity_chain.h"
#include "kernel/base.h"
#include "kernel/kernel_impl.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {

// ---------------------------------------------------------------- the syscall handler

// Bridges one delivery's syscalls to the kernel and records them for the transcript.
class SyscallHandlerImpl : public SyscallHandler {
 public:
  SyscallHandlerImpl(KernelImpl* kernel, VatId vat, bool record)
      : kernel_(kernel), vat_(vat), record_(record) {}

  SyscallResult Syscall(const VatSyscall& sc) override {
    SyscallResult r = kernel_->HandleSyscall(vat_, sc, &doomed_, &exit_request_);
    if (record_) {
      recorded_.Push(Json::MakeArray({sc.ToJson(), r.ToJson()}));
    }
    return r;
  }

  bool doomed() const { return doomed_; }
  const std::optional<std::pair<bool, CapData>>& exit_request() const { return exit_request_; }
  Json TakeRecorded() { return std::move(recorded_); }

 private:
  KernelImpl* kernel_;
  VatId vat_;
  bool record_;
  bool doomed_ = false;
  std::optional<std::pair<bool, CapData>> exit_request_;
  Json recorded_ = Json::MakeArray();
};

// ---------------------------------------------------------------- cranks

size_t KernelImpl::SavePoint() {
  gc_actions_.Flush();
  return buf_.SavePoint();
}

void KernelImpl::RollbackTo(size_t mark) {
  buf_.RollbackTo(mark);
  // Every savepoint was taken with the set flushed, so the buffer now holds the set as it was
  // at `mark`.
  gc_actions_.Invalidate();
}

void KernelImpl::StartCrank() {
  SWINGSET_CHECK(!in_crank_) << "nested crank";
  in_crank_ = true;
}

void KernelImpl::EndCrank() {
  ProcessRefcounts();
  const std::string* n = buf_.Find(crank_number_key_);
  uint64_t crank = 0;
  if (n) ParseNat(*n, &crank);
  buf_.Set(crank_number_key_, NumText(crank + 1));
  EmitHostCrank();
  in_crank_ = false;
}

void KernelImpl::EmitHostCrank() {
  // Crank hash over this crank's net consensus writes in key order; then the activity hash
  // chains it (docs/KERNEL_SPEC.md §13). The activityhash key itself is written outside the crank
  // hash.
  gc_actions_.Flush();
  const bool batched = activity_->active();
  CrankText& text = batched ? *activity_->OpenCrank() : *hash_text_;
  if (!batched) text.Clear();
  buf_.ForEachCrankWrite([&](std::string_view key, const std::string* value) {
    if (keys::IsConsensusKey(key)) text.Add(key, value);
  });
  if (batched) {
    activity_->CloseCrank();
  } else if (text.size() != 0) {
    const std::string* prev = buf_.Find(activity_hash_key_);
    std::string activity = prev ? *prev : std::string();
    ChainActivity(hasher_.get(), text.view(), &activity);
    buf_.Set(activity_hash_key_, activity);
  }
  buf_.FinishCrank(nullptr);
}

void KernelImpl::BeginActivityBatch() {
  const std::string* prev = buf_.Find(activity_hash_key_);
  activity_->Begin(prev ? std::string_view(*prev) : std::string_view());
}

void KernelImpl::EndActivityBatch() {
  const bool advanced = activity_->cranks() > 0;
  std::string activity = activity_->End();
  if (!advanced) return;
  buf_.Set(activity_hash_key_, activity);
  buf_.FinishCrank(nullptr);
}

// ---------------------------------------------------------------- refcount processing (§8.2)

void KernelImpl::ProcessRefcounts() {
  // (Krefs appended during the walk are not prefetched.)
  auto pf = buf_.MakePrefetcher(maybe_free_.size(), [&](size_t j, auto&& fn) {
    const Kref& kj = maybe_free_[j];
    if (!kj.is_object()) return;
    fn(keys::ObjectRefCount(kj));
    fn(keys::ObjectOwner(kj));
  });
  for (size_t i = 0; i < maybe_free_.size(); ++i) {
    pf.Step(i);
    const Kref k = maybe_free_[i];
    // Unlike a JS Set walk, a kref whose count drops again later in this same walk (e.g. an
    // object released by a promise deleted after it was visited) is visited again; otherwise
    // it would survive with R == 0 and no GC action.
    maybe_free_set_.Erase(k);
    if (k.is_promise()) {
      DeletePromiseIfUnreferenced(k);
      continue;
    }
    if (!k.is_object()) continue;
    auto counts = GetObjectCounts(k).value_or(std::make_pair(uint64_t{0}, uint64_t{0}));
    if (counts.first != 0) continue;
    std::optional<VatId> owner = GetOwner(k);
    if (owner && VatIsAlive(*owner)) {
      auto e = CListByKref(*owner, k);
      if (e && e->reachable) gc_actions_.Add(*owner, GcActionType::kDropExport, k);
      if (counts.second == 0) gc_actions_.Add(*owner, GcActionType::kRetireExport, k);
      continue;
    }
    if (owner) {
      // Owner terminated but not yet cleaned up: fast-forward the orphaning.
      buf_.Delete(keys::ObjectOwner(k));
      auto e = CListByKref(*owner, k);
      if (e) CListDeleteKeys(*owner, k, e->vref);
    }
    if (counts.second > 0) {
      RetireKernelObjects({k});
    } else {
      DeleteObject(k);
    }
  }
  ClearMaybeFree();
}

void KernelImpl::RetireKernelObjects(const std::vector<Kref>& krefs) {
  for (const Kref& k : krefs) {
    for (VatId importer : LiveImporters(k)) {
      gc_actions_.Add(importer, GcActionType::kRetireImport, k);
    }
    DeleteObject(k);
  }
}

void KernelImpl::OrphanKernelObject(const Kref& ko, VatId vat) {
  std::optional<VatId> owner = GetOwner(ko);
  SWINGSET_CHECK(owner && *owner == vat)
      << "orphaning " << ko.ToString() << " not owned by " << vat.ToString();
  buf_.Delete(keys::ObjectOwner(ko));
  auto e = CListByKref(vat, ko);
  if (e) CListDeleteKeys(vat, ko, e->vref);
  AddMaybeFree(ko);
}

// ---------------------------------------------------------------- GC action selection (§8.3)

int KernelImpl::NextGcAction(VatId* vat_out, GcActionType* type_out,
                             std::vector<GcTarget>* targets) {
  bool any_removed = false;
  GcActionSet::Group group;
  // Groups come out in (vat as string, type priority) order, each already removed from the set
  // whether or not any of its actions survive.
  while (gc_actions_.TakeFirstGroup(&group)) {
    any_removed = true;
    if (!VatIsAlive(group.vat)) continue;
    std::vector<GcTarget> survivors;
    auto pf = buf_.MakePrefetcher(group.krefs.size(), [&](size_t j, auto&& fn) {
      fn(keys::ObjectRefCount(group.krefs[j]));
      fn(keys::CListByKref(group.vat, group.krefs[j]));
    });
    for (size_t i = 0; i < group.krefs.size(); ++i) {
      pf.Step(i);
      const Kref& k = group.krefs[i];
      auto counts = GetObjectCounts(k);
      auto e = CListByKref(group.vat, k);
      bool keep = false;
      switch (group.type) {
        case GcActionType::kDropExport:
          keep = counts && counts->first == 0 && e && e->reachable;
          break;
        case GcActionType::kRetireExport:
          keep = counts && counts->first == 0 && counts->second == 0 && e.has_value();
          break;
        case GcActionType::kRetireImport:
          keep = e.has_value();
          break;
      }
      if (keep) survivors.push_back(GcTarget{k, *std::move(e)});
    }
    if (!survivors.empty()) {
      *vat_out = group.vat;
      *type_out = group.type;
      *targets = std::move(survivors);  // in kref string order, as the group was
      return 1;
    }
  }
  return any_removed ? 2 : 0;
}

// ---------------------------------------------------------------- routing (§7.2)

KernelImpl::Route KernelImpl::RouteSend(const Kref& target, const KMessage& msg) {
  Route r;
  auto to_object = [&](const Kref& ko) {
    std::optional<VatId> owner = GetOwner(ko);
    if (owner && VatIsAlive(*owner)) {
      r.kind = Route::Kind::kDeliver;
      r.vat = *owner;
      r.target = ko;
    } else {
      r.kind = Route::Kind::kSplat;
      r.error = KernelError("vat terminated");
    }
  };
  if (target.is_object()) {
    to_object(target);
    return r;
  }
  if (target.is_device()) {
    r.kind = Route::Kind::kSplat;
    r.error = KernelError("cannot send to a device node");
    return r;
  }
  std::string state = GetPromiseState(target);
  SWINGSET_CHECK(!state.empty()) << "send to missing promise " << target.ToString();
  if (state == keys::kPromiseFulfilled) {
    CapData data = GetPromiseData(target);
    if (data.slots.size() == 1 && IsSingleSlotBody(data.body)) {
      Kref k = *Kref::Parse(data.slots[0]);
      if (k.is_object()) {
        to_object(k);
        return r;
      }
    }
    r.kind = Route::Kind::kSplat;
    r.error = KernelError(
        StrCat("data is not callable, has no method ", MethodNameOf(msg.methargs)));
    return r;
  }
  if (state == keys::kPromiseRejected) {
    r.kind = Route::Kind::kSplat;
    r.error = GetPromiseData(target);
    return r;
  }
  std::optional<VatId> decider = GetDecider(target);
  if (!decider || !decider->valid()) {
    r.kind = Route::Kind::kQueue;
    r.queue_kp = target;
    return r;
  }
  VatInfo* dv = FindVat(*decider);
  if (!dv || !dv->alive) {
    r.kind = Route::Kind::kSplat;
    r.error = KernelError("vat terminated");
    return r;
  }
  if (dv->pipelining) {
    r.kind = Route::Kind::kDeliver;
    r.vat = *decider;
    r.target = target;
    return r;
  }
  r.kind = Route::Kind::kQueue;
  r.queue_kp = target;
  return r;
}

void KernelImpl::Splat(const Kref& target, const KMessage& msg, const CapData& error) {
  if (msg.result) {
    const Kref& kp = *msg.result;
    if (GetPromiseState(kp) == keys::kPromiseUnresolved) {
      std::optional<VatId> decider = GetDecider(kp);
      SWINGSET_CHECK(decider && !decider->valid())
          << "splat of a message whose result " << kp.ToString() << " has a decider";
      ResolveKernelPromise(kp, true, error);
    }
  }
  DecMessage(target, msg);
}

void KernelImpl::ProcessRoutingCrank(KEvent ev, std::string ev_text) {
  // An event moved to the run-queue unchanged keeps its text.
  if (ev.type != KEvent::Type::kSend) {
    Enqueue(keys::kRunQueue, std::move(ev), std::move(ev_text));
    return;
  }
  Route r = RouteSend(ev.target, ev.msg);
  switch (r.kind) {
    case Route::Kind::kSplat:
      Splat(ev.target, ev.msg, r.error);
      break;
    case Route::Kind::kQueue:
      AddMessageToPromiseQueue(r.queue_kp, ev.msg);
      break;
    case Route::Kind::kDeliver:
      if (r.target != ev.target) {
        DecRef(ev.target);
        IncRef(r.target);
        ev.target = r.target;
        ev_text.clear();
      }
      Enqueue(keys::kRunQueue, std::move(ev), std::move(ev_text));
      break;
  }
}

// ---------------------------------------------------------------- deliveries (§6)

bool KernelImpl::EnsureVatLoaded(VatId vat) {
  if (loaded_vats_.contains(vat.n())) return true;
  VatInfo* info = FindVat(vat);
  SWINGSET_CHECK(info) << "loading unknown vat " << vat.ToString();
  VatSpec spec;
  spec.vat_id = vat;
  spec.name = info->name;
  spec.raw = info->raw;
  spec.use_transcript = info->use_transcript;
  spec.limits = limits_.code;
  auto source = buf_.Get(keys::VatSource(vat));
  if (source) {
    auto j = Json::Parse(*source);
    SWINGSET_CHECK(j.ok()) << "corrupt source of " << vat.ToString();
    if (const Json* b = j->Find("bundle")) spec.source = b->as_string();
  }
  spec.options_json = buf_.Get(keys::VatOptions(vat)).value_or("{}");
  class Source : public TranscriptSource {
   public:
    Source(KernelImpl* k, VatId v) : k_(k), v_(v) {}
    uint64_t Length() override {
      auto n = k_->buf_.Get(keys::TranscriptLength(v_));
      uint64_t len = 0;
      if (n) ParseNat(*n, &len);
      return len;
    }
    std::optional<std::string> Entry(uint64_t i) override {
      return k_->buf_.Get(keys::TranscriptEntry(v_, i));
    }

   private:
    KernelImpl* k_;
    VatId v_;
  } transcript(this, vat);
  spec.transcript = &transcript;
  absl::Status s = host_->LoadVat(spec);
  SWINGSET_CHECK_ENGINE(s.code() != absl::StatusCode::kUnavailable)
      << "loading " << vat.ToString() << " hit a node-local limit: " << s.message()
      << " (the block is not committed; raise the limit and restart)";
  if (!s.ok()) {
    last_load_error_ = std::string(s.message());
    return false;
  }
  loaded_vats_.insert(vat.n());
  return true;
}

bool KernelImpl::Deliver(VatId vat, const VatDelivery& d, size_t start_mark, size_t deliver_mark,
                         bool consume_on_abort) {
  VatInfo* info = FindVat(vat);
  SWINGSET_CHECK(info && info->alive) << "delivery to dead vat " << vat.ToString();
  if (!EnsureVatLoaded(vat)) {
    RollbackTo(consume_on_abort ? deliver_mark : start_mark);
    TerminateVat(vat, true, KernelError(StrCat("vat failed to load: ", last_load_error_)));
    return false;
  }
  SyscallHandlerImpl handler(this, vat, info->use_transcript);
  counting_delivery_ = true;
  delivery_enqueued_ = 0;
  delivery_clist_added_ = 0;
  delivery_vatstore_written_ = 0;
  DeliveryResult result = host_->Deliver(vat, d, &handler);
  counting_delivery_ = false;
  SWINGSET_CHECK_ENGINE(!result.node_fault)
      << "delivery to " << vat.ToString() << " hit a node-local limit: " << result.error
      << " (the block is not committed; raise the limit and restart)";
  delivery_computrons_ = result.computrons.value_or(0);
  if (handler.doomed() || !result.ok) {
    std::string why = handler.doomed() ? "syscall translation error: prepare to die"
                                       : StrCat("delivery failed: ", result.error);
    RollbackTo(consume_on_abort ? deliver_mark : start_mark);
    if (handler.doomed()) StrAppend(&why, " (", last_syscall_error_, ")");
    TerminateVat(vat, true, KernelError(why));
    return false;
  }
  if (info->use_transcript) {
    uint64_t pos = 0;
    if (auto n = buf_.Get(keys::TranscriptLength(vat))) ParseNat(*n, &pos);
    Json entry = Json::MakeObject();
    entry.Set("d", d.ToJson());
    entry.Set("sc", handler.TakeRecorded());
    entry.Set("r", result.ToJson());
    std::string text = entry.Dump();
    std::string prev = buf_.Get(keys::TranscriptHash(vat)).value_or("");
    hasher_->Update(prev);
    hasher_->Update("\n");
    hasher_->Update(text);
    std::string h = hasher_->FinishHex();
    buf_.Set(keys::TranscriptEntry(vat, pos), text);
    buf_.Set(keys::TranscriptLength(vat), StrCat(pos + 1));
    buf_.Set(keys::TranscriptHash(vat), h);
  }
  if (handler.exit_request()) {
    const auto& [is_failure, info_k] = *handler.exit_request();
    if (is_failure) RollbackTo(consume_on_abort ? deliver_mark : start_mark);
    TerminateVat(vat, is_failure, info_k);
    return !is_failure;
  }
  return true;
}

uint64_t KernelImpl::TakeDeliveryComputrons(VatId vat, RunStats* stats) {
  uint64_t c = std::exchange(delivery_computrons_, 0);
  if (c > 0) {
    stats->computrons[vat.n()] += c;
    stats->total_computrons += c;
  }
  return c;
}

void KernelImpl::AddDirt(VatId vat, uint64_t gc_krefs, uint64_t computrons) {
  VatInfo* info = FindVat(vat);
  if (!info || !info->alive) return;
  // The default thresholds are parsed again only when their stored text changes (this runs
  // after every delivery); the vat's own overlay is merged into a copy only if it has one.
  const std::string* default_text = buf_.Find(default_reap_threshold_key_);
  std::string_view text = default_text ? std::string_view(*default_text) : std::string_view();
  if (!parsed_default_threshold_ || parsed_default_threshold_->first != text) {
    Json parsed = Json::MakeObject();
    if (default_text) {
      auto j = Json::Parse(text);
      if (j.ok() && j->is_object()) parsed = *std::move(j);
    }
    parsed_default_threshold_.emplace(std::string(text), std::move(parsed));
  }
  const Json* th = &parsed_default_threshold_->second;
  Json merged;
  if (info->reap_threshold.is_object() && !info->reap_threshold.as_object().empty()) {
    merged = *th;
    for (const auto& [k, v] : info->reap_threshold.as_object()) merged.Set(k, v);
    th = &merged;
  }
  const Json& thresholds = *th;
  if (const Json* never = thresholds.Find("never"); never && never->is_bool() && never->as_bool()) {
    return;
  }
  Json dirt = Json::MakeObject();
  if (auto d = buf_.Get(keys::VatReapDirt(vat))) {
    auto j = Json::Parse(*d);
    if (j.ok() && j->is_object()) dirt = *j;
  }
  bool reap = false;
  auto add = [&](const char* key, uint64_t amount) {
    const Json* t = thresholds.Find(key);
    if (!t || !t->is_number()) return;
    const Json* cur = dirt.Find(key);
    int64_t total = (cur && cur->is_number() ? cur->as_int() : 0) + static_cast<int64_t>(amount);
    dirt.Set(key, total);
    if (total >= t->as_int()) reap = true;
  };
  add("deliveries", 1);
  if (gc_krefs > 0) add("gcKrefs", gc_krefs);
  if (computrons > 0) add("computrons", computrons);
  buf_.Set(keys::VatReapDirt(vat), dirt.Dump());
  if (reap) {
    std::vector<VatId> q = GetVatList(reap_queue_key_);
    if (std::find(q.begin(), q.end(), vat) == q.end()) {
      q.push_back(vat);
      SetVatList(reap_queue_key_, q);
    }
  }
}

KernelImpl::DeliveryOutcome KernelImpl::ProcessRunQueueEvent(KEvent ev, size_t start_mark) {
  DeliveryOutcome out;
  if (ev.type == KEvent::Type::kSend) {
    Route r = RouteSend(ev.target, ev.msg);
    if (r.kind == Route::Kind::kSplat) {
      Splat(ev.target, ev.msg, r.error);
      return out;
    }
    if (r.kind == Route::Kind::kQueue) {
      AddMessageToPromiseQueue(r.queue_kp, ev.msg);
      return out;
    }
    const VatId vat = r.vat;
    size_t deliver_mark = SavePoint();
    DecMessage(ev.target, ev.msg);
    VatDelivery d;
    d.type = VatDelivery::Type::kMessage;
    if (r.target.is_object()) {
      // The owner's export entry: translating it (MapKernelSlotToVat) only checks its flag.
      auto e = CListByKref(vat, r.target);
      SWINGSET_CHECK(e && e->vref[1] == '+')
          << "message to " << r.target.ToString() << " routed to wrong vat " << vat.ToString();
      SWINGSET_CHECK(e->reachable) << "kernel sent unreachable export " << r.target.ToString()
                                   << " (" << e->vref << ") to " << vat.ToString();
      d.target = std::move(e->vref);
    } else {
      SWINGSET_CHECK(GetPromiseState(r.target) == keys::kPromiseUnresolved &&
                     GetDecider(r.target) == std::optional<VatId>(vat))
          << "pipelined delivery to " << r.target.ToString() << " not decided by "
          << vat.ToString();
      d.target = MapKernelSlotToVat(vat, r.target);
    }
    d.methargs = TranslateCapDataToVat(vat, std::move(ev.msg.methargs));  // released above
    if (ev.msg.result) {
      const Kref& kr = *ev.msg.result;
      SWINGSET_CHECK(GetPromiseState(kr) == keys::kPromiseUnresolved)
          << "result promise " << kr.ToString() << " already settled";
      CrankBuffer::EntryRef decider_entry = PromiseEntry(kr, PromiseKey::kDecider);
      std::optional<VatId> decider = GetDecider(kr, decider_entry);
      SWINGSET_CHECK(decider && !decider->valid())
          << "result promise " << kr.ToString() << " has decider";
      d.result = MapKernelSlotToVat(vat, kr);
      SetDecider(decider_entry, vat);
      if (FindVat(vat)->pipelining) {
        for (KMessage& m : TakePromiseQueue(kr)) {
          KEvent mev;
          mev.type = KEvent::Type::kSend;
          mev.target = kr;
          mev.msg = std::move(m);
          Enqueue(keys::kAcceptanceQueue, std::move(mev));
        }
      }
    }
    out.vat = vat;
    out.delivered = true;
    out.measure_dirt = Deliver(vat, d, start_mark, deliver_mark, false);
    return out;
  }
  if (ev.type == KEvent::Type::kNotify) {
    const VatId vat = ev.vat;
    size_t deliver_mark = SavePoint();
    DecRef(ev.kpid);
    if (!VatIsAlive(vat)) return out;
    std::string state = GetPromiseState(ev.kpid);
    SWINGSET_CHECK(!state.empty() && state != keys::kPromiseUnresolved)
        << "notify of unsettled promise " << ev.kpid.ToString();
    std::optional<CListEntry> entry = CListByKref(vat, ev.kpid);
    if (!entry) return out;
    // Targets: kpid, then settled promises reachable through data slots, DFS pre-order, each
    // with its settlement as read here (translating to the vat changes only c-lists and counts).
    struct Target {
      Kref kp;
      bool rejected;
      CapData data;
    };
    std::vector<Target> targets;
    // The targets after the first (kpid), which is left out so that the usual notify of one
    // promise builds no set.
    absl::flat_hash_set<Kref> seen;
    std::vector<std::pair<Kref, bool>> stack = {{ev.kpid, state == keys::kPromiseRejected}};
    while (!stack.empty()) {
      auto [k, rejected] = stack.back();
      stack.pop_back();
      if (!targets.empty() && (k == ev.kpid || !seen.insert(k).second)) continue;
      CapData data = GetPromiseData(k);
      for (auto it = data.slots.rbegin(); it != data.slots.rend(); ++it) {
        Kref s = *Kref::Parse(*it);
        if (!s.is_promise() || s == ev.kpid || seen.contains(s)) continue;
        std::string st = GetPromiseState(s);
        if (st.empty() || st == keys::kPromiseUnresolved) continue;
        stack.emplace_back(s, st == keys::kPromiseRejected);
      }
      targets.push_back(Target{k, rejected, std::move(data)});
    }
    VatDelivery d;
    d.type = VatDelivery::Type::kNotify;
    for (size_t i = 0; i < targets.size(); ++i) {
      Target& t = targets[i];
      Resolution res;
      // kpid's entry, read above, is unchanged until its own translation (the first).
      res.vpid = i == 0 ? MapKernelSlotToVat(vat, t.kp, *std::move(entry), true)
                        : MapKernelSlotToVat(vat, t.kp);
      res.rejected = t.rejected;
      res.data = TranslateCapDataToVat(vat, std::move(t.data));
      d.resolutions.push_back(std::move(res));
    }
    for (const Target& t : targets) {
      auto e = CListByKref(vat, t.kp);
      if (e) DeleteCListEntry(vat, t.kp, *e);
    }
    out.vat = vat;
    out.delivered = true;
    out.measure_dirt = Deliver(vat, d, start_mark, deliver_mark, false);
    return out;
  }
  // startVat
  const VatId vat = ev.vat;
  size_t deliver_mark = SavePoint();
  if (!VatIsAlive(vat)) {
    DecSlots(ev.vat_parameters.slots);
    return out;
  }
  IncSlots(ev.vat_parameters.slots);
  if (auto prev = buf_.Get(keys::VatParameters(vat))) {
    auto j = Json::Parse(*prev);
    SWINGSET_CHECK(j.ok()) << "corrupt vatParameters";
    DecSlots(CapDataFromJson(*j)->slots);
  }
  buf_.Set(keys::VatParameters(vat), CapDataToJson(ev.vat_parameters).Dump());
  VatDelivery d;
  d.type = VatDelivery::Type::kStartVat;
  d.vat_parameters = TranslateCapDataToVat(vat, ev.vat_parameters);
  DecSlots(ev.vat_parameters.slots);
  out.vat = vat;
  out.delivered = true;
  out.measure_dirt = Deliver(vat, d, start_mark, deliver_mark, true);
  return out;
}

KernelImpl::DeliveryOutcome KernelImpl::ProcessGcDelivery(VatId vat, GcActionType type,
                                                          const std::vector<GcTarget>& targets,
                                                          size_t start_mark) {
  DeliveryOutcome out;
  if (!VatIsAlive(vat)) return out;
  size_t deliver_mark = SavePoint();
  VatDelivery d;
  // Each step touches its kref's forward c-list entry; retirements also its counts (the
  // decrement) and reverse entry (the delete), and retireExport the object's owner.
  auto pf = buf_.MakePrefetcher(targets.size(), [&](size_t j, auto&& fn) {
    const GcTarget& t = targets[j];
    fn(keys::CListByKref(vat, t.k));
    if (type == GcActionType::kDropExport) return;
    if (type == GcActionType::kRetireExport) fn(keys::ObjectOwner(t.k));
    fn(keys::ObjectRefCount(t.k));
    fn(keys::CListByVref(vat, t.entry.vref));
  });
  switch (type) {
    case GcActionType::kDropExport:
      // Each kref's c-list entry was read by NextGcAction and serves both the translation and
      // the change. The krefs are distinct and each step touches only its own kref's keys, so
      // doing them kref by kref gives the same net writes and maybe-free order as doing each
      // step for all krefs in turn.
      d.type = VatDelivery::Type::kDropExports;
      for (size_t i = 0; i < targets.size(); ++i) {
        pf.Step(i);
        d.vrefs.push_back(targets[i].entry.vref);
        ClearReachableFlag(vat, targets[i].k, targets[i].entry);
      }
      break;
    case GcActionType::kRetireExport:
      // docs/KERNEL_SPEC.md §6: the kernel object is deleted before the vat is told.
      d.type = VatDelivery::Type::kRetireExports;
      for (size_t i = 0; i < targets.size(); ++i) {
        pf.Step(i);
        DeleteObject(targets[i].k);
        d.vrefs.push_back(targets[i].entry.vref);
        DeleteCListEntry(vat, targets[i].k, targets[i].entry);
      }
      break;
    case GcActionType::kRetireImport:
      d.type = VatDelivery::Type::kRetireImports;
      for (size_t i = 0; i < targets.size(); ++i) {
        pf.Step(i);
        d.vrefs.push_back(targets[i].entry.vref);
        DeleteCListEntry(vat, targets[i].k, targets[i].entry);
      }
      break;
  }
  out.vat = vat;
  out.delivered = true;
  out.gc = true;
  out.gc_krefs = targets.size();
  out.measure_dirt = Deliver(vat, d, start_mark, deliver_mark, false);
  return out;
}

KernelImpl::DeliveryOutcome KernelImpl::ProcessBringOutYourDead(VatId vat, size_t start_mark) {
  DeliveryOutcome out;
  if (!VatIsAlive(vat)) return out;
  size_t deliver_mark = SavePoint();
  VatDelivery d;
  d.type = VatDelivery::Type::kBringOutYourDead;
  out.vat = vat;
  out.delivered = true;
  if (Deliver(vat, d, start_mark, deliver_mark, false)) {
    buf_.Set(keys::VatReapDirt(vat), "{}");
  }
  return out;
}

// ---------------------------------------------------------------- termination (§10)

void KernelImpl::TerminateVat(VatId vat, bool reject, const CapData& info) {
  VatInfo* v = FindVat(vat);
  if (!v || !v->alive) return;
  if (v->dynamic) {
    std::vector<VatId> ids = GetVatList(vat_dynamic_ids_key_);
    ids.erase(std::remove(ids.begin(), ids.end(), vat), ids.end());
    SetVatList(vat_dynamic_ids_key_, ids);
  } else {
    buf_.Delete(keys::VatName(v->name));
    auto names = Json::Parse(buf_.Get(keys::kVatNames).value_or("[]"));
    SWINGSET_CHECK(names.ok()) << "corrupt vat.names";
    Json kept = Json::MakeArray();
    for (const Json& n : names->as_array()) {
      if (n.as_string() != v->name) kept.Push(n);
    }
    buf_.Set(keys::kVatNames, kept.Dump());
  }
  std::vector<VatId> terminated = GetVatList(vats_terminated_key_);
  terminated.push_back(vat);
  SetVatList(vats_terminated_key_, terminated);
  Json record = Json::MakeObject();
  record.Set("name", v->name);
  record.Set("rejected", reject);
  record.Set("info", CapDataToJson(info));
  buf_.Set(keys::TerminatedVatRecord(vat), record.Dump());
  v->alive = false;
  // Reap queue entries for it are moot.
  std::vector<VatId> rq = GetVatList(reap_queue_key_);
  if (std::find(rq.begin(), rq.end(), vat) != rq.end()) {
    rq.erase(std::remove(rq.begin(), rq.end(), vat), rq.end());
    SetVatList(reap_queue_key_, rq);
  }
  // Reject every unresolved promise it decides, in c-list key order.
  CapData err = KernelError("vat terminated");
  for (const auto& [key, kref_text] : buf_.ScanPrefix(keys::CListByVref(vat, "p"))) {
    Kref kp = *Kref::Parse(kref_text);
    if (GetPromiseState(kp) != keys::kPromiseUnresolved) continue;
    std::optional<VatId> decider = GetDecider(kp);
    if (decider && *decider == vat) ResolveKernelPromise(kp, true, err);
  }
  if (loaded_vats_.erase(vat.n())) host_->StopVat(vat);
}

bool KernelImpl::CleanupTerminatedVat(VatId vat, uint64_t budget, uint64_t* work) {
  uint64_t remaining = budget == 0 ? UINT64_MAX : budget;
  auto spend = [&]() {
    ++*work;
    --remaining;
    return remaining == 0;
  };
  // exports
  for (const auto& [key, kref_text] : buf_.ScanPrefix(keys::CListByVref(vat, "o+"))) {
    Kref k = *Kref::Parse(kref_text);
    std::optional<VatId> owner = GetOwner(k);
    if (owner && *owner == vat) {
      OrphanKernelObject(k, vat);
    } else {
      auto e = CListByKref(vat, k);
      if (e) CListDeleteKeys(vat, k, e->vref);
    }
    if (spend()) return false;
  }
  // imports
  for (const auto& [key, kref_text] : buf_.ScanPrefix(keys::CListByVref(vat, "o-"))) {
    Kref k = *Kref::Parse(kref_text);
    DeleteCListEntry(vat, k, key.substr(keys::CListPrefix(vat).size()));
    if (spend()) return false;
  }
  // device imports and promises
  for (const char* p : {"d-", "p"}) {
    for (const auto& [key, kref_text] : buf_.ScanPrefix(keys::CListByVref(vat, p))) {
      Kref k = *Kref::Parse(kref_text);
      DeleteCListEntry(vat, k, key.substr(keys::CListPrefix(vat).size()));
      if (spend()) return false;
    }
  }
  // kv: every remaining v<N>. key
  for (const auto& [key, value] : buf_.ScanPrefix(keys::VatPrefix(vat))) {
    buf_.Delete(key);
    if (spend()) return false;
  }
  // transcripts
  for (const auto& [key, value] : buf_.ScanPrefix(keys::TranscriptPrefix(vat))) {
    buf_.Delete(key);
    if (spend()) return false;
  }
  std::vector<VatId> terminated = GetVatList(vats_terminated_key_);
  terminated.erase(std::remove(terminated.begin(), terminated.end(), vat), terminated.end());
  SetVatList(vats_terminated_key_, terminated);
  vats_.erase(vat.n());
  return true;
}

// ---------------------------------------------------------------- the run loop (§9)

bool KernelImpl::RunOneCrank(RunStats* stats) {
  StartCrank();
  const size_t start_mark = SavePoint();
  // 1. routing
  std::string ev_text;
  if (std::optional<KEvent> ev = Dequeue(keys::kAcceptanceQueue, &ev_text)) {
    ProcessRoutingCrank(*std::move(ev), std::move(ev_text));
    EndCrank();
    ++stats->cranks;
    ++stats->routing_cranks;
    return true;
  }
  // 2. cleanup of terminated vats
  std::vector<VatId> terminated = GetVatList(vats_terminated_key_);
  if (!terminated.empty()) {
    uint64_t work = 0;
    VatId vat = terminated.front();
    if (!FindVat(vat)) {
      // Cleanup finished but the list entry survived a reload: drop it.
      terminated.erase(terminated.begin());
      SetVatList(vats_terminated_key_, terminated);
    } else {
      CleanupTerminatedVat(vat, TEST_cleanup_budget, &work);
    }
    EndCrank();
    ++stats->cranks;
    ++stats->cleanups;
    return true;
  }
  // 3. GC actions
  VatId gc_vat;
  GcActionType gc_type;
  std::vector<GcTarget> gc_targets;
  int gc = NextGcAction(&gc_vat, &gc_type, &gc_targets);
  if (gc != 0) {
    if (gc == 1) {
      DeliveryOutcome out = ProcessGcDelivery(gc_vat, gc_type, gc_targets, start_mark);
      if (out.delivered) ++stats->gc_deliveries;
      uint64_t computrons = TakeDeliveryComputrons(out.vat, stats);
      if (out.measure_dirt) AddDirt(out.vat, out.gc_krefs, computrons);
    }
    EndCrank();
    ++stats->cranks;
    return true;
  }
  // 4. reap
  std::vector<VatId> reap = GetVatList(reap_queue_key_);
  if (!reap.empty()) {
    VatId vat = reap.front();
    reap.erase(reap.begin());
    SetVatList(reap_queue_key_, reap);
    ProcessBringOutYourDead(vat, start_mark);
    TakeDeliveryComputrons(vat, stats);
    EndCrank();
    ++stats->cranks;
    ++stats->reaps;
    return true;
  }
  // 5. run-queue
  if (std::optional<KEvent> ev = Dequeue(keys::kRunQueue)) {
    DeliveryOutcome out = ProcessRunQueueEvent(*std::move(ev), start_mark);
    if (out.delivered) ++stats->deliveries;
    uint64_t computrons = TakeDeliveryComputrons(out.vat, stats);
    if (out.measure_dirt) AddDirt(out.vat, 0, computrons);
    EndCrank();
    ++stats->cranks;
    return true;
  }
  // Nothing to do: the crank made no writes.
  RollbackTo(start_mark);
  buf_.DiscardCrank();
  ClearMaybeFree();
  in_crank_ = false;
  return false;
}

RunStats KernelImpl::Run(const RunPolicy& policy) {
  RunStats stats;
  BeginActivityBatch();
  while (true) {
    const uint64_t counted =
        policy.routing_is_free ? stats.cranks - stats.routing_cranks : stats.cranks;
    if ((policy.max_cranks != 0 && counted >= policy.max_cranks) ||
        (policy.max_computrons != 0 && stats.total_computrons >= policy.max_computrons)) {
      stats.work_remains = HasWork();
      break;
    }
    if (!RunOneCrank(&stats)) break;
  }
  EndActivityBatch();
  return stats;
}

bool KernelImpl::Step() {
  RunStats stats;
  return RunOneCrank(&stats);
}

bool KernelImpl::HasWork() {
  return QueueLength(keys::kAcceptanceQueue) > 0 || QueueLength(keys::kRunQueue) > 0 ||
         !GetVatList(vats_terminated_key_).empty() || !gc_actions_.empty() ||
         !GetVatList(reap_queue_key_).empty();
}

}  // namespace swingset
