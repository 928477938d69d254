// File: js_vat_host.h
//
// The SpiderMonkey implementation of the kernel's VatHost (kernel/vat_host.h, docs/DESIGN.md §6).
//
// Each vat is one global in its own compartment and zone of a single JSContext (JsEngine) on
// the kernel thread. The realm gets SES lockdown() (SES evaluated from its ES modules, which the
// host then forgets; see vats/README.md), our liveslots (vats/js/*.js, embedded in the binary)
// and then the vat's ES modules:
//
//   VatSpec::source   ES module text, or JSON {"entry": path, "modules": {path: text, ...}}.
//                     Relative specifiers ("./x.js", "../y.js") resolve against the importing
//                     module's path; "@endo/far", "@endo/eventual-send", "@endo/promise-kit",
//                     "@endo/marshal", "@endo/pass-style" (and empty "@endo/init") come from the
//                     host.
//   liveslots vats    export buildRootObject(vatPowers, vatParameters, baggage). vatPowers has
//                     exitVat, exitVatWithFailure, D (device calls), testLog. baggage is an
//                     in-memory string-keyed map store (has/get/init/set/delete/keys/values/
//                     entries/getSize); it is NOT durable yet (lost with the vat's memory).
//   raw vats          (VatSpec::raw) export setup(syscall, state, helpers, vatPowers) returning
//                     dispatch(vatDeliveryObject); syscall.send(target, methargs, result),
//                     subscribe, resolve, exit, vatstoreGet/Set/Delete/GetNextKey, dropImports,
//                     retireImports, retireExports, abandonExports, callNow mirror
//                     docs/KERNEL_SPEC.md §3.6 (vatstoreGet* return undefined for a missing key).
//
// VatSpec::limits (genesis caps) are enforced inside the realm by js/vat_limits.js, evaluated
// before SES: ArrayBuffer/TypedArray sizes (per buffer and per delivery) and the length of
// strings built by repeat, padStart, join... give vat code a RangeError. StopVat collects the
// vat's memory and returns it to the system at once.
//
// Every delivery runs under the engine's watchdog; afterwards the promise job queue is drained.
// An exception escaping the delivery, a rejected startVat, over-recursion reaching liveslots,
// and the watchdog all give DeliveryResult{ok=false}. The engine running out of memory (its
// heap limit, a node-local setting) halts the process instead (kExitEngineOutOfMemory): its
// outcome must not become the vat's. bringOutYourDead first forces
// a full GC and runs the vat's FinalizationRegistry cleanups; at no other time do they run.
//
// LoadVat with a transcript replays it: syscalls are answered from the transcript and compared
// with the recorded ones; a divergence is fatal (CHECK), since the vat's state would no longer
// match what the kernel committed.
//
// Thread-safety: single kernel thread, like every VatHost. A JsProcess must exist.

#ifndef SWINGSETD_VATS_JS_VAT_HOST_H_
#define SWINGSETD_VATS_JS_VAT_HOST_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernel/vat_host.h"

namespace swingset {

struct JsVatHostOptions {
  // Per-delivery wall-clock budget (watchdog); 0 disables it.
  std::chrono::milliseconds delivery_timeout{30000};
  // JSGC_MAX_BYTES for the whole context.
  uint32_t gc_max_bytes = 1u << 30;
  // SpiderMonkey's JIT tiers (see JsEngineOptions::jit and eager_jit). Node-local: the meter
  // decides every outcome the same way whatever the tiers.
  bool jit = true;
  bool eager_jit = false;
  // JsEngineOptions::native_stack_quota: must fit the thread the host runs on.
  size_t native_stack_quota = 1u << 20;
  // Where vat console output goes: stderr when true, dropped when false.
  bool console_to_stderr = false;
  // Print replay progress to stderr every this many transcript entries (0: never).
  uint64_t replay_progress_every = 1000;
  // Experimental, OFF by default: harden each vat realm with js/lite_lockdown.js instead of
  // SES lockdown() (~0.6 MB less GC heap per vat and a faster start; it does not do all that
  // SES does: see vats/README.md "Lite lockdown"). Not for production use.
  bool lite_lockdown = false;
  // How SES gets into a vat realm. Default: from its ES module sources, as native modules
  // that the host forgets after lockdown(), so the modules no live function needs (Compartment
  // module loading, permit tables, lockdown's orchestration, ...) are collected. True: the
  // UMD bundle (ses.umd.js) as a classic script, as before; kept for comparison
  // (js_bench --ses-bundle). Vat code sees the same environment either way.
  bool ses_bundle = false;
  // Testing only: full GCs forced before every delivery, without running finalization
  // cleanups, as natural GCs may happen at any moment. Nothing a vat or the kernel sees may
  // change (GC is observed only in bringOutYourDead), so hashes must stay the same.
  uint32_t testing_extra_gcs_per_delivery = 0;
  // Testing only: metered vats get their delivery budget in chunks of this many computrons
  // (js_meter.h ArmMeter; 0, the default: all at once). Where a vat stops and the computrons it
  // used must not change.
  uint64_t testing_meter_chunk = 0;
  // Testing only: keep a WeakRef to each SES module record (TEST_LiveSesModules), to see which
  // modules lockdown() leaves reachable.
  bool testing_track_ses_modules = false;
};

class JsVatHost : public VatHost {
 public:
  static std::unique_ptr<JsVatHost> Create(const JsVatHostOptions& options);
  ~JsVatHost() override;

  absl::Status LoadVat(const VatSpec& spec) override;
  DeliveryResult Deliver(VatId vat, const VatDelivery& delivery,
                         SyscallHandler* handler) override;
  void StopVat(VatId vat) override;
  void DiscardUncommitted() override;

  bool IsLoaded(VatId vat) const;

  // Test hooks.
  // Evaluates `fn_source`, which must evaluate to a function, in the vat's realm and calls it
  // with the vat's private runtime namespace (passStyle, marshal, liveslotsInstance,
  // debugTables(), ...). Returns JSON.stringify of the result (jobs are drained first).
  absl::StatusOr<std::string> TEST_Eval(VatId vat, const std::string& fn_source);
  // A full GC of the context between deliveries, without running finalization cleanups (as a
  // natural GC might do).
  void TEST_ForceGC();
  // Console lines the vats printed (kept only in tests; capped).
  std::string TEST_TakeConsole();
  // Computrons a metered vat used in its last delivery, or, before its first delivery, in
  // LoadVat (SES lockdown(), our runtime, liveslots and the vat's modules); 0 if not loaded.
  uint64_t TEST_LastComputrons(VatId vat);
  // GC heap bytes of the vat's zone (0 if not loaded).
  uint64_t TEST_ZoneHeapBytes(VatId vat);
  // A GC of only the vat's zone, as bringOutYourDead does (without running cleanups).
  void TEST_ZoneGC(VatId vat);
  // The context's GC counters so far: {major GCs, minor GCs} (for benchmarks).
  std::pair<uint64_t, uint64_t> TEST_GcCounts();
  // With JsVatHostOptions::testing_track_ses_modules: the paths of the SES modules whose module
  // record is still alive (call TEST_ZoneGC first), in load order.
  std::vector<std::string> TEST_LiveSesModules(VatId vat);

 private:
  class Impl;
  explicit JsVatHost(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The factory the server uses.
std::unique_ptr<VatHost> NewJsVatHost(const JsVatHostOptions& options);

}  // namespace swingset

#endif  // SWINGSETD_VATS_JS_VAT_HOST_H_
