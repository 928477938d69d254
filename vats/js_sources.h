// File: js_sources.h
//
// JavaScript embedded into the binary at build time (with the assembler's .incbin), so the
// server and every test find it without flags or paths: the `ses` npm package (pinned by
// vats/js/package-lock.json) both as its ES module sources (ses/index.js, ses/src/**, and the
// @endo packages they import) and as its UMD bundle (ses/dist/ses.umd.js), and our runtime
// files from vats/js/, in the order the vat host evaluates them.

#ifndef SWINGSETD_VATS_JS_SOURCES_H_
#define SWINGSETD_VATS_JS_SOURCES_H_

#include <map>
#include <string_view>
#include <vector>

namespace swingset {

struct JsSource {
  const char* name;       // file name used in error locations, e.g. "liveslots.js"
  std::string_view text;  // UTF-8
};

const JsSource& SesBundleSource();
// SES's ES modules by path under vats/js/node_modules ("ses/index.js", "ses/src/commons.js",
// "@endo/env-options/index.js", ...). The entry point is "ses/index.js".
const std::map<std::string_view, std::string_view>& SesModuleSources();
// The size caps (VatCodeLimits), evaluated first in every vat realm (see js/vat_limits.js).
const JsSource& VatLimitsSource();
// Our `harden`, evaluated before SES, which adopts it (see js/harden.js).
const JsSource& HardenSource();
// Experimental hardening without SES (JsVatHostOptions::lite_lockdown; see js/lite_lockdown.js).
const JsSource& LiteLockdownSource();
// The metering instrumenter (js/instrument.js), the parser it uses (the `acorn` npm package,
// pinned by vats/js/package-lock.json) and the meter prelude (js/meter_prelude.js).
const JsSource& InstrumentSource();
const JsSource& AcornSource();
const JsSource& MeterPreludeSource();
// pass_style.js, marshal.js, liveslots.js, vat_runtime.js
const std::vector<JsSource>& RuntimeSources();

}  // namespace swingset

#endif  // SWINGSETD_VATS_JS_SOURCES_H_
