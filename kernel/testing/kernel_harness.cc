#include "kernel/testing/kernel_harness.h"

#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/key_schema.h"
#include "kernel/storage/mem_kv_store.h"
#include "kernel/strings.h"

namespace swingset {

GenesisConfig ScriptedGenesis(const std::vector<std::string>& names,
                              const std::string& bootstrap) {
  GenesisConfig g;
  for (const std::string& name : names) {
    VatConfig v;
    v.name = name;
    v.source = name;
    v.use_transcript = false;
    g.vats.push_back(v);
  }
  Json never = Json::MakeObject();
  never.Set("never", true);
  g.default_reap_dirt_threshold = never;
  g.bootstrap_vat = bootstrap;
  return g;
}

std::unique_ptr<Kernel> OpenScriptedKernel(KvStore* store, VatHost* host) {
  KernelOptions o;
  o.store = store;
  o.vat_host = host;
  o.hasher_factory = Sha256HasherFactory();
  auto k = Kernel::Open(std::move(o));
  SWINGSET_CHECK_OK(k.status());
  return *std::move(k);
}

KernelHarness::KernelHarness(KvStore* store) {
  if (!store) {
    owned_store_ = NewMemKvStore();
    store = owned_store_.get();
  }
  store_ = store;
  Reopen();
}

void KernelHarness::Reopen() {
  kernel_.reset();
  host_.DiscardUncommitted();
  kernel_.reset(static_cast<KernelImpl*>(OpenScriptedKernel(store_, &host_).release()));
}

absl::Status KernelHarness::Genesis(const GenesisConfig& config) {
  RETURN_IF_ERROR(kernel_->InitializeGenesis(config));
  return kernel_->CheckInvariants();
}

absl::StatusOr<uint64_t> KernelHarness::RunChecked(uint64_t max_cranks) {
  uint64_t n = 0;
  while (max_cranks == 0 || n < max_cranks) {
    if (!kernel_->Step()) break;
    ++n;
    absl::Status s = kernel_->CheckInvariants();
    if (!s.ok()) {
      return absl::InternalError(StrCat("after crank ", kernel_->CrankNumber(), ": ", s.message()));
    }
  }
  return n;
}

VatId KernelHarness::Vat(const std::string& name) {
  auto v = kernel_->VatIdByName(name);
  SWINGSET_CHECK(v) << "no vat " << name;
  return *v;
}

std::string KernelHarness::KrefOf(const std::string& vat_name, const std::string& vref) {
  return kernel_->Get(keys::CListByVref(Vat(vat_name), vref)).value_or("");
}

}  // namespace swingset
