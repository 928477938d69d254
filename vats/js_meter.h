// File: js_meter.h
//
// Deterministic metering of JavaScript vats (docs/METERING.md).
//
// A metered vat realm runs only instrumented code (js/instrument.js inserts a computron tick at
// every function entry and loop iteration, and a call-depth counter) on top of a trusted meter
// prelude (js/meter_prelude.js). The meter lives in the realm as the object $__m {c, d, L}: the
// host sets the delivery's computron budget `c`, the depth `d` (0) and the depth limit `L` before
// each delivery and reads `c` afterwards (with a chunk size, see ArmMeter, `c` holds part of the
// budget and the member `reserve` the rest). When `c` falls below zero and nothing is left in reserve,
// or `d` exceeds `L`, a host native ends the delivery uncatchably (no catch or finally block
// runs) and records why on the engine (JsEngine::Fault::kComputrons / kDepth). Each promise job
// costs one computron and starts at depth 0. Every node stops a vat at the same tick, whatever
// its JIT, GC, stack or chunk size.
//
// The limits are consensus state: the kernel records them in each vat's options (the "meter"
// member, written from the genesis params), and any change to what the instrumenter or the
// prelude writes is a new meter version.
//
// jsapi headers stay out of this header.
//
// Thread-safety: kernel thread only, like the JsEngine.

#ifndef SWINGSETD_VATS_JS_METER_H_
#define SWINGSETD_VATS_JS_METER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/status/statusor.h"
#include "kernel/vat_host.h"

struct JSContext;
class JSObject;

namespace swingset {

class JsEngine;

// What one delivery of a metered vat may spend. version 0 = unmetered.
struct MeterLimits {
  uint32_t version = 0;
  uint64_t computrons = 0;  // per delivery (and per startVat)
  uint32_t max_depth = 0;   // nested calls, generator resumptions included

  bool metered() const { return version != 0; }

  // From a vat's options record: its "meter" member {"version","computrons","maxDepth"}, or
  // unmetered when the record has none. An unknown version or a limit out of range is an
  // error (the vat cannot be run as its chain requires).
  static absl::StatusOr<MeterLimits> FromOptionsJson(std::string_view options_json);
};

// Rewrites source text through js/instrument.js, evaluated in a tool global of its own
// compartment on the engine's context. Results are kept, by text, for the life of the object
// (the host instruments SES and its runtime once, and each distinct vat module once).
class JsInstrumenter {
 public:
  explicit JsInstrumenter(JsEngine* engine);
  ~JsInstrumenter();
  JsInstrumenter(const JsInstrumenter&) = delete;
  JsInstrumenter& operator=(const JsInstrumenter&) = delete;

  // The instrumented text of `source` (a module if `module`, else a script). Errors:
  // kInvalidArgument naming `name` when the source does not parse or uses a name reserved for
  // the meter, or the instrumenter refuses it.
  // `version` is the meter version (1..kMeterVersion) whose rules apply.
  absl::StatusOr<std::string_view> Instrument(std::string_view name, std::string_view source,
                                              bool module, uint32_t version);

 private:
  struct Tool;
  absl::Status Start();

  JsEngine* engine_;
  std::unique_ptr<Tool> tool_;
  std::map<std::tuple<uint32_t, bool, std::string>, std::string, std::less<>> cache_;
};

// In the current realm: defines the meter natives, runs the meter prelude of meter `version`
// (with the string and BigInt caps of `limits`, which its operator helpers enforce from version
// 2), marks the realm as metered (eval, Function and WebAssembly compilation are refused in it),
// and returns $__m. nullptr with an exception pending on failure.
JSObject* InstallMeter(JSContext* cx, uint32_t version, const VatCodeLimits& limits);

// $__m.c -= n, then what $__r does when c is below zero (refills it from the section's reserve,
// or ends the delivery): for host natives that charge the meter. False when the delivery must
// end (no exception pending) or on an engine error (pending).
bool ChargeMeter(JSContext* cx, JSObject* meter, uint64_t n);

// Whether the current realm of `cx` is a metered vat realm.
bool InMeteredRealm(JSContext* cx);

// Sets the meter's budget, depth and depth limit for the next delivery (in the meter's realm).
// `chunk` (node-local, for tests; 0 = unlimited): the realm's countdown $__m.c gets at most
// `chunk` computrons at a time and the host keeps the rest in reserve ($__m.reserve); each time c
// falls below zero, the exhaustion native ($__r) hands out the next chunk, and faults only when
// the reserve is spent too. Every charge must therefore be `c -= n` followed by a call of $__r
// when c < 0, and nothing may compare c with anything but 0: then where a vat stops and the
// computrons it used do not depend on the chunk size.
bool ArmMeter(JSContext* cx, JSObject* meter, uint64_t computrons, uint32_t max_depth,
              uint64_t chunk = 0);
// The computrons left (c + reserve; negative once exhausted: the tick or charge that took it below
// zero counts).
bool MeterRemaining(JSContext* cx, JSObject* meter, double* left);

}  // namespace swingset

#endif  // SWINGSETD_VATS_JS_METER_H_
