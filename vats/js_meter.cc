#include "vats/js_meter.h"

#include <algorithm>
#include <cmath>

#include <js/CompilationAndEvaluation.h>
#include <js/Principals.h>
#include <js/Realm.h>
#include <js/SourceText.h>
#include <jsapi.h>
#include <jsfriendapi.h>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/strings.h"
#include "vats/js_engine.h"
#include "vats/js_error.h"
#include "vats/js_regex.h"
#include "vats/js_sources.h"

namespace swingset {
namespace {

// Realm-private marker of a metered realm (compared by address, never dereferenced).
char kMeteredRealmMarker;

// The largest budget and depth a meter takes: c and d stay exact in a double and small enough
// for the JIT's int32 fast paths well before they matter.
constexpr uint64_t kMaxComputrons = uint64_t{1} << 40;
constexpr uint32_t kMaxDepth = 1u << 20;

// The meter's host-side members: `reserve`, the computrons of the section not yet handed out,
// and `chunk`, the chunk size (0: the whole budget at once). See ArmMeter.
constexpr char kReserve[] = "reserve";
constexpr char kChunk[] = "chunk";

double NumberMember(JSContext* cx, JS::HandleObject meter, const char* name) {
  JS::RootedValue v(cx);
  SWINGSET_CHECK(JS_GetProperty(cx, meter, name, &v) && v.isNumber())
      << "the meter's member " << name << " is not a number";
  return v.toNumber();
}

bool SetNumberMember(JSContext* cx, JS::HandleObject meter, const char* name, double value) {
  JS::RootedValue v(cx, JS::NumberValue(value));
  return JS_SetProperty(cx, meter, name, v);
}

// $__r: the realm's code calls it whenever $__m.c is below zero, after a tick or a charge of n
// (`$__m.c -= n`) took it there. What the section has left is c + reserve: when that is not
// negative, c gets the next chunk (all of it when chunk is 0) and the code goes on; otherwise
// the meter is spent, c keeps the whole (negative) balance, and the delivery ends uncatchably.
// So where the meter stops and what it reports depend only on the budget, never on the chunk.
// The work of $__r on `meter` (may be null: no chunks, the meter is spent). True when the code
// may go on; false when the delivery must end (the fault recorded, no exception pending) or an
// engine error is pending.
bool Settle(JSContext* cx, JS::HandleObject meter) {
  JsEngine* engine = JsEngine::FromContext(cx);
  SWINGSET_CHECK(engine != nullptr) << "meter native without an engine";
  if (meter) {
    const double left = NumberMember(cx, meter, "c") + NumberMember(cx, meter, kReserve);
    if (left >= 0) {
      const double chunk = NumberMember(cx, meter, kChunk);
      const double next = chunk > 0 && chunk < left ? chunk : left;
      return SetNumberMember(cx, meter, "c", next) &&
             SetNumberMember(cx, meter, kReserve, left - next);
    }
    if (!SetNumberMember(cx, meter, "c", left) || !SetNumberMember(cx, meter, kReserve, 0)) {
      return false;
    }
  }
  engine->SetMeterFault(JsEngine::Fault::kComputrons);
  return false;  // no exception pending: the delivery ends uncatchably
}

bool MeterExhausted(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
  const JS::Value& slot = js::GetFunctionNativeReserved(&args.callee(), 0);
  JS::RootedObject meter(cx, slot.isObject() ? &slot.toObject() : nullptr);
  if (!Settle(cx, meter)) return false;
  args.rval().setUndefined();
  return true;
}

bool MeterTooDeep(JSContext* cx, unsigned argc, JS::Value* vp) {
  JsEngine* engine = JsEngine::FromContext(cx);
  SWINGSET_CHECK(engine != nullptr) << "meter native without an engine";
  engine->SetMeterFault(JsEngine::Fault::kDepth);
  return false;
}

// eval, new Function and WebAssembly compilation: refused in metered realms, whose code must all
// come through the instrumenter.
bool AllowCodeGeneration(JSContext* cx, JS::RuntimeCode kind, JS::HandleString code) {
  return !InMeteredRealm(cx);
}

const JSSecurityCallbacks kSecurityCallbacks = {&AllowCodeGeneration, nullptr};

bool EvaluateScript(JSContext* cx, const char* name, std::string_view text,
                    JS::MutableHandleValue rval) {
  JS::CompileOptions opts(cx);
  opts.setFileAndLine(name, 1);
  JS::SourceText<mozilla::Utf8Unit> src;
  if (!src.init(cx, text.data(), text.size(), JS::SourceOwnership::Borrowed)) return false;
  return JS::Evaluate(cx, opts, src, rval);
}

}  // namespace

absl::StatusOr<MeterLimits> MeterLimits::FromOptionsJson(std::string_view options_json) {
  MeterLimits limits;
  if (options_json.empty()) return limits;
  ASSIGN_OR_RETURN(Json options, Json::Parse(options_json));
  const Json* meter = options.Find("meter");
  if (meter == nullptr || meter->is_null()) return limits;
  const Json* version = meter->Find("version");
  const Json* computrons = meter->Find("computrons");
  const Json* depth = meter->Find("maxDepth");
  if (!version || !version->is_int() || !computrons || !computrons->is_int() || !depth ||
      !depth->is_int()) {
    return absl::InvalidArgumentError(
        StrCat("vat options: meter must be {version, computrons, maxDepth}: ", meter->Dump()));
  }
  if (version->as_int() < 0 || version->as_int() > kMeterVersion) {
    return absl::InvalidArgumentError(StrCat("vat options: meter version ", version->as_int(),
                                             " is not one this build runs (up to ",
                                             kMeterVersion, ")"));
  }
  limits.version = static_cast<uint32_t>(version->as_int());
  if (!limits.metered()) return limits;
  if (computrons->as_int() < 1 || static_cast<uint64_t>(computrons->as_int()) > kMaxComputrons ||
      depth->as_int() < 1 || depth->as_int() > kMaxDepth) {
    return absl::InvalidArgumentError(StrCat("vat options: meter limits out of range: ",
                                             meter->Dump()));
  }
  limits.computrons = static_cast<uint64_t>(computrons->as_int());
  limits.max_depth = static_cast<uint32_t>(depth->as_int());
  return limits;
}

// ---------------------------------------------------------------------------------------------
// JsInstrumenter

struct JsInstrumenter::Tool {
  explicit Tool(JSContext* cx) : global(cx), instrument(cx) {}
  JS::PersistentRooted<JSObject*> global;
  JS::PersistentRooted<JS::Value> instrument;
};

JsInstrumenter::JsInstrumenter(JsEngine* engine) : engine_(engine) {}

JsInstrumenter::~JsInstrumenter() = default;

absl::Status JsInstrumenter::Start() {
  JSContext* cx = engine_->cx();
  static const JSClass kToolGlobalClass = {"MeterToolGlobal", JSCLASS_GLOBAL_FLAGS,
                                           &JS::DefaultGlobalClassOps};
  auto tool = std::make_unique<Tool>(cx);
  JS::RealmOptions ro;
  ro.creationOptions().setNewCompartmentAndZone();
  tool->global = JS_NewGlobalObject(cx, &kToolGlobalClass, nullptr, JS::FireOnNewGlobalHook, ro);
  if (!tool->global) return TakeJsErrorStatus(cx, "creating the instrumenter global");
  JSAutoRealm ar(cx, tool->global);
  JS::RootedObject global(cx, tool->global);
  if (!JS::InitRealmStandardClasses(cx)) return TakeJsErrorStatus(cx, "instrumenter global");
  JS::RootedValue rval(cx);
  for (const JsSource* src : {&AcornSource(), &InstrumentSource()}) {
    if (!EvaluateScript(cx, src->name, src->text, &rval)) {
      return TakeJsErrorStatus(cx, StrCat("loading ", src->name));
    }
  }
  if (!JS_GetProperty(cx, global, "instrument", &tool->instrument)) {
    return TakeJsErrorStatus(cx, "loading instrument.js");
  }
  tool_ = std::move(tool);
  return absl::OkStatus();
}

absl::StatusOr<std::string_view> JsInstrumenter::Instrument(std::string_view name,
                                                            std::string_view source,
                                                            bool module, uint32_t version) {
  SWINGSET_CHECK(version >= 1 && version <= kMeterVersion) << "meter version " << version;
  auto key = std::make_tuple(version, module, std::string(source));
  auto it = cache_.find(key);
  if (it != cache_.end()) return std::string_view(it->second);
  if (!tool_) RETURN_IF_ERROR(Start());
  JSContext* cx = engine_->cx();
  JSAutoRealm ar(cx, tool_->global);
  JS::RootedString text(cx, JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(source.data(), source.size())));
  if (!text) return TakeJsErrorStatus(cx, StrCat("instrumenting ", name));
  JS::RootedValueArray<3> args(cx);
  args[0].setString(text);
  args[1].setBoolean(module);
  args[2].setInt32(static_cast<int32_t>(version));
  JS::RootedValue fn(cx, tool_->instrument);
  JS::RootedValue out(cx);
  if (!JS_CallFunctionValue(cx, nullptr, fn, args, &out) || !out.isString()) {
    absl::Status s = TakeJsErrorStatus(cx, StrCat("instrumenting ", name));
    return absl::InvalidArgumentError(s.message());
  }
  JS::RootedString out_str(cx, out.toString());
  JS::UniqueChars chars = JS_EncodeStringToUTF8(cx, out_str);
  if (!chars) return TakeJsErrorStatus(cx, StrCat("instrumenting ", name));
  auto inserted = cache_.emplace(std::move(key), std::string(chars.get()));
  return std::string_view(inserted.first->second);
}

// ---------------------------------------------------------------------------------------------
// The meter in a realm

JSObject* InstallMeter(JSContext* cx, uint32_t version, const VatCodeLimits& limits) {
  SWINGSET_CHECK(version >= 1 && version <= kMeterVersion) << "meter version " << version;
  JS_SetSecurityCallbacks(cx, &kSecurityCallbacks);
  JS::RootedObject global(cx, JS::CurrentGlobalOrNull(cx));
  JS::RootedValue v(cx, JS::Int32Value(static_cast<int32_t>(version)));
  JS::RootedObject caps(cx, JS_NewPlainObject(cx));
  if (!global || !caps) return nullptr;
  JS::RootedObject exhausted(
      cx, JS_GetFunctionObject(js::DefineFunctionWithReserved(cx, global, "$__meterExhausted",
                                                              &MeterExhausted, 0, 0)));
  if (!exhausted ||
      !JS_DefineProperty(cx, caps, "maxStringLength",
                         static_cast<double>(limits.max_string_length), JSPROP_ENUMERATE) ||
      !JS_DefineProperty(cx, caps, "maxBigintBits", static_cast<double>(limits.max_bigint_bits),
                         JSPROP_ENUMERATE) ||
      !JS_DefineFunction(cx, global, "$__meterTooDeep", &MeterTooDeep, 0, 0) ||
      !JS_DefineProperty(cx, global, "$__meterVersion", v, JSPROP_ENUMERATE) ||
      !JS_DefineProperty(cx, global, "$__meterLimits", caps, JSPROP_ENUMERATE)) {
    return nullptr;
  }
  if (version >= 2 && !DefineRegexNative(cx)) return nullptr;
  const JsSource& prelude = MeterPreludeSource();
  JS::RootedValue meter(cx);
  if (!EvaluateScript(cx, prelude.name, prelude.text, &meter)) return nullptr;
  if (!meter.isObject()) {
    JS_ReportErrorASCII(cx, "meter_prelude.js did not return the meter");
    return nullptr;
  }
  js::SetFunctionNativeReserved(exhausted, 0, meter);
  JS::SetRealmPrivate(JS::GetObjectRealmOrNull(global), &kMeteredRealmMarker);
  return &meter.toObject();
}

bool ChargeMeter(JSContext* cx, JSObject* meter_raw, uint64_t n) {
  JS::RootedObject meter(cx, meter_raw);
  const double c = NumberMember(cx, meter, "c") -
                   static_cast<double>(std::min<uint64_t>(n, uint64_t{1} << 53));
  if (!SetNumberMember(cx, meter, "c", c)) return false;
  return c >= 0 || Settle(cx, meter);
}

bool InMeteredRealm(JSContext* cx) {
  JS::Realm* realm = JS::GetCurrentRealmOrNull(cx);
  return realm != nullptr && JS::GetRealmPrivate(realm) == &kMeteredRealmMarker;
}

bool ArmMeter(JSContext* cx, JSObject* meter_raw, uint64_t computrons, uint32_t max_depth,
              uint64_t chunk) {
  JS::RootedObject meter(cx, meter_raw);
  JSAutoRealm ar(cx, meter);
  const uint64_t first = chunk > 0 && chunk < computrons ? chunk : computrons;
  JS::RootedValue d(cx, JS::Int32Value(0));
  JS::RootedValue limit(cx, JS::NumberValue(max_depth));
  return SetNumberMember(cx, meter, "c", static_cast<double>(first)) &&
         SetNumberMember(cx, meter, kReserve, static_cast<double>(computrons - first)) &&
         SetNumberMember(cx, meter, kChunk, static_cast<double>(std::min(chunk, kMaxComputrons))) &&
         JS_SetProperty(cx, meter, "d", d) && JS_SetProperty(cx, meter, "L", limit);
}

bool MeterRemaining(JSContext* cx, JSObject* meter_raw, double* left) {
  JS::RootedObject meter(cx, meter_raw);
  JSAutoRealm ar(cx, meter);
  JS::RootedValue c(cx), r(cx);
  if (!JS_GetProperty(cx, meter, "c", &c) || !c.isNumber() ||
      !JS_GetProperty(cx, meter, kReserve, &r) || !r.isNumber()) {
    return false;
  }
  *left = c.toNumber() + r.toNumber();
  return true;
}

}  // namespace swingset
