// File: js_sources.h
//
// JavaScript embedded into the binary at build time (with the assembler's .incbin), so the
// server and every test find it without flags or paths: the SES shim bundle from the `ses`
// npm package (vats/js/node_modules/ses/dist/ses.umd.js, pinned by vats/js/package-lock.json)
// and our runtime files from vats/js/, in the order the vat host evaluates them.

#ifndef SWINGSETD_VATS_JS_SOURCES_H_
#define SWINGSETD_VATS_JS_SOURCES_H_

#include <string_view>
#include <vector>

namespace swingset {

struct JsSource {
  const char* name;       // file name used in error locations, e.g. "liveslots.js"
  std::string_view text;  // UTF-8
};

const JsSource& SesBundleSource();
// Our `harden`, evaluated before the SES bundle, which adopts it (see js/harden.js).
const JsSource& HardenSource();
// Experimental hardening without SES (JsVatHostOptions::lite_lockdown; see js/lite_lockdown.js).
const JsSource& LiteLockdownSource();
// pass_style.js, marshal.js, liveslots.js, vat_runtime.js
const std::vector<JsSource>& RuntimeSources();

}  // namespace swingset

#endif  // SWINGSETD_VATS_JS_SOURCES_H_
