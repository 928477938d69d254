#include "server/vat_host_router.h"

#include <utility>

#include "kernel/strings.h"

namespace swingset {

VatHostRouter::VatHostRouter(std::unique_ptr<VatHost> js) : js_(std::move(js)) {}

absl::Status VatHostRouter::LoadVat(const VatSpec& spec) {
  VatHost* host = ScriptedVatHost::Handles(spec.source) ? static_cast<VatHost*>(&scripted_)
                                                        : js_.get();
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
  scripted_.DiscardUncommitted();
  if (js_) js_->DiscardUncommitted();
}

}  // namespace swingset
