// File: vat_host_router.h
//
// A VatHost that sends each vat to one of two hosts by its source: "scripted:" sources to the
// built-in C++ test vats (server/scripted_vat_host.h), everything else (ES module text or a
// module-set JSON) to the JS host (vats/js_vat_host.h; swingsetd always has one). The scripted
// vats are test code: only the swingsetd_testing build, which the end-to-end tests and the
// server benchmarks run, has them; in the production swingsetd a "scripted:" vat fails to load,
// as a JS vat does without a JS host (unit tests), which terminates that vat.
//
// Ownership: owns both hosts. Thread-safety: kernel thread only.

#ifndef SWINGSETD_SERVER_VAT_HOST_ROUTER_H_
#define SWINGSETD_SERVER_VAT_HOST_ROUTER_H_

#include <map>
#include <memory>
#include <string_view>

#include "kernel/vat_host.h"

namespace swingset {

class VatHostRouter : public VatHost {
 public:
  // The source prefix of the built-in test vats.
  static constexpr std::string_view kScriptedPrefix = "scripted:";

  // Either may be null.
  VatHostRouter(std::unique_ptr<VatHost> js, std::unique_ptr<VatHost> scripted);

  absl::Status LoadVat(const VatSpec& spec) override;
  DeliveryResult Deliver(VatId vat, const VatDelivery& delivery,
                         SyscallHandler* handler) override;
  void StopVat(VatId vat) override;
  void DiscardUncommitted() override;

 private:
  VatHost* HostFor(VatId vat);

  std::unique_ptr<VatHost> js_;
  std::unique_ptr<VatHost> scripted_;
  std::map<uint64_t, VatHost*> routes_;  // vat number -> host that loaded it
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_VAT_HOST_ROUTER_H_
