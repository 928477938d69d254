#include "server/inspector.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/state_hash.h"
#include "kernel/base.h"
#include "kernel/ids.h"
#include "kernel/json.h"
#include "kernel/key_schema.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"
#include "server/block_lifecycle.h"
#include "server/host_keys.h"
#include "server/mailbox_device.h"

namespace swingset {
namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
// Id-counter enumerations look at no more than this many ids per page per returned item, so a
// page over a sparse table still returns promptly (with a token to continue).
constexpr uint64_t kScanFactor = 50;

uint32_t PageSize(uint32_t requested) {
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

using Snapshot = std::unique_ptr<KvSnapshot>;

absl::StatusOr<std::optional<std::string>> Get(const Snapshot& s, std::string_view key) {
  return s->Get(key);
}

absl::Status NotInitialized(const Snapshot& s) {
  ASSIGN_OR_RETURN(std::optional<std::string> h, Get(s, host_keys::kSavedHeight));
  if (!h) return absl::FailedPreconditionError("no state yet: Init has not applied a genesis");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> GetNat(const Snapshot& s, std::string_view key, uint64_t dflt) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, Get(s, key));
  if (!v) return dflt;
  uint64_t n;
  if (!ParseNat(*v, &n)) return absl::DataLossError(StrCat("bad number at ", key, ": ", *v));
  return n;
}

absl::StatusOr<Json> GetJson(const Snapshot& s, std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, Get(s, key));
  if (!v) return Json();
  absl::StatusOr<Json> j = Json::Parse(*v);
  if (!j.ok()) return absl::DataLossError(StrCat("bad JSON at ", key));
  return *j;
}

absl::StatusOr<uint64_t> ParseToken(std::string_view token, uint64_t dflt) {
  if (token.empty()) return dflt;
  uint64_t n;
  if (!ParseNat(token, &n)) return absl::InvalidArgumentError("page_token: not a token from this list");
  return n;
}

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t c = s.find(',');
    out.emplace_back(s.substr(0, c));
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

constexpr std::string_view kHexTokenPrefix = "~hex:";

std::optional<std::string> Unhex(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size() / 2);
  for (size_t i = 0; i < s.size(); i += 2) {
    const int hi = nibble(s[i]), lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

void FillCapData(const CapData& c, v1::CapDataView* out) {
  out->set_body(JsonTextToUtf8(c.body));  // vat text: lone surrogates escaped
  for (const std::string& s : c.slots) out->add_slots(s);
  absl::StatusOr<Json> v = smallcaps::Decode(c);
  if (v.ok()) out->set_value_json(v->Dump());
}

// A vat given by id ("v3") or by name.
absl::StatusOr<VatId> ResolveVat(const Snapshot& s, std::string_view vat) {
  if (vat.empty()) return absl::InvalidArgumentError("vat: empty");
  absl::StatusOr<VatId> id = VatId::Parse(vat);
  if (id.ok()) return *id;
  ASSIGN_OR_RETURN(std::optional<std::string> by_name, Get(s, keys::VatName(vat)));
  if (!by_name) return absl::NotFoundError(StrCat("vat: no vat named '", vat, "'"));
  absl::StatusOr<VatId> parsed = VatId::Parse(*by_name);
  if (!parsed.ok()) return absl::DataLossError(StrCat("bad vat id for name ", vat));
  return *parsed;
}

absl::StatusOr<bool> VatExists(const Snapshot& s, VatId v) {
  ASSIGN_OR_RETURN(std::optional<std::string> n, Get(s, keys::VatNextObject(v)));
  return n.has_value();
}

// Vat ids that were allocated: v1 .. v(nextID-1).
absl::StatusOr<uint64_t> VatNextId(const Snapshot& s) {
  return GetNat(s, keys::kVatNextId, keys::kFirstVatId);
}

absl::StatusOr<std::vector<std::string>> TerminatedList(const Snapshot& s) {
  ASSIGN_OR_RETURN(Json t, GetJson(s, keys::kVatsTerminated));
  std::vector<std::string> out;
  if (t.is_array()) {
    for (const Json& e : t.as_array()) {
      if (e.is_string()) out.push_back(e.as_string());
    }
  }
  return out;
}

// The reason recorded for a terminated vat: the kernel's record is
// {"name", "rejected", "info": capdata}; this is the error text of an Error body, else the body.
absl::StatusOr<std::optional<std::string>> TerminationReason(const Snapshot& s, VatId v) {
  ASSIGN_OR_RETURN(std::optional<std::string> r, Get(s, keys::TerminatedVatRecord(v)));
  if (!r) return std::optional<std::string>();
  absl::StatusOr<Json> j = Json::Parse(*r);
  const Json* info = j.ok() && j->is_object() ? j->Find("info") : nullptr;
  const Json* body = info && info->is_object() ? info->Find("body") : nullptr;
  if (!body || !body->is_string()) return r;
  const std::string& text = body->as_string();
  if (!text.empty() && text[0] == '#') {
    absl::StatusOr<Json> b = Json::Parse(std::string_view(text).substr(1));
    const Json* err = b.ok() && b->is_object() ? b->Find("#error") : nullptr;
    if (err && err->is_string()) return std::optional<std::string>(err->as_string());
  }
  return std::optional<std::string>(text);
}

struct CListScan {
  std::string kref;
  std::string flag_and_vref;
};

// Forward entries (kref -> "F vref") of a vat's c-list, in key order, after `after` (a kref).
absl::StatusOr<std::vector<CListScan>> ScanCList(const Snapshot& s, VatId v, std::string_view after,
                                                 size_t limit) {
  std::string prefix = keys::CListPrefix(v);
  std::unique_ptr<KvIterator> it = s->NewIterator();
  it->Seek(after.empty() ? prefix : StrCat(prefix, after));
  std::vector<CListScan> out;
  for (; it->Valid() && out.size() < limit; it->Next()) {
    std::string_view k = it->key();
    if (k.substr(0, prefix.size()) != prefix) break;
    std::string_view suffix = k.substr(prefix.size());
    if (!after.empty() && suffix == after) continue;
    if (!Kref::Parse(suffix).ok()) continue;  // reverse entry (vref -> kref)
    out.push_back(CListScan{std::string(suffix), std::string(it->value())});
  }
  RETURN_IF_ERROR(it->status());
  return out;
}

bool SplitFlag(std::string_view v, bool* reachable, std::string* vref) {
  if (v.size() < 3 || v[1] != ' ' || (v[0] != 'R' && v[0] != '_')) return false;
  *reachable = v[0] == 'R';
  *vref = std::string(v.substr(2));
  return true;
}

absl::StatusOr<bool> FillObject(const Snapshot& s, const Kref& ko, v1::ObjectInfo* out) {
  ASSIGN_OR_RETURN(std::optional<std::string> rc, Get(s, keys::ObjectRefCount(ko)));
  if (!rc) return false;
  out->set_kref(ko.ToString());
  size_t comma = rc->find(',');
  uint64_t r = 0, c = 0;
  if (comma == std::string::npos || !ParseNat(rc->substr(0, comma), &r) ||
      !ParseNat(rc->substr(comma + 1), &c)) {
    return absl::DataLossError(StrCat("bad refCount for ", ko.ToString(), ": ", *rc));
  }
  out->set_reachable(r);
  out->set_recognizable(c);
  ASSIGN_OR_RETURN(std::optional<std::string> owner, Get(s, keys::ObjectOwner(ko)));
  out->set_owner(owner.value_or(""));
  out->set_orphaned(!owner.has_value());
  ASSIGN_OR_RETURN(std::optional<std::string> pinned, Get(s, keys::kPinnedObjects));
  if (pinned) {
    std::vector<std::string> p = SplitComma(*pinned);
    out->set_pinned(std::find(p.begin(), p.end(), ko.ToString()) != p.end());
  }
  return true;
}

std::string QueueMethod(const Json& msg) {
  const Json* methargs = msg.Find("methargs");
  if (!methargs) return "";
  absl::StatusOr<CapData> c = CapDataFromJson(*methargs);
  if (!c.ok()) return "";
  absl::StatusOr<Json> v = smallcaps::Decode(*c);
  if (!v.ok() || !v->is_array() || v->as_array().empty() || !v->as_array()[0].is_string()) {
    return "";
  }
  return v->as_array()[0].as_string();
}

void FillQueuedMessage(const Json& msg, std::string_view target, v1::QueuedMessage* out) {
  out->set_target(std::string(target));
  out->set_json(msg.Dump());
  out->set_method(ToValidUtf8(QueueMethod(msg)));
  if (const Json* methargs = msg.Find("methargs")) {
    absl::StatusOr<CapData> c = CapDataFromJson(*methargs);
    if (c.ok()) FillCapData(*c, out->mutable_methargs());
  }
  const Json* result = msg.Find("result");
  if (result && result->is_string()) out->set_result(result->as_string());
}

absl::StatusOr<bool> FillPromise(const Snapshot& s, const Kref& kp, bool with_queue,
                                 v1::PromiseInfo* out) {
  ASSIGN_OR_RETURN(std::optional<std::string> state, Get(s, keys::PromiseState(kp)));
  if (!state) return false;
  out->set_kpid(kp.ToString());
  out->set_state(*state);
  ASSIGN_OR_RETURN(uint64_t rc, GetNat(s, keys::PromiseRefCount(kp), 0));
  out->set_refcount(rc);
  ASSIGN_OR_RETURN(std::optional<std::string> held,
                   Get(s, StrCat(keys::kHostInterest, kp.ToString())));
  out->set_host_held(held.has_value());
  if (*state == keys::kPromiseUnresolved) {
    ASSIGN_OR_RETURN(std::optional<std::string> decider, Get(s, keys::PromiseDecider(kp)));
    out->set_decider(decider.value_or(""));
    ASSIGN_OR_RETURN(std::optional<std::string> policy, Get(s, keys::PromisePolicy(kp)));
    out->set_policy(policy.value_or(""));
    ASSIGN_OR_RETURN(std::optional<std::string> subs, Get(s, keys::PromiseSubscribers(kp)));
    if (subs) {
      for (const std::string& v : SplitComma(*subs)) out->add_subscribers(v);
    }
    if (with_queue) {
      ASSIGN_OR_RETURN(uint64_t n, GetNat(s, keys::PromiseQueueNextId(kp), 0));
      for (uint64_t i = 0; i < n; ++i) {
        ASSIGN_OR_RETURN(Json msg, GetJson(s, keys::PromiseQueueItem(kp, i)));
        if (msg.is_null()) continue;
        FillQueuedMessage(msg, kp.ToString(), out->add_queue());
      }
    }
  } else {
    ASSIGN_OR_RETURN(std::optional<std::string> body, Get(s, keys::PromiseDataBody(kp)));
    ASSIGN_OR_RETURN(std::optional<std::string> slots, Get(s, keys::PromiseDataSlots(kp)));
    CapData data{body.value_or(""), slots ? SplitComma(*slots) : std::vector<std::string>()};
    FillCapData(data, out->mutable_resolution());
  }
  return true;
}

}  // namespace

absl::StatusOr<Inspector::TableSizes> Inspector::Sizes(const std::unique_ptr<KvSnapshot>& s,
                                                       int64_t height,
                                                       const std::string& state_hash) const {
  {
    std::lock_guard<std::mutex> lock(sizes_mu_);
    if (sizes_height_ == height && sizes_hash_ == state_hash) return sizes_;
  }
  TableSizes t;
  ASSIGN_OR_RETURN(uint64_t ko_next, GetNat(s, keys::kKoNextId, keys::kFirstObjectId));
  for (uint64_t n = keys::kFirstObjectId; n < ko_next; ++n) {
    ASSIGN_OR_RETURN(std::optional<std::string> rc, Get(s, keys::ObjectRefCount(Kref::Object(n))));
    if (rc) ++t.objects;
  }
  ASSIGN_OR_RETURN(uint64_t kp_next, GetNat(s, keys::kKpNextId, keys::kFirstPromiseId));
  for (uint64_t n = keys::kFirstPromiseId; n < kp_next; ++n) {
    ASSIGN_OR_RETURN(std::optional<std::string> st, Get(s, keys::PromiseState(Kref::Promise(n))));
    if (st) ++t.promises;
  }
  ASSIGN_OR_RETURN(uint64_t vat_next, VatNextId(s));
  ASSIGN_OR_RETURN(std::vector<std::string> terminated, TerminatedList(s));
  for (uint64_t n = keys::kFirstVatId; n < vat_next; ++n) {
    VatId v(n);
    ASSIGN_OR_RETURN(bool exists, VatExists(s, v));
    ASSIGN_OR_RETURN(std::optional<std::string> reason, TerminationReason(s, v));
    bool pending_cleanup =
        std::find(terminated.begin(), terminated.end(), v.ToString()) != terminated.end();
    if (exists && !reason && !pending_cleanup) {
      ++t.vats_alive;
    } else if (exists || reason || pending_cleanup) {
      ++t.vats_terminated;
    }
    if (exists) {
      ASSIGN_OR_RETURN(std::vector<CListScan> entries,
                       ScanCList(s, v, "", std::numeric_limits<size_t>::max()));
      t.clist_entries += entries.size();
    }
  }
  std::lock_guard<std::mutex> lock(sizes_mu_);
  sizes_height_ = height;
  sizes_hash_ = state_hash;
  sizes_ = t;
  return t;
}

absl::Status Inspector::GetStatus(const v1::GetStatusRequest&, v1::GetStatusResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  ASSIGN_OR_RETURN(std::optional<std::string> saved, Get(s, host_keys::kSavedHeight));
  resp->set_initialized(saved.has_value());
  if (!saved) return absl::OkStatus();
  uint64_t h;
  if (!ParseNat(*saved, &h)) return absl::DataLossError("bad saved height");
  resp->set_saved_height(static_cast<int64_t>(h));
  ASSIGN_OR_RETURN(std::optional<std::string> hash, Get(s, kStateHashKey));
  resp->set_state_hash(hash.value_or(""));
  ASSIGN_OR_RETURN(std::optional<std::string> activity, Get(s, host_keys::kActivityHash));
  resp->set_activity_hash(activity.value_or(""));
  ASSIGN_OR_RETURN(std::optional<std::string> chain, Get(s, host_keys::kChainId));
  resp->set_chain_id(chain.value_or(""));
  ASSIGN_OR_RETURN(uint64_t crank, GetNat(s, keys::kCrankNumber, 0));
  resp->set_crank_number(crank);
  for (std::string_view q : {keys::kRunQueue, keys::kAcceptanceQueue}) {
    ASSIGN_OR_RETURN(Json ht, GetJson(s, q));
    uint64_t len = 0;
    if (ht.is_array() && ht.as_array().size() == 2) {
      len = static_cast<uint64_t>(ht.as_array()[1].as_int() - ht.as_array()[0].as_int());
    }
    if (q == keys::kRunQueue) {
      resp->set_run_queue_length(len);
    } else {
      resp->set_acceptance_queue_length(len);
    }
  }
  ASSIGN_OR_RETURN(Json gc, GetJson(s, keys::kGcActions));
  resp->set_gc_actions(gc.is_array() ? gc.as_array().size() : 0);
  ASSIGN_OR_RETURN(TableSizes sizes, Sizes(s, resp->saved_height(), resp->state_hash()));
  resp->set_objects(sizes.objects);
  resp->set_promises(sizes.promises);
  resp->set_clist_entries(sizes.clist_entries);
  resp->set_vats_alive(sizes.vats_alive);
  resp->set_vats_terminated(sizes.vats_terminated);
  ASSIGN_OR_RETURN(Json params, GetJson(s, host_keys::kParams));
  if (const Json* m = params.is_object() ? params.Find("maxCranksPerBlock") : nullptr) {
    resp->set_max_cranks_per_block(static_cast<uint64_t>(m->as_int()));
  }
  // Stores from before the computron budget hold no value for it: the default applies.
  resp->set_max_computrons_per_block(BlockParams::FromJson(params).max_computrons_per_block);
  ASSIGN_OR_RETURN(Json pending, GetJson(s, host_keys::kPendingPromises));
  resp->set_pending_host_promises(pending.is_array() ? pending.as_array().size() : 0);
  return absl::OkStatus();
}

absl::Status Inspector::ListVats(const v1::ListVatsRequest& req, v1::ListVatsResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  ASSIGN_OR_RETURN(uint64_t next, VatNextId(s));
  ASSIGN_OR_RETURN(uint64_t n, ParseToken(req.page_token(), keys::kFirstVatId));
  ASSIGN_OR_RETURN(std::vector<std::string> terminated, TerminatedList(s));
  ASSIGN_OR_RETURN(Json dynamic, GetJson(s, keys::kVatDynamicIds));
  ASSIGN_OR_RETURN(Json used, GetJson(s, host_keys::kVatComputrons));
  const uint32_t page = PageSize(req.page_size());
  for (; n < next && static_cast<uint32_t>(resp->vats_size()) < page; ++n) {
    VatId v(n);
    ASSIGN_OR_RETURN(bool exists, VatExists(s, v));
    ASSIGN_OR_RETURN(std::optional<std::string> reason, TerminationReason(s, v));
    bool pending_cleanup =
        std::find(terminated.begin(), terminated.end(), v.ToString()) != terminated.end();
    if (!exists && !reason && !pending_cleanup) continue;  // id never used or fully forgotten
    v1::VatInfo* info = resp->add_vats();
    info->set_id(v.ToString());
    info->set_alive(exists && !pending_cleanup && !reason);
    if (reason) info->set_termination_reason(ToValidUtf8(*reason));
    ASSIGN_OR_RETURN(Json options, GetJson(s, keys::VatOptions(v)));
    if (!options.is_null()) info->set_options_json(options.Dump());
    if (const Json* name = options.is_object() ? options.Find("name") : nullptr) {
      if (name->is_string()) info->set_name(ToValidUtf8(name->as_string()));
    }
    if (info->name().empty()) {
      // A cleaned-up vat keeps its name in the termination record.
      ASSIGN_OR_RETURN(Json record, GetJson(s, keys::TerminatedVatRecord(v)));
      const Json* name = record.is_object() ? record.Find("name") : nullptr;
      if (name && name->is_string()) info->set_name(ToValidUtf8(name->as_string()));
    }
    if (dynamic.is_array()) {
      for (const Json& d : dynamic.as_array()) {
        if (d.is_string() && d.as_string() == v.ToString()) info->set_dynamic(true);
      }
    }
    ASSIGN_OR_RETURN(std::vector<CListScan> entries,
                     ScanCList(s, v, "", std::numeric_limits<size_t>::max()));
    info->set_clist_size(entries.size());
    if (const Json* c = used.is_object() ? used.Find(v.ToString()) : nullptr) {
      if (c->is_int() && c->as_int() >= 0) {
        info->set_computrons_used(static_cast<uint64_t>(c->as_int()));
      }
    }
  }
  if (n < next) resp->set_next_page_token(StrCat(n));
  return absl::OkStatus();
}

absl::Status Inspector::ListCList(const v1::ListCListRequest& req,
                                  v1::ListCListResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  ASSIGN_OR_RETURN(VatId v, ResolveVat(s, req.vat()));
  ASSIGN_OR_RETURN(bool exists, VatExists(s, v));
  if (!exists) return absl::NotFoundError(StrCat("vat: ", v.ToString(), " has no c-list (never existed or deleted)"));
  if (!req.page_token().empty() && !Kref::Parse(req.page_token()).ok()) {
    return absl::InvalidArgumentError("page_token: not a token from this list");
  }
  resp->set_vat_id(v.ToString());
  const uint32_t page = PageSize(req.page_size());
  std::string after = req.page_token();
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<CListScan> entries, ScanCList(s, v, after, page));
    for (const CListScan& e : entries) {
      after = e.kref;
      bool reachable;
      std::string vref;
      if (!SplitFlag(e.flag_and_vref, &reachable, &vref)) {
        return absl::DataLossError(StrCat("bad c-list entry ", e.kref, " = ", e.flag_and_vref));
      }
      if (req.only_recognizable() && reachable) continue;
      v1::CListEntry* out = resp->add_entries();
      out->set_kref(e.kref);
      out->set_vref(vref);
      out->set_reachable(reachable);
      out->set_is_export(vref.size() > 1 && vref[1] == '+');
      if (static_cast<uint32_t>(resp->entries_size()) == page) break;
    }
    if (static_cast<uint32_t>(resp->entries_size()) == page) {
      // More may follow: peek for one more entry.
      ASSIGN_OR_RETURN(std::vector<CListScan> more, ScanCList(s, v, after, 1));
      if (!more.empty()) resp->set_next_page_token(after);
      break;
    }
    if (entries.size() < page) break;
  }
  return absl::OkStatus();
}

absl::Status Inspector::GetObject(const v1::GetObjectRequest& req,
                                  v1::GetObjectResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  absl::StatusOr<Kref> ko = Kref::Parse(req.kref());
  if (!ko.ok() || !ko->is_object()) {
    return absl::InvalidArgumentError(StrCat("kref: '", req.kref(), "' is not an object kref (koN)"));
  }
  v1::ObjectInfo* info = resp->mutable_object();
  ASSIGN_OR_RETURN(bool found, FillObject(s, *ko, info));
  if (!found) return absl::NotFoundError(StrCat("kref: no object ", ko->ToString()));
  ASSIGN_OR_RETURN(uint64_t next, VatNextId(s));
  for (uint64_t n = keys::kFirstVatId; n < next; ++n) {
    VatId v(n);
    ASSIGN_OR_RETURN(std::optional<std::string> entry, Get(s, keys::CListByKref(v, *ko)));
    if (!entry) continue;
    bool reachable;
    std::string vref;
    if (!SplitFlag(*entry, &reachable, &vref)) continue;
    if (vref.size() > 1 && vref[1] == '+') {
      info->set_owner_vref(vref);
      continue;
    }
    v1::Importer* imp = info->add_importers();
    imp->set_vat(v.ToString());
    imp->set_vref(vref);
    imp->set_reachable(reachable);
  }
  // Devices hold imports too (always reachable; devices have no flags).
  ASSIGN_OR_RETURN(uint64_t dnext, GetNat(s, keys::kDeviceNextId, keys::kFirstDeviceId));
  for (uint64_t n = keys::kFirstDeviceId; n < dnext; ++n) {
    DeviceId d(n);
    ASSIGN_OR_RETURN(std::optional<std::string> slot, Get(s, keys::DeviceCListByKref(d, *ko)));
    if (!slot) continue;
    v1::Importer* imp = info->add_importers();
    imp->set_vat(d.ToString());
    imp->set_vref(*slot);
    imp->set_reachable(true);
  }
  return absl::OkStatus();
}

absl::Status Inspector::ListObjects(const v1::ListObjectsRequest& req,
                                    v1::ListObjectsResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  std::string owner_filter;
  if (!req.owner().empty()) {
    ASSIGN_OR_RETURN(VatId v, ResolveVat(s, req.owner()));
    owner_filter = v.ToString();
  }
  ASSIGN_OR_RETURN(uint64_t next, GetNat(s, keys::kKoNextId, keys::kFirstObjectId));
  ASSIGN_OR_RETURN(uint64_t n, ParseToken(req.page_token(), keys::kFirstObjectId));
  const uint32_t page = PageSize(req.page_size());
  const uint64_t scan_limit = n + uint64_t{page} * kScanFactor;
  for (; n < next && n < scan_limit && static_cast<uint32_t>(resp->objects_size()) < page; ++n) {
    v1::ObjectInfo info;
    ASSIGN_OR_RETURN(bool found, FillObject(s, Kref::Object(n), &info));
    if (!found) continue;
    if (!owner_filter.empty() && info.owner() != owner_filter) continue;
    *resp->add_objects() = std::move(info);
  }
  if (n < next) resp->set_next_page_token(StrCat(n));
  return absl::OkStatus();
}

absl::Status Inspector::GetPromise(const v1::GetPromiseRequest& req,
                                   v1::GetPromiseResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  absl::StatusOr<Kref> kp = Kref::Parse(req.kpid());
  if (!kp.ok() || !kp->is_promise()) {
    return absl::InvalidArgumentError(StrCat("kpid: '", req.kpid(), "' is not a promise kref (kpN)"));
  }
  ASSIGN_OR_RETURN(bool found, FillPromise(s, *kp, /*with_queue=*/true, resp->mutable_promise()));
  if (!found) return absl::NotFoundError(StrCat("kpid: no promise ", kp->ToString()));
  return absl::OkStatus();
}

absl::Status Inspector::ListPromises(const v1::ListPromisesRequest& req,
                                     v1::ListPromisesResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  const std::string& filter = req.state();
  if (!filter.empty() && filter != keys::kPromiseUnresolved && filter != keys::kPromiseFulfilled &&
      filter != keys::kPromiseRejected) {
    return absl::InvalidArgumentError("state: must be unresolved, fulfilled or rejected");
  }
  ASSIGN_OR_RETURN(uint64_t next, GetNat(s, keys::kKpNextId, keys::kFirstPromiseId));
  ASSIGN_OR_RETURN(uint64_t n, ParseToken(req.page_token(), keys::kFirstPromiseId));
  const uint32_t page = PageSize(req.page_size());
  const uint64_t scan_limit = n + uint64_t{page} * kScanFactor;
  for (; n < next && n < scan_limit && static_cast<uint32_t>(resp->promises_size()) < page; ++n) {
    v1::PromiseInfo info;
    ASSIGN_OR_RETURN(bool found, FillPromise(s, Kref::Promise(n), /*with_queue=*/false, &info));
    if (!found || (!filter.empty() && info.state() != filter)) continue;
    *resp->add_promises() = std::move(info);
  }
  if (n < next) resp->set_next_page_token(StrCat(n));
  return absl::OkStatus();
}

absl::Status Inspector::ListRunQueue(const v1::ListRunQueueRequest& req,
                                     v1::ListRunQueueResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  std::string_view queue;
  if (req.queue().empty() || req.queue() == "run") {
    queue = keys::kRunQueue;
    resp->set_queue("run");
  } else if (req.queue() == "acceptance") {
    queue = keys::kAcceptanceQueue;
    resp->set_queue("acceptance");
  } else {
    return absl::InvalidArgumentError("queue: must be \"run\" or \"acceptance\"");
  }
  ASSIGN_OR_RETURN(Json ht, GetJson(s, queue));
  if (!ht.is_array() || ht.as_array().size() != 2) return absl::OkStatus();
  uint64_t head = static_cast<uint64_t>(ht.as_array()[0].as_int());
  uint64_t tail = static_cast<uint64_t>(ht.as_array()[1].as_int());
  resp->set_head(head);
  resp->set_tail(tail);
  ASSIGN_OR_RETURN(uint64_t i, ParseToken(req.page_token(), head));
  i = std::max(i, head);
  const uint32_t page = PageSize(req.page_size());
  for (; i < tail && static_cast<uint32_t>(resp->items_size()) < page; ++i) {
    ASSIGN_OR_RETURN(Json ev, GetJson(s, keys::QueueItem(queue, i)));
    v1::RunQueueItem* item = resp->add_items();
    item->set_index(i);
    item->set_json(ev.Dump());
    if (!ev.is_object()) continue;
    const Json* type = ev.Find("type");
    if (type && type->is_string()) item->set_type(type->as_string());
    if (const Json* target = ev.Find("target"); target && target->is_string()) {
      item->set_target(target->as_string());
    } else if (const Json* vat = ev.Find("vatID"); vat && vat->is_string()) {
      item->set_target(vat->as_string());
    }
    if (const Json* msg = ev.Find("msg"); msg && msg->is_object()) {
      item->set_method(ToValidUtf8(QueueMethod(*msg)));
      const Json* result = msg->Find("result");
      if (result && result->is_string()) item->set_kpid(result->as_string());
    }
    if (const Json* kpid = ev.Find("kpid"); kpid && kpid->is_string()) {
      item->set_kpid(kpid->as_string());
    }
  }
  if (i < tail) resp->set_next_page_token(StrCat(i));
  return absl::OkStatus();
}

absl::Status Inspector::ListGCActions(const v1::ListGCActionsRequest& req,
                                      v1::ListGCActionsResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  ASSIGN_OR_RETURN(Json actions, GetJson(s, keys::kGcActions));
  if (!actions.is_array()) return absl::OkStatus();
  ASSIGN_OR_RETURN(uint64_t i, ParseToken(req.page_token(), 0));
  const uint32_t page = PageSize(req.page_size());
  const auto& list = actions.as_array();
  for (; i < list.size() && static_cast<uint32_t>(resp->actions_size()) < page; ++i) {
    if (!list[i].is_string()) continue;
    const std::string& text = list[i].as_string();
    size_t a = text.find(' ');
    size_t b = a == std::string::npos ? a : text.find(' ', a + 1);
    if (b == std::string::npos) return absl::DataLossError(StrCat("bad GC action '", text, "'"));
    v1::GCAction* out = resp->add_actions();
    out->set_vat(text.substr(0, a));
    out->set_type(text.substr(a + 1, b - a - 1));
    out->set_kref(text.substr(b + 1));
  }
  if (i < list.size()) resp->set_next_page_token(StrCat(i));
  return absl::OkStatus();
}

absl::Status Inspector::GetMailbox(const v1::GetMailboxRequest& req,
                                   v1::GetMailboxResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  RETURN_IF_ERROR(NotInitialized(s));
  ASSIGN_OR_RETURN(std::optional<std::string> dev, Get(s, keys::DeviceName(kMailboxDeviceName)));
  if (!dev) return absl::NotFoundError("no mailbox device in this state");
  absl::StatusOr<DeviceId> d = DeviceId::Parse(*dev);
  if (!d.ok()) return absl::DataLossError(StrCat("bad device id ", *dev));
  MailboxReader reader(s.get(), keys::DeviceStateKey(*d, ""));
  ASSIGN_OR_RETURN(bool handler, reader.HasHandler());
  resp->set_handler_registered(handler);
  std::vector<std::string> peers;
  if (req.peer().empty()) {
    ASSIGN_OR_RETURN(peers, reader.Peers());
  } else {
    peers.push_back(req.peer());
  }
  for (const std::string& peer : peers) {
    ASSIGN_OR_RETURN(std::optional<PeerMailbox> box, reader.ReadPeer(peer));
    if (!box) return absl::NotFoundError(StrCat("peer: unknown peer '", req.peer(), "'"));
    v1::MailboxInfo* m = resp->add_mailboxes();
    m->set_peer(peer);
    m->set_ack(box->ack);
    m->set_inbound_delivered(box->inbound_delivered);
    m->set_inbound_ack_delivered(box->inbound_ack_delivered);
    for (const auto& [num, body] : box->outbox) {
      v1::MailboxMessage* out = m->add_outbox();
      out->set_num(num);
      out->set_body(ToValidUtf8(body));
    }
  }
  return absl::OkStatus();
}

absl::Status Inspector::ScanKV(const v1::ScanKVRequest& req, v1::ScanKVResponse* resp) const {
  Snapshot s = store_->GetSnapshot();
  const std::string& prefix = req.prefix();
  std::string token = req.page_token();
  if (token.rfind(kHexTokenPrefix, 0) == 0) {
    std::optional<std::string> raw = Unhex(std::string_view(token).substr(kHexTokenPrefix.size()));
    if (!raw) return absl::InvalidArgumentError("page_token: bad ~hex: token");
    token = std::move(*raw);
  }
  if (!token.empty() && token.compare(0, prefix.size(), prefix) != 0) {
    return absl::InvalidArgumentError("page_token: not a token from this scan");
  }
  const uint32_t page = PageSize(req.page_size());
  std::unique_ptr<KvIterator> it = s->NewIterator();
  it->Seek(token.empty() ? prefix : token);
  for (; it->Valid(); it->Next()) {
    std::string_view k = it->key();
    if (k.substr(0, prefix.size()) != prefix) break;
    if (!token.empty() && k == token) continue;
    if (static_cast<uint32_t>(resp->entries_size()) == page) {
      const v1::KVEntry& last = resp->entries(page - 1);
      resp->set_next_page_token(last.key_hex() ? StrCat(kHexTokenPrefix, last.key())
                                               : last.key());
      break;
    }
    v1::KVEntry* e = resp->add_entries();
    if (IsValidUtf8(k)) {
      e->set_key(std::string(k));
    } else {
      e->set_key(Hex(k));
      e->set_key_hex(true);
    }
    if (req.keys_only()) continue;
    std::string_view v = it->value();
    if (IsValidUtf8(v)) {
      e->set_value(std::string(v));
    } else {
      e->set_value(Hex(v));
      e->set_value_hex(true);
    }
  }
  RETURN_IF_ERROR(it->status());
  return absl::OkStatus();
}

}  // namespace swingset
