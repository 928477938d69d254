// Issue 12 item 1 over real gRPC: lone surrogates (JS strings that are not well-formed UTF-16)
// between vats, the kernel and the host. Every answer must stay valid UTF-8 (proto3 string
// fields), the kernel must carry any JS string intact, and a replayed height must return the
// stored response.
//
//   - a vat returning 'a\ud800b': the settled result decodes, value_json escapes \ud800 as
//     JSON.stringify does, and the replay of that height answers the stored bytes;
//   - a vat mailing a body holding a lone surrogate: the mailbox device refuses it at the
//     callNow (the vat sees the error), a well-formed body goes out;
//   - call_vat with args_json ["\ud800"]: the vat gets the string intact (length 1, code unit
//     0xd800) and echoes it back.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/utf8.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;

constexpr char kBootstrap[] = R"(
import { Far, E } from '@endo/far';
export function buildRootObject() {
  return Far('bootstrap', {
    async bootstrap(vats, devices) {
      await E(vats.lone).setMailbox(devices.mailbox);
      return 'wired';
    },
  });
}
)";

constexpr char kLone[] = R"(
import { Far } from '@endo/far';
export function buildRootObject(vatPowers) {
  const { D } = vatPowers;
  let mailbox;
  return Far('lone', {
    setMailbox(m) { mailbox = m; },
    lone() { return 'a\ud800b'; },
    pair() { return '\ud83d\ude00'; },
    echo(s) { return harden([s, s.length, s.charCodeAt(0)]); },
    mail(num, body) {
      try {
        D(mailbox).add('alice', num, body);
        return 'sent';
      } catch (e) {
        return `refused: ${e.message}`;
      }
    },
  });
}
)";

// A raw vat: its result body holds a raw lone surrogate (not the \\ud800 escape marshal would
// write), and it stores a vatstore entry whose key and value hold lone surrogates.
constexpr char kRaw[] = R"(
export function setup(syscall) {
  return vd => {
    if (vd[0] !== 'message') return;
    const { methargs, result } = vd[2];
    const method = JSON.parse(methargs.body.slice(1))[0];
    if (method === 'store') syscall.vatstoreSet('k\ud800', 'v\udc00');
    if (result) syscall.resolve([[result, false, { body: '#"raw\ud800"', slots: [] }]]);
  };
}
)";

v1::Genesis Genesis() {
  v1::Genesis g;
  g.set_chain_id("hostile-json");
  auto add = [&](const char* name, const char* source) {
    v1::VatConfig* v = g.add_vats();
    v->set_name(name);
    v->set_source(source);
  };
  add("bootstrap", kBootstrap);
  add("lone", kLone);
  v1::VatConfig* raw = g.add_vats();
  raw->set_name("raw");
  raw->set_source(kRaw);
  raw->set_raw(true);
  g.set_bootstrap_vat("bootstrap");
  g.add_mailbox_peers("alice");
  return g;
}

v1::EndBlockRequest Block(int64_t height, std::vector<v1::Action> actions = {}) {
  v1::EndBlockRequest r;
  r.set_height(height);
  for (auto& a : actions) *r.add_actions() = std::move(a);
  return r;
}

// Every string field of the response is valid UTF-8 and the whole message parses back.
void ExpectDecodable(const v1::EndBlockResponse& resp) {
  for (const v1::PromiseResult& p : resp.settled()) {
    EXPECT_TRUE(IsValidUtf8(p.body())) << p.kpid();
    EXPECT_TRUE(IsValidUtf8(p.value_json())) << p.kpid();
  }
  for (const v1::MailboxState& m : resp.mailboxes()) {
    for (const v1::MailboxMessage& msg : m.outbox()) EXPECT_TRUE(IsValidUtf8(msg.body()));
  }
  for (const v1::ActionResult& r : resp.results()) EXPECT_TRUE(IsValidUtf8(r.error()));
  std::string bytes;
  ASSERT_TRUE(resp.SerializeToString(&bytes));
  v1::EndBlockResponse back;
  EXPECT_TRUE(back.ParseFromString(bytes));
}

class HostileJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("hostile-json");
    auto s = ServerProcess::Start({.data_dir = dir_ + "/data"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    v1::InitResponse init;
    grpc::Status st = InitWith(server_->lifecycle(), Genesis(), &init);
    ASSERT_TRUE(st.ok()) << st.error_message();
    BlockResult r = RunBlock(server_->lifecycle(), Block(1));
    ASSERT_TRUE(r.status.ok()) << r.failed_call << ": " << r.status.error_message();
  }
  void TearDown() override {
    server_.reset();
    RemoveDir(dir_);
  }

  // Runs one block with one call; returns its settled result ("" when none settled).
  v1::PromiseResult Call(int64_t height, const std::string& method, const std::string& args,
                         BlockResult* out = nullptr, const std::string& vat = "lone") {
    BlockResult r = RunBlock(server_->lifecycle(),
                             Block(height, {CallVat(static_cast<uint64_t>(height), vat, method,
                                                    args)}));
    EXPECT_TRUE(r.status.ok()) << r.failed_call << ": " << r.status.error_message() << "\n"
                               << server_->log();
    ExpectDecodable(r.end);
    if (out) *out = r;
    EXPECT_EQ(r.end.settled_size(), 1) << r.end.DebugString();
    return r.end.settled_size() == 1 ? r.end.settled(0) : v1::PromiseResult();
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(HostileJsonTest, ResultWithALoneSurrogateIsEscapedAndTheReplayAnswersTheStoredBytes) {
  // A pair is one character: written as UTF-8, not as escapes.
  v1::PromiseResult pair = Call(2, "pair", "[]");
  EXPECT_EQ(pair.value_json(), "\"\xF0\x9F\x98\x80\"");
  BlockResult block;
  v1::PromiseResult r = Call(3, "lone", "[]", &block);
  EXPECT_EQ(r.state(), "fulfilled");
  EXPECT_EQ(r.value_json(), R"("a\ud800b")");
  EXPECT_EQ(r.body(), R"(#"a\ud800b")");

  // Replay of height 3 (the last committed): BeginBlock(3) again answers from the store.
  v1::BeginBlockRequest begin;
  begin.set_height(3);
  v1::BeginBlockResponse begin_resp;
  grpc::Status st = server_->lifecycle()->BeginBlock(Ctx().get(), begin, &begin_resp);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_TRUE(begin_resp.replay());
  v1::EndBlockResponse replay;
  st = server_->lifecycle()->EndBlock(Ctx().get(), Block(3), &replay);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_TRUE(replay.replayed());
  v1::EndBlockResponse first = block.end;
  first.set_replayed(true);
  std::string a, b;
  ASSERT_TRUE(first.SerializeToString(&a));
  ASSERT_TRUE(replay.SerializeToString(&b));
  EXPECT_EQ(a, b);
}

TEST_F(HostileJsonTest, MailboxRefusesABodyWithALoneSurrogateAtTheCallNow) {
  v1::PromiseResult bad = Call(2, "mail", R"([1, "x\udc00y"])");
  EXPECT_EQ(bad.state(), "fulfilled");
  EXPECT_THAT(bad.value_json(), HasSubstr("refused: "));
  EXPECT_THAT(bad.value_json(), HasSubstr("not well-formed Unicode"));

  BlockResult block;
  v1::PromiseResult good = Call(3, "mail", "[2, \"ok \xC3\xA9 \\ud83d\\ude00\"]", &block);
  EXPECT_EQ(good.value_json(), R"("sent")");
  ASSERT_EQ(block.end.mailboxes_size(), 1) << block.end.DebugString();
  ASSERT_EQ(block.end.mailboxes(0).outbox_size(), 1);
  EXPECT_EQ(block.end.mailboxes(0).outbox(0).num(), 2u);
  EXPECT_EQ(block.end.mailboxes(0).outbox(0).body(), "ok \xC3\xA9 \xF0\x9F\x98\x80");

  // The lone vat is alive and well.
  v1::PromiseResult again = Call(4, "lone", "[]");
  EXPECT_EQ(again.value_json(), R"("a\ud800b")");
}

TEST_F(HostileJsonTest, CallVatWithALoneSurrogateReachesTheVatIntact) {
  v1::PromiseResult r = Call(2, "echo", R"(["\ud800"])");
  EXPECT_EQ(r.state(), "fulfilled") << r.value_json();
  EXPECT_EQ(r.value_json(), R"(["\ud800",1,55296])");
  // A low surrogate followed by a high one stays two lone halves; upper-case escapes are read.
  r = Call(3, "echo", R"(["\uDC00\uD800x"])");
  EXPECT_EQ(r.value_json(), R"(["\udc00\ud800x",3,56320])");

  // The vat was not terminated.
  v1::ListVatsRequest req;
  v1::ListVatsResponse vats;
  ASSERT_TRUE(server_->inspect()->ListVats(Ctx().get(), req, &vats).ok());
  for (const v1::VatInfo& v : vats.vats()) {
    EXPECT_TRUE(v.alive()) << v.name() << ": " << v.termination_reason();
  }
}

TEST_F(HostileJsonTest, RawBodiesAndVatstoreKeysWithLoneSurrogatesLeaveAsUtf8) {
  v1::PromiseResult r = Call(2, "store", "[]", nullptr, "raw");
  EXPECT_EQ(r.state(), "fulfilled");
  EXPECT_EQ(r.body(), R"(#"raw\ud800")");  // escaped in the body text, same meaning
  EXPECT_EQ(r.value_json(), R"("raw\ud800")");

  // Inspect: the vatstore key and value are not UTF-8 (WTF-8), so they come as hex, flagged,
  // and paging through them with the ~hex: token works.
  const std::string value_hex = "76edb080";  // "v" + encoded U+DC00
  std::vector<v1::KVEntry> entries;
  std::string token;
  do {
    v1::ScanKVRequest req;
    req.set_page_size(1);
    req.set_page_token(token);
    v1::ScanKVResponse resp;
    grpc::Status st = server_->inspect()->ScanKV(Ctx().get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    for (const v1::KVEntry& e : resp.entries()) {
      EXPECT_TRUE(IsValidUtf8(e.key()) && IsValidUtf8(e.value()));
      entries.push_back(e);
    }
    token = resp.next_page_token();
  } while (!token.empty());
  int found = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].value_hex() && entries[i].value() == value_hex) {
      ++found;
      EXPECT_TRUE(entries[i].key_hex());
      // hex of the key ends with hex of "k" + encoded U+D800
      EXPECT_THAT(entries[i].key(), ::testing::EndsWith("6beda080"));
    }
    if (i > 0) EXPECT_NE(entries[i].key(), entries[i - 1].key()) << "a page repeated";
  }
  EXPECT_EQ(found, 1);
}

}  // namespace
}  // namespace testing
}  // namespace swingset
