// File: scripted_vat_host.h
//
// Built-in vats written in C++ (VatHost, kernel/vat_host.h), selected by a vat source of the form
// "scripted:<kind>". They speak the ordinary delivery/syscall protocol, keep all their state in
// their vatstore (so they need no transcript replay after a restart and survive AbortBlock), and
// are deterministic. They serve the tests and the benchmarks, independently of the JS vat host.
// Test code: linked only into swingsetd_testing (server/CMakeLists.txt), never into swingsetd.
//
// Kinds and root-object methods (arguments and results are plain data unless noted):
//   scripted:counter
//     increment(n=1) -> count    get() -> count           echo(...args) -> args
//     chain(n) -> n              sends itself chain(n-1) until 0: n+1 cranks in all
//     fail(msg)                  rejects with Error(msg)
//     makeThing(label) -> thing  exports a new object; thing.describe() -> label
//     store(key, value)          load(key) -> value|null
//     burn(n)                    n vatstore writes (write load for benchmarks)
//     die(reason)                the vat exits with failure (terminated)
//     anything else              rejects with "no method"
//   scripted:bootstrap  (bootstrap vat and mailbox handler)
//     bootstrap(vats, devices)   remembers the roots, registers itself with the mailbox device
//     deliverInboundMessages(peer, msgs)  answers each body B with outbound "echo:B" and acks
//     deliverInboundAck(peer, ack)        removes acknowledged outbound messages
//     send(peer, body) -> num    queues an outbound message
//     relay(vat, method, args) -> result  forwards a call to another vat's root, resolving with
//                                         its result (a promise subscription)
//     ping() -> "pong"
//
// Dropped exports (things) are retired at once. Thread-safety: kernel thread only.

#ifndef SWINGSETD_SERVER_SCRIPTED_VAT_HOST_H_
#define SWINGSETD_SERVER_SCRIPTED_VAT_HOST_H_

#include <map>
#include <string>
#include <string_view>

#include "kernel/vat_host.h"

namespace swingset {

class ScriptedVatHost : public VatHost {
 public:
  static constexpr std::string_view kSourcePrefix = "scripted:";
  static bool Handles(std::string_view source) {
    return source.substr(0, kSourcePrefix.size()) == kSourcePrefix;
  }

  absl::Status LoadVat(const VatSpec& spec) override;
  DeliveryResult Deliver(VatId vat, const VatDelivery& delivery,
                         SyscallHandler* handler) override;
  void StopVat(VatId vat) override;
  // Scripted vats hold no state outside the store, so there is nothing to discard.
  void DiscardUncommitted() override {}

 private:
  std::map<uint64_t, std::string> kinds_;  // vat number -> kind
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_SCRIPTED_VAT_HOST_H_
