// JsEngine on its own: promise job queue, watchdog, forced GC + finalization cleanup, errors.

#include "vats/js_engine.h"

#include <chrono>

#include <jsapi.h>
#include <js/CompilationAndEvaluation.h>
#include <js/Conversions.h>
#include <js/PropertyAndElement.h>
#include <js/SourceText.h>

#include "gtest/gtest.h"
#include "vats/js_error.h"

namespace swingset {
namespace {

const JSClass kGlobal = {"global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps};

class JsEngineTest : public testing::Test {
 protected:
  void SetUp() override {
    JsEngineOptions o;
    o.watchdog_timeout = std::chrono::milliseconds(300);
    engine_ = std::make_unique<JsEngine>(o);
    JSContext* cx = engine_->cx();
    JS::RealmOptions ro;
    ro.creationOptions()
        .setWeakRefsEnabled(JS::WeakRefSpecifier::EnabledWithoutCleanupSome)
        .setNewCompartmentAndZone();
    global_ = std::make_unique<JS::PersistentRooted<JSObject*>>(
        cx, JS_NewGlobalObject(cx, &kGlobal, nullptr, JS::FireOnNewGlobalHook, ro));
    ASSERT_TRUE(*global_);
    JSAutoRealm ar(cx, *global_);
    ASSERT_TRUE(JS::InitRealmStandardClasses(cx));
  }
  void TearDown() override {
    global_.reset();
    engine_.reset();
  }

  // Evaluates `code` in the test global inside one engine section; returns the completion
  // value as a string, or "error: ..." text.
  std::string Run(const std::string& code, bool drain = true) {
    JSContext* cx = engine_->cx();
    JSAutoRealm ar(cx, *global_);
    engine_->BeginSection();
    JS::CompileOptions opts(cx);
    opts.setFileAndLine("test.js", 1);
    JS::SourceText<mozilla::Utf8Unit> src;
    EXPECT_TRUE(src.init(cx, code.data(), code.size(), JS::SourceOwnership::Borrowed));
    JS::RootedValue rv(cx);
    bool ok = JS::Evaluate(cx, opts, src, &rv);
    if (ok && drain) ok = engine_->DrainJobs();
    JsEngine::Fault fault = engine_->EndSection();
    if (!ok || fault != JsEngine::Fault::kNone) {
      engine_->ClearJobs();
      return "error: " + TakeJsErrorText(cx, fault);
    }
    JS::RootedString s(cx, JS::ToString(cx, rv));
    JS::UniqueChars c = JS_EncodeStringToUTF8(cx, s);
    return c.get();
  }

  std::unique_ptr<JsEngine> engine_;
  std::unique_ptr<JS::PersistentRooted<JSObject*>> global_;
};

TEST_F(JsEngineTest, JobsRunOnlyWhenDrainedInFifoOrder) {
  EXPECT_EQ(Run("var log = []; Promise.resolve().then(() => log.push('a'));"
                "Promise.resolve().then(() => log.push('b')).then(() => log.push('c'));"
                "log.push('sync'); log.join()",
                /*drain=*/false),
            "sync");
  EXPECT_FALSE(engine_->JobsEmpty());
  EXPECT_EQ(Run("'drained'"), "drained");
  EXPECT_EQ(Run("log.join()"), "sync,a,b,c");
  EXPECT_TRUE(engine_->JobsEmpty());
}

TEST_F(JsEngineTest, WatchdogStopsInfiniteLoop) {
  auto start = std::chrono::steady_clock::now();
  std::string r = Run("while (true) {}");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  EXPECT_EQ(r, "error: vat delivery exceeded its time budget (watchdog)");
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 5000);
  // The context stays usable and the next section is not interrupted.
  EXPECT_EQ(Run("1 + 1"), "2");
}

TEST_F(JsEngineTest, WatchdogStopsInfinitePromiseChain) {
  std::string r = Run("function spin() { return Promise.resolve().then(spin); } spin(); 'x'");
  EXPECT_EQ(r, "error: vat delivery exceeded its time budget (watchdog)");
  EXPECT_TRUE(engine_->JobsEmpty());
  EXPECT_EQ(Run("'still ok'"), "still ok");
}

TEST_F(JsEngineTest, CatchableErrorsBecomeText) {
  EXPECT_EQ(Run("null.x"), "error: TypeError: null has no properties (test.js:1:1)");
  std::string r = Run("function f() { return f() + 1; } f()");
  EXPECT_NE(r.find("InternalError: too much recursion"), std::string::npos) << r;
}

TEST_F(JsEngineTest, FinalizersRunOnlyWhenTheHostRunsCleanup) {
  ASSERT_EQ(Run("var fins = []; var reg = new FinalizationRegistry(h => fins.push(h));"
                "(function () { for (let i = 0; i < 5; i++) reg.register({}, 'obj' + i); })();"
                "var kept = {}; reg.register(kept, 'kept'); 'ok'"),
            "ok");
  engine_->FullGC();
  // Natural or forced GC alone does not run callbacks: they wait in the host queue.
  EXPECT_EQ(Run("fins.length"), "0");
  EXPECT_GT(engine_->PendingCleanupCount(), 0u);
  {
    JSContext* cx = engine_->cx();
    JSAutoRealm ar(cx, *global_);
    ASSERT_TRUE(engine_->RunFinalizationCleanup(*global_));
  }
  EXPECT_EQ(engine_->PendingCleanupCount(), 0u);
  EXPECT_EQ(Run("fins.sort().join()"), "obj0,obj1,obj2,obj3,obj4");
}

// Hitting the real heap limit takes tens of seconds of GC thrash (docs/SPIDERMONKEY.md §2), so
// the OOM report is provoked directly; it goes through the same callback.
bool ReportOom(JSContext* cx, unsigned argc, JS::Value* vp) {
  JS_ReportOutOfMemory(cx);
  return false;
}

TEST_F(JsEngineTest, OutOfMemoryIsAStickyFault) {
  {
    JSContext* cx = engine_->cx();
    JSAutoRealm ar(cx, *global_);
    JS::RootedObject g(cx, *global_);
    ASSERT_TRUE(JS_DefineFunction(cx, g, "reportOom", &ReportOom, 0, 0));
  }
  // Even when the script catches it, the section reports the fault.
  EXPECT_EQ(Run("try { reportOom(); } catch (e) {} 'caught'"), "error: vat ran out of memory");
  EXPECT_EQ(Run("'fine again'"), "fine again");
}

TEST_F(JsEngineTest, WeakRefTargetSurvivesUntilKeptObjectsCleared) {
  ASSERT_EQ(Run("var wr = (function () { return new WeakRef({a: 1}); })(); wr.deref().a"), "1");
  engine_->FullGC();
  EXPECT_EQ(Run("wr.deref() === undefined"), "true");
}

}  // namespace
}  // namespace swingset
