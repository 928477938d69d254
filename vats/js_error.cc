#include "vats/js_error.h"

#include <jsapi.h>
#include <js/Conversions.h>
#include <js/ErrorReport.h>
#include <js/Exception.h>
#include <js/JSON.h>

#include "kernel/strings.h"

namespace swingset {
namespace {

std::string Utf8(JSContext* cx, JS::HandleString s) {
  JS::UniqueChars chars = JS_EncodeStringToUTF8(cx, s);
  return chars ? std::string(chars.get()) : std::string("<unprintable>");
}

// "Name: message (file:line:col)" for Error objects, using only the error's own data.
bool DescribeErrorObject(JSContext* cx, JS::HandleObject obj, std::string* out) {
  JSErrorReport* report = JS_ErrorFromException(cx, obj);
  if (!report) return false;
  JS::RootedValue name(cx);
  std::string text;
  // The name lives on the prototype chain; a getter here would be vat code, so read only data.
  if (JS_GetProperty(cx, obj, "name", &name) && name.isString()) {
    JS::RootedString s(cx, name.toString());
    text = Utf8(cx, s);
  } else {
    JS_ClearPendingException(cx);
    text = "Error";
  }
  const char* msg = report->message().c_str();
  StrAppend(&text, ": ", msg ? msg : "");
  if (report->filename) {
    StrAppend(&text, " (", report->filename, ":", report->lineno, ":",
              report->column, ")");
  }
  *out = std::move(text);
  return true;
}

}  // namespace

std::string DescribeJsValue(JSContext* cx, JS::HandleValue v) {
  if (v.isObject()) {
    JS::RootedObject obj(cx, &v.toObject());
    std::string text;
    if (DescribeErrorObject(cx, obj, &text)) return text;
  }
  if (v.isString()) {
    JS::RootedString s(cx, v.toString());
    return Utf8(cx, s);
  }
  if (v.isObject()) {
    // Plain data: its JSON form (may run getters; a failure falls back to ToString).
    JS::RootedValue copy(cx, v);
    std::u16string json;
    auto append = [](const char16_t* buf, uint32_t len, void* data) -> bool {
      static_cast<std::u16string*>(data)->append(buf, len);
      return true;
    };
    if (JS_Stringify(cx, &copy, nullptr, JS::NullHandleValue, append, &json)) {
      JS::RootedString s(cx, JS_NewUCStringCopyN(cx, json.data(), json.size()));
      if (s) return Utf8(cx, s);
    }
    JS_ClearPendingException(cx);
  }
  JS::RootedString s(cx, JS::ToString(cx, v));
  if (!s) {
    JS_ClearPendingException(cx);
    return "<unprintable exception value>";
  }
  return Utf8(cx, s);
}

std::string TakeJsErrorText(JSContext* cx, JsEngine::Fault fault) {
  if (fault == JsEngine::Fault::kTimeout) {
    JS_ClearPendingException(cx);
    return "vat delivery exceeded its time budget (watchdog)";
  }
  if (fault == JsEngine::Fault::kOutOfMemory) {
    JS_ClearPendingException(cx);
    return "vat ran out of memory";
  }
  if (fault == JsEngine::Fault::kComputrons) {
    JS_ClearPendingException(cx);
    return "vat exceeded its computron limit per delivery (meter)";
  }
  if (fault == JsEngine::Fault::kDepth) {
    JS_ClearPendingException(cx);
    return "vat exceeded its call depth limit (meter)";
  }
  if (!JS_IsExceptionPending(cx)) {
    return "uncatchable JavaScript error (interrupted or out of memory)";
  }
  JS::RootedValue exn(cx);
  if (!JS_GetPendingException(cx, &exn)) {
    JS_ClearPendingException(cx);
    return "unreadable JavaScript exception";
  }
  JS_ClearPendingException(cx);
  std::string text = DescribeJsValue(cx, exn);
  JS_ClearPendingException(cx);
  return text;
}

absl::Status TakeJsErrorStatus(JSContext* cx, std::string_view context, JsEngine::Fault fault) {
  std::string text = StrCat(context, ": ", TakeJsErrorText(cx, fault));
  switch (fault) {
    case JsEngine::Fault::kTimeout: return absl::DeadlineExceededError(ToAbsl(text));
    case JsEngine::Fault::kOutOfMemory: return absl::ResourceExhaustedError(ToAbsl(text));
    case JsEngine::Fault::kComputrons:
    case JsEngine::Fault::kDepth: return absl::ResourceExhaustedError(ToAbsl(text));
    case JsEngine::Fault::kNone: break;
  }
  return absl::InternalError(ToAbsl(text));
}

}  // namespace swingset
