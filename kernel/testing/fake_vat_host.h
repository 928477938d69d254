// File: fake_vat_host.h
//
// Scripted C++ vats for kernel unit tests (never in production code paths): a VatHost whose vats are C++
// functions chosen by the vat's source string. Every delivery is logged as text, so tests can
// assert the exact deliveries each vat received, in order. Scripts make syscalls through VatCtx.

#ifndef SWINGSETD_KERNEL_TESTING_FAKE_VAT_HOST_H_
#define SWINGSETD_KERNEL_TESTING_FAKE_VAT_HOST_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernel/vat_host.h"

namespace swingset {

// Renders a delivery compactly, e.g.
//   message o+0 ping #["ping",[]] [] -> p-60
//   notify p-60 fulfilled #"pong" []
//   dropExports o+1 o+2
std::string DescribeDelivery(const VatDelivery& d);

class VatCtx {
 public:
  VatCtx(VatId vat, SyscallHandler* h) : vat_(vat), h_(h) {}
  VatId vat() const { return vat_; }
  SyscallResult Syscall(const VatSyscall& sc);
  SyscallResult Send(const std::string& target, const std::string& method,
                     std::vector<std::string> slots = {},
                     std::optional<std::string> result = std::nullopt,
                     const std::string& args_json = "");
  SyscallResult Resolve(const std::string& vpid, bool rejected, const std::string& body,
                        std::vector<std::string> slots = {});
  SyscallResult Subscribe(const std::string& vpid);
  SyscallResult Gc(VatSyscall::Type type, std::vector<std::string> vrefs);
  SyscallResult Exit(bool failure, const std::string& body);
  // Makes the delivery fail (as a JS exception escaping it would).
  void Fail(std::string why) { failure_ = std::move(why); }
  // Reports `n` computrons used by this delivery (as a metered vat does).
  void Charge(uint64_t n) { computrons_ = computrons_.value_or(0) + n; }
  const std::optional<uint64_t>& computrons() const { return computrons_; }
  const std::optional<std::string>& failure() const { return failure_; }
  bool any_syscall_failed() const { return any_failed_; }

 private:
  VatId vat_;
  SyscallHandler* h_;
  std::optional<std::string> failure_;
  std::optional<uint64_t> computrons_;
  bool any_failed_ = false;
};

class FakeVatHost : public VatHost {
 public:
  using Script = std::function<void(const VatDelivery&, VatCtx&)>;

  // Vats whose VatSpec::source equals `source` run `script`.
  void Register(const std::string& source, Script script) { scripts_[source] = std::move(script); }

  absl::Status LoadVat(const VatSpec& spec) override;
  DeliveryResult Deliver(VatId vat, const VatDelivery& delivery,
                         SyscallHandler* handler) override;
  void StopVat(VatId vat) override { loaded_.erase(vat.n()); }
  void DiscardUncommitted() override { loaded_.clear(); }

  // "v1: message o+0 ..." lines, in delivery order.
  const std::vector<std::string>& log() const { return log_; }
  std::vector<std::string> LogFor(VatId vat) const;
  void ClearLog() { log_.clear(); }
  bool log_enabled = true;

 private:
  std::map<std::string, Script> scripts_;
  std::map<uint64_t, std::string> loaded_;  // vat -> source
  std::vector<std::string> log_;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_TESTING_FAKE_VAT_HOST_H_
