#include "server/vat_host_router.h"

#include <utility>

#include "kernel/strings.h"

namespace swingset {

VatHostRouter::VatHostRouter(std::unique_ptr<VatHost> js, std::unique_ptr<VatHost> scripted)
    : js_(std::move(js)), scripted_(std::move(scripted)) {}

absl::Status VatHostRouter::LoadVat(const VatSpec& spec) {
  const bool scripted = spec.source.substr(0, kScriptedPrefix.size()) == kScriptedPrefix;
  if (scripted && scripted_ == nullptr) {
    return absl::UnimplementedError(
        StrCat("vat ", spec.name, ": '", spec.source.substr(0, 64),
               "' names a built-in test vat, which only the swingsetd_testing build runs"));
  }
  VatHost* host = scripted ? scripted_.get() : js_.get();
  if (host == nullptr) {
    return absl::UnimplementedError(
        StrCat("vat ", spec.name, ": this swingsetd was built without the JS vat host"));
  }
  absl::Status s = host->LoadVat(spec);
  if (s.ok()) routes_[spec.vat_id.n()] = host;
  return s;
}

VatHost* VatHostRouter::HostFor(VatId vat) {
  auto it = routes_.find(vat.n());
  return it == routes_.end() ? nullptr : it->second;
}

DeliveryResult VatHostRouter::Deliver(VatId vat, const VatDelivery& delivery,
                                      SyscallHandler* handler) {
  VatHost* host = HostFor(vat);
  if (host == nullptr) return DeliveryResult{false, StrCat("vat ", vat.ToString(), " not loaded")};
  return host->Deliver(vat, delivery, handler);
}

void VatHostRouter::StopVat(VatId vat) {
  if (VatHost* host = HostFor(vat)) host->StopVat(vat);
  routes_.erase(vat.n());
}

void VatHostRouter::DiscardUncommitted() {
  if (scripted_) scripted_->DiscardUncommitted();
  if (js_) js_->DiscardUncommitted();
}

}  // namespace swingset
