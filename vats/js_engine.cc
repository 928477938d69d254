// SpiderMonkey start-up follows docs/SPIDERMONKEY.md §1 exactly: JS_Init once per process; per engine
// JS_NewContext -> job queue -> JS::InitSelfHostedCode -> tuning and hooks; every root reset
// before JS_DestroyContext; JS_ShutDown only after the last context is gone.

#include "vats/js_engine.h"

#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <jsapi.h>
#include <jsfriendapi.h>
#include <js/AllocPolicy.h>
#include <js/ContextOptions.h>
#include <js/GCAPI.h>
#include <js/GCVector.h>
#include <js/Initialization.h>
#include <js/MemoryCallbacks.h>
#include <js/Modules.h>
#include <js/Promise.h>

#include "kernel/base.h"

namespace swingset {
namespace {

std::atomic<bool> g_js_initialized{false};
std::atomic<int> g_live_engines{0};

using ObjectVector = JS::GCVector<JSObject*, 0, js::SystemAllocPolicy>;

// SpiderMonkey's own values of the JIT options an engine may change, read once, before any
// engine changed them.
struct JitDefaults {
  uint32_t baseline_interpreter_warmup = 0;
  uint32_t baseline_warmup = 0;
  uint32_t offthread_compilation = 0;
};

const JitDefaults& ProcessJitDefaults(JSContext* cx) {
  static const JitDefaults defaults = [cx] {
    JitDefaults d;
    SWINGSET_CHECK(JS_GetGlobalJitCompilerOption(cx,
                                                 JSJITCOMPILER_BASELINE_INTERPRETER_WARMUP_TRIGGER,
                                                 &d.baseline_interpreter_warmup) &&
                   JS_GetGlobalJitCompilerOption(cx, JSJITCOMPILER_BASELINE_WARMUP_TRIGGER,
                                                 &d.baseline_warmup) &&
                   JS_GetGlobalJitCompilerOption(cx, JSJITCOMPILER_OFFTHREAD_COMPILATION_ENABLE,
                                                 &d.offthread_compilation))
        << "reading SpiderMonkey's JIT options";
    return d;
  }();
  return defaults;
}

std::string StringOf(JSContext* cx, JS::HandleValue v) {
  if (!v.isString()) return "";
  JS::RootedString s(cx, v.toString());
  JS::UniqueChars chars = JS_EncodeStringToUTF8(cx, s);
  return chars ? std::string(chars.get()) : std::string();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// JsProcess

JsProcess::JsProcess() {
  SWINGSET_CHECK(!g_js_initialized.load()) << "JsProcess: JS_Init may run only once per process";
  // Vat code can read local-time fields of a Date made from a number (getHours, toString,
  // getTimezoneOffset), and SpiderMonkey takes the local time zone from the process. Validators
  // in different time zones would then see different values and fork, so every process that
  // runs vats runs in UTC.
  SWINGSET_CHECK(setenv("TZ", "UTC", 1) == 0) << "setenv TZ";
  tzset();
  SWINGSET_CHECK(JS_Init()) << "JS_Init failed";
  g_js_initialized = true;
}

JsProcess::~JsProcess() {
  SWINGSET_CHECK(g_live_engines.load() == 0) << "JsProcess destroyed while a JsEngine is alive";
  JS_ShutDown();
  // JS_Init cannot run again; leave the flag so a second JsProcess fails loudly.
}

bool JsProcess::Initialized() { return g_js_initialized.load(); }

// ---------------------------------------------------------------------------------------------
// Roots held by the engine. All of them are reset before JS_DestroyContext (pitfall 4).

struct JsEngine::Roots {
  explicit Roots(JSContext* cx) : jobs(cx), cleanups(cx), job_runner(cx) {}
  JS::PersistentRooted<ObjectVector> jobs;
  size_t next_job = 0;
  // Function objects of queued FinalizationRegistry cleanups.
  JS::PersistentRooted<ObjectVector> cleanups;
  // See set_job_runner.
  JS::PersistentRooted<JSObject*> job_runner;
};

// Our promise job queue (docs/SPIDERMONKEY.md §3): jobs run only when the host drains them,
// after each delivery, on the same thread, in FIFO order.
class JsEngine::JobQueueImpl : public JS::JobQueue {
 public:
  explicit JobQueueImpl(JsEngine* engine) : engine_(engine) {}

  JSObject* getIncumbentGlobal(JSContext* cx) override { return JS::CurrentGlobalOrNull(cx); }

  bool enqueuePromiseJob(JSContext* cx, JS::HandleObject promise, JS::HandleObject job,
                         JS::HandleObject allocation_site,
                         JS::HandleObject incumbent_global) override {
    if (!engine_->roots_->jobs.append(job)) {
      JS_ReportOutOfMemory(cx);
      return false;
    }
    return true;
  }

  void runJobs(JSContext* cx) override { engine_->DrainJobs(); }

  bool empty() const override {
    return engine_->roots_->next_job >= engine_->roots_->jobs.length();
  }

 private:
  // Only the Debugger uses this; we never attach one, but the contract must still hold.
  class Saved : public SavedJobQueue {
   public:
    Saved(JsEngine* engine, JSContext* cx) : engine_(engine), saved_(cx) {
      auto& jobs = engine_->roots_->jobs;
      for (size_t i = engine_->roots_->next_job; i < jobs.length(); ++i) {
        SWINGSET_CHECK(saved_.append(jobs[i]));
      }
      jobs.clear();
      engine_->roots_->next_job = 0;
    }
    ~Saved() override {
      auto& jobs = engine_->roots_->jobs;
      SWINGSET_CHECK(jobs.length() == engine_->roots_->next_job)
          << "saved job queue restored non-empty";
      jobs.clear();
      engine_->roots_->next_job = 0;
      for (size_t i = 0; i < saved_.length(); ++i) SWINGSET_CHECK(jobs.append(saved_[i]));
    }

   private:
    JsEngine* engine_;
    JS::PersistentRooted<ObjectVector> saved_;
  };

 public:
  js::UniquePtr<SavedJobQueue> saveJobQueue(JSContext* cx) override {
    return js::MakeUnique<Saved>(engine_, cx);
  }

 private:
  JsEngine* engine_;
};

// ---------------------------------------------------------------------------------------------
// Watchdog: a thread that wakes at the running section's deadline and interrupts the context.
//
// Arming and disarming are a few atomic stores, with no lock and no wake-up (a condition
// variable notify per delivery cost two context switches per crank). The thread sleeps until
// the deadline of the section it last saw (or one timeout when idle), then re-reads: a newer
// section only moves the deadline later, so it just sleeps again. A timeout is recorded with
// the section's generation, so a late verdict can never hit the next section.

struct JsEngine::Watchdog {
  std::mutex mu;  // only for sleeping and stopping
  std::condition_variable cv;
  bool stop = false;
  // Written by the JS thread: `start_ns` before `generation` (release), read in that order.
  std::atomic<uint64_t> generation{0};
  std::atomic<int64_t> start_ns{0};
  std::atomic<bool> armed{false};
  // Generation of the section that timed out (0: none).
  std::atomic<uint64_t> timed_out_gen{0};
  std::atomic<bool> out_of_memory{false};

  bool TimedOut() const {
    uint64_t g = timed_out_gen.load();
    return g != 0 && g == generation.load();
  }
};

namespace {
int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void JsEngine::WatchdogLoop() {
  Watchdog& w = *watchdog_;
  const int64_t timeout_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.watchdog_timeout).count();
  std::unique_lock<std::mutex> lock(w.mu);
  while (!w.stop) {
    int64_t wake_ns = SteadyNowNs() + timeout_ns;
    if (w.armed.load()) {
      uint64_t gen = w.generation.load(std::memory_order_acquire);
      int64_t deadline = w.start_ns.load(std::memory_order_acquire) + timeout_ns;
      if (SteadyNowNs() >= deadline) {
        if (w.armed.load() && w.generation.load() == gen) {
          w.timed_out_gen = gen;
          JS_RequestInterruptCallback(cx_);
        }
      } else {
        wake_ns = deadline;
      }
    }
    w.cv.wait_until(lock,
                    std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake_ns)),
                    [&] { return w.stop; });
  }
}

bool JsEngine::InterruptCallback(JSContext* cx) {
  JsEngine* e = FromContext(cx);
  // Returning false terminates the running script uncatchably (docs/SPIDERMONKEY.md §4).
  return !(e && e->watchdog_->TimedOut());
}

void JsEngine::OutOfMemoryCallback(JSContext* cx, void* data) {
  static_cast<JsEngine*>(data)->watchdog_->out_of_memory = true;
}

void JsEngine::CleanupCallback(JSFunction* fn, JSObject* incumbent, void* data) {
  // Must not GC: only append (SystemAllocPolicy uses malloc, not the GC heap).
  JsEngine* e = static_cast<JsEngine*>(data);
  SWINGSET_CHECK(e->roots_->cleanups.append(JS_GetFunctionObject(fn)))
      << "out of memory queueing a FinalizationRegistry cleanup";
}

namespace {

JSObject* ResolveHook(JSContext* cx, JS::HandleValue referencing_private,
                      JS::HandleObject module_request) {
  JsEngine* e = JsEngine::FromContext(cx);
  JS::RootedString spec(cx, JS::GetModuleRequestSpecifier(cx, module_request));
  if (!spec) return nullptr;
  JS::UniqueChars chars = JS_EncodeStringToUTF8(cx, spec);
  if (!chars) return nullptr;
  return e->ResolveModule(cx, StringOf(cx, referencing_private), chars.get());
}

bool MetadataHook(JSContext* cx, JS::HandleValue private_value, JS::HandleObject meta) {
  JsEngine* e = JsEngine::FromContext(cx);
  return e->FillModuleMetadata(cx, StringOf(cx, private_value), meta);
}

}  // namespace

JSObject* JsEngine::ResolveModule(JSContext* cx, const std::string& referrer,
                                  const std::string& specifier) {
  if (!resolve_) {
    JS_ReportErrorASCII(cx, "module imports are not available here");
    return nullptr;
  }
  return resolve_(cx, referrer, specifier);
}

bool JsEngine::FillModuleMetadata(JSContext* cx, const std::string& module_key, JSObject* meta) {
  return metadata_ ? metadata_(cx, module_key, meta) : true;
}

// ---------------------------------------------------------------------------------------------
// JsEngine

JsEngine::JsEngine(const JsEngineOptions& options)
    : options_(options), owner_thread_(std::this_thread::get_id()) {
  SWINGSET_CHECK(JsProcess::Initialized()) << "create a swingset::JsProcess before any JsEngine";
  SWINGSET_CHECK(g_live_engines.load() == 0)
      << "only one JsEngine (JSContext) per process thread is supported (docs/SPIDERMONKEY.md §1)";
  cx_ = JS_NewContext(options_.gc_max_bytes);
  SWINGSET_CHECK(cx_) << "JS_NewContext failed";
  ++g_live_engines;
  JS_SetContextPrivate(cx_, this);
  // SpiderMonkey keeps the JIT options per process, not per context: each engine sets every
  // one it may change, so an engine never inherits the tiers of the one before it. Before
  // InitSelfHostedCode, which starts the JIT runtime: it builds the baseline interpreter only
  // if it is enabled then (enabling it later crashed in JSScript::createJitScript).
  // Ion after 200 calls/loop iterations of a script instead of SpiderMonkey's default 1,000.
  // Every bringOutYourDead discards the vat zone's JIT code (see js_vat_host.cc), so a busy
  // vat climbs the tiers again after each reap; reaching Ion sooner made churn (genesis reap
  // interval) ~+8% per CPU second and ping-pong a few %, with vat start and idle RSS unchanged
  // (100 cost ~0.1 MB per idle vat and ~2 ms per start). Tiering changes no result.
  const JitDefaults& defaults = ProcessJitDefaults(cx_);
  const bool eager = options_.jit && options_.eager_jit;
  auto set = [this](JSJitCompilerOption option, uint32_t value) {
    JS_SetGlobalJitCompilerOption(cx_, option, value);
  };
  set(JSJITCOMPILER_BASELINE_INTERPRETER_ENABLE, options_.jit ? 1 : 0);
  set(JSJITCOMPILER_BASELINE_ENABLE, options_.jit ? 1 : 0);
  set(JSJITCOMPILER_ION_ENABLE, options_.jit ? 1 : 0);
  set(JSJITCOMPILER_BASELINE_INTERPRETER_WARMUP_TRIGGER,
      eager ? 0 : defaults.baseline_interpreter_warmup);
  set(JSJITCOMPILER_BASELINE_WARMUP_TRIGGER, eager ? 0 : defaults.baseline_warmup);
  set(JSJITCOMPILER_ION_NORMAL_WARMUP_TRIGGER, eager ? 0 : 200);
  set(JSJITCOMPILER_OFFTHREAD_COMPILATION_ENABLE, eager ? 0 : defaults.offthread_compilation);

  watchdog_ = std::make_unique<Watchdog>();
  roots_ = std::make_unique<Roots>(cx_);
  job_queue_ = std::make_unique<JobQueueImpl>(this);
  JS::SetJobQueue(cx_, job_queue_.get());
  SWINGSET_CHECK(JS::InitSelfHostedCode(cx_)) << "JS::InitSelfHostedCode failed";

  JS_SetGCParameter(cx_, JSGC_MAX_BYTES, options_.gc_max_bytes);
  // No async stacks: with them on (the default) every promise, reaction job and resolution
  // captures a SavedFrame chain of the current JS stack (JS::CaptureCurrentStack, ~3% of a
  // churn profile, plus the GC objects it allocates). Vat code cannot see them under SES
  // (its error taming hides `stack`); with the lite lockdown a stack just lacks its
  // "async*" frames. Nothing that reaches a syscall depends on stacks.
  JS::ContextOptionsRef(cx_).setAsyncStack(false);
  // No WebAssembly: its compiler tiers are not deterministic and its code cannot be metered.
  // With wasm off the engine defines no `WebAssembly` global in any realm of this context
  // (vat_runtime.js and lite_lockdown.js also delete the name, should an engine define it).
  JS::ContextOptionsRef(cx_).setWasm(false).setWasmForTrustedPrinciples(false);
  // bringOutYourDead collects one vat's zone; without per-zone GC every one is a full GC.
  JS_SetGCParameter(cx_, JSGC_PER_ZONE_GC_ENABLED, 1);
  if (options_.native_stack_quota > 0) JS_SetNativeStackQuota(cx_, options_.native_stack_quota);
  JS_AddInterruptCallback(cx_, &JsEngine::InterruptCallback);
  JS::SetOutOfMemoryCallback(cx_, &JsEngine::OutOfMemoryCallback, this);
  JS::SetHostCleanupFinalizationRegistryCallback(cx_, &JsEngine::CleanupCallback, this);
  JS::SetModuleResolveHook(JS_GetRuntime(cx_), &ResolveHook);
  JS::SetModuleMetadataHook(JS_GetRuntime(cx_), &MetadataHook);

  if (options_.watchdog_timeout.count() > 0) {
    watchdog_thread_ = std::thread([this] { WatchdogLoop(); });
  }
}

JsEngine::~JsEngine() {
  SWINGSET_CHECK(std::this_thread::get_id() == owner_thread_)
      << "JsEngine destroyed off its thread";
  {
    std::lock_guard<std::mutex> lock(watchdog_->mu);
    watchdog_->stop = true;
  }
  watchdog_->cv.notify_all();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
  resolve_ = nullptr;
  metadata_ = nullptr;
  roots_->jobs.clear();
  roots_->cleanups.clear();
  roots_->job_runner = nullptr;
  roots_.reset();  // PersistentRooted must die before the context
  JS::SetJobQueue(cx_, nullptr);
  JS_DestroyContext(cx_);
  job_queue_.reset();
  cx_ = nullptr;
  --g_live_engines;
}

JsEngine* JsEngine::FromContext(JSContext* cx) {
  return static_cast<JsEngine*>(JS_GetContextPrivate(cx));
}

void JsEngine::set_module_hooks(ResolveFn resolve, MetadataFn metadata) {
  resolve_ = std::move(resolve);
  metadata_ = std::move(metadata);
}

void JsEngine::BeginSection(bool watchdog) {
  SWINGSET_CHECK(std::this_thread::get_id() == owner_thread_) << "JsEngine used off its thread";
  watchdog_->out_of_memory = false;
  meter_fault_ = Fault::kNone;
  watchdog_->start_ns.store(SteadyNowNs(), std::memory_order_release);
  watchdog_->generation.fetch_add(1, std::memory_order_release);  // old verdicts stop matching
  if (options_.watchdog_timeout.count() <= 0 || !watchdog) return;
  watchdog_->armed = true;
}

JsEngine::Fault JsEngine::EndSection() {
  watchdog_->armed = false;
  // A verdict that races with this stays tied to this section's generation.
  return fault();
}

JsEngine::Fault JsEngine::fault() const {
  // A meter fault first: once the meter stopped the vat, nothing after it ran, so a later
  // node-local fault cannot have decided the outcome.
  if (meter_fault_ != Fault::kNone) return meter_fault_;
  if (watchdog_->TimedOut()) return Fault::kTimeout;
  if (watchdog_->out_of_memory.load()) return Fault::kOutOfMemory;
  return Fault::kNone;
}

void JsEngine::SetMeterFault(Fault fault) {
  SWINGSET_CHECK(fault == Fault::kComputrons || fault == Fault::kDepth) << "not a meter fault";
  if (meter_fault_ == Fault::kNone) meter_fault_ = fault;
}

void JsEngine::set_job_runner(JSObject* runner) { roots_->job_runner = runner; }

bool JsEngine::DrainJobs() {
  JSContext* cx = cx_;
  auto& jobs = roots_->jobs;
  bool ok = true;
  while (roots_->next_job < jobs.length()) {
    if (meter_fault_ != Fault::kNone) {
      ok = false;
      break;
    }
    JS::RootedObject job(cx, jobs[roots_->next_job]);
    jobs.get()[roots_->next_job] = nullptr;
    ++roots_->next_job;
    JSAutoRealm ar(cx, job);
    JS::RootedValue rval(cx);
    bool called;
    if (roots_->job_runner) {
      JS::RootedValue runner(cx, JS::ObjectValue(*roots_->job_runner));
      JS::RootedValue job_value(cx, JS::ObjectValue(*job));
      called = JS::Call(cx, JS::UndefinedHandleValue, runner, JS::HandleValueArray(job_value),
                        &rval);
    } else {
      called = JS::Call(cx, JS::UndefinedHandleValue, job, JS::HandleValueArray::empty(), &rval);
    }
    if (!called) {
      ok = false;
      break;
    }
    if (fault() != Fault::kNone) {
      ok = false;
      break;
    }
  }
  if (!ok) {
    ClearJobs();
  } else {
    jobs.clear();
    roots_->next_job = 0;
  }
  JS::ClearKeptObjects(cx);
  return ok;
}

void JsEngine::ClearJobs() {
  roots_->jobs.clear();
  roots_->next_job = 0;
}

bool JsEngine::JobsEmpty() const { return job_queue_->empty(); }

void JsEngine::FullGC() {
  JS::ClearKeptObjects(cx_);
  JS::PrepareForFullGC(cx_);
  JS::NonIncrementalGC(cx_, JS::GCOptions::Normal, JS::GCReason::API);
}

void JsEngine::ReleaseZone(JS::Zone* zone) {
  JS::ClearKeptObjects(cx_);
  JS::PrepareZoneForGC(cx_, zone);
  JS::NonIncrementalGC(cx_, JS::GCOptions::Shrink, JS::GCReason::API);
  malloc_trim(0);
}

void JsEngine::ZoneGC(JSObject* global, bool shrink) {
  JS::ClearKeptObjects(cx_);
  JS::PrepareZoneForGC(cx_, JS::GetObjectZone(global));
  JS::NonIncrementalGC(cx_, shrink ? JS::GCOptions::Shrink : JS::GCOptions::Normal,
                       JS::GCReason::API);
}

bool JsEngine::RunFinalizationCleanup(JSObject* global, size_t* ran) {
  JSContext* cx = cx_;
  JS::Compartment* comp = JS::GetCompartment(global);
  JS::RootedVector<JSObject*> mine(cx);
  auto& all = roots_->cleanups;
  size_t keep = 0;
  for (size_t i = 0; i < all.length(); ++i) {
    if (JS::GetCompartment(all[i]) == comp) {
      if (!mine.append(all[i])) return false;
    } else {
      all.get()[keep++] = all[i];
    }
  }
  all.get().shrinkBy(all.length() - keep);
  if (ran) *ran = mine.length();
  for (size_t i = 0; i < mine.length(); ++i) {
    JS::RootedObject fn(cx, mine[i]);
    JSAutoRealm ar(cx, fn);
    JS::RootedValue fval(cx, JS::ObjectValue(*fn));
    JS::RootedValue rval(cx);
    if (!JS_CallFunctionValue(cx, nullptr, fval, JS::HandleValueArray::empty(), &rval)) {
      return false;
    }
  }
  return true;
}

void JsEngine::DropFinalizationCleanup(JSObject* global) {
  JS::Compartment* comp = JS::GetCompartment(global);
  auto& all = roots_->cleanups;
  size_t keep = 0;
  for (size_t i = 0; i < all.length(); ++i) {
    if (JS::GetCompartment(all[i]) != comp) all.get()[keep++] = all[i];
  }
  all.get().shrinkBy(all.length() - keep);
}

size_t JsEngine::PendingCleanupCount() const { return roots_->cleanups.length(); }

}  // namespace swingset
