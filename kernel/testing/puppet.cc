#include "kernel/testing/puppet.h"

#include "kernel/base.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {

void PuppetWorld::Install() {
  h.host()->Register("puppet", [this](const VatDelivery& d, VatCtx& c) {
    const std::string& name = names_[c.vat().n()];
    if (d.type == VatDelivery::Type::kMessage && d.target == "o+0" &&
        d.methargs.body.rfind("#[\"act\"", 0) == 0) {
      // Answer the host first, so the action sees only its own promises.
      if (d.result) c.Resolve(*d.result, false, "#\"#undefined\"");
      auto& q = actions_[name];
      if (!q.empty()) {
        Action a = std::move(q.front());
        q.pop_front();
        a(c);
      }
      return;
    }
    if (d.type == VatDelivery::Type::kMessage) received_[name].push_back(d);
    if (d.type == VatDelivery::Type::kNotify) received_[name].push_back(d);
    auto r = responders_.find(name);
    if (r != responders_.end()) r->second(d, c);
  });
}

absl::Status PuppetWorld::Start(const std::vector<std::string>& names,
                                std::vector<bool> pipelining, uint32_t reap_deliveries) {
  GenesisConfig g;
  for (size_t i = 0; i < names.size(); ++i) {
    VatConfig v;
    v.name = names[i];
    v.source = "puppet";
    v.use_transcript = false;
    v.enable_pipelining = i < pipelining.size() && pipelining[i];
    g.vats.push_back(v);
  }
  Json t = Json::MakeObject();
  if (reap_deliveries > 0) {
    t.Set("deliveries", static_cast<int64_t>(reap_deliveries));
  } else {
    t.Set("never", true);
  }
  g.default_reap_dirt_threshold = t;
  RETURN_IF_ERROR(h.Genesis(g));
  for (const std::string& n : names) {
    names_[h.Vat(n).n()] = n;
    ids_[n] = h.Vat(n);
  }
  return Run();
}

absl::Status PuppetWorld::Run() { return h.RunChecked().status(); }

absl::Status PuppetWorld::Act(const std::string& name, Action action) {
  actions_[name].push_back(std::move(action));
  ASSIGN_OR_RETURN(Kref kp, h.kernel()->QueueToVatRoot(name, "act", CapData{"#[]", {}}));
  RETURN_IF_ERROR(Run());
  RETURN_IF_ERROR(h.kernel()->ReleaseHostPromise(kp));
  RETURN_IF_ERROR(h.kernel()->CheckInvariants());
  return Run();
}

std::vector<std::string> PuppetWorld::TakeLog(const std::string& name) {
  std::vector<std::string> all = h.host()->LogFor(ids_.at(name));
  size_t& pos = log_pos_[name];
  std::vector<std::string> out;
  for (size_t i = pos; i < all.size(); ++i) {
    // Hide the act plumbing.
    if (all[i].rfind("message o+0 #[\"act\"", 0) == 0) continue;
    out.push_back(all[i]);
  }
  pos = all.size();
  return out;
}

std::string PuppetWorld::Counts(const std::string& kref) {
  return h.Get(keys::ObjectRefCount(*Kref::Parse(kref))).value_or("missing");
}

std::string PuppetWorld::Entry(const std::string& vat, const std::string& kref) {
  return h.Get(keys::CListByKref(ids_.at(vat), *Kref::Parse(kref))).value_or("none");
}

std::string PuppetWorld::GcActions() { return h.Get(std::string(keys::kGcActions)).value_or(""); }

}  // namespace swingset

namespace swingset {

absl::Status PuppetWorld::Poke(const std::string& name, Action action) {
  actions_[name].push_back(std::move(action));
  return h.kernel()->QueueToVatRoot(name, "act", CapData{"#[]", {}}).status();
}

absl::Status PuppetWorld::Step(int n) {
  ASSIGN_OR_RETURN(uint64_t ran, h.RunChecked(n));
  if (ran != static_cast<uint64_t>(n)) {
    return absl::FailedPreconditionError(StrCat("only ", ran, " of ", n, " cranks ran"));
  }
  return absl::OkStatus();
}

absl::Status PuppetWorld::HostSend(const std::string& target_kref, const std::string& method,
                                   const std::vector<std::string>& slots) {
  std::string args;
  for (size_t i = 0; i < slots.size(); ++i) {
    StrAppend(&args, i ? "," : "", "\"", slots[i][1] == 'p' ? "&" : "$", i,
              slots[i][1] == 'p' ? "" : ".Alleged: thing", "\"");
  }
  std::string m;
  AppendJsonString(method, &m);
  CapData methargs{StrCat("#[", m, ",[", args, "]]"), slots};
  return h.kernel()->TEST_QueueToKref(*Kref::Parse(target_kref), methargs, false).status();
}

absl::Status PuppetWorld::Introduce(const std::string& to, const std::string& from) {
  RETURN_IF_ERROR(HostSend(Root(to), "introduce", {Root(from)}));
  return Run();
}

}  // namespace swingset
