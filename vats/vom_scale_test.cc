// The scale scenario of issue 15, for the vat itself: a metered JS vat (meter version 3,
// 100,000,000 computrons and depth 1000 per delivery: the genesis defaults) creates N virtual
// objects in a virtual map store, 20,000 per delivery, with a bringOutYourDead after every
// delivery (the reap a chain's kernel schedules), its vatstore in LevelDB; then deletes them
// 20,000 per delivery and drops the store.
//
// What the vat holds in RAM is measured in this process, which runs the vat as swingsetd
// does (in-process) but has nothing else of size, after every delivery and its reap: the
// growth of the process's live anonymous memory over the started vat (RssAnon after
// malloc_trim; an upper bound of the vat's share, as it includes LevelDB, here with an 8 MiB
// block cache and 4 MiB write buffers, and the syscall plumbing) and the vat zone's GC heap.
// Both stay under 50 MB. At the end the vatstore holds exactly the keys it held before the
// objects were made.
//
// N is 200,000 here (about 30 s; live anonymous memory +17-23 MB, zone heap 1.5 MB).
// VOM_SCALE_N=1000000 runs the issue's million (about 5 minutes; VOM_SCALE_DEBUG=1 prints the
// memory every 100,000): the zone heap stays at 1.6 MB, but the process's live anonymous
// memory grows to +82 MB, so the 50 MB check fails there. That growth is not the vat's JS
// heap and not glibc's main arena (28 MB in use); where it is (LevelDB's other-thread
// allocations, SpiderMonkey's non-GC memory) is not known yet. The server-level scenario is
// tests/vom_scale_server_test.cc.

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/strings.h"
#include "vats/js_vat_host.h"
#include "vats/vat_test_util.h"

namespace swingset {
namespace {

using testing_util::Boyd;
using testing_util::Message;
using testing_util::StartVat;

// The scale vat (vats/testdata/vom_scale_vat.js, shared with the other scale test).
std::string ScaleVatSource() {
  std::ifstream in(SWINGSET_VOM_SCALE_VAT, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

constexpr uint64_t kPerDelivery = 20000;

// The vatstore in LevelDB, written through (a vat's syscalls see their own writes).
class LevelDbVatstore : public SyscallHandler {
 public:
  explicit LevelDbVatstore(KvStore* store) : store_(store) {}
  SyscallResult Syscall(const VatSyscall& s) override {
    SyscallResult r;
    switch (s.type) {
      case VatSyscall::Type::kVatstoreGet: {
        auto v = store_->Get(s.key);
        SWINGSET_CHECK(v.ok()) << v.status();
        r.data = v->has_value() ? Json(**v) : Json();
        break;
      }
      case VatSyscall::Type::kVatstoreGetNextKey: {
        auto it = store_->NewIterator();
        it->Seek(s.key);
        if (it->Valid() && it->key() == s.key) it->Next();
        r.data = it->Valid() ? Json(std::string(it->key())) : Json();
        break;
      }
      case VatSyscall::Type::kVatstoreSet:
        SWINGSET_CHECK(store_->Write({KvWrite{s.key, s.value}}, false).ok());
        break;
      case VatSyscall::Type::kVatstoreDelete:
        SWINGSET_CHECK(store_->Write({KvWrite{s.key, std::nullopt}}, false).ok());
        break;
      case VatSyscall::Type::kResolve:
        last_resolution = s.ToJson().Dump();
        break;
      default:
        break;
    }
    return r;
  }
  uint64_t CountKeys() {
    uint64_t n = 0;
    auto it = store_->NewIterator();
    for (it->Seek(""); it->Valid(); it->Next()) ++n;
    return n;
  }
  std::string last_resolution;

 private:
  KvStore* store_;
};

// A field of /proc/self/status, in bytes.
uint64_t StatusBytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
    }
  }
  ADD_FAILURE() << "no " << field << " in /proc/self/status";
  return 0;
}
// The anonymous memory the process holds live: RssAnon once glibc returned its free lists
// (without the trim, memory that transient allocations freed stays resident,
// glibc's and not the vat's: 20 MB more at 200,000 objects here, 70 MB at 1,000,000). File-backed pages
// (LevelDB reads its tables through mmap) are the page cache's and are not counted.
uint64_t RssBytes() {
  malloc_trim(0);
  return StatusBytes("RssAnon");
}

TEST(VomScaleTest, VirtualObjectsLiveInTheVatstoreNotInTheVatsRam) {
  const char* env = std::getenv("VOM_SCALE_N");
  const uint64_t n = env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : 200000;
  ASSERT_EQ(n % kPerDelivery, 0u) << "VOM_SCALE_N must be a multiple of " << kPerDelivery;
  std::string dir = StrCat(::testing::TempDir(), "/vom-scale-", getpid());
  std::filesystem::remove_all(dir);
  auto store = OpenLevelDbKvStore(dir, {.create_if_missing = true,
                                        .block_cache_bytes = 8 << 20,
                                        .write_buffer_bytes = 4 << 20});
  ASSERT_TRUE(store.ok()) << store.status();
  LevelDbVatstore vatstore(store->get());

  JsVatHostOptions options;
  auto host = JsVatHost::Create(options);
  const VatId vat(1);
  VatSpec spec;
  spec.vat_id = vat;
  spec.source = ScaleVatSource();
  spec.options_json = R"({"meter":{"version":3,"computrons":100000000,"maxDepth":1000}})";
  ASSERT_TRUE(host->LoadVat(spec).ok());
  ASSERT_TRUE(host->Deliver(vat, StartVat(), &vatstore).ok);
  ASSERT_TRUE(host->Deliver(vat, Boyd(), &vatstore).ok);
  const uint64_t baseline_keys = vatstore.CountKeys();
  const uint64_t rss0 = RssBytes();
  uint64_t max_rss = rss0, max_heap = host->TEST_ZoneHeapBytes(vat);
  int result = 1;
  auto deliver = [&](const std::string& method, const std::string& args) {
    DeliveryResult r = host->Deliver(
        vat, Message("o+0", StrCat("#[\"", method, "\",[", args, "]]"), {}, StrCat("p-", result++)),
        &vatstore);
    EXPECT_TRUE(r.ok) << r.error;
    DeliveryResult b = host->Deliver(vat, Boyd(), &vatstore);
    EXPECT_TRUE(b.ok) << b.error;
    max_rss = std::max(max_rss, RssBytes());
    max_heap = std::max(max_heap, host->TEST_ZoneHeapBytes(vat));
    return vatstore.last_resolution;
  };

  auto t0 = std::chrono::steady_clock::now();
  std::string last;
  for (uint64_t from = 0; from < n; from += kPerDelivery) {
    last = deliver("make", StrCat(from, ",", kPerDelivery));
    if (std::getenv("VOM_SCALE_DEBUG") && (from + kPerDelivery) % 100000 == 0) {
      struct mallinfo2 mi = mallinfo2();
      std::printf("%lu: RssAnon +%.1f MB, RssFile %.1f MB, malloc in use (main arena) %.1f MB, "
                  "zone heap %.1f MB\n",
                  static_cast<unsigned long>(from + kPerDelivery), (RssBytes() - rss0) / 1e6,
                  StatusBytes("RssFile") / 1e6,
                  mi.uordblks / 1e6, host->TEST_ZoneHeapBytes(vat) / 1e6);
    }
  }
  EXPECT_NE(last.find(StrCat("\"#", n, "\"")), std::string::npos) << last;
  auto t1 = std::chrono::steady_clock::now();
  last = deliver("sample", StrCat("[0,", n / 2 + 7, ",", n - 1, "]"));
  EXPECT_NE(last.find(StrCat("#[0,", n / 2 + 7, ",", n - 1, "]")), std::string::npos) << last;
  // Each object is a state record, a refcount and a map entry.
  EXPECT_EQ(vatstore.CountKeys(), baseline_keys + 3 * n + 3);  // + the store's 3 records
  const uint64_t rss_made = RssBytes();
  std::printf("%lu virtual objects in %.1f s (with a reap after each delivery); live anonymous "
              "memory over the started vat: at most %.1f MB, %.1f MB after; vat zone GC heap at most "
              "%.1f MB\n",
              static_cast<unsigned long>(n), std::chrono::duration<double>(t1 - t0).count(),
              (max_rss - rss0) / 1e6, (rss_made - rss0) / 1e6, max_heap / 1e6);
  EXPECT_LT(max_rss - rss0, 50u * 1000 * 1000) << "RSS growth";
  EXPECT_LT(max_heap, 50u * 1000 * 1000) << "zone GC heap";

  for (uint64_t from = 0; from < n; from += kPerDelivery) {
    last = deliver("remove", StrCat(from, ",", kPerDelivery));
  }
  EXPECT_NE(last.find("\"#0\""), std::string::npos) << last;
  last = deliver("dropStore", "");
  EXPECT_NE(last.find("dropped"), std::string::npos) << last;
  auto t2 = std::chrono::steady_clock::now();
  std::printf("deleted, reaped and the store dropped in %.1f s\n",
              std::chrono::duration<double>(t2 - t1).count());
  EXPECT_EQ(vatstore.CountKeys(), baseline_keys);
  host.reset();
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace swingset
