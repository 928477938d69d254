// Golden test: pins the activity hash, the crank count, the full committed store and every
// delivery of a fixed scripted workload, so performance work on the kernel cannot change
// consensus behaviour unnoticed. The workload mixes ping-pong, pipelining with queued messages,
// transcripts, vatstore, GC (drop + retire of imports and exports), reaping, splats, vat
// termination with cleanup, and block commits.
//
// Beside the digests, the expected texts are kept in kernel/testdata/golden_*.txt: when a digest
// differs, the test prints what differs (which keys were added, removed or changed, in which
// commit; the first deliveries that differ), not only that something did.
//
// If a change here is intended (a behaviour change), regenerate the pinned values and say why
// in the commit message: `SWINGSET_GOLDEN_WRITE=1 build/kernel/golden_test` rewrites the text
// files; the digests are then what the failure messages print.

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "consensus/sha256.h"
#include "gtest/gtest.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"
#include "kernel/testing/kernel_harness.h"

namespace swingset {
namespace {

VatConfig Vat(const std::string& name, bool pipelining, bool transcript) {
  VatConfig v;
  v.name = name;
  v.source = name;
  v.enable_pipelining = pipelining;
  v.use_transcript = transcript;
  return v;
}

// Every committed key and value, in key order.
std::string DumpStore(KvStore* store) {
  std::string out;
  std::unique_ptr<KvIterator> it = store->NewIterator();
  for (it->Seek(""); it->Valid(); it->Next()) {
    StrAppend(&out, it->key(), "=", it->value(), "\n");
  }
  return out;
}

// The pinned texts (SWINGSET_GOLDEN_DIR is kernel/testdata, set by CMake).
std::string GoldenPath(const std::string& name) {
  return StrCat(SWINGSET_GOLDEN_DIR, "/golden_", name, ".txt");
}
std::string ReadGolden(const std::string& name) {
  std::ifstream in(GoldenPath(name), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void WriteGolden(const std::string& name, const std::string& text) {
  std::ofstream out(GoldenPath(name), std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string::size_type start = 0;
  while (start < text.size()) {
    std::string::size_type end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// key -> value of a DumpStore text.
std::map<std::string, std::string> StoreEntries(const std::string& dump) {
  std::map<std::string, std::string> entries;
  for (const std::string& line : Lines(dump)) {
    std::string::size_type eq = line.find('=');
    if (eq == std::string::npos) continue;
    entries[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return entries;
}

// The keys added, removed or changed from `want` to `got` (at most `limit` lines).
std::string StoreDiff(const std::string& want, const std::string& got, int limit = 30) {
  std::map<std::string, std::string> w = StoreEntries(want);
  std::map<std::string, std::string> g = StoreEntries(got);
  std::string out;
  int n = 0;
  auto line = [&](const std::string& text) {
    if (n++ < limit) StrAppend(&out, "  ", text, "\n");
  };
  for (const auto& [k, v] : w) {
    auto it = g.find(k);
    if (it == g.end()) {
      line(StrCat("- ", k, "=", v));
    } else if (it->second != v) {
      line(StrCat("~ ", k, ": ", v, " -> ", it->second));
    }
  }
  for (const auto& [k, v] : g) {
    if (w.find(k) == w.end()) line(StrCat("+ ", k, "=", v));
  }
  if (n > limit) StrAppend(&out, "  ... ", n - limit, " more\n");
  return out;
}

// The first differing lines of two texts, with their line numbers.
std::string LineDiff(const std::string& want, const std::string& got, int limit = 10) {
  std::vector<std::string> w = Lines(want);
  std::vector<std::string> g = Lines(got);
  std::string out;
  int n = 0;
  for (size_t i = 0; i < std::max(w.size(), g.size()) && n < limit; ++i) {
    const std::string a = i < w.size() ? w[i] : "(none)";
    const std::string b = i < g.size() ? g[i] : "(none)";
    if (a == b) continue;
    StrAppend(&out, "  line ", i + 1, ": want ", a, "\n", "  line ", i + 1, ": got  ", b, "\n");
    ++n;
  }
  if (w.size() != g.size()) StrAppend(&out, "  ", w.size(), " lines wanted, ", g.size(), " got\n");
  return out;
}

// The store after each commit, as "--"-separated dumps: the first commit that differs, and how.
std::string CommitsDiff(const std::string& want, const std::string& got) {
  auto split = [](const std::string& text) {
    std::vector<std::string> commits;
    std::string current;
    for (const std::string& line : Lines(text)) {
      if (line == "--") {
        commits.push_back(current);
        current.clear();
      } else {
        StrAppend(&current, line, "\n");
      }
    }
    return commits;
  };
  std::vector<std::string> w = split(want);
  std::vector<std::string> g = split(got);
  for (size_t i = 0; i < std::min(w.size(), g.size()); ++i) {
    if (w[i] != g[i]) return StrCat("  after commit ", i + 1, ":\n", StoreDiff(w[i], g[i]));
  }
  return StrCat("  ", w.size(), " commits wanted, ", g.size(), " got\n");
}

TEST(GoldenTest, DiffsNameWhatChanged) {
  EXPECT_EQ(StoreDiff("a=1\nb=2\nc=3\n", "a=1\nb=9\nd=4\n"),
            "  ~ b: 2 -> 9\n  - c=3\n  + d=4\n");
  EXPECT_EQ(LineDiff("x\ny\n", "x\nz\nw\n"),
            "  line 2: want y\n  line 2: got  z\n  line 3: want (none)\n  line 3: got  w\n"
            "  2 lines wanted, 3 got\n");
  EXPECT_EQ(CommitsDiff("a=1\n--\na=2\n--\n", "a=1\n--\na=3\n--\n"),
            "  after commit 2:\n  ~ a: 2 -> 3\n");
}

TEST(GoldenTest, ScriptedWorkloadIsPinned) {
  KernelHarness h;
  constexpr int kRounds = 30;
  int pings = 0;
  std::vector<std::string> held;  // B's imports from A
  // A (v1): bootstrap slots are [o+0, o-50 = B, o-51 = C].
  h.host()->Register("A", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && smallcaps::MethodNameOf(d.methargs) == "bootstrap") {
      std::vector<std::string> objs;
      for (int i = 1; i <= 40; ++i) objs.push_back(StrCat("o+", i));
      c.Send("o-50", "take", objs, std::nullopt, "[]");
      // Pipelined: "get" resolves later, "use" goes to its result before that.
      c.Send("o-50", "get", {}, "p+500", "[]");
      c.Send("p+500", "use", {"o+41"}, "p+501", "[]");
      c.Subscribe("p+501");
      std::vector<std::string> for_c;
      for (int i = 60; i < 70; ++i) for_c.push_back(StrCat("o+", i));
      for_c.push_back("o+3");  // also held by B
      c.Send("o-51", "take", for_c, std::nullopt, "[]");
      c.Send("o-51", "die", {}, "p+502", "[]");
      c.Subscribe("p+502");
      c.Syscall([] {
        VatSyscall sc;
        sc.type = VatSyscall::Type::kVatstoreSet;
        sc.key = "counter";
        sc.value = "0";
        return sc;
      }());
      ++pings;
      c.Send("o-50", "ping", {}, StrCat("p+", pings), "[]");
      c.Subscribe(StrCat("p+", pings));
    } else if (d.type == VatDelivery::Type::kNotify) {
      VatSyscall get;
      get.type = VatSyscall::Type::kVatstoreGet;
      get.key = "counter";
      SyscallResult r = c.Syscall(get);
      VatSyscall set;
      set.type = VatSyscall::Type::kVatstoreSet;
      set.key = "counter";
      set.value = StrCat(r.data.is_string() ? r.data.as_string() : "x", "+");
      c.Syscall(set);
      if (pings < kRounds) {
        ++pings;
        c.Send("o-50", "ping", {}, StrCat("p+", pings), "[]");
        c.Subscribe(StrCat("p+", pings));
        if (pings == 10) c.Send("o-50", "drop", {}, std::nullopt, "[]");
        if (pings == 20) c.Send("o-51", "late", {}, "p+503", "[]");  // C is dead: splat
      }
    }
  });
  // B (v2, pipelining, transcript).
  h.host()->Register("B", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type != VatDelivery::Type::kMessage) return;
    std::string m = smallcaps::MethodNameOf(d.methargs);
    if (m == "take") {
      held.insert(held.end(), d.methargs.slots.begin(), d.methargs.slots.end());
    } else if (m == "get") {
      c.Resolve(*d.result, false, "#\"$0.Alleged: thing\"", {"o+7"});
    } else if (m == "use") {
      c.Resolve(*d.result, false, "#[\"$0.Alleged: x\"]", d.methargs.slots);
    } else if (m == "ping") {
      c.Resolve(*d.result, false, "#\"pong\"");
    } else if (m == "drop") {
      std::vector<std::string> half(held.begin(), held.begin() + held.size() / 2);
      c.Gc(VatSyscall::Type::kDropImports, half);
      c.Gc(VatSyscall::Type::kRetireImports, half);
    }
  });
  // C (v3): exits with failure on its first message.
  h.host()->Register("C", [&](const VatDelivery& d, VatCtx& c) {
    if (d.type == VatDelivery::Type::kMessage && smallcaps::MethodNameOf(d.methargs) == "die") {
      c.Exit(true, "#\"bye\"");
    }
  });
  GenesisConfig g;
  g.vats = {Vat("A", false, true), Vat("B", true, true), Vat("C", false, false)};
  g.bootstrap_vat = "A";
  Json reap = Json::MakeObject();
  reap.Set("deliveries", 7);
  g.default_reap_dirt_threshold = reap;
  ASSERT_TRUE(h.Genesis(g).ok());
  ASSERT_TRUE(h.Commit().ok());
  uint64_t total = 0;
  std::string dumps;  // the store after every commit
  while (true) {
    auto n = h.RunChecked(25);
    ASSERT_TRUE(n.ok()) << n.status();
    total += *n;
    ASSERT_TRUE(h.Commit().ok());
    StrAppend(&dumps, DumpStore(h.store()), "--\n");
    if (*n == 0) break;
  }
  ASSERT_EQ(pings, kRounds);

  std::string log;
  for (const std::string& line : h.host()->log()) StrAppend(&log, line, "\n");
  const std::string final_store = DumpStore(h.store());
  if (std::getenv("SWINGSET_GOLDEN_WRITE") != nullptr) {
    WriteGolden("final_store", final_store);
    WriteGolden("commits", dumps);
    WriteGolden("deliveries", log);
  }
  const std::string want_final = ReadGolden("final_store");
  const std::string want_commits = ReadGolden("commits");
  const std::string want_log = ReadGolden("deliveries");
  ASSERT_FALSE(want_final.empty() || want_commits.empty() || want_log.empty())
      << "missing " << GoldenPath("*");
  EXPECT_EQ(total, 159u);
  EXPECT_EQ(h.kernel()->CrankNumber(), 159u);
  EXPECT_EQ(h.kernel()->ActivityHash(),
            "89b1c7fab0f79bf5b0c376d07ab90df17de72597a4010091fe93f6165781eedc");
  // The texts must be the pinned ones (the digests keep the text files honest).
  EXPECT_EQ(Sha256Hex(want_final),
            "a0808e23cf418194c08c43d5bc3b229f4f19f452e2761e99302a987e16ad9dde");
  EXPECT_EQ(Sha256Hex(want_commits),
            "b83162ddd199eb024a4260f95acee3ab988ac948d012dccb6c1a567c821ed1e4");
  EXPECT_EQ(Sha256Hex(want_log),
            "0cd6bf721c03bbfc93cb51f0aafa91449ba8478b32406281e3dd437273e89323");
  EXPECT_TRUE(final_store == want_final) << "the committed store differs:\n"
                                         << StoreDiff(want_final, final_store);
  EXPECT_TRUE(dumps == want_commits) << "the store after a commit differs:\n"
                                     << CommitsDiff(want_commits, dumps);
  EXPECT_TRUE(log == want_log) << "the deliveries differ:\n" << LineDiff(want_log, log);
}

}  // namespace
}  // namespace swingset
