// Node flags never decide an outcome (docs/METERING.md, "Tests"): two real swingsetd processes
// with different node-local JavaScript settings (--js-jit off vs eager, --js-heap-limit-mib,
// --js-extra-gcs-per-delivery, --js-meter-chunk) run the demo genesis (bootstrap, vattp and
// counter, metered) plus hostile metered vats from the corpus (vats/meter_corpus.h), fed the
// same blocks of legitimate traffic and hostile calls. Every EndBlock must agree: state hash,
// activity hash, results, and the computrons each vat used. Half-way one server is restarted
// with yet other flags, so it rebuilds every vat by replaying its transcript, and must still
// agree. Also: the flags' command-line checks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "kernel/json.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"
#include "vats/meter_corpus.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;

// Hostile cases driven through the servers, one genesis vat each (a stopped vat is
// terminated): one or more of every hazard family, and legitimate work.
const char* const kHostileCases[] = {
    "spin",          "spinCaught",     "getterLoop",       "recurseCaught", "recurseDefault",
    "recurseField",  "recurseGenerator", "recurseAsync",   "recurseProxyTrap", "nestedJoin",
    "jobStorm",      "thenableStorm",  "fill",             "spread",        "stringifyDag",
    "jsonParse",     "proxyChain",     "evals",            "manyPendingAsync", "sortWork",
};

const meter_corpus::Case& CaseNamed(const std::string& name) {
  for (const meter_corpus::Case& c : meter_corpus::kCorpus) {
    if (name == c.name) return c;
  }
  ADD_FAILURE() << "no corpus case " << name;
  return meter_corpus::kCorpus[0];
}

std::string VatFor(const std::string& name) { return StrCat("h_", name); }

v1::Genesis MeteredGenesis() {
  v1::Genesis g = JsGenesis(DemoVatsDir());
  g.set_chain_id("meter-flags");
  const std::string source = meter_corpus::CorpusVatSource();
  for (const char* name : kHostileCases) {
    v1::VatConfig* v = g.add_vats();
    v->set_name(VatFor(name));
    v->set_source(source);
  }
  // The corpus's budgets: 300,000 computrons for the hostile cases, 2,000,000 for legitimate
  // work, with one budget per chain; the hostile ones stop at the larger one the same way.
  g.mutable_params()->set_computrons_per_delivery(2'000'000);
  g.mutable_params()->set_max_call_depth(400);
  return g;
}

// An EndBlock response without its wall-clock figure.
std::string Consensus(v1::EndBlockResponse r) {
  absl::StatusOr<Json> stats = Json::Parse(r.stats_json());
  EXPECT_TRUE(stats.ok()) << r.stats_json();
  std::string computrons;
  if (stats.ok() && stats->Find("computrons") != nullptr) {
    computrons = stats->Find("computrons")->Dump();
  }
  r.clear_stats_json();
  std::string out;
  r.SerializeToString(&out);
  return out + "\ncomputrons " + computrons;
}

std::string ComputronsOf(const v1::EndBlockResponse& r) {
  absl::StatusOr<Json> stats = Json::Parse(r.stats_json());
  if (!stats.ok() || stats->Find("computrons") == nullptr) return "";
  return stats->Find("computrons")->Dump();
}

std::unique_ptr<ServerProcess> Start(const std::string& dir, std::vector<std::string> flags) {
  auto s = ServerProcess::Start({.data_dir = dir, .extra_args = std::move(flags)});
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// name -> "alive" or the termination reason.
std::map<std::string, std::string> VatStates(ServerProcess* s) {
  std::map<std::string, std::string> out;
  v1::ListVatsRequest req;
  req.set_page_size(1000);
  v1::ListVatsResponse resp;
  grpc::Status st = s->inspect()->ListVats(Ctx().get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  for (const v1::VatInfo& v : resp.vats()) {
    out[v.name()] = v.alive() ? "alive" : v.termination_reason();
  }
  return out;
}

TEST(MeterFlagsTest, ServersWithDifferentNodeFlagsAgreeOnEveryBlock) {
  const std::string dir = MakeTempDir("meter-flags");
  const std::vector<std::string> flags_a = {"--js-jit", "off", "--js-heap-limit-mib", "256",
                                            "--js-extra-gcs-per-delivery", "1",
                                            "--js-meter-chunk", "7"};
  const std::vector<std::string> flags_b = {"--js-jit", "eager", "--js-heap-limit-mib", "4000",
                                            "--js-meter-chunk", "1000"};
  // After the restart: the default JIT, a small heap, extra GCs, no chunks.
  const std::vector<std::string> flags_b2 = {"--js-heap-limit-mib", "128",
                                             "--js-extra-gcs-per-delivery", "3"};
  auto a = Start(dir + "/a", flags_a);
  auto b = Start(dir + "/b", flags_b);
  ASSERT_TRUE(a && b);
  const v1::Genesis genesis = MeteredGenesis();
  v1::InitResponse ia, ib;
  ASSERT_TRUE(InitWith(a->lifecycle(), genesis, &ia).ok()) << a->log();
  ASSERT_TRUE(InitWith(b->lifecycle(), genesis, &ib).ok()) << b->log();
  ASSERT_EQ(ia.state_hash(), ib.state_hash());

  const int64_t blocks = static_cast<int64_t>(std::size(kHostileCases)) + 4;
  const int64_t restart_after = blocks / 2;
  int metered_blocks = 0;
  for (int64_t h = 1; h <= blocks; ++h) {
    // Legitimate traffic on the demo vats, then one hostile case (from height 2, once the
    // bootstrap vat has wired the demo).
    v1::EndBlockRequest req = RandomBlock(7, h, {.max_actions = 4});
    if (h >= 2 && h - 2 < static_cast<int64_t>(std::size(kHostileCases))) {
      const meter_corpus::Case& c = CaseNamed(kHostileCases[h - 2]);
      std::string args(c.args);
      *req.add_actions() =
          CallVat(10'000'000 + static_cast<uint64_t>(h), VatFor(c.name), "run",
                  StrCat("[\"", c.name, "\"", args.size() > 2 ? "," : "",
                         args.substr(1, args.size() - 2), "]"));
    }
    BlockResult ra = RunBlock(a->lifecycle(), req);
    BlockResult rb = RunBlock(b->lifecycle(), req);
    ASSERT_TRUE(ra.status.ok()) << h << " " << ra.failed_call << ": "
                                << ra.status.error_message() << "\n" << a->log();
    ASSERT_TRUE(rb.status.ok()) << h << " " << rb.failed_call << ": "
                                << rb.status.error_message() << "\n" << b->log();
    ASSERT_EQ(ra.end.state_hash(), rb.end.state_hash()) << "height " << h;
    ASSERT_EQ(ra.end.activity_hash(), rb.end.activity_hash()) << "height " << h;
    EXPECT_EQ(Consensus(ra.end), Consensus(rb.end)) << "height " << h;
    EXPECT_EQ(ComputronsOf(ra.end), ComputronsOf(rb.end)) << "height " << h;
    if (ComputronsOf(ra.end).size() > 2) ++metered_blocks;
    if (h == restart_after) {
      // Restart b with other flags: it replays every vat's transcript (the replay checks each
      // delivery's computrons) and must go on agreeing.
      EXPECT_EQ(b->Stop(), 0);
      b = Start(dir + "/b", flags_b2);
      ASSERT_TRUE(b);
      ASSERT_TRUE(InitWith(b->lifecycle(), genesis, &ib).ok()) << b->log();
    }
  }
  EXPECT_GE(metered_blocks, blocks - 1);

  // Every hostile vat ended as its case says, the same on both.
  std::map<std::string, std::string> states_a = VatStates(a.get());
  EXPECT_EQ(states_a, VatStates(b.get()));
  for (const char* name : kHostileCases) {
    const meter_corpus::Case& c = CaseNamed(name);
    const std::string& state = states_a[VatFor(name)];
    switch (c.end) {
      case meter_corpus::End::kComputrons:
        EXPECT_THAT(state, HasSubstr("computron limit")) << name;
        break;
      case meter_corpus::End::kDepth:
        EXPECT_THAT(state, HasSubstr("call depth limit")) << name;
        break;
      case meter_corpus::End::kReturns:
        EXPECT_EQ(state, "alive") << name;
        break;
    }
  }
  for (const char* demo : {"bootstrap", "vattp", "counter"}) {
    EXPECT_EQ(states_a[demo], "alive") << demo;
  }
  EXPECT_EQ(a->Stop(), 0);
  EXPECT_EQ(b->Stop(), 0);
  RemoveDir(dir);
}

TEST(MeterFlagsTest, BadFlagValuesAreUsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--js-jit", "fast"},
                                             {"--js-jit", ""},
                                             {"--js-meter-chunk", "-1"},
                                             {"--js-meter-chunk", "1099511627777"},
                                             {"--js-extra-gcs-per-delivery", "17"}}) {
    CommandResult r = RunSwingsetd(args);
    EXPECT_EQ(r.exit_code, 64) << args[0] << " " << args[1] << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(args[0])) << r.output;
  }
  CommandResult help = RunSwingsetd({"--help"});
  for (const char* flag : {"--js-jit", "--js-meter-chunk", "--js-extra-gcs-per-delivery"}) {
    EXPECT_THAT(help.output, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace testing
}  // namespace swingset
