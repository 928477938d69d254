#include "vats/js_sources.h"

// Each blob is followed by a NUL byte and an end label; size = end - start - 1.
#define SWINGSET_INCBIN(sym, path)                                            \
  __asm__(".pushsection .rodata\n"                                            \
          ".global " #sym "\n"                                                \
          ".hidden " #sym "\n"                                                \
          ".balign 16\n" #sym ":\n"                                           \
          ".incbin \"" path "\"\n"                                            \
          ".byte 0\n"                                                         \
          ".global " #sym "_end\n"                                            \
          ".hidden " #sym "_end\n" #sym "_end:\n"                             \
          ".popsection\n");                                                   \
  extern "C" const char sym[];                                                \
  extern "C" const char sym##_end[];

SWINGSET_INCBIN(swingset_js_ses, SWINGSET_SES_UMD)
SWINGSET_INCBIN(swingset_js_harden, SWINGSET_JS_DIR "/harden.js")
SWINGSET_INCBIN(swingset_js_lite_lockdown, SWINGSET_JS_DIR "/lite_lockdown.js")
SWINGSET_INCBIN(swingset_js_pass_style, SWINGSET_JS_DIR "/pass_style.js")
SWINGSET_INCBIN(swingset_js_marshal, SWINGSET_JS_DIR "/marshal.js")
SWINGSET_INCBIN(swingset_js_liveslots, SWINGSET_JS_DIR "/liveslots.js")
SWINGSET_INCBIN(swingset_js_vat_runtime, SWINGSET_JS_DIR "/vat_runtime.js")

namespace swingset {
namespace {

std::string_view Blob(const char* start, const char* end) {
  return std::string_view(start, static_cast<size_t>(end - start - 1));
}

}  // namespace

const JsSource& SesBundleSource() {
  static const JsSource kSes{"ses.umd.js", Blob(swingset_js_ses, swingset_js_ses_end)};
  return kSes;
}

const JsSource& HardenSource() {
  static const JsSource kHarden{"harden.js", Blob(swingset_js_harden, swingset_js_harden_end)};
  return kHarden;
}

const JsSource& LiteLockdownSource() {
  static const JsSource kLite{"lite_lockdown.js",
                              Blob(swingset_js_lite_lockdown, swingset_js_lite_lockdown_end)};
  return kLite;
}

const std::vector<JsSource>& RuntimeSources() {
  static const std::vector<JsSource> kSources = {
      {"pass_style.js", Blob(swingset_js_pass_style, swingset_js_pass_style_end)},
      {"marshal.js", Blob(swingset_js_marshal, swingset_js_marshal_end)},
      {"liveslots.js", Blob(swingset_js_liveslots, swingset_js_liveslots_end)},
      {"vat_runtime.js", Blob(swingset_js_vat_runtime, swingset_js_vat_runtime_end)},
  };
  return kSources;
}

}  // namespace swingset
