// File: js_engine.h
//
// RAII ownership of SpiderMonkey 102 for the vat host (docs/SPIDERMONKEY.md):
//
//   JsProcess   JS_Init() in its constructor, JS_ShutDown() in its destructor. Exactly one per
//               process, created before any JsEngine and destroyed after the last one (servers:
//               in main(); tests: a testing::Environment). JS_Init cannot be repeated.
//   JsEngine    one JSContext on the calling thread (the kernel thread), with our own promise job
//               queue, the FinalizationRegistry cleanup queue (run only when asked, i.e. during
//               bringOutYourDead), a watchdog thread that interrupts a delivery running longer
//               than its budget, an out-of-memory flag, and the module resolve/metadata hooks.
//
// jsapi headers stay out of this header: JS types appear only as forward declarations, so
// including it is cheap. Only vats/*.cc include jsapi.h.
//
// Thread-safety: a JsEngine is used only on the thread that created it (CHECKed). The watchdog
// thread touches nothing but an atomic flag and JS_RequestInterruptCallback.

#ifndef SWINGSETD_VATS_JS_ENGINE_H_
#define SWINGSETD_VATS_JS_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"

struct JSContext;
class JSFunction;
class JSObject;
namespace JS {
class Zone;
}  // namespace JS

namespace swingset {

class JsProcess {
 public:
  JsProcess();   // JS_Init; CHECK-fails if it fails or a JsProcess already exists
  ~JsProcess();  // JS_ShutDown; every JsEngine must already be destroyed
  JsProcess(const JsProcess&) = delete;
  JsProcess& operator=(const JsProcess&) = delete;

  static bool Initialized();
};

struct JsEngineOptions {
  // Wall-clock budget of one Run() section (a delivery); 0 disables the watchdog.
  std::chrono::milliseconds watchdog_timeout{30000};
  // JSGC_MAX_BYTES. The 32 MiB default makes the GC thrash (docs/SPIDERMONKEY.md §2).
  uint32_t gc_max_bytes = 1u << 30;
  // Native stack quota for JS recursion; exceeding it is a catchable "too much recursion".
  size_t native_stack_quota = 1u << 20;
  // Baseline interpreter, baseline JIT and Ion. Off = SpiderMonkey's C++ interpreter only:
  // slower hot code, but nothing to warm up again after each bringOutYourDead GC discards
  // the vat's JIT data.
  bool jit = true;
  // With `jit`: every tier's warm-up threshold at 0 and Ion compiling on this thread, so code
  // reaches Ion at once (testing: the most aggressive tiering a node could run). Like `jit`,
  // node-local: no outcome may depend on it. SpiderMonkey keeps these settings per process,
  // so each JsEngine sets all of them when it is created.
  bool eager_jit = false;
};

class JsEngine {
 public:
  // Why the last Run() section failed, if it did. Interruption and OOM are sticky for the
  // section even when JS code caught the resulting exception.
  // kTimeout and kOutOfMemory are node-local (wall clock, heap size); kComputrons and kDepth are
  // the deterministic meter's (js_meter.h), the same on every node.
  enum class Fault { kNone, kTimeout, kOutOfMemory, kComputrons, kDepth };

  explicit JsEngine(const JsEngineOptions& options);
  ~JsEngine();
  JsEngine(const JsEngine&) = delete;
  JsEngine& operator=(const JsEngine&) = delete;

  JSContext* cx() const { return cx_; }
  const JsEngineOptions& options() const { return options_; }

  // Opaque pointer for natives defined by the embedder (the vat host), found again with
  // FromContext(cx)->embedder_data().
  void set_embedder_data(void* p) { embedder_data_ = p; }
  void* embedder_data() const { return embedder_data_; }
  static JsEngine* FromContext(JSContext* cx);

  // Brackets one delivery: arms the watchdog (unless `watchdog` is false) and clears the fault
  // flags; EndSection disarms it and returns the fault seen since BeginSection.
  void BeginSection(bool watchdog = true);
  Fault EndSection();
  Fault fault() const;
  // Records that the running section's meter ran out (kComputrons or kDepth). Sticky until the
  // next BeginSection; DrainJobs runs no further job.
  void SetMeterFault(Fault fault);

  // A function of the running vat's realm that runs each promise job (js_meter.h: the meter's
  // job runner charges it one computron and starts it at depth 0), or nullptr to call jobs
  // directly.
  void set_job_runner(JSObject* runner);

  // Runs queued promise jobs until the queue is empty. Returns false if a job failed
  // uncatchably (interrupt, OOM) or threw; then the queue is cleared and the exception, if
  // any, is left pending on the context. Calls JS::ClearKeptObjects at the end.
  bool DrainJobs();
  // Drops every queued job (after a failed delivery, so nothing leaks into the next one).
  void ClearJobs();
  bool JobsEmpty() const;

  // A full, non-incremental, all-zone collection after clearing WeakRef kept objects. Queued
  // FinalizationRegistry cleanups are NOT run here.
  void FullGC();
  // The same, limited to the zone of `global` (one vat: each vat realm has its own compartment
  // and zone, and no vat object is referenced from another zone, so this finds exactly the
  // vat's garbage that a full GC would find, at a cost proportional to the vat's heap).
  // `shrink`: also compact the zone and release its empty arenas and chunks (slower; used once
  // after a vat start, whose garbage would otherwise keep its memory committed).
  void ZoneGC(JSObject* global, bool shrink = false);
  // After a vat is gone (its roots dropped): a compacting GC of its zone, which frees the zone
  // and everything in it, then the allocator's free memory is returned to the system
  // (malloc_trim), so the RSS a terminated vat held goes away at once. Costs what the dead
  // zone holds, not what the other vats hold. Nothing a vat can observe.
  void ReleaseZone(JS::Zone* zone);
  // Runs the FinalizationRegistry cleanup functions queued for objects of `global`'s
  // compartment, in queue order, and removes them from the queue. Returns false if one threw
  // (exception pending).
  bool RunFinalizationCleanup(JSObject* global, size_t* ran = nullptr);
  // Forgets cleanup functions for `global`'s compartment (the vat is going away).
  void DropFinalizationCleanup(JSObject* global);
  size_t PendingCleanupCount() const;

  // Module hooks, installed for the whole runtime; the vat host swaps the callbacks in while it
  // loads a vat. Resolve returns a module record or nullptr with an exception pending.
  using ResolveFn = std::function<JSObject*(JSContext*, const std::string& referrer,
                                            const std::string& specifier)>;
  using MetadataFn = std::function<bool(JSContext*, const std::string& module_key,
                                        JSObject* meta)>;
  void set_module_hooks(ResolveFn resolve, MetadataFn metadata);
  // Called by the runtime-wide hooks; forward to the callbacks above.
  JSObject* ResolveModule(JSContext* cx, const std::string& referrer,
                          const std::string& specifier);
  bool FillModuleMetadata(JSContext* cx, const std::string& module_key, JSObject* meta);

 private:
  class JobQueueImpl;
  struct Roots;
  friend class JobQueueImpl;

  static bool InterruptCallback(JSContext* cx);
  static void OutOfMemoryCallback(JSContext* cx, void* data);
  static void CleanupCallback(JSFunction* fn, JSObject* incumbent, void* data);
  void WatchdogLoop();

  JsEngineOptions options_;
  JSContext* cx_ = nullptr;
  void* embedder_data_ = nullptr;
  std::thread::id owner_thread_;
  std::unique_ptr<JobQueueImpl> job_queue_;
  std::unique_ptr<Roots> roots_;
  Fault meter_fault_ = Fault::kNone;
  ResolveFn resolve_;
  MetadataFn metadata_;

  struct Watchdog;
  std::unique_ptr<Watchdog> watchdog_;
  std::thread watchdog_thread_;
};

}  // namespace swingset

#endif  // SWINGSETD_VATS_JS_ENGINE_H_
