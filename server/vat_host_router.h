// File: vat_host_router.h
//
// A VatHost that sends each vat to one of two hosts by its source: "scripted:" sources to the
// built-in C++ vats (ScriptedVatHost), everything else (ES module text or a module-set JSON) to
// the JS host (vats/js_vat_host.h; swingsetd always has one). Without a JS host (unit tests),
// loading a JS vat fails, which terminates that vat.
//
// Ownership: owns both hosts. Thread-safety: kernel thread only.

#ifndef SWINGSETD_SERVER_VAT_HOST_ROUTER_H_
#define SWINGSETD_SERVER_VAT_HOST_ROUTER_H_

#include <map>
#include <memory>

#include "kernel/vat_host.h"
#include "server/scripted_vat_host.h"

namespace swingset {

class VatHostRouter : public VatHost {
 public:
  // `js` may be null.
  explicit VatHostRouter(std::unique_ptr<VatHost> js);

  absl::Status LoadVat(const VatSpec& spec) override;
  DeliveryResult Deliver(VatId vat, const VatDelivery& delivery,
                         SyscallHandler* handler) override;
  void StopVat(VatId vat) override;
  void DiscardUncommitted() override;

 private:
  VatHost* HostFor(VatId vat);

  ScriptedVatHost scripted_;
  std::unique_ptr<VatHost> js_;
  std::map<uint64_t, VatHost*> routes_;  // vat number -> host that loaded it
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_VAT_HOST_ROUTER_H_
