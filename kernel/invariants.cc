// CheckInvariants(): recounts every reference count from scratch and compares (docs/DESIGN.md §4):
//   - forward (kref -> "F vref") and reverse (vref -> kref) c-list entries agree, per vat and
//     per device;
//   - each object's "R,C" equals what importing c-lists (R only while flagged), queued messages
//     (acceptance queue, run-queue, promise queues), settled promise data, vat parameters, pins
//     and device imports give; each promise's refCount likewise;
//   - no promise survives with a zero count, and every object with R == 0 whose owner is alive
//     has its dropExport / retireExport pending or already delivered; no orphan with R == 0.
// Meant to run between cranks (after processRefcounts); expensive: a full scan.

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "kernel/base.h"
#include "kernel/kernel_impl.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {

namespace {

struct RecountEntry {
  uint64_t r = 0;
  uint64_t c = 0;
  uint64_t non_clist = 0;  // contributions from anything but c-lists
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::Status KernelImpl::CheckInvariants() {
  if (!IsInitialized()) return absl::OkStatus();
  std::map<std::string, std::string> all;
  for (auto& [k, v] : buf_.ScanPrefix("")) all.emplace(k, v);

  std::vector<std::string> errors;
  auto err = [&](std::string e) {
    if (errors.size() < 20) errors.push_back(std::move(e));
  };

  std::map<std::string, RecountEntry> exp_obj;   // kref -> expected
  std::map<std::string, uint64_t> exp_prom;
  std::map<std::string, std::pair<uint64_t, uint64_t>> stored_obj;
  std::map<std::string, uint64_t> stored_prom;
  std::map<std::string, std::string> owners;

  auto add_ref = [&](const std::string& k, bool from_clist, bool reachable) {
    if (k.size() < 3) return;
    if (k[1] == 'o') {
      RecountEntry& c = exp_obj[k];
      c.c++;
      if (reachable) c.r++;
      if (!from_clist) c.non_clist++;
    } else if (k[1] == 'p') {
      exp_prom[k]++;
    }
  };
  auto add_slots = [&](const std::vector<std::string>& slots) {
    for (const std::string& s : slots) add_ref(s, false, true);
  };
  auto add_event = [&](const std::string& text) {
    KEvent ev = KEvent::FromJsonOrDie(text);
    switch (ev.type) {
      case KEvent::Type::kSend:
        add_ref(ev.target.ToString(), false, true);
        if (ev.msg.result) add_ref(ev.msg.result->ToString(), false, true);
        add_slots(ev.msg.methargs.slots);
        break;
      case KEvent::Type::kNotify:
        add_ref(ev.kpid.ToString(), false, true);
        break;
      case KEvent::Type::kStartVat:
        add_slots(ev.vat_parameters.slots);
        break;
    }
  };
  auto queue_range = [&](std::string_view q) -> std::pair<uint64_t, uint64_t> {
    auto it = all.find(std::string(q));
    if (it == all.end()) return {1, 1};
    auto j = Json::Parse(it->second);
    return {static_cast<uint64_t>(j->as_array()[0].as_int()),
            static_cast<uint64_t>(j->as_array()[1].as_int())};
  };

  // Queues.
  for (std::string_view q : {keys::kRunQueue, keys::kAcceptanceQueue}) {
    auto [head, tail] = queue_range(q);
    for (uint64_t i = head; i < tail; ++i) {
      auto it = all.find(keys::QueueItem(q, i));
      if (it == all.end()) {
        err(StrCat("queue item ", keys::QueueItem(q, i), " missing"));
        continue;
      }
      add_event(it->second);
    }
  }

  // The stored set, which the in-memory one must equal between cranks (it is flushed at the
  // end of every crank).
  std::set<std::string> pending_gc;
  if (auto it = all.find(std::string(keys::kGcActions)); it != all.end()) {
    auto j = Json::Parse(it->second);
    if (!j.ok() || !j->is_array()) {
      err("gcActions is not a JSON array");
    } else {
      for (const Json& a : j->as_array()) pending_gc.insert(a.is_string() ? a.as_string() : "");
    }
  }
  if (std::vector<std::string> cached = gc_actions_.List();
      !std::equal(cached.begin(), cached.end(), pending_gc.begin(), pending_gc.end())) {
    err(StrCat("in-memory GC action set (", cached.size(), " actions) differs from gcActions (",
               pending_gc.size(), ")"));
  }

  // C-lists, objects, promises and the rest, in one pass.
  std::map<std::string, std::map<std::string, std::string>> fwd, rev;  // owner -> key -> value
  for (const auto& [key, value] : all) {
    if (key.size() < 3) continue;
    // Vat and device c-lists: v<N>.c.* / d<N>.c.*
    if ((key[0] == 'v' || key[0] == 'd') && IsDigit(key[1])) {
      size_t dot = key.find('.');
      if (dot != std::string::npos && key.compare(dot, 3, ".c.") == 0) {
        std::string owner = key.substr(0, dot);
        std::string rest = key.substr(dot + 3);
        if (!rest.empty() && rest[0] == 'k') {
          fwd[owner][rest] = value;
        } else {
          rev[owner][rest] = value;
        }
      } else if (key[0] == 'v' && dot != std::string::npos &&
                 key.compare(dot, std::string::npos, ".vatParameters") == 0) {
        auto j = Json::Parse(value);
        if (j.ok()) add_slots(CapDataFromJson(*j)->slots);
      }
      continue;
    }
    if (key[0] == 'k' && (key[1] == 'o' || key[1] == 'p') && IsDigit(key[2])) {
      size_t dot = key.find('.');
      if (dot == std::string::npos) continue;
      std::string kref = key.substr(0, dot);
      std::string field = key.substr(dot + 1);
      if (key[1] == 'o') {
        if (field == "refCount") {
          std::vector<std::string> parts = absl::StrSplit(ToAbsl(value), ',');
          uint64_t r = 0, c = 0;
          if (parts.size() != 2 || !ParseNat(parts[0], &r) || !ParseNat(parts[1], &c)) {
            err(StrCat(key, " is malformed: ", value));
          }
          stored_obj[kref] = {r, c};
        } else if (field == "owner") {
          owners[kref] = value;
        }
      } else {
        if (field == "refCount") {
          uint64_t n = 0;
          ParseNat(value, &n);
          stored_prom[kref] = n;
        } else if (field == "data.slots") {
          if (!value.empty()) {
            std::vector<std::string> slots = absl::StrSplit(ToAbsl(value), ',');
            add_slots(slots);
          }
        } else if (absl::StartsWith(ToAbsl(field), "queue.") && field != "queue.nextID") {
          add_event(StrCat("{\"type\":\"send\",\"target\":\"", kref, "\",\"msg\":", value, "}"));
        } else if (field == "state") {
          stored_prom.emplace(kref, 0);
        }
      }
      continue;
    }
    if (absl::StartsWith(ToAbsl(key), ToAbsl(keys::kHostInterest))) {
      add_ref(key.substr(keys::kHostInterest.size()), false, true);
    }
  }
  if (auto it = all.find(std::string(keys::kPinnedObjects)); it != all.end() && !it->second.empty()) {
    std::vector<std::string> pins = absl::StrSplit(ToAbsl(it->second), ',');
    add_slots(pins);
  }

  // C-list agreement and contributions.
  for (const auto& [owner, entries] : fwd) {
    const bool is_vat = owner[0] == 'v';
    for (const auto& [kref, val] : entries) {
      std::string vref;
      bool reachable = true;
      if (is_vat) {
        if (val.size() < 3 || val[1] != ' ' || (val[0] != 'R' && val[0] != '_')) {
          err(StrCat(owner, ".c.", kref, " malformed: ", val));
          continue;
        }
        reachable = val[0] == 'R';
        vref = val.substr(2);
      } else {
        vref = val;
      }
      auto r = rev[owner].find(vref);
      if (r == rev[owner].end() || r->second != kref) {
        err(StrCat(owner, ": forward ", kref, " -> ", vref, " has no matching reverse entry"));
      }
      const bool is_import = vref.size() > 1 && vref[1] == '-';
      if (kref[1] == 'o') {
        if (is_import) {
          add_ref(kref, /*from_clist=*/is_vat, is_vat ? reachable : true);
        } else if (is_vat) {
          auto o = owners.find(kref);
          if (o == owners.end() || o->second != owner) {
            err(StrCat(owner, " exports ", kref, " but its owner is ",
                       o == owners.end() ? "absent" : o->second));
          }
        }
      } else if (kref[1] == 'p') {
        add_ref(kref, true, true);
      }
    }
  }
  for (const auto& [owner, entries] : rev) {
    for (const auto& [vref, kref] : entries) {
      auto f = fwd[owner].find(kref);
      if (f == fwd[owner].end()) {
        err(StrCat(owner, ": reverse ", vref, " -> ", kref, " has no forward entry"));
      }
    }
  }

  // Compare objects.
  for (const auto& [kref, stored] : stored_obj) {
    RecountEntry e;
    if (auto it = exp_obj.find(kref); it != exp_obj.end()) e = it->second;
    if (stored.first != e.r || stored.second != e.c) {
      err(StrCat(kref, ".refCount is ", stored.first, ",", stored.second, " but recount gives ",
                 e.r, ",", e.c));
    }
    if (stored.first == 0) {
      auto o = owners.find(kref);
      if (o == owners.end()) {
        err(StrCat("orphan ", kref, " survives with R == 0"));
      } else {
        VatId owner = *VatId::Parse(o->second);
        if (VatIsAlive(owner)) {
          auto e2 = CListByKref(owner, *Kref::Parse(kref));
          bool drop_ok = (e2 && !e2->reachable) ||
                         pending_gc.contains(StrCat(o->second, " dropExport ", kref));
          bool retire_ok = stored.second > 0 ||
                           pending_gc.contains(StrCat(o->second, " retireExport ", kref));
          if (!drop_ok || !retire_ok) {
            err(StrCat(kref, " has R == 0 but no pending or delivered dropExport/retireExport"));
          }
        }
      }
    }
  }
  for (const auto& [kref, e] : exp_obj) {
    if (stored_obj.contains(kref)) continue;
    if (e.non_clist > 0 || e.r > 0) {
      err(StrCat(kref, " is referenced (", e.r, ",", e.c, ") but does not exist"));
    }
  }
  for (const auto& [kref, owner] : owners) {
    if (!stored_obj.contains(kref)) err(StrCat(kref, ".owner without refCount"));
  }
  // Compare promises.
  for (const auto& [kref, stored] : stored_prom) {
    uint64_t e = 0;
    if (auto it = exp_prom.find(kref); it != exp_prom.end()) e = it->second;
    if (stored != e) err(StrCat(kref, ".refCount is ", stored, " but recount gives ", e));
    if (stored == 0) err(StrCat(kref, " survives with refCount 0"));
    auto st = all.find(StrCat(kref, ".state"));
    if (st == all.end()) {
      err(StrCat(kref, " has no state"));
    } else if (st->second == keys::kPromiseUnresolved) {
      auto d = all.find(StrCat(kref, ".decider"));
      if (d == all.end()) {
        err(StrCat("unresolved ", kref, " without decider key"));
      } else if (!d->second.empty()) {
        auto dv = VatId::Parse(d->second);
        if (!dv.ok() || !VatIsAlive(*dv)) {
          err(StrCat("unresolved ", kref, " decided by dead vat ", d->second));
        }
      }
    }
  }
  for (const auto& [kref, e] : exp_prom) {
    if (!stored_prom.contains(kref)) {
      err(StrCat(kref, " is referenced ", e, " times but does not exist"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  std::string msg = "kernel invariants violated:";
  for (const std::string& e : errors) StrAppend(&msg, "\n  ", e);
  return absl::InternalError(msg);
}

}  // namespace swingset
