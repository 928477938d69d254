// File: js_error.h (internal to vats/: pulls in js/TypeDecls.h)
//
// The one place where SpiderMonkey's error convention (a false/nullptr return with the
// exception left pending on the context, or nothing pending for uncatchable termination) is
// turned into text and absl::Status (a JS exception inside a vat fails that delivery, and its
// text may reach the vat's termination reason).
//
// The text is deterministic for a deterministic failure ("TypeError: x is not a function
// (vat.js:3:5)"): it may end up in a vat's termination reason, which the kernel records.

#ifndef SWINGSETD_VATS_JS_ERROR_H_
#define SWINGSETD_VATS_JS_ERROR_H_

#include <string>
#include <string_view>

#include <js/TypeDecls.h>

#include "absl/status/status.h"
#include "vats/js_engine.h"

namespace swingset {

// Takes (clears) the pending exception and describes it. With nothing pending this is an
// uncatchable termination; `fault` (from JsEngine) says whether it was the watchdog or OOM.
std::string TakeJsErrorText(JSContext* cx, JsEngine::Fault fault = JsEngine::Fault::kNone);

// TakeJsErrorText wrapped as kInternal (OOM: kResourceExhausted, watchdog: kDeadlineExceeded),
// prefixed with `context`.
absl::Status TakeJsErrorStatus(JSContext* cx, std::string_view context,
                               JsEngine::Fault fault = JsEngine::Fault::kNone);

// Describes an arbitrary thrown value (a rejection reason) without running vat code where
// possible: Error objects give "Name: message (file:line:col)", strings themselves, other
// values their JSON-ish form.
std::string DescribeJsValue(JSContext* cx, JS::HandleValue value);

}  // namespace swingset

#endif  // SWINGSETD_VATS_JS_ERROR_H_
