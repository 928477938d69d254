// GoogleTest environment for every vats/ test binary: JS_Init before the first test, and
// JS_ShutDown after the last (each test destroys its own hosts and engines), as docs/SPIDERMONKEY.md §1
// pitfall 3 requires.

#include <stdlib.h>
#include <time.h>

#include <memory>

#include "gtest/gtest.h"
#include "vats/js_engine.h"

namespace swingset {
namespace {

class JsTestEnvironment : public testing::Environment {
 public:
  void SetUp() override {
    // A time zone far from UTC, as a validator's machine might have: JsProcess must make vat
    // code see UTC regardless (probed by JsVatHostTest.LockdownDetails).
    setenv("TZ", "JST-9", 1);
    tzset();
    process_ = std::make_unique<JsProcess>();
  }
  void TearDown() override { process_.reset(); }

 private:
  std::unique_ptr<JsProcess> process_;
};

const testing::Environment* const kJsEnv =
    testing::AddGlobalTestEnvironment(new JsTestEnvironment);

}  // namespace
}  // namespace swingset
