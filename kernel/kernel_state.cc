// Typed accessors over the crank buffer (docs/KERNEL_SPEC.md §2, §4): counters, kernel objects and
// promises, c-lists with reachable flags, the refcount primitives, queues, GC-action and vat
// lists. Every key comes from key_schema.h.

#include <algorithm>
#include <iterator>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kernel/base.h"
#include "kernel/kernel_impl.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {

namespace {

uint64_t ParseU64OrDie(std::string_view s, std::string_view what) {
  uint64_t n;
  SWINGSET_CHECK(ParseNat(s, &n)) << "corrupt " << std::string(what) << ": '" << std::string(s)
                                  << "'";
  return n;
}

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (absl::string_view part : absl::StrSplit(ToAbsl(s), ',')) out.emplace_back(part);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- events

Json KMessage::ToJson() const {
  Json m = Json::MakeObject();
  m.Set("methargs", CapDataToJson(methargs));
  if (result) {
    m.Set("result", result->ToString());
  } else if (!omit_result) {
    m.Set("result", Json());
  }
  return m;
}

Json KEvent::ToJson() const {
  Json o = Json::MakeObject();
  switch (type) {
    case Type::kSend: {
      o.Set("type", "send");
      o.Set("target", target.ToString());
      o.Set("msg", msg.ToJson());
      break;
    }
    case Type::kNotify:
      o.Set("type", "notify");
      o.Set("vatID", vat.ToString());
      o.Set("kpid", kpid.ToString());
      break;
    case Type::kStartVat:
      o.Set("type", "startVat");
      o.Set("vatID", vat.ToString());
      o.Set("vatParameters", CapDataToJson(vat_parameters));
      break;
  }
  return o;
}

namespace {
// {"body":...,"slots":[...]} exactly as CapDataToJson(c).Dump() writes it.
void AppendCapData(const CapData& c, std::string* out) {
  out->append("{\"body\":");
  AppendJsonString(c.body, out);
  out->append(",\"slots\":[");
  for (size_t i = 0; i < c.slots.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(c.slots[i], out);
  }
  out->append("]}");
}

// The same text as AppendJsonString(v.ToString(), out): vat id text never needs escaping.
void AppendVatId(VatId v, std::string* out) {
  out->push_back('"');
  out->append(keys::IdText(v).view());
  out->push_back('"');
}

void AppendKref(const Kref& k, std::string* out) {
  // Kref text never needs escaping.
  out->push_back('"');
  k.AppendTo(out);
  out->push_back('"');
}
}  // namespace

void KMessage::EncodeTo(std::string* out) const {
  out->append("{\"methargs\":");
  AppendCapData(methargs, out);
  if (result) {
    out->append(",\"result\":");
    AppendKref(*result, out);
  } else if (!omit_result) {
    out->append(",\"result\":null");
  }
  out->push_back('}');
}

std::string KEvent::Encode() const {
  std::string out;
  out.reserve(128);
  switch (type) {
    case Type::kSend:
      out.append("{\"type\":\"send\",\"target\":");
      AppendKref(target, &out);
      out.append(",\"msg\":");
      msg.EncodeTo(&out);
      out.push_back('}');
      break;
    case Type::kNotify:
      out.append("{\"type\":\"notify\",\"vatID\":");
      AppendVatId(vat, &out);
      out.append(",\"kpid\":");
      AppendKref(kpid, &out);
      out.push_back('}');
      break;
    case Type::kStartVat:
      out.append("{\"type\":\"startVat\",\"vatID\":");
      AppendVatId(vat, &out);
      out.append(",\"vatParameters\":");
      AppendCapData(vat_parameters, &out);
      out.push_back('}');
      break;
  }
  return out;
}

KEvent KEvent::FromJsonOrDie(std::string_view text) {
  auto j = Json::Parse(text);
  SWINGSET_CHECK(j.ok()) << "corrupt queue event: " << j.status().ToString();
  KEvent ev;
  const Json* type = j->Find("type");
  SWINGSET_CHECK(type && type->is_string()) << "queue event without type";
  const std::string& t = type->as_string();
  if (t == "send") {
    ev.type = Type::kSend;
    auto target = Kref::Parse(j->Find("target")->as_string());
    SWINGSET_CHECK(target.ok()) << "corrupt send target";
    ev.target = *target;
    const Json* msg = j->Find("msg");
    SWINGSET_CHECK(msg) << "send without msg";
    auto ma = CapDataFromJson(*msg->Find("methargs"));
    SWINGSET_CHECK(ma.ok()) << "corrupt methargs";
    ev.msg.methargs = *std::move(ma);
    const Json* r = msg->Find("result");
    if (!r) {
      ev.msg.omit_result = true;
    } else if (r->is_string()) {
      auto kr = Kref::Parse(r->as_string());
      SWINGSET_CHECK(kr.ok()) << "corrupt result";
      ev.msg.result = *kr;
    }
  } else if (t == "notify") {
    ev.type = Type::kNotify;
    ev.vat = *VatId::Parse(j->Find("vatID")->as_string());
    ev.kpid = *Kref::Parse(j->Find("kpid")->as_string());
  } else if (t == "startVat") {
    ev.type = Type::kStartVat;
    ev.vat = *VatId::Parse(j->Find("vatID")->as_string());
    ev.vat_parameters = *CapDataFromJson(*j->Find("vatParameters"));
  } else {
    SWINGSET_CHECK(false) << "unknown queue event type " << t;
  }
  return ev;
}

// ---------------------------------------------------------------- counters

uint64_t KernelImpl::AllocCounter(std::string_view key, uint64_t first) {
  CrankBuffer::EntryRef e = buf_.Ref(key);
  const std::string* v = buf_.Find(e);
  uint64_t n = v ? ParseU64OrDie(*v, key) : first;
  buf_.Set(e, NumText(n + 1));
  return n;
}

Kref KernelImpl::AllocObject(std::optional<VatId> owner) {
  // A new id: none of its keys can be in the store (Create / AssumeAbsent).
  Kref ko = Kref::Object(AllocCounter(keys::kKoNextId, keys::kFirstObjectId));
  if (owner) {
    buf_.Create(keys::ObjectOwner(ko), owner->ToString());
  } else {
    buf_.AssumeAbsent(keys::ObjectOwner(ko));
  }
  buf_.Create(keys::ObjectRefCount(ko), "0,0");
  return ko;
}

Kref KernelImpl::AllocPromise(std::optional<VatId> decider, uint64_t ref_count) {
  // A new id: none of its keys can be in the store. Knowing that for the keys written later
  // too lets the block drop their deletes when the promise dies within the block.
  Kref kp = Kref::Promise(AllocCounter(keys::kKpNextId, keys::kFirstPromiseId));
  buf_.Create(PromiseEntry(kp, PromiseKey::kState), keys::kPromiseUnresolved);
  buf_.Create(PromiseEntry(kp, PromiseKey::kSubscribers), "");
  buf_.Create(PromiseEntry(kp, PromiseKey::kQueueNextId), "0");
  buf_.Create(PromiseEntry(kp, PromiseKey::kRefCount), NumText(ref_count));
  buf_.Create(PromiseEntry(kp, PromiseKey::kDecider), decider ? decider->ToString() : "");
  buf_.AssumeAbsent(PromiseEntry(kp, PromiseKey::kPolicy));
  buf_.AssumeAbsent(PromiseEntry(kp, PromiseKey::kDataBody));
  buf_.AssumeAbsent(PromiseEntry(kp, PromiseKey::kDataSlots));
  return kp;
}

// ---------------------------------------------------------------- objects

std::optional<std::pair<uint64_t, uint64_t>> KernelImpl::GetObjectCounts(const Kref& ko) {
  return GetObjectCounts(ko, buf_.Ref(keys::ObjectRefCount(ko)));
}

void KernelImpl::SetObjectCounts(const Kref& ko, uint64_t r, uint64_t c) {
  SetObjectCounts(ko, buf_.Ref(keys::ObjectRefCount(ko)), r, c);
}

std::optional<std::pair<uint64_t, uint64_t>> KernelImpl::GetObjectCounts(
    const Kref& ko, CrankBuffer::EntryRef e) {
  const std::string* v = buf_.Find(e);
  if (!v) return std::nullopt;
  size_t comma = v->find(',');
  SWINGSET_CHECK(comma != std::string::npos)
      << "corrupt refCount of " << ko.ToString() << ": " << *v;
  uint64_t r = ParseU64OrDie(std::string_view(*v).substr(0, comma), "refCount");
  uint64_t c = ParseU64OrDie(std::string_view(*v).substr(comma + 1), "refCount");
  SWINGSET_CHECK(r <= c) << "refCount of " << ko.ToString()
                         << " has reachable > recognizable: " << *v;
  return std::make_pair(r, c);
}

void KernelImpl::SetObjectCounts(const Kref& ko, CrankBuffer::EntryRef e, uint64_t r,
                                 uint64_t c) {
  SWINGSET_CHECK(r <= c) << "setting refCount of " << ko.ToString() << " to " << r << "," << c;
  buf_.Set(e, NumText(r, ',', c));
}

std::optional<VatId> KernelImpl::GetOwner(const Kref& ko) {
  const std::string* v = buf_.Find(keys::ObjectOwner(ko));
  if (!v) return std::nullopt;
  auto id = VatId::Parse(*v);
  SWINGSET_CHECK(id.ok()) << "corrupt owner of " << ko.ToString();
  return *id;
}

void KernelImpl::DeleteObject(const Kref& ko) {
  buf_.Delete(keys::ObjectOwner(ko));
  buf_.Delete(keys::ObjectRefCount(ko));
}

// ---------------------------------------------------------------- promises

CrankBuffer::EntryRef KernelImpl::PromiseEntry(const Kref& kp, PromiseKey key) {
  if (promise_entries_epoch_ != buf_.epoch()) {
    promise_entries_.clear();
    next_promise_entries_ = 0;
    promise_entries_epoch_ = buf_.epoch();
  }
  PromiseEntries* p = nullptr;
  for (PromiseEntries& e : promise_entries_) {
    if (e.kp == kp) {
      p = &e;
      break;
    }
  }
  if (!p) {
    if (promise_entries_.size() < kRememberedPromises) {
      p = &promise_entries_.emplace_back();
    } else {
      p = &promise_entries_[next_promise_entries_];
      next_promise_entries_ = (next_promise_entries_ + 1) % kRememberedPromises;
      *p = PromiseEntries();
    }
    p->kp = kp;
  }
  std::optional<CrankBuffer::EntryRef>& e = p->entries[static_cast<size_t>(key)];
  if (!e) {
    // The key builders in PromiseKey order.
    static constexpr keys::KeyText (*kKeyOf[])(const Kref&) = {
        keys::PromiseState,  keys::PromiseRefCount,    keys::PromiseDecider,
        keys::PromisePolicy, keys::PromiseSubscribers, keys::PromiseQueueNextId,
        keys::PromiseDataBody, keys::PromiseDataSlots};
    static_assert(std::size(kKeyOf) == kPromiseKeys);
    e = buf_.Ref(kKeyOf[static_cast<size_t>(key)](kp));
  }
  return *e;
}

std::string KernelImpl::GetPromiseState(const Kref& kp) {
  const std::string* v = buf_.Find(PromiseEntry(kp, PromiseKey::kState));
  return v ? *v : std::string();
}

uint64_t KernelImpl::GetPromiseRefCount(const Kref& kp) {
  return GetPromiseRefCount(PromiseEntry(kp, PromiseKey::kRefCount));
}

uint64_t KernelImpl::GetPromiseRefCount(CrankBuffer::EntryRef e) {
  const std::string* v = buf_.Find(e);
  return v ? ParseU64OrDie(*v, "promise refCount") : 0;
}

std::optional<VatId> KernelImpl::GetDecider(const Kref& kp) {
  return GetDecider(kp, PromiseEntry(kp, PromiseKey::kDecider));
}

std::optional<VatId> KernelImpl::GetDecider(const Kref& kp, CrankBuffer::EntryRef e) {
  const std::string* v = buf_.Find(e);
  if (!v) return std::nullopt;
  if (v->empty()) return VatId();
  auto id = VatId::Parse(*v);
  SWINGSET_CHECK(id.ok()) << "corrupt decider of " << kp.ToString();
  return *id;
}

void KernelImpl::SetDecider(CrankBuffer::EntryRef e, VatId vat) {
  buf_.Set(e, vat.valid() ? vat.ToString() : "");
}

void KernelImpl::AddSubscriber(const Kref& kp, VatId vat) {
  CrankBuffer::EntryRef e = PromiseEntry(kp, PromiseKey::kSubscribers);
  const std::string* v = buf_.Find(e);
  if (!v || v->empty()) {  // the usual case: the first subscriber
    buf_.Set(e, vat.ToString());
    return;
  }
  std::vector<VatId> subs;
  for (const std::string& s : SplitCommas(*v)) subs.push_back(*VatId::Parse(s));
  if (std::find(subs.begin(), subs.end(), vat) != subs.end()) return;
  subs.push_back(vat);
  std::sort(subs.begin(), subs.end(), VatIdStringLess);
  std::vector<std::string> names;
  for (VatId id : subs) names.push_back(id.ToString());
  buf_.Set(e, absl::StrJoin(names, ","));
}

CapData KernelImpl::GetPromiseData(const Kref& kp) {
  CapData d;
  const std::string* body = buf_.Find(PromiseEntry(kp, PromiseKey::kDataBody));
  if (body) d.body = *body;
  const std::string* slots = buf_.Find(PromiseEntry(kp, PromiseKey::kDataSlots));
  if (slots) d.slots = SplitCommas(*slots);
  return d;
}

void KernelImpl::AddMessageToPromiseQueue(const Kref& kp, const KMessage& msg) {
  uint64_t n =
      ParseU64OrDie(*buf_.Find(PromiseEntry(kp, PromiseKey::kQueueNextId)), "queue.nextID");
  std::string text;
  msg.EncodeTo(&text);
  buf_.Set(keys::PromiseQueueItem(kp, n), text);
  buf_.Set(PromiseEntry(kp, PromiseKey::kQueueNextId), StrCat(n + 1));
}

std::vector<KMessage> KernelImpl::TakePromiseQueue(const Kref& kp) {
  CrankBuffer::EntryRef next = PromiseEntry(kp, PromiseKey::kQueueNextId);
  if (!buf_.Find(next)) return {};
  std::vector<KMessage> out = TakePromiseQueue(kp, next);
  buf_.Set(next, "0");
  return out;
}

std::vector<KMessage> KernelImpl::TakePromiseQueue(const Kref& kp, CrankBuffer::EntryRef next_ref) {
  std::vector<KMessage> out;
  const std::string* next = buf_.Find(next_ref);
  if (!next) return out;
  uint64_t n = ParseU64OrDie(*next, "queue.nextID");
  if (n == 0) return out;
  for (uint64_t i = 0; i < n; ++i) {
    keys::KeyText key = keys::PromiseQueueItem(kp, i);
    const std::string* text = buf_.Find(key);
    SWINGSET_CHECK(text) << "missing promise queue item " << key;
    // Reuse the event parser by wrapping as a send event.
    KEvent ev = KEvent::FromJsonOrDie(
        StrCat("{\"type\":\"send\",\"target\":\"", kp.ToString(), "\",\"msg\":", *text, "}"));
    out.push_back(std::move(ev.msg));
    buf_.Delete(key);
  }
  return out;
}

void KernelImpl::DeletePromise(const Kref& kp) {
  DeletePromise(kp, PromiseEntry(kp, PromiseKey::kState), PromiseEntry(kp, PromiseKey::kRefCount),
                PromiseEntry(kp, PromiseKey::kDataSlots));
}

void KernelImpl::DeletePromise(const Kref& kp, CrankBuffer::EntryRef state,
                               CrankBuffer::EntryRef ref_count, CrankBuffer::EntryRef slots) {
  // Every key a promise can have (§2.3), deleted only where present: no store iterator.
  CrankBuffer::EntryRef next = PromiseEntry(kp, PromiseKey::kQueueNextId);
  uint64_t queued = 0;
  if (const std::string* n = buf_.Find(next)) queued = ParseU64OrDie(*n, "queue.nextID");
  for (uint64_t i = 0; i < queued; ++i) {
    CrankBuffer::EntryRef item = buf_.Ref(keys::PromiseQueueItem(kp, i));
    if (buf_.Find(item)) buf_.Delete(item);
  }
  auto delete_if_present = [&](CrankBuffer::EntryRef e) {
    if (buf_.Find(e)) buf_.Delete(e);
  };
  delete_if_present(state);
  delete_if_present(ref_count);
  delete_if_present(PromiseEntry(kp, PromiseKey::kDecider));
  delete_if_present(PromiseEntry(kp, PromiseKey::kPolicy));
  delete_if_present(PromiseEntry(kp, PromiseKey::kSubscribers));
  delete_if_present(next);
  delete_if_present(PromiseEntry(kp, PromiseKey::kDataBody));
  delete_if_present(slots);
}

bool KernelImpl::DeletePromiseIfUnreferenced(const Kref& kp) {
  CrankBuffer::EntryRef state = PromiseEntry(kp, PromiseKey::kState);
  const std::string* st = buf_.Find(state);
  if (!st || st->empty()) return false;  // lost
  const bool settled = *st != keys::kPromiseUnresolved;
  CrankBuffer::EntryRef ref_count = PromiseEntry(kp, PromiseKey::kRefCount);
  if (GetPromiseRefCount(ref_count) != 0) return false;
  CrankBuffer::EntryRef slots = PromiseEntry(kp, PromiseKey::kDataSlots);
  if (settled) {
    const std::string* v = buf_.Find(slots);
    DecSlots(v ? SplitCommas(*v) : std::vector<std::string>());
  }
  DeletePromise(kp, state, ref_count, slots);
  return true;
}

void KernelImpl::ResolveKernelPromise(const Kref& kp, bool rejected, const CapData& data) {
  ResolveKernelPromise(kp, rejected, data, PromiseEntry(kp, PromiseKey::kState),
                       PromiseEntry(kp, PromiseKey::kDecider));
}

void KernelImpl::ResolveKernelPromise(const Kref& kp, bool rejected, const CapData& data,
                                      CrankBuffer::EntryRef state, CrankBuffer::EntryRef decider) {
  const std::string* s = buf_.Find(state);
  SWINGSET_CHECK(s && *s == keys::kPromiseUnresolved)
      << "resolving " << kp.ToString() << " which is not unresolved";
  CrankBuffer::EntryRef subscribers = PromiseEntry(kp, PromiseKey::kSubscribers);
  if (const std::string* v = buf_.Find(subscribers); v && !v->empty()) {
    const std::string subs = *v;  // (EnqueueNotify writes the buffer)
    for (absl::string_view sub : absl::StrSplit(ToAbsl(subs), ',')) {
      EnqueueNotify(*VatId::Parse(std::string_view(sub.data(), sub.size())), kp);
    }
  }
  IncSlots(data.slots);
  // The queue.nextID entry is deleted below, so the taken queue need not reset it.
  CrankBuffer::EntryRef next = PromiseEntry(kp, PromiseKey::kQueueNextId);
  std::vector<KMessage> queued = TakePromiseQueue(kp, next);
  for (KMessage& m : queued) {
    // Lateral move: the holds the queued message had are carried over unchanged.
    KEvent ev;
    ev.type = KEvent::Type::kSend;
    ev.target = kp;
    ev.msg = std::move(m);
    Enqueue(keys::kAcceptanceQueue, std::move(ev));
  }
  buf_.Delete(decider);
  buf_.Delete(subscribers);
  buf_.Delete(PromiseEntry(kp, PromiseKey::kPolicy));
  buf_.Delete(next);
  buf_.Set(state, rejected ? keys::kPromiseRejected : keys::kPromiseFulfilled);
  buf_.Set(PromiseEntry(kp, PromiseKey::kDataBody), data.body);
  buf_.Set(PromiseEntry(kp, PromiseKey::kDataSlots), absl::StrJoin(data.slots, ","));
}

// ---------------------------------------------------------------- c-lists

std::optional<CListEntry> KernelImpl::CListByKref(VatId vat, const Kref& k) {
  return CListByKref(vat, k, buf_.Ref(keys::CListByKref(vat, k)));
}

std::optional<Kref> KernelImpl::CListByVref(VatId vat, std::string_view vref) {
  return CListByVref(vat, vref, buf_.Ref(keys::CListByVref(vat, vref)));
}

std::optional<CListEntry> KernelImpl::CListByKref(VatId vat, const Kref& k,
                                                  CrankBuffer::EntryRef e) {
  const std::string* v = buf_.Find(e);
  if (!v) return std::nullopt;
  SWINGSET_CHECK(v->size() >= 3 && (*v)[1] == ' ' && ((*v)[0] == 'R' || (*v)[0] == '_'))
      << "corrupt c-list entry " << keys::CListByKref(vat, k) << ": " << *v;
  return CListEntry{(*v)[0] == 'R', v->substr(2)};
}

std::optional<Kref> KernelImpl::CListByVref(VatId vat, std::string_view vref,
                                            CrankBuffer::EntryRef e) {
  const std::string* v = buf_.Find(e);
  if (!v) return std::nullopt;
  auto k = Kref::Parse(*v);
  SWINGSET_CHECK(k.ok()) << "corrupt c-list entry for " << std::string(vref);
  return *k;
}

void KernelImpl::CListAdd(const Kref& k, std::string_view vref, bool reachable,
                          CrankBuffer::EntryRef fwd, CrankBuffer::EntryRef rev) {
  // Neither key is stored: one side was just looked up and found missing, the other is named
  // after an id allocated for this entry (Create records both as absent before the write).
  buf_.Create(fwd, StrCat(reachable ? "R " : "_ ", vref));
  buf_.Create(rev, k.ToString());
}

void KernelImpl::CListDeleteKeys(VatId vat, const Kref& k, std::string_view vref) {
  buf_.Delete(keys::CListByKref(vat, k));
  buf_.Delete(keys::CListByVref(vat, vref));
}

void KernelImpl::SetReachableFlag(VatId vat, const Kref& k) {
  auto e = CListByKref(vat, k);
  SWINGSET_CHECK(e) << "setReachableFlag on missing entry " << vat.ToString() << " "
                    << k.ToString();
  SetReachableFlag(vat, k, *e);
}

void KernelImpl::SetReachableFlag(VatId vat, const Kref& k, const CListEntry& e) {
  if (e.reachable) return;
  // Only the forward entry carries the flag; the reverse entry (vref -> kref) is unchanged.
  buf_.Set(keys::CListByKref(vat, k), StrCat("R ", e.vref));
  if (k.is_object() && e.vref[1] == '-') {
    CrankBuffer::EntryRef ce = buf_.Ref(keys::ObjectRefCount(k));
    auto counts = GetObjectCounts(k, ce);
    if (counts) SetObjectCounts(k, ce, counts->first + 1, counts->second);
  }
}

void KernelImpl::ClearReachableFlag(VatId vat, const Kref& k) {
  auto e = CListByKref(vat, k);
  SWINGSET_CHECK(e) << "clearReachableFlag on missing entry " << vat.ToString() << " "
                    << k.ToString();
  ClearReachableFlag(vat, k, *e);
}

void KernelImpl::ClearReachableFlag(VatId vat, const Kref& k, const CListEntry& e) {
  if (!e.reachable) return;  // already recognizable-only: nothing to write
  buf_.Set(keys::CListByKref(vat, k), StrCat("_ ", e.vref));
  if (k.is_object() && e.vref[1] == '-') {
    CrankBuffer::EntryRef ce = buf_.Ref(keys::ObjectRefCount(k));
    auto counts = GetObjectCounts(k, ce);
    if (counts) {
      SWINGSET_CHECK(counts->first > 0) << "reachable count of " << k.ToString() << " below zero";
      SetObjectCounts(k, ce, counts->first - 1, counts->second);
      if (counts->first - 1 == 0) AddMaybeFree(k);
    }
  }
}

void KernelImpl::DeleteCListEntry(VatId vat, const Kref& k, std::string_view vref) {
  auto e = CListByKref(vat, k);
  SWINGSET_CHECK(e && e->vref == vref) << "c-list of " << vat.ToString() << " maps " << vref
                                       << " to " << k.ToString() << " but not back";
  DeleteCListEntry(vat, k, *e);
}

void KernelImpl::DeleteCListEntry(VatId vat, const Kref& k, const CListEntry& e) {
  // The net writes of clearing the reachable flag, releasing the entry's count and deleting
  // both keys (only net writes are hashed): the flag goes with the entry, and the count
  // release is DecRef's, reachable too while flagged (it only counts for object imports; an
  // object export's entry holds no count, §4.1).
  DecRef(k, /*is_export=*/e.vref[1] == '+', /*only_recognizable=*/!e.reachable);
  CListDeleteKeys(vat, k, e.vref);
}

// ---------------------------------------------------------------- refcounts

void KernelImpl::AddMaybeFree(const Kref& k) {
  if (maybe_free_set_.Insert(k)) maybe_free_.push_back(k);
}

void KernelImpl::IncRef(const Kref& k, bool is_export, bool only_recognizable) {
  if (k.is_promise()) {
    CrankBuffer::EntryRef pe = PromiseEntry(k, PromiseKey::kRefCount);
    buf_.Set(pe, NumText(GetPromiseRefCount(pe) + 1));
    return;
  }
  if (!k.is_object() || is_export) return;
  CrankBuffer::EntryRef ce = buf_.Ref(keys::ObjectRefCount(k));
  auto counts = GetObjectCounts(k, ce).value_or(std::make_pair(uint64_t{0}, uint64_t{0}));
  SetObjectCounts(k, ce, counts.first + (only_recognizable ? 0 : 1), counts.second + 1);
}

void KernelImpl::DecRef(const Kref& k, bool is_export, bool only_recognizable) {
  if (k.is_promise()) {
    CrankBuffer::EntryRef pe = PromiseEntry(k, PromiseKey::kRefCount);
    uint64_t n = GetPromiseRefCount(pe);
    SWINGSET_CHECK(n > 0) << "refCount of " << k.ToString() << " below zero";
    buf_.Set(pe, NumText(n - 1));
    if (n - 1 == 0) AddMaybeFree(k);
    return;
  }
  if (!k.is_object() || is_export) return;
  CrankBuffer::EntryRef ce = buf_.Ref(keys::ObjectRefCount(k));
  auto counts = GetObjectCounts(k, ce);
  if (!counts) return;
  uint64_t r = counts->first, c = counts->second;
  if (!only_recognizable) {
    SWINGSET_CHECK(r > 0) << "reachable count of " << k.ToString() << " below zero";
    --r;
  }
  SWINGSET_CHECK(c > 0) << "recognizable count of " << k.ToString() << " below zero";
  --c;
  SetObjectCounts(k, ce, r, c);
  if (r == 0 || c == 0) AddMaybeFree(k);
}

void KernelImpl::IncSlots(const std::vector<std::string>& kslots) {
  for (const std::string& s : kslots) IncRef(*Kref::Parse(s));
}

void KernelImpl::DecSlots(const std::vector<std::string>& kslots) {
  for (const std::string& s : kslots) DecRef(*Kref::Parse(s));
}

void KernelImpl::IncMessage(const Kref& target, const KMessage& msg) {
  IncRef(target);
  if (msg.result) IncRef(*msg.result);
  IncSlots(msg.methargs.slots);
}

void KernelImpl::DecMessage(const Kref& target, const KMessage& msg) {
  DecRef(target);
  if (msg.result) DecRef(*msg.result);
  DecSlots(msg.methargs.slots);
}

// ---------------------------------------------------------------- queues

namespace {
// "[head,tail]"
std::pair<uint64_t, uint64_t> ParseQueueMeta(const std::string* v) {
  if (!v) return {1, 1};
  std::string_view s(*v);
  SWINGSET_CHECK(s.size() >= 5 && s.front() == '[' && s.back() == ']')
      << "corrupt queue meta " << *v;
  size_t comma = s.find(',');
  SWINGSET_CHECK(comma != std::string_view::npos) << "corrupt queue meta " << *v;
  return {ParseU64OrDie(s.substr(1, comma - 1), "queue head"),
          ParseU64OrDie(s.substr(comma + 1, s.size() - comma - 2), "queue tail")};
}
}  // namespace

KernelImpl::ParsedQueue* KernelImpl::ParsedQueueFor(std::string_view queue) {
  for (ParsedQueue& q : parsed_queues_) {
    if (q.meta.key() == queue) return &q;
  }
  parsed_queues_.emplace_back(queue);
  return &parsed_queues_.back();
}

void KernelImpl::Enqueue(std::string_view queue, KEvent ev, std::string encoded) {
  ParsedQueue* pq = ParsedQueueFor(queue);
  auto [head, tail] = ParseQueueMeta(buf_.Find(pq->meta));
  std::string text = encoded.empty() ? ev.Encode() : std::move(encoded);
#ifndef NDEBUG
  SWINGSET_CHECK(text == ev.Encode()) << "Enqueue given a stale encoding: " << text;
#endif
  // Indexes at or past the tail have never been written.
  buf_.Create(keys::QueueItem(queue, tail), text);
  buf_.Set(pq->meta, NumText('[', head, ',', tail + 1, ']'));
  // Entries at or past `tail` were enqueued by a crank that was rolled back.
  while (!pq->items.empty() && pq->items.back().index >= tail) pq->items.pop_back();
  if (pq->items.size() < kMaxParsedQueueItems) {
    ParsedQueueItem& item = pq->items.emplace_back();
    item.index = tail;
    item.text = std::move(text);
    // Only the fields the text carries, so the kept event equals what parsing the text gives.
    KEvent& parsed = item.event;
    parsed.type = ev.type;
    switch (ev.type) {
      case KEvent::Type::kSend:
        parsed.target = ev.target;
        parsed.msg = std::move(ev.msg);
        if (parsed.msg.result) parsed.msg.omit_result = false;
        break;
      case KEvent::Type::kNotify:
        parsed.vat = ev.vat;
        parsed.kpid = ev.kpid;
        break;
      case KEvent::Type::kStartVat:
        parsed.vat = ev.vat;
        parsed.vat_parameters = std::move(ev.vat_parameters);
        break;
    }
  }
}

std::optional<KEvent> KernelImpl::Dequeue(std::string_view queue, std::string* encoded) {
  if (encoded) encoded->clear();
  ParsedQueue* pq = ParsedQueueFor(queue);
  auto [head, tail] = ParseQueueMeta(buf_.Find(pq->meta));
  if (head >= tail) return std::nullopt;
  keys::KeyText key = keys::QueueItem(queue, head);
  CrankBuffer::EntryRef item = buf_.Ref(key);
  const std::string* text = buf_.Find(item);
  SWINGSET_CHECK(text) << "missing queue item " << key;
  std::optional<KEvent> ev;
  while (!pq->items.empty() && pq->items.front().index < head) pq->items.pop_front();
  if (!pq->items.empty() && pq->items.front().index == head) {
    // The store is the truth: the parsed copy is used only if its text is what is stored.
    if (pq->items.front().text == *text) {
      ev = std::move(pq->items.front().event);
      if (encoded) *encoded = std::move(pq->items.front().text);
    }
    pq->items.pop_front();
  }
  if (!ev) ev = KEvent::FromJsonOrDie(*text);
  buf_.Delete(item);
  buf_.Set(pq->meta, NumText('[', head + 1, ',', tail, ']'));
  return ev;
}

uint64_t KernelImpl::QueueLength(std::string_view queue) {
  auto [head, tail] = ParseQueueMeta(buf_.Find(ParsedQueueFor(queue)->meta));
  return tail - head;
}

void KernelImpl::EnqueueNotify(VatId vat, const Kref& kp) {
  if (counting_delivery_) ++delivery_enqueued_;
  IncRef(kp);
  KEvent ev;
  ev.type = KEvent::Type::kNotify;
  ev.vat = vat;
  ev.kpid = kp;
  Enqueue(keys::kAcceptanceQueue, std::move(ev));
}

void KernelImpl::EnqueueSend(const Kref& target, KMessage msg) {
  if (counting_delivery_) ++delivery_enqueued_;
  IncMessage(target, msg);
  KEvent ev;
  ev.type = KEvent::Type::kSend;
  ev.target = target;
  ev.msg = std::move(msg);
  Enqueue(keys::kAcceptanceQueue, std::move(ev));
}

// ---------------------------------------------------------------- lists

std::vector<VatId> KernelImpl::GetVatList(CrankBuffer::KeyHandle& key) {
  std::vector<VatId> out;
  const std::string* v = buf_.Find(key);
  if (!v || *v == "[]") return out;
  auto j = Json::Parse(*v);
  SWINGSET_CHECK(j.ok() && j->is_array()) << "corrupt " << key.key();
  for (const Json& e : j->as_array()) out.push_back(*VatId::Parse(e.as_string()));
  return out;
}

void KernelImpl::SetVatList(CrankBuffer::KeyHandle& key, const std::vector<VatId>& vats) {
  Json a = Json::MakeArray();
  for (VatId v : vats) a.Push(Json(v.ToString()));
  buf_.Set(key, a.Dump());
}

// ---------------------------------------------------------------- vats

VatInfo* KernelImpl::FindVat(VatId vat) {
  auto it = vats_.find(vat.n());
  return it == vats_.end() ? nullptr : &it->second;
}

bool KernelImpl::VatIsAlive(VatId vat) {
  VatInfo* v = FindVat(vat);
  return v && v->alive;
}

std::vector<VatId> KernelImpl::LiveImporters(const Kref& ko) {
  std::vector<VatId> out;
  for (auto& [n, info] : vats_) {
    if (!info.alive) continue;
    auto e = CListByKref(info.id, ko);
    if (e && e->vref[1] == '-') out.push_back(info.id);
  }
  std::sort(out.begin(), out.end(), VatIdStringLess);
  return out;
}

absl::Status KernelImpl::LoadVatInfo() {
  vats_.clear();
  auto load = [&](VatId id, std::string name, bool alive, bool dynamic) -> absl::Status {
    VatInfo info;
    info.id = id;
    info.name = std::move(name);
    info.alive = alive;
    info.dynamic = dynamic;
    auto opts_text = buf_.Get(keys::VatOptions(id));
    if (opts_text) {
      auto opts = Json::Parse(*opts_text);
      if (!opts.ok()) return opts.status();
      if (const Json* p = opts->Find("enablePipelining")) info.pipelining = p->as_bool();
      if (const Json* t = opts->Find("useTranscript")) info.use_transcript = t->as_bool();
      if (const Json* r = opts->Find("raw")) info.raw = r->as_bool();
      if (const Json* n = opts->Find("name"); n && info.name.empty()) info.name = n->as_string();
      if (const Json* r = opts->Find("reapDirtThreshold")) info.reap_threshold = *r;
    }
    vats_[id.n()] = std::move(info);
    return absl::OkStatus();
  };
  auto names = buf_.Get(keys::kVatNames);
  if (names) {
    auto j = Json::Parse(*names);
    if (!j.ok()) return j.status();
    for (const Json& n : j->as_array()) {
      auto id_text = buf_.Get(keys::VatName(n.as_string()));
      if (!id_text) return absl::DataLossError(StrCat("vat.names lists ", n.as_string()));
      RETURN_IF_ERROR(load(*VatId::Parse(*id_text), n.as_string(), true, false));
    }
  }
  for (VatId id : GetVatList(vat_dynamic_ids_key_)) RETURN_IF_ERROR(load(id, "", true, true));
  for (VatId id : GetVatList(vats_terminated_key_)) RETURN_IF_ERROR(load(id, "", false, false));
  return absl::OkStatus();
}

}  // namespace swingset
