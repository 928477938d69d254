// File: puppet.h
//
// Puppet vats for scenario tests: each puppet vat, when the host sends "act" to its root, runs
// the next action the test queued for it (a lambda making exact syscalls). Every other delivery
// is recorded (and, for messages with a result, answered only if the test set a responder).
// Tests thereby drive precise syscall sequences crank by crank.

#ifndef SWINGSETD_KERNEL_TESTING_PUPPET_H_
#define SWINGSETD_KERNEL_TESTING_PUPPET_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernel/testing/kernel_harness.h"

namespace swingset {

class PuppetWorld {
 public:
  using Action = std::function<void(VatCtx&)>;
  using Responder = std::function<void(const VatDelivery&, VatCtx&)>;

  PuppetWorld() { Install(); }
  explicit PuppetWorld(KvStore* store) : h(store) { Install(); }

  // Genesis with puppet vats named `names` (v1, v2, ... in order). Reaping is off unless
  // `reap_deliveries` > 0.
  absl::Status Start(const std::vector<std::string>& names, std::vector<bool> pipelining = {},
                     uint32_t reap_deliveries = 0);

  // Queues `action` for vat `name`, sends it "act", and runs to quiescence with invariant
  // checks after every crank.
  absl::Status Act(const std::string& name, Action action);
  absl::Status Run();
  // Queues `action` and the "act" message without running anything: the next two cranks are
  // the routing crank and the delivery running the action.
  absl::Status Poke(const std::string& name, Action action);
  // Runs exactly n cranks (fails if the kernel runs out of work first).
  absl::Status Step(int n);
  // Host message (no result) to `target_kref` carrying `slots` (krefs) as arguments.
  absl::Status HostSend(const std::string& target_kref, const std::string& method,
                        const std::vector<std::string>& slots);
  // Gives vat `to` a reference to `from`'s root: `to` receives "introduce" with it.
  absl::Status Introduce(const std::string& to, const std::string& from);
  std::string Root(const std::string& name) { return h.KrefOf(name, "o+0"); }

  // Messages received by a vat (other than "act"), in order.
  std::vector<VatDelivery>& Received(const std::string& name) { return received_[name]; }
  const VatDelivery& LastReceived(const std::string& name) { return received_[name].back(); }
  void SetResponder(const std::string& name, Responder r) { responders_[name] = std::move(r); }
  // Deliveries (as text) a vat got since the last call.
  std::vector<std::string> TakeLog(const std::string& name);
  std::string Counts(const std::string& kref);  // "R,C" or "missing"
  std::string Entry(const std::string& vat, const std::string& kref);  // c-list value or "none"
  std::string GcActions();

  KernelHarness h;

 private:
  void Install();
  std::map<std::string, std::deque<Action>> actions_;
  std::map<std::string, std::vector<VatDelivery>> received_;
  std::map<std::string, Responder> responders_;
  std::map<std::string, size_t> log_pos_;
  std::map<uint64_t, std::string> names_;
  std::map<std::string, VatId> ids_;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_TESTING_PUPPET_H_
