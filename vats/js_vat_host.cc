#include "vats/js_vat_host.h"

#include <cstdio>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <jsapi.h>
#include <jsfriendapi.h>
#include <js/CompilationAndEvaluation.h>
#include <js/Conversions.h>
#include <js/Modules.h>
#include <js/Promise.h>
#include <js/PropertyAndElement.h>
#include <js/SourceText.h>
#include <js/String.h>
#include <js/experimental/JSStencil.h>
#include <mozilla/RefPtr.h>
#include <js/JSON.h>

#include "kernel/base.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"
#include "vats/js_engine.h"
#include "vats/js_error.h"
#include "vats/js_meter.h"
#include "vats/js_sources.h"

namespace swingset {
namespace {

const JSClass kGlobalClass = {"global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps};

constexpr size_t kConsoleCap = 1 << 16;

// A JS string as WTF-8 (kernel/utf8.h): lone surrogates are kept, not replaced by U+FFFD, so
// whatever a vat hands the kernel reaches it intact.
std::string ToWtf8(JSContext* cx, JS::HandleString s) {
  std::u16string units(JS_GetStringLength(s), u'\0');
  if (!JS_CopyStringChars(cx, mozilla::Range<char16_t>(units.data(), units.size()), s)) {
    return std::string();
  }
  return Utf16ToWtf8(units);
}

// The inverse of ToWtf8: kernel text (WTF-8, which JS_NewStringCopyUTF8N refuses when it holds a
// lone surrogate) as a JS string. Bytes that are not WTF-8 become U+FFFD.
JSString* FromWtf8(JSContext* cx, std::string_view s) {
  if (IsValidUtf8(s)) return JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(s.data(), s.size()));
  std::u16string units = Wtf8ToUtf16(s);
  return JS_NewUCStringCopyN(cx, units.data(), units.size());
}

bool EvalScript(JSContext* cx, const char* name, std::string_view text,
                JS::MutableHandleValue rval) {
  JS::CompileOptions opts(cx);
  opts.setFileAndLine(name, 1);
  JS::SourceText<mozilla::Utf8Unit> src;
  if (!src.init(cx, text.data(), text.size(), JS::SourceOwnership::Borrowed)) return false;
  return JS::Evaluate(cx, opts, src, rval);
}

// Calls obj[name](args...) and returns its value in rval.
bool CallMethod(JSContext* cx, JS::HandleObject obj, const char* name,
                const JS::HandleValueArray& args, JS::MutableHandleValue rval) {
  return JS_CallFunctionName(cx, obj, name, args, rval);
}

bool StringifyValue(JSContext* cx, JS::MutableHandleValue v, std::string* out) {
  std::u16string json;
  auto append = [](const char16_t* buf, uint32_t len, void* data) -> bool {
    static_cast<std::u16string*>(data)->append(buf, len);
    return true;
  };
  if (!JS_Stringify(cx, v, nullptr, JS::NullHandleValue, append, &json)) return false;
  JS::RootedString s(cx, JS_NewUCStringCopyN(cx, json.data(), json.size()));
  if (!s) return false;
  *out = ToWtf8(cx, s);
  return true;
}

// The module set of one vat.
struct VatModules {
  std::string entry;
  std::map<std::string, std::string> sources;  // path -> module text
};

absl::StatusOr<VatModules> ParseVatSource(const std::string& source) {
  VatModules m;
  size_t first = source.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && source[first] == '{') {
    absl::StatusOr<Json> j = Json::Parse(source);
    if (j.ok() && j->is_object() && j->Find("entry")) {
      const Json* entry = j->Find("entry");
      const Json* modules = j->Find("modules");
      if (!entry->is_string() || !modules || !modules->is_object()) {
        return absl::InvalidArgumentError("vat source: {entry: string, modules: {path: text}}");
      }
      m.entry = entry->as_string();
      for (const auto& [path, text] : modules->as_object()) {
        if (!text.is_string()) {
          return absl::InvalidArgumentError(StrCat("vat source: module ", path, " is not text"));
        }
        m.sources[path] = text.as_string();
      }
      if (!m.sources.count(m.entry)) {
        return absl::InvalidArgumentError(StrCat("vat source: entry ", m.entry, " not in modules"));
      }
      return m;
    }
  }
  m.entry = "vat.js";
  m.sources[m.entry] = source;
  return m;
}

// "./b.js" from "lib/a.js" -> "lib/b.js"; "../c.js" from "lib/a.js" -> "c.js".
std::string ResolveRelative(const std::string& referrer, const std::string& specifier) {
  std::vector<std::string> parts;
  size_t slash = referrer.rfind('/');
  std::string dir = slash == std::string::npos ? "" : referrer.substr(0, slash);
  auto push_path = [&parts](const std::string& p) {
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find('/', start);
      if (end == std::string::npos) end = p.size();
      std::string seg = p.substr(start, end - start);
      if (seg == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.push_back(seg);
      }
      start = end + 1;
    }
  };
  if (!specifier.empty() && specifier[0] != '/') push_path(dir);
  push_path(specifier);
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.push_back('/');
    out += p;
  }
  return out;
}

// Answers syscalls from a recorded transcript entry and checks the vat makes the same ones.
class ReplayHandler : public SyscallHandler {
 public:
  ReplayHandler(std::string vat, uint64_t index, std::vector<std::pair<std::string, Json>> sc)
      : vat_(std::move(vat)), index_(index), recorded_(std::move(sc)) {}

  SyscallResult Syscall(const VatSyscall& syscall) override {
    std::string got = syscall.ToJson().Dump();
    SWINGSET_CHECK(next_ < recorded_.size())
        << "transcript replay of " << vat_ << " diverged at delivery #" << index_
        << ": the vat made an extra syscall " << got << " (transcript has " << recorded_.size()
        << ")";
    const auto& [want, result] = recorded_[next_];
    SWINGSET_CHECK(got == want) << "transcript replay of " << vat_ << " diverged at delivery #"
                                << index_ << ", syscall #" << next_ << ": the vat made " << got
                                << " but the transcript recorded " << want;
    ++next_;
    absl::StatusOr<SyscallResult> r = SyscallResult::FromJson(result);
    SWINGSET_CHECK(r.ok()) << "transcript of " << vat_ << " entry #" << index_
                           << " has a malformed syscall result: " << r.status().ToString();
    return *r;
  }

  void CheckAllUsed() const {
    SWINGSET_CHECK(next_ == recorded_.size())
        << "transcript replay of " << vat_ << " diverged at delivery #" << index_
        << ": the vat made " << next_ << " syscalls but the transcript recorded "
        << recorded_.size() << " (next expected: " << recorded_[next_].first << ")";
  }

 private:
  std::string vat_;
  uint64_t index_;
  std::vector<std::pair<std::string, Json>> recorded_;
  size_t next_ = 0;
};

}  // namespace

struct JsVat {
  explicit JsVat(JSContext* cx)
      : global(cx), ns(cx), ses_module_refs(cx), dispatch(cx), limits(cx), meter(cx), job_runner(cx) {}
  VatId id;
  std::string name;
  bool raw = false;
  // From the vat's options record (consensus): unmetered, or meter version 1 and its limits.
  MeterLimits meter_limits;
  JS::PersistentRooted<JSObject*> global;
  JS::PersistentRooted<JSObject*> ns;  // the private runtime namespace (vat_runtime.js)
  // Testing only (JsVatHostOptions::testing_track_ses_modules): {module path: WeakRef to its
  // module record}.
  JS::PersistentRooted<JSObject*> ses_module_refs;
  // ns.dispatchFromHost, looked up once (boot() sets it and nothing replaces it).
  JS::PersistentRooted<JS::Value> dispatch;
  // What js/vat_limits.js returned: {resetDelivery()}, called before every delivery.
  JS::PersistentRooted<JSObject*> limits;
  // The realm's meter ($__m, js_meter.h) when metered, else null.
  JS::PersistentRooted<JSObject*> meter;
  // meter.j, the realm's job runner (js_meter.h).
  JS::PersistentRooted<JSObject*> job_runner;
  // Computrons the last delivery (or the start-up) used; 0 when unmetered.
  uint64_t last_computrons = 0;
};

class JsVatHost::Impl {
 public:
  explicit Impl(const JsVatHostOptions& options)
      : options_(options), engine_(EngineOptions(options)) {
    engine_.set_embedder_data(this);
  }
  ~Impl() {
    for (auto& [n, vat] : vats_) engine_.DropFinalizationCleanup(vat->global);
    vats_.clear();  // roots go before the engine (and its context)
  }

  static JsEngineOptions EngineOptions(const JsVatHostOptions& o) {
    JsEngineOptions e;
    e.watchdog_timeout = o.delivery_timeout;
    e.gc_max_bytes = o.gc_max_bytes;
    e.jit = o.jit;
    e.eager_jit = o.eager_jit;
    e.native_stack_quota = o.native_stack_quota;
    return e;
  }

  absl::Status LoadVat(const VatSpec& spec);
  DeliveryResult Deliver(VatId vat, const VatDelivery& delivery, SyscallHandler* handler);
  void StopVat(VatId vat);
  absl::StatusOr<std::string> Eval(VatId vat, const std::string& fn_source);
  void ForceGC() { engine_.FullGC(); }
  std::string TakeConsole() { return std::exchange(console_, std::string()); }
  bool IsLoaded(VatId vat) const { return vats_.count(vat.n()) > 0; }
  void ZoneGC(VatId vat) {
    auto it = vats_.find(vat.n());
    if (it == vats_.end()) return;
    JSAutoRealm ar(engine_.cx(), it->second->global);
    engine_.ZoneGC(it->second->global);
  }
  uint64_t LastComputrons(VatId vat) const {
    auto it = vats_.find(vat.n());
    return it == vats_.end() ? 0 : it->second->last_computrons;
  }
  uint64_t ZoneHeapBytes(VatId vat) {
    auto it = vats_.find(vat.n());
    return it == vats_.end() ? 0 : js::GetGCHeapUsageForObjectZone(it->second->global);
  }
  std::vector<std::string> LiveSesModules(VatId id) {
    std::vector<std::string> live;
    auto it = vats_.find(id.n());
    if (it == vats_.end() || !it->second->ses_module_refs) return live;
    JSContext* cx = engine_.cx();
    JSAutoRealm ar(cx, it->second->global);
    JS::RootedObject refs(cx, it->second->ses_module_refs);
    JS::Rooted<JS::IdVector> ids(cx, JS::IdVector(cx));
    SWINGSET_CHECK(JS_Enumerate(cx, refs, &ids));
    for (size_t i = 0; i < ids.length(); ++i) {
      JS::RootedValue ref(cx), target(cx);
      SWINGSET_CHECK(JS_GetPropertyById(cx, refs, ids[i], &ref));
      JS::RootedObject ref_obj(cx, &ref.toObject());
      SWINGSET_CHECK(CallMethod(cx, ref_obj, "deref", JS::HandleValueArray::empty(), &target));
      if (!target.isObject()) continue;
      JS::RootedValue name(cx);
      SWINGSET_CHECK(JS_IdToValue(cx, ids[i], &name));
      JS::RootedString s(cx, name.toString());
      live.push_back(ToWtf8(cx, s));
    }
    JS::ClearKeptObjects(cx);  // deref() kept the targets alive for this turn
    return live;
  }
  std::pair<uint64_t, uint64_t> GcCounts() {
    return {JS_GetGCParameter(engine_.cx(), JSGC_MAJOR_GC_NUMBER),
            JS_GetGCParameter(engine_.cx(), JSGC_MINOR_GC_NUMBER)};
  }
  void DropAll() {
    for (auto& [n, vat] : vats_) engine_.DropFinalizationCleanup(vat->global);
    vats_.clear();
  }

  // Natives (host.syscall / host.fatal / host.log).
  static bool NativeSyscall(JSContext* cx, unsigned argc, JS::Value* vp);
  static bool NativeFatal(JSContext* cx, unsigned argc, JS::Value* vp);
  static bool NativeLog(JSContext* cx, unsigned argc, JS::Value* vp);

 private:
  static Impl* From(JSContext* cx) {
    return static_cast<Impl*>(JsEngine::FromContext(cx)->embedder_data());
  }
  absl::Status BuildRealm(const VatSpec& spec, JsVat* vat);
  absl::Status LoadModules(JsVat* vat, const VatModules& modules);
  // Evaluates SES's ES modules (ses/index.js and what it imports) in the current realm, from
  // module stencils compiled once per host. The module records are held only by this call:
  // afterwards a module stays alive only if a live function's scope reaches it.
  absl::Status LoadSesModules(JsVat* vat);
  DeliveryResult RunDelivery(JsVat* vat, const VatDelivery& delivery, SyscallHandler* handler);
  // The engine's heap limit (--js-heap-limit-mib) is a node-local backstop: where a vat hits it
  // depends on the node's flags, allocator and GC timing, so what it decides must not become
  // the vat's fate (another node may finish the same delivery). The node stops instead
  // (fail-stop, like a storage failure); the genesis caps (js/vat_limits.js, VatLimits) are
  // what vats are meant to run into.
  static void HaltOnEngineOutOfMemory(JsEngine::Fault fault, VatId vat, std::string_view what) {
    if (fault != JsEngine::Fault::kOutOfMemory) return;
    base_internal::FatalMessage(__FILE__, __LINE__, "halt", "JavaScript engine out of memory",
                                kExitEngineOutOfMemory)
            .stream()
        << "vat " << vat.ToString() << " ran the JavaScript engine out of memory (" << what
        << "; --js-heap-limit-mib): stopping the node rather than decide an outcome other nodes "
        << "may not share";
  }
  void Replay(JsVat* vat, TranscriptSource* transcript);

  // Runs one of the host's own scripts (SES, our runtime) in the current realm from a stencil
  // compiled once per host: each vat realm instantiates it without parsing again, and the
  // realms share the source and bytecode.
  bool RunCachedScript(const char* name, std::string_view text, JS::MutableHandleValue rval);
  // The text to compile for a script or module of the realm being built or run: instrumented
  // when the vat is metered (current_), else `text`. nullopt with a JS error reported when the
  // instrumenter refuses it.
  std::optional<std::string_view> CodeFor(const std::string& name, std::string_view text,
                                          bool module);
  bool metered() const { return current_ != nullptr && current_->meter_limits.metered(); }
  bool replaying_ = false;  // inside Replay()
  // Arms the meter of a metered vat for one section; MeterSpent reads what it used.
  void ArmFor(JsVat* vat);
  void MeterSpent(JsVat* vat);

  JsVatHostOptions options_;
  JsEngine engine_;
  JsInstrumenter instrumenter_{&engine_};
  // name -> compiled script ("metered:" + name for instrumented text); declared after engine_,
  // so released before the context dies.
  std::map<std::string, RefPtr<JS::Stencil>> stencils_;
  // SES module path -> compiled module (LoadSesModules); "metered:" + path when instrumented.
  std::map<std::string, RefPtr<JS::Stencil>, std::less<>> ses_stencils_;
  std::map<uint64_t, std::unique_ptr<JsVat>> vats_;

  // State of the delivery (or vat start-up) in progress.
  JsVat* current_ = nullptr;
  SyscallHandler* handler_ = nullptr;
  std::string fatal_;
  std::string console_;
};

// ---------------------------------------------------------------------------------------------
// Natives

bool JsVatHost::Impl::NativeSyscall(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  Impl* self = From(cx);
  if (!self->handler_) {
    JS_ReportErrorASCII(cx, "syscall outside of a delivery");
    return false;
  }
  if (!args.get(0).isString()) {
    JS_ReportErrorASCII(cx, "host.syscall needs a JSON string");
    return false;
  }
  JS::RootedString s(cx, args.get(0).toString());
  // The JSON text from JSON.stringify is nearly always ASCII, stored as Latin-1 chars: parsed
  // in place (ASCII is UTF-8), with no UTF-8 encoding and no copy. Json::Parse does not GC.
  absl::StatusOr<Json> j = absl::UnknownError("");
  std::string text;
  bool parsed = false;
  if (JSLinearString* linear = JS_EnsureLinearString(cx, s);
      linear && JS::LinearStringHasLatin1Chars(linear)) {
    JS::AutoCheckCannotGC nogc;
    size_t len = JS::GetLinearStringLength(linear);
    const JS::Latin1Char* chars = JS::GetLatin1LinearStringChars(nogc, linear);
    bool ascii = true;
    for (size_t i = 0; i < len && ascii; ++i) ascii = chars[i] < 0x80;
    if (ascii) {
      std::string_view view(reinterpret_cast<const char*>(chars), len);
      j = Json::Parse(view);
      parsed = true;
    }
  }
  if (!parsed) {
    text = ToWtf8(cx, s);
    j = Json::Parse(text);
  }
  absl::StatusOr<VatSyscall> sc =
      j.ok() ? VatSyscall::FromJson(*j) : absl::StatusOr<VatSyscall>(j.status());
  if (!sc.ok()) {
    if (text.empty()) text = ToWtf8(cx, s);
    std::string msg = StrCat("bad syscall ", text.substr(0, 200), ": ", sc.status().message());
    JS_ReportErrorUTF8(cx, "%s", msg.c_str());
    return false;
  }
  SyscallResult r = self->handler_->Syscall(*sc);
  if (r.ok && r.data.is_null()) {
    // ['ok', null], the answer to nearly every syscall: no JSON text to build and parse.
    args.rval().setNull();
    return true;
  }
  JS::RootedString out(cx, FromWtf8(cx, r.ToJson().Dump()));
  if (!out) return false;
  args.rval().setString(out);
  return true;
}

bool JsVatHost::Impl::NativeFatal(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  Impl* self = From(cx);
  std::string text = "vat fatal error";
  if (args.get(0).isString()) {
    JS::RootedString s(cx, args.get(0).toString());
    text = ToWtf8(cx, s);
  }
  if (self->fatal_.empty()) self->fatal_ = text;
  args.rval().setUndefined();
  return true;
}

bool JsVatHost::Impl::NativeLog(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  Impl* self = From(cx);
  std::string text;
  if (args.get(0).isString()) {
    JS::RootedString s(cx, args.get(0).toString());
    text = ToWtf8(cx, s);
  }
  std::string who = self->current_ ? self->current_->id.ToString() : "?";
  if (self->options_.console_to_stderr) fprintf(stderr, "[%s] %s\n", who.c_str(), text.c_str());
  if (self->console_.size() < kConsoleCap) StrAppend(&self->console_, text, "\n");
  args.rval().setUndefined();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Metering

std::optional<std::string_view> JsVatHost::Impl::CodeFor(const std::string& name,
                                                         std::string_view text, bool module) {
  if (!metered()) return text;
  absl::StatusOr<std::string_view> code =
      instrumenter_.Instrument(name, text, module, current_->meter_limits.version);
  if (!code.ok()) {
    std::string msg(code.status().message());
    JS_ReportErrorUTF8(engine_.cx(), "%s", msg.c_str());
    return std::nullopt;
  }
  return *code;
}

void JsVatHost::Impl::ArmFor(JsVat* vat) {
  vat->last_computrons = 0;
  if (!vat->meter) return;
  SWINGSET_CHECK(ArmMeter(engine_.cx(), vat->meter, vat->meter_limits.computrons,
                          vat->meter_limits.max_depth, options_.testing_meter_chunk))
      << "cannot arm the meter of " << vat->id.ToString();
  engine_.set_job_runner(vat->job_runner);
}

void JsVatHost::Impl::MeterSpent(JsVat* vat) {
  if (!vat->meter) return;
  engine_.set_job_runner(nullptr);
  double left = 0;
  SWINGSET_CHECK(MeterRemaining(engine_.cx(), vat->meter, &left))
      << "cannot read the meter of " << vat->id.ToString();
  // Exhausted: the tick that took it below zero counts, as in Agoric's meters.
  double used = static_cast<double>(vat->meter_limits.computrons) - left;
  vat->last_computrons = used < 0 ? 0 : static_cast<uint64_t>(used);
}

// ---------------------------------------------------------------------------------------------
// Building a vat

bool JsVatHost::Impl::RunCachedScript(const char* name, std::string_view text,
                                      JS::MutableHandleValue rval) {
  JSContext* cx = engine_.cx();
  JS::CompileOptions opts(cx);
  opts.setFileAndLine(name, 1);
  std::string key = metered() ? StrCat("metered:v", current_->meter_limits.version, ":", name)
                              : std::string(name);
  auto it = stencils_.find(key);
  if (it == stencils_.end()) {
    std::optional<std::string_view> code = CodeFor(name, text, /*module=*/false);
    if (!code) return false;
    // Everything parsed up front: lazily parsed functions would be re-parsed in every realm.
    opts.setForceFullParse();
    JS::SourceText<mozilla::Utf8Unit> src;
    if (!src.init(cx, code->data(), code->size(), JS::SourceOwnership::Borrowed)) return false;
    RefPtr<JS::Stencil> stencil = JS::CompileGlobalScriptToStencil(cx, opts, src);
    if (!stencil) return false;
    it = stencils_.emplace(key, std::move(stencil)).first;
  }
  JS::InstantiateOptions iopts(opts);
  JS::RootedScript script(cx, JS::InstantiateGlobalStencil(cx, iopts, it->second.get()));
  if (!script) return false;
  return JS_ExecuteScript(cx, script, rval);
}

absl::Status JsVatHost::Impl::LoadSesModules(JsVat* vat) {
  JSContext* cx = engine_.cx();
  const auto& sources = SesModuleSources();
  JS::RootedValue weak_ref_ctor(cx);
  if (options_.testing_track_ses_modules) {
    JS::RootedObject global(cx, JS::CurrentGlobalOrNull(cx));
    vat->ses_module_refs = JS_NewPlainObject(cx);
    if (!vat->ses_module_refs || !JS_GetProperty(cx, global, "WeakRef", &weak_ref_ctor)) {
      return TakeJsErrorStatus(cx, "tracking SES modules");
    }
  }
  // Records by path; the resolve hook is called several times per import edge and must return
  // the same record each time (docs/SPIDERMONKEY.md §5).
  JS::RootedVector<JSObject*> records(cx);
  std::map<std::string, size_t> by_path;

  auto instantiate = [&](const std::string& path) -> JSObject* {
    auto known = by_path.find(path);
    if (known != by_path.end()) return records[known->second];
    auto src_it = sources.find(path);
    if (src_it == sources.end()) {
      std::string msg = StrCat("SES module ", path, " is not embedded");
      JS_ReportErrorUTF8(cx, "%s", msg.c_str());
      return nullptr;
    }
    JS::CompileOptions opts(cx);
    opts.setFileAndLine(src_it->first.data(), 1);
    // Fully parsed, as the host's scripts: lazy functions would be re-parsed in every realm.
    opts.setForceFullParse();
    std::string stencil_key =
        metered() ? StrCat("metered:v", current_->meter_limits.version, ":", path) : path;
    auto st = ses_stencils_.find(stencil_key);
    if (st == ses_stencils_.end()) {
      std::optional<std::string_view> code = CodeFor(path, src_it->second, /*module=*/true);
      if (!code) return nullptr;
      JS::SourceText<mozilla::Utf8Unit> text;
      if (!text.init(cx, code->data(), code->size(), JS::SourceOwnership::Borrowed)) {
        return nullptr;
      }
      RefPtr<JS::Stencil> stencil = JS::CompileModuleScriptToStencil(cx, opts, text);
      if (!stencil) return nullptr;
      st = ses_stencils_.emplace(stencil_key, std::move(stencil)).first;
    }
    JS::InstantiateOptions iopts(opts);
    JS::RootedObject mod(cx, JS::InstantiateModuleStencil(cx, iopts, st->second.get()));
    if (!mod) return nullptr;
    JS::RootedString key(cx, FromWtf8(cx, path));
    if (!key) return nullptr;
    JS::SetModulePrivate(mod, JS::StringValue(key));
    if (options_.testing_track_ses_modules) {
      JS::RootedValue target(cx, JS::ObjectValue(*mod));
      JS::RootedObject ref(cx);
      JS::RootedObject refs(cx, vat->ses_module_refs);
      if (!JS::Construct(cx, weak_ref_ctor, JS::HandleValueArray(target), &ref) ||
          !JS_DefineProperty(cx, refs, path.c_str(), ref, JSPROP_ENUMERATE)) {
        return nullptr;
      }
    }
    if (!records.append(mod)) return nullptr;
    by_path[path] = records.length() - 1;
    return mod;
  };

  // Relative specifiers against the importing file; a bare package name ("@endo/env-options")
  // to the package's index.js, a package path ("@endo/immutable-arraybuffer/shim.js") as is.
  auto resolve = [&](JSContext* cx, const std::string& referrer,
                     const std::string& specifier) -> JSObject* {
    std::string path;
    if (specifier.rfind("./", 0) == 0 || specifier.rfind("../", 0) == 0) {
      path = ResolveRelative(referrer, specifier);
    } else if (sources.count(specifier)) {
      path = specifier;
    } else {
      path = StrCat(specifier, "/index.js");
    }
    return instantiate(path);
  };
  engine_.set_module_hooks(resolve, nullptr);
  struct ClearHooks {
    JsEngine* e;
    ~ClearHooks() { e->set_module_hooks(nullptr, nullptr); }
  } clear_hooks{&engine_};

  JS::RootedObject entry(cx, instantiate("ses/index.js"));
  if (!entry || !JS::ModuleInstantiate(cx, entry)) {
    return TakeJsErrorStatus(cx, "linking the SES modules", engine_.fault());
  }
  JS::RootedValue rval(cx);
  if (!JS::ModuleEvaluate(cx, entry, &rval) || !engine_.DrainJobs()) {
    return TakeJsErrorStatus(cx, "evaluating the SES modules", engine_.fault());
  }
  if (rval.isObject()) {
    JS::RootedObject promise(cx, &rval.toObject());
    if (JS::IsPromiseObject(promise) &&
        (JS::GetPromiseState(promise) == JS::PromiseState::Pending ||
         !JS::ThrowOnModuleEvaluationFailure(cx, promise, JS::ThrowModuleErrorsSync))) {
      return TakeJsErrorStatus(cx, "evaluating the SES modules", engine_.fault());
    }
  }
  return absl::OkStatus();
}

absl::Status JsVatHost::Impl::BuildRealm(const VatSpec& spec, JsVat* vat) {
  JSContext* cx = engine_.cx();
  JS::RealmOptions ro;
  ro.creationOptions()
      .setWeakRefsEnabled(JS::WeakRefSpecifier::EnabledWithoutCleanupSome)
      // Not setPreserveJitCode(true): it would make reaps cheaper (the next deliveries would
      // not run cold), but JIT code and IC stubs then keep objects alive, so what a reap finds
      // would depend on JIT tiering (liveslots_test's extra-GC determinism test catches it).
      .setNewCompartmentAndZone();
  vat->global = JS_NewGlobalObject(cx, &kGlobalClass, nullptr, JS::FireOnNewGlobalHook, ro);
  if (!vat->global) return TakeJsErrorStatus(cx, "creating the vat global");
  JSAutoRealm ar(cx, vat->global);
  if (!JS::InitRealmStandardClasses(cx)) return TakeJsErrorStatus(cx, "standard classes");
  if (vat->meter_limits.metered()) {
    // Before anything else runs in the realm: from here on every script is instrumented.
    vat->meter = InstallMeter(cx, vat->meter_limits.version, spec.limits);
    if (!vat->meter) return TakeJsErrorStatus(cx, "installing the meter");
    JS::RootedObject meter(cx, vat->meter);
    JS::RootedValue runner(cx);
    if (!JS_GetProperty(cx, meter, "j", &runner) || !runner.isObject()) {
      return TakeJsErrorStatus(cx, "the meter's job runner");
    }
    vat->job_runner = &runner.toObject();
    ArmFor(vat);
  }

  JS::RootedObject host(cx, JS_NewPlainObject(cx));
  if (!host || !JS_DefineFunction(cx, host, "syscall", &Impl::NativeSyscall, 1, 0) ||
      !JS_DefineFunction(cx, host, "fatal", &Impl::NativeFatal, 1, 0) ||
      !JS_DefineFunction(cx, host, "log", &Impl::NativeLog, 1, 0)) {
    return TakeJsErrorStatus(cx, "host natives");
  }

  // A console for SES's own reporting during lockdown; boot() replaces it.
  JS::RootedValue v(cx);
  static constexpr char kPrelude[] =
      "(function (host) {\n"
      "  const line = (...a) => host.log(a.map(x => String(x)).join(' '));\n"
      "  globalThis.console = { log: line, info: line, warn: line, error: line, debug: line };\n"
      "})";
  if (!RunCachedScript("prelude.js", kPrelude, &v)) return TakeJsErrorStatus(cx, "prelude");
  {
    JS::RootedValue hv(cx, JS::ObjectValue(*host));
    JS::RootedValue rv(cx);
    if (!JS_CallFunctionValue(cx, nullptr, v, JS::HandleValueArray(hv), &rv)) {
      return TakeJsErrorStatus(cx, "prelude");
    }
  }

  // The size caps first: SES and lockdown() then take the wrapped constructors and methods as
  // the intrinsics (js/vat_limits.js).
  {
    const JsSource& limits_src = VatLimitsSource();
    if (!RunCachedScript(limits_src.name, limits_src.text, &v)) {
      return TakeJsErrorStatus(cx, "loading vat_limits.js");
    }
    JS::RootedObject limits(cx, JS_NewPlainObject(cx));
    if (!limits ||
        !JS_DefineProperty(cx, limits, "maxBufferBytes",
                           static_cast<double>(spec.limits.max_buffer_bytes), JSPROP_ENUMERATE) ||
        !JS_DefineProperty(cx, limits, "maxBufferBytesPerDelivery",
                           static_cast<double>(spec.limits.max_buffer_bytes_per_delivery),
                           JSPROP_ENUMERATE) ||
        !JS_DefineProperty(cx, limits, "maxStringLength",
                           static_cast<double>(spec.limits.max_string_length),
                           JSPROP_ENUMERATE)) {
      return TakeJsErrorStatus(cx, "vat limits");
    }
    JS::RootedValue lv(cx, JS::ObjectValue(*limits));
    JS::RootedValue control(cx);
    if (!JS_CallFunctionValue(cx, nullptr, v, JS::HandleValueArray(lv), &control)) {
      return TakeJsErrorStatus(cx, "installing vat_limits.js");
    }
    if (!control.isObject()) return absl::InternalError("vat_limits.js returned no object");
    vat->limits = &control.toObject();
  }

  const JsSource& hardener = HardenSource();
  if (!RunCachedScript(hardener.name, hardener.text, &v)) {
    return TakeJsErrorStatus(cx, "loading harden.js");
  }
  // harden.js's internals for the runtime scripts (ns.hardenInternals; see harden.js).
  JS::RootedValue harden_internals(cx, v);
  if (options_.lite_lockdown) {
    const JsSource& lite = LiteLockdownSource();
    if (!RunCachedScript(lite.name, lite.text, &v)) {
      return TakeJsErrorStatus(cx, "loading lite_lockdown.js");
    }
    JS::RootedValue rv(cx);
    if (!JS_CallFunctionValue(cx, nullptr, v, JS::HandleValueArray::empty(), &rv)) {
      return TakeJsErrorStatus(cx, "lite lockdown");
    }
  } else {
    if (options_.ses_bundle) {
      const JsSource& ses = SesBundleSource();
      if (!RunCachedScript(ses.name, ses.text, &v)) return TakeJsErrorStatus(cx, "loading SES");
    } else {
      RETURN_IF_ERROR(LoadSesModules(vat));
    }
    if (!RunCachedScript("lockdown.js", "lockdown({ consoleTaming: 'unsafe' });", &v)) {
      return TakeJsErrorStatus(cx, "SES lockdown()");
    }
  }

  vat->ns = JS_NewPlainObject(cx);
  if (!vat->ns) return TakeJsErrorStatus(cx, "namespace");
  {
    JS::RootedObject ns(cx, vat->ns);
    if (!JS_DefineProperty(cx, ns, "hardenInternals", harden_internals, JSPROP_READONLY)) {
      return TakeJsErrorStatus(cx, "namespace");
    }
  }
  JS::RootedValue nsv(cx, JS::ObjectValue(*vat->ns));
  for (const JsSource& src : RuntimeSources()) {
    JS::RootedValue installer(cx);
    if (!RunCachedScript(src.name, src.text, &installer)) {
      return TakeJsErrorStatus(cx, StrCat("loading ", src.name));
    }
    JS::RootedValue rv(cx);
    if (!JS_CallFunctionValue(cx, nullptr, installer, JS::HandleValueArray(nsv), &rv)) {
      return TakeJsErrorStatus(cx, StrCat("installing ", src.name));
    }
  }

  JS::RootedObject config(cx, JS_NewPlainObject(cx));
  if (!config || !JS_DefineProperty(cx, config, "raw", spec.raw, JSPROP_ENUMERATE)) {
    return TakeJsErrorStatus(cx, "config");
  }
  JS::RootedValueArray<2> boot_args(cx);
  boot_args[0].setObject(*host);
  boot_args[1].setObject(*config);
  JS::RootedObject ns(cx, vat->ns);
  if (!CallMethod(cx, ns, "boot", boot_args, &v)) return TakeJsErrorStatus(cx, "liveslots boot");
  JS::RootedValue dispatch(cx);
  if (!JS_GetProperty(cx, ns, "dispatchFromHost", &dispatch)) {
    return TakeJsErrorStatus(cx, "liveslots boot");
  }
  vat->dispatch = dispatch;
  return absl::OkStatus();
}

absl::Status JsVatHost::Impl::LoadModules(JsVat* vat, const VatModules& modules) {
  JSContext* cx = engine_.cx();
  JSAutoRealm ar(cx, vat->global);
  JS::RootedObject ns(cx, vat->ns);

  // Module records by key ("vat:<path>" or "host:<specifier>"); the resolve hook must return
  // the same record every time (docs/SPIDERMONKEY.md §5: it is called several times per import edge).
  JS::RootedVector<JSObject*> records(cx);
  std::map<std::string, size_t> by_key;

  auto compile = [&](const std::string& key, const std::string& file,
                     const std::string& text) -> JSObject* {
    auto it = by_key.find(key);
    if (it != by_key.end()) return records[it->second];
    JS::CompileOptions opts(cx);
    opts.setFileAndLine(file.c_str(), 1);
    std::optional<std::string_view> code = CodeFor(file, text, /*module=*/true);
    if (!code) return nullptr;
    JS::SourceText<mozilla::Utf8Unit> src;
    if (!src.init(cx, code->data(), code->size(), JS::SourceOwnership::Borrowed)) return nullptr;
    JS::RootedObject mod(cx, JS::CompileModule(cx, opts, src));
    if (!mod) return nullptr;
    JS::RootedString keystr(cx, FromWtf8(cx, key));
    if (!keystr) return nullptr;
    JS::SetModulePrivate(mod, JS::StringValue(keystr));
    if (!records.append(mod)) return nullptr;
    by_key[key] = records.length() - 1;
    return mod;
  };

  auto resolve = [&](JSContext* cx, const std::string& referrer,
                     const std::string& specifier) -> JSObject* {
    // Host modules first: "@endo/far" and friends.
    JS::RootedValue spec(cx, JS::StringValue(FromWtf8(cx, specifier)));
    JS::RootedValue src(cx);
    if (!CallMethod(cx, ns, "hostModuleSource", JS::HandleValueArray(spec), &src)) {
      return nullptr;
    }
    if (src.isString()) {
      JS::RootedString s(cx, src.toString());
      return compile(StrCat("host:", specifier), specifier, ToWtf8(cx, s));
    }
    std::string path;
    if (referrer.rfind("vat:", 0) == 0 &&
        (specifier.rfind("./", 0) == 0 || specifier.rfind("../", 0) == 0 ||
         specifier.rfind("/", 0) == 0)) {
      path = ResolveRelative(referrer.substr(4), specifier);
    } else {
      path = specifier;
    }
    auto it = modules.sources.find(path);
    if (it == modules.sources.end()) {
      std::string msg = StrCat("cannot resolve module \"", specifier, "\" imported by ",
                               referrer.empty() ? "?" : referrer.substr(referrer.find(':') + 1));
      JS_ReportErrorUTF8(cx, "%s", msg.c_str());
      return nullptr;
    }
    return compile(StrCat("vat:", path), path, it->second);
  };

  auto metadata = [&](JSContext* cx, const std::string& key, JSObject* meta_raw) -> bool {
    if (key.rfind("host:", 0) != 0) return true;
    JS::RootedObject meta(cx, meta_raw);
    JS::RootedValue spec(cx, JS::StringValue(FromWtf8(cx, key.substr(5))));
    JS::RootedValue exports(cx);
    if (!CallMethod(cx, ns, "hostModuleExports", JS::HandleValueArray(spec), &exports)) {
      return false;
    }
    return JS_DefineProperty(cx, meta, "hostExports", exports, JSPROP_READONLY);
  };

  engine_.set_module_hooks(resolve, metadata);
  struct ClearHooks {
    JsEngine* e;
    ~ClearHooks() { e->set_module_hooks(nullptr, nullptr); }
  } clear_hooks{&engine_};

  const std::string& entry_text = modules.sources.at(modules.entry);
  JS::RootedObject entry(cx, compile(StrCat("vat:", modules.entry), modules.entry, entry_text));
  if (!entry) return TakeJsErrorStatus(cx, "compiling the vat module", engine_.fault());
  if (!JS::ModuleInstantiate(cx, entry)) {
    return TakeJsErrorStatus(cx, "linking the vat modules", engine_.fault());
  }
  JS::RootedValue rval(cx);
  if (!JS::ModuleEvaluate(cx, entry, &rval)) {
    return TakeJsErrorStatus(cx, "evaluating the vat modules", engine_.fault());
  }
  if (!engine_.DrainJobs()) {
    return TakeJsErrorStatus(cx, "evaluating the vat modules", engine_.fault());
  }
  if (rval.isObject()) {
    JS::RootedObject promise(cx, &rval.toObject());
    if (JS::IsPromiseObject(promise)) {
      if (JS::GetPromiseState(promise) == JS::PromiseState::Pending) {
        return absl::InvalidArgumentError("vat module evaluation did not finish (top-level await)");
      }
      if (!JS::ThrowOnModuleEvaluationFailure(cx, promise, JS::ThrowModuleErrorsSync)) {
        return TakeJsErrorStatus(cx, "evaluating the vat modules", engine_.fault());
      }
    }
  }
  JS::RootedObject module_ns(cx, JS::GetModuleNamespace(cx, entry));
  if (!module_ns) return TakeJsErrorStatus(cx, "module namespace");
  JS::RootedValue nsv(cx, JS::ObjectValue(*module_ns));
  if (!CallMethod(cx, ns, "setVatNamespace", JS::HandleValueArray(nsv), &rval) ||
      !engine_.DrainJobs()) {
    return TakeJsErrorStatus(cx, "vat set-up", engine_.fault());
  }
  return absl::OkStatus();
}

absl::Status JsVatHost::Impl::LoadVat(const VatSpec& spec) {
  if (vats_.count(spec.vat_id.n())) StopVat(spec.vat_id);
  ASSIGN_OR_RETURN(VatModules modules, ParseVatSource(spec.source));
  auto vat = std::make_unique<JsVat>(engine_.cx());
  vat->id = spec.vat_id;
  vat->name = spec.name;
  vat->raw = spec.raw;
  absl::StatusOr<MeterLimits> limits = MeterLimits::FromOptionsJson(spec.options_json);
  if (!limits.ok()) {
    return absl::InvalidArgumentError(
        StrCat(spec.vat_id.ToString(), ": ", limits.status().message()));
  }
  vat->meter_limits = *limits;

  current_ = vat.get();
  fatal_.clear();
  engine_.BeginSection();
  absl::Status st = BuildRealm(spec, vat.get());
  if (st.ok()) st = LoadModules(vat.get(), modules);
  MeterSpent(vat.get());
  JsEngine::Fault fault = engine_.EndSection();
  HaltOnEngineOutOfMemory(fault, spec.vat_id, "loading the vat");
  current_ = nullptr;
  // A meter fault decides the outcome even when a step already failed: that failure is just
  // the uncatchable stop the meter caused.
  bool meter_fault = fault == JsEngine::Fault::kComputrons || fault == JsEngine::Fault::kDepth;
  if (fault != JsEngine::Fault::kNone && (st.ok() || meter_fault)) {
    st = TakeJsErrorStatus(engine_.cx(), "loading the vat", fault);
  }
  if (!st.ok() && vat->meter_limits.metered() && !meter_fault && fault != JsEngine::Fault::kNone) {
    // A node-local limit (watchdog, heap) stopped a metered vat's start: not for this node to
    // decide (VatHost::LoadVat).
    st = absl::UnavailableError(st.message());
  }
  if (st.ok() && !fatal_.empty()) st = absl::InternalError(ToAbsl(fatal_));
  if (!st.ok()) {
    engine_.ClearJobs();
    if (vat->global) engine_.DropFinalizationCleanup(vat->global);
    return absl::Status(st.code(), ToAbsl(StrCat(spec.vat_id.ToString(), ": ", st.message())));
  }
  // Building the realm (mostly SES lockdown()) leaves ~2 MB of garbage and JIT code behind
  // in the new zone; collected now, and compacted, an idle vat holds ~1.4 MB of RSS instead
  // of ~3.5 MB (js_bench --only idle). A GC at this point is like any natural GC: finalization
  // cleanups it queues run only at the next bringOutYourDead, and deliveries cannot tell.
  engine_.ZoneGC(vat->global, /*shrink=*/true);
  JsVat* raw_ptr = vat.get();
  vats_[spec.vat_id.n()] = std::move(vat);
  if (spec.transcript != nullptr && spec.transcript->Length() > 0) {
    Replay(raw_ptr, spec.transcript);
  }
  return absl::OkStatus();
}

void JsVatHost::Impl::Replay(JsVat* vat, TranscriptSource* transcript) {
  replaying_ = true;
  struct Done {
    bool* flag;
    ~Done() { *flag = false; }
  } done{&replaying_};
  const std::string who = vat->id.ToString();
  const uint64_t n = transcript->Length();
  const bool loud = options_.replay_progress_every > 0 && n >= options_.replay_progress_every;
  if (loud) fprintf(stderr, "js_vat_host: replaying %s transcript (%llu deliveries)\n",
                    who.c_str(), static_cast<unsigned long long>(n));
  for (uint64_t i = 0; i < n; ++i) {
    std::optional<std::string> text = transcript->Entry(i);
    SWINGSET_CHECK(text.has_value())
        << "transcript of " << who << " lacks entry #" << i << " of " << n;
    absl::StatusOr<Json> entry = Json::Parse(*text);
    SWINGSET_CHECK(entry.ok() && entry->is_object())
        << "transcript of " << who << " entry #" << i << " is not a JSON object";
    const Json* d = entry->Find("d");
    const Json* sc = entry->Find("sc");
    const Json* r = entry->Find("r");
    SWINGSET_CHECK(d && sc && sc->is_array() && r)
        << "transcript of " << who << " entry #" << i << " lacks d/sc/r";
    absl::StatusOr<VatDelivery> delivery = VatDelivery::FromJson(*d);
    SWINGSET_CHECK(delivery.ok()) << "transcript of " << who << " entry #" << i
                                  << ": bad delivery: " << delivery.status().ToString();
    std::vector<std::pair<std::string, Json>> recorded;
    for (const Json& pair : sc->as_array()) {
      SWINGSET_CHECK(pair.is_array() && pair.as_array().size() == 2)
          << "transcript of " << who << " entry #" << i << ": bad syscall pair";
      absl::StatusOr<VatSyscall> s = VatSyscall::FromJson(pair.as_array()[0]);
      SWINGSET_CHECK(s.ok()) << "transcript of " << who << " entry #" << i
                             << ": bad syscall: " << s.status().ToString();
      recorded.emplace_back(s->ToJson().Dump(), pair.as_array()[1]);
    }
    absl::StatusOr<DeliveryResult> want = DeliveryResult::FromJson(*r);
    SWINGSET_CHECK(want.ok()) << "transcript of " << who << " entry #" << i
                              << ": bad delivery result";
    ReplayHandler handler(who, i, std::move(recorded));
    DeliveryResult got = RunDelivery(vat, *delivery, &handler);
    SWINGSET_CHECK_ENGINE(!got.node_fault) << "transcript replay of " << who << " delivery #" << i
                                           << " hit a node-local limit: " << got.error;
    handler.CheckAllUsed();
    SWINGSET_CHECK(got.ok == want->ok && (!want->computrons || got.computrons == want->computrons))
        << "transcript replay of " << who << " diverged at delivery #" << i << ": result "
        << got.ToJson().Dump() << " but recorded " << want->ToJson().Dump();
    if (loud && (i + 1) % options_.replay_progress_every == 0) {
      fprintf(stderr, "js_vat_host: %s replayed %llu/%llu\n", who.c_str(),
              static_cast<unsigned long long>(i + 1), static_cast<unsigned long long>(n));
    }
  }
  if (loud) fprintf(stderr, "js_vat_host: %s replay done\n", who.c_str());
}

// ---------------------------------------------------------------------------------------------
// Deliveries

DeliveryResult JsVatHost::Impl::RunDelivery(JsVat* vat, const VatDelivery& delivery,
                                            SyscallHandler* handler) {
  JSContext* cx = engine_.cx();
  JSAutoRealm ar(cx, vat->global);
  JS::RootedObject ns(cx, vat->ns);
  JS::RootedObject global(cx, vat->global);
  current_ = vat;
  handler_ = handler;
  fatal_.clear();
  // No watchdog in a replay: the delivery completed once (its result is recorded), so it ends
  // again, and a slow machine must not turn a replay into a node halt at every restart.
  engine_.BeginSection(/*watchdog=*/!replaying_);
  ArmFor(vat);

  std::string error;
  auto fail = [&](std::string_view context) {
    error = StrCat(context, ": ", TakeJsErrorText(cx, engine_.fault()));
  };
  JS::RootedValue rval(cx);
  // Jobs left over from outside a delivery (normally none). When there are none, nothing ran
  // since the last drain cleared the kept objects, so there is nothing to drain or clear
  // (JS::ClearKeptObjects visits every zone; ~1% of a churn profile went to these calls).
  bool ok = engine_.JobsEmpty() || engine_.DrainJobs();
  if (!ok) fail("before delivery");
  if (ok) {
    // A new delivery's budget of buffer bytes (js/vat_limits.js).
    JS::RootedObject limits(cx, vat->limits);
    ok = CallMethod(cx, limits, "resetDelivery", JS::HandleValueArray::empty(), &rval);
    if (!ok) fail("vat limits");
  }
  bool collect = delivery.type == VatDelivery::Type::kBringOutYourDead;
  if (ok && collect) {
    // Skipped when liveslots holds nothing a GC could free with an effect (no Presence, no
    // unpinned export, no recognized import): decided from its tables, which only deliveries
    // change, so the skip is the same on every node.
    ok = CallMethod(cx, ns, "needsGC", JS::HandleValueArray::empty(), &rval);
    if (!ok) fail("needsGC");
    collect = ok && JS::ToBoolean(rval);
  }
  if (ok && collect) {
    // A GC of this vat's zone only (nothing outside it refers to the vat's objects). Twice
    // when the first round's cleanups ran: they may release more (e.g. a collection's
    // values). When no cleanup ran, the heap is unchanged and a second GC would find nothing,
    // so skipping it cannot change the syscalls.
    for (int round = 0; ok && round < 2; ++round) {
      engine_.ZoneGC(global);
      size_t ran = 0;
      ok = engine_.RunFinalizationCleanup(global, &ran) && engine_.DrainJobs();
      if (!ok) fail("finalization cleanup");
      if (ran == 0) break;
    }
  }
  if (ok) {
    JS::RootedValue text(cx, JS::StringValue(FromWtf8(cx, delivery.ToJson().Dump())));
    JS::RootedValue dispatch(cx, vat->dispatch);
    ok = JS_CallFunctionValue(cx, ns, dispatch, JS::HandleValueArray(text), &rval);
    if (!ok) fail(StrCat(DeliveryTypeName(delivery.type), " delivery"));
  }
  if (ok) {
    ok = engine_.DrainJobs();
    if (!ok) fail("promise jobs");
  }
  if (ok && rval.isObject()) {
    JS::RootedObject promise(cx, &rval.toObject());
    if (JS::IsPromiseObject(promise)) {
      JS::PromiseState state = JS::GetPromiseState(promise);
      if (state == JS::PromiseState::Rejected) {
        JS::RootedValue reason(cx, JS::GetPromiseResult(promise));
        error = StrCat(DeliveryTypeName(delivery.type), " delivery failed: ",
                       DescribeJsValue(cx, reason));
        ok = false;
      } else if (state == JS::PromiseState::Pending &&
                 delivery.type == VatDelivery::Type::kStartVat && !vat->raw) {
        error = "startVat did not finish: buildRootObject() never settled";
        ok = false;
      }
    }
  }
  if (ok) {
    // The end of the delivery for liveslots: it writes back the virtual-object state it
    // cached (js/vom.js), metered like the rest of the delivery. Only after startVat or when
    // the delivery used a virtual object or collection (ns.vomStatus.pending, read here
    // without running JS): other deliveries keep their computron counts.
    bool pending = delivery.type == VatDelivery::Type::kStartVat;
    JS::RootedValue status(cx);
    if (!pending && JS_GetProperty(cx, ns, "vomStatus", &status) && status.isObject()) {
      JS::RootedObject so(cx, &status.toObject());
      JS::RootedValue p(cx);
      pending = JS_GetProperty(cx, so, "pending", &p) && p.isTrue();
    }
    JS_ClearPendingException(cx);
    if (pending) {
      ok = CallMethod(cx, ns, "afterDelivery", JS::HandleValueArray::empty(), &rval);
      if (!ok) fail("end of delivery");
    }
  }
  MeterSpent(vat);
  JsEngine::Fault fault = engine_.EndSection();
  HaltOnEngineOutOfMemory(fault, vat->id, DeliveryTypeName(delivery.type));
  if (fault != JsEngine::Fault::kNone) {
    ok = false;
    error = TakeJsErrorText(cx, fault);
  } else if (ok && !fatal_.empty()) {
    ok = false;
    error = StrCat("vat fatal error: ", fatal_);
  }
  if (!ok) engine_.ClearJobs();
  JS_ClearPendingException(cx);
  if (ok && delivery.type == VatDelivery::Type::kStartVat) {
    // A second compacting GC of the vat's zone, now that liveslots and buildRootObject() have
    // run: their garbage would otherwise stay in partly used arenas, ~120 KB of RSS per idle
    // vat (js_bench --only idle). Like the one in LoadVat, and like any natural GC between
    // deliveries, deliveries cannot tell it happened (cleanups it queues run only in
    // bringOutYourDead; testing_extra_gcs_per_delivery checks the same for full GCs).
    engine_.ZoneGC(global, /*shrink=*/true);
  }
  handler_ = nullptr;
  current_ = nullptr;
  DeliveryResult result;
  result.ok = ok;
  result.error = ok ? "" : error;
  if (vat->meter_limits.metered()) {
    result.computrons = vat->last_computrons;
    // For a metered vat only the meter may decide: the watchdog and the heap cap are this
    // node's, so the node halts (the kernel's CHECK_ENGINE) rather than terminate the vat.
    result.node_fault =
        fault == JsEngine::Fault::kTimeout || fault == JsEngine::Fault::kOutOfMemory;
  }
  return result;
}

DeliveryResult JsVatHost::Impl::Deliver(VatId vat, const VatDelivery& delivery,
                                        SyscallHandler* handler) {
  auto it = vats_.find(vat.n());
  if (it == vats_.end()) {
    DeliveryResult r;
    r.ok = false;
    r.error = StrCat("vat ", vat.ToString(), " is not loaded");
    return r;
  }
  for (uint32_t i = 0; i < options_.testing_extra_gcs_per_delivery; ++i) engine_.FullGC();
  return RunDelivery(it->second.get(), delivery, handler);
}

void JsVatHost::Impl::StopVat(VatId vat) {
  auto it = vats_.find(vat.n());
  if (it == vats_.end()) return;
  engine_.DropFinalizationCleanup(it->second->global);
  JS::Zone* zone = JS::GetObjectZone(it->second->global);
  vats_.erase(it);
  // Its roots are gone: collect its zone now and give the memory back, rather than leave it
  // to a GC that may not come soon (a terminated vat may have held a lot).
  engine_.ReleaseZone(zone);
}

absl::StatusOr<std::string> JsVatHost::Impl::Eval(VatId id, const std::string& fn_source) {
  auto it = vats_.find(id.n());
  if (it == vats_.end()) return absl::NotFoundError("vat not loaded");
  JsVat* vat = it->second.get();
  JSContext* cx = engine_.cx();
  JSAutoRealm ar(cx, vat->global);
  engine_.BeginSection();
  current_ = vat;
  ArmFor(vat);
  JS::RootedValue fn(cx);
  JS::RootedValue nsv(cx, JS::ObjectValue(*vat->ns));
  JS::RootedValue rval(cx);
  std::string out;
  absl::Status st;
  if (!EvalScript(cx, "test-eval.js", fn_source, &fn) ||
      !JS_CallFunctionValue(cx, nullptr, fn, JS::HandleValueArray(nsv), &rval) ||
      !engine_.DrainJobs() || !StringifyValue(cx, &rval, &out)) {
    st = TakeJsErrorStatus(cx, "TEST_Eval", engine_.fault());
  }
  MeterSpent(vat);
  engine_.EndSection();
  current_ = nullptr;
  if (!st.ok()) return st;
  return out;
}

// ---------------------------------------------------------------------------------------------
// JsVatHost

std::unique_ptr<JsVatHost> JsVatHost::Create(const JsVatHostOptions& options) {
  return std::unique_ptr<JsVatHost>(new JsVatHost(std::make_unique<Impl>(options)));
}

JsVatHost::JsVatHost(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsVatHost::~JsVatHost() = default;

absl::Status JsVatHost::LoadVat(const VatSpec& spec) { return impl_->LoadVat(spec); }

DeliveryResult JsVatHost::Deliver(VatId vat, const VatDelivery& delivery,
                                  SyscallHandler* handler) {
  return impl_->Deliver(vat, delivery, handler);
}

void JsVatHost::StopVat(VatId vat) { impl_->StopVat(vat); }

void JsVatHost::DiscardUncommitted() {
  // In-memory vat state may include uncommitted deliveries: rebuild everything lazily.
  impl_->DropAll();
}

bool JsVatHost::IsLoaded(VatId vat) const { return impl_->IsLoaded(vat); }

absl::StatusOr<std::string> JsVatHost::TEST_Eval(VatId vat, const std::string& fn_source) {
  return impl_->Eval(vat, fn_source);
}

void JsVatHost::TEST_ForceGC() { impl_->ForceGC(); }

std::string JsVatHost::TEST_TakeConsole() { return impl_->TakeConsole(); }

uint64_t JsVatHost::TEST_LastComputrons(VatId vat) { return impl_->LastComputrons(vat); }

uint64_t JsVatHost::TEST_ZoneHeapBytes(VatId vat) { return impl_->ZoneHeapBytes(vat); }

void JsVatHost::TEST_ZoneGC(VatId vat) { impl_->ZoneGC(vat); }

std::pair<uint64_t, uint64_t> JsVatHost::TEST_GcCounts() { return impl_->GcCounts(); }

std::vector<std::string> JsVatHost::TEST_LiveSesModules(VatId vat) {
  return impl_->LiveSesModules(vat);
}

std::unique_ptr<VatHost> NewJsVatHost(const JsVatHostOptions& options) {
  return JsVatHost::Create(options);
}

}  // namespace swingset
