// The scale scenario of issue 15 through the real swingsetd on LevelDB: a metered JS vat
// (genesis defaults but the vatstore cap, and a reap every 10 deliveries) creates N virtual
// objects in a virtual map store, 20,000 per delivery and block; reads a sample back; deletes
// them 20,000 per delivery and drops the store. Afterwards the vatstore (v1.vs.*) and the
// kernel's consensus keys (everything but local.*) are back to their counts before the objects
// were made, read from the stopped server's LevelDB.
//
// The server's RSS is printed, not checked: it is mostly the kernel's and LevelDB's caches
// (the crank buffer keeps up to 2^20 committed keys in RAM; LevelDB a 64 MiB block cache and
// 32 MiB write buffers), not the vat's (vats/vom_scale_test.cc measures the vat).
//
// N is 100,000 here; VOM_SCALE_N sets another (a multiple of 20,000).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

// The scale vat (vats/testdata/vom_scale_vat.js, shared with the other scale test).
std::string ScaleVatSource() {
  std::ifstream in(SWINGSET_VOM_SCALE_VAT, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

constexpr uint64_t kPerDelivery = 20000;

uint64_t ScaleN() {
  const char* env = std::getenv("VOM_SCALE_N");
  if (env != nullptr && *env != '\0') return std::strtoull(env, nullptr, 10);
  return 100000;
}

v1::Genesis ScaleGenesis() {
  v1::Genesis g;
  g.set_chain_id("vom-scale");
  v1::VatConfig* v = g.add_vats();
  v->set_name("scale");
  v->set_source(ScaleVatSource());
  v->set_reap_interval(10);
  // Some 150 bytes of vatstore per object (its state, refcount and the map entry): 1,000,000
  // of them need more than the default 64 MiB cap.
  g.mutable_params()->set_max_vatstore_bytes(uint64_t{1} << 30);
  return g;
}

// A field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
uint64_t ProcStatusBytes(pid_t pid, const std::string& field) {
  std::ifstream in(StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
    }
  }
  ADD_FAILURE() << "no " << field << " for " << pid;
  return 0;
}
void ResetPeakRss(pid_t pid) {
  std::ofstream out(StrCat("/proc/", pid, "/clear_refs"));
  out << "5";
}

struct KeyCounts {
  uint64_t vatstore = 0;  // v1.vs.*
  uint64_t kernel = 0;    // every other consensus key
};
KeyCounts CountKeys(const std::string& data_dir) {
  KeyCounts c;
  auto store = OpenLevelDbKvStore(data_dir, {.create_if_missing = false});
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return c;
  auto it = (*store)->NewIterator();
  for (it->Seek(""); it->Valid(); it->Next()) {
    std::string_view k = it->key();
    if (k.substr(0, 6) == "local.") continue;
    if (k.substr(0, 6) == "v1.vs.") {
      c.vatstore += 1;
    } else {
      c.kernel += 1;
    }
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return c;
}

class VomScaleServerTest : public ::testing::Test {
 protected:
  void StartServer() {
    auto s = ServerProcess::Start({.data_dir = data_});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    v1::InitResponse init;
    grpc::Status st = InitWith(server_->lifecycle(), ScaleGenesis(), &init);
    ASSERT_TRUE(st.ok()) << st.error_message();
    height_ = init.saved_height();
  }
  // Runs blocks with `actions` until no work remains; returns the settled results in order.
  std::vector<std::string> Run(std::vector<v1::Action> actions) {
    std::vector<std::string> settled;
    v1::EndBlockRequest req;
    for (auto& a : actions) *req.add_actions() = std::move(a);
    for (int blocks = 0; blocks < 1000; ++blocks) {
      req.set_height(++height_);
      BlockResult r = RunBlock(server_->lifecycle(), req);
      EXPECT_TRUE(r.status.ok()) << r.failed_call << ": " << r.status.error_message() << "\n"
                                 << server_->log();
      if (!r.status.ok()) break;
      for (const v1::PromiseResult& p : r.end.settled()) {
        settled.push_back(StrCat(p.state(), " ", p.value_json()));
      }
      if (!r.end.work_remains()) break;
      req = v1::EndBlockRequest();
    }
    return settled;
  }
  v1::Action Call(const std::string& method, const std::string& args) {
    return CallVat(++action_id_, "scale", method, args);
  }

  std::string dir_ = MakeTempDir("vom-scale");
  std::string data_ = dir_ + "/data";
  std::unique_ptr<ServerProcess> server_;
  int64_t height_ = 0;
  uint64_t action_id_ = 0;
};

TEST_F(VomScaleServerTest, VirtualObjectsInAStoreLeaveNoKeysBehind) {
  const uint64_t n = ScaleN();
  ASSERT_EQ(n % kPerDelivery, 0u) << "VOM_SCALE_N must be a multiple of " << kPerDelivery;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  EXPECT_EQ(Run({Call("ping", "[]")}), std::vector<std::string>{R"(fulfilled "pong")"});
  // The baseline, from the stopped server's store; then the same server again.
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();
  KeyCounts baseline = CountKeys(data_);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  EXPECT_EQ(Run({Call("ping", "[]")}), std::vector<std::string>{R"(fulfilled "pong")"});
  const pid_t pid = server_->pid();
  const uint64_t idle_rss = ProcStatusBytes(pid, "VmRSS");
  ResetPeakRss(pid);

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> sizes;
  for (uint64_t from = 0; from < n; from += kPerDelivery) {
    for (std::string& r : Run({Call("make", StrCat("[", from, ",", kPerDelivery, "]"))})) {
      sizes.push_back(std::move(r));
    }
  }
  ASSERT_EQ(sizes.size(), n / kPerDelivery);
  EXPECT_EQ(sizes.back(), StrCat("fulfilled ", n));
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(Run({Call("sample", StrCat("[[0,", n / 2 + 7, ",", n - 1, "]]"))}),
            std::vector<std::string>{StrCat("fulfilled [0,", n / 2 + 7, ",", n - 1, "]")});
  const uint64_t peak = ProcStatusBytes(pid, "VmHWM");
  const uint64_t after_rss = ProcStatusBytes(pid, "VmRSS");
  std::printf("%lu virtual objects in %.1f s; server RSS idle %.1f MB, peak %.1f MB, after "
              "%.1f MB\n",
              static_cast<unsigned long>(n), std::chrono::duration<double>(t1 - t0).count(),
              idle_rss / 1e6, peak / 1e6, after_rss / 1e6);

  std::vector<v1::Action> removes;
  for (uint64_t from = 0; from < n; from += kPerDelivery) {
    removes.push_back(Call("remove", StrCat("[", from, ",", kPerDelivery, "]")));
  }
  sizes = Run(std::move(removes));
  ASSERT_EQ(sizes.size(), n / kPerDelivery);
  EXPECT_EQ(sizes.back(), "fulfilled 0");
  EXPECT_EQ(Run({Call("dropStore", "[]")}), std::vector<std::string>{R"(fulfilled "dropped")"});
  // Ten more deliveries: the reap that deletes the store comes with them.
  std::vector<v1::Action> pings;
  for (int i = 0; i < 10; ++i) pings.push_back(Call("ping", "[]"));
  EXPECT_EQ(Run(std::move(pings)).size(), 10u);
  auto t2 = std::chrono::steady_clock::now();
  std::printf("deleted and reaped in %.1f s\n", std::chrono::duration<double>(t2 - t1).count());
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();
  KeyCounts end = CountKeys(data_);
  EXPECT_EQ(end.vatstore, baseline.vatstore);
  EXPECT_EQ(end.kernel, baseline.kernel);
  EXPECT_GT(baseline.vatstore, 0u);
  RemoveDir(dir_);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
