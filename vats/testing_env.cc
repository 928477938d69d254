// GoogleTest environment for every vats/ test binary: JS_Init before the first test, and
// JS_ShutDown after the last (each test destroys its own hosts and engines), as TOOLCHAIN §2
// pitfall 3 requires.

#include <memory>

#include "gtest/gtest.h"
#include "vats/js_engine.h"

namespace swingset {
namespace {

class JsTestEnvironment : public testing::Environment {
 public:
  void SetUp() override { process_ = std::make_unique<JsProcess>(); }
  void TearDown() override { process_.reset(); }

 private:
  std::unique_ptr<JsProcess> process_;
};

const testing::Environment* const kJsEnv =
    testing::AddGlobalTestEnvironment(new JsTestEnvironment);

}  // namespace
}  // namespace swingset
