// The mailbox device on its own, through a recording DeviceContext: vat calls, inbound dedup,
// ack forwarding, canonical state bytes, and ChangedPeers.

#include "server/mailbox_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "server/smallcaps.h"

#include <map>

namespace swingset {
namespace {

// Device state in a string; SendOnly calls recorded as "target method body".
class RecordingContext : public DeviceContext {
 public:
  std::optional<std::string> GetState() override { return state; }
  void SetState(std::string_view s) override { state = std::string(s); }
  std::optional<std::string> GetStateKey(std::string_view k) override {
    auto it = keyed.find(std::string(k));
    if (it == keyed.end()) return std::nullopt;
    return it->second;
  }
  void SetStateKey(std::string_view k, std::string_view v) override {
    keyed[std::string(k)] = std::string(v);
  }
  void DeleteStateKey(std::string_view k) override { keyed.erase(std::string(k)); }
  absl::Status SendOnly(std::string_view target, std::string_view method,
                        const CapData& args) override {
    sends.push_back(std::string(target) + " " + std::string(method) + " " + args.body);
    return absl::OkStatus();
  }
  std::optional<std::string> state;
  std::map<std::string, std::string> keyed;
  std::vector<std::string> sends;
};

SyscallResult Call(MailboxDevice& d, RecordingContext& ctx, const std::string& method,
                   const std::string& args_json, std::vector<std::string> slots = {}) {
  CapData args{smallcaps::EncodePlain(*Json::Parse(args_json)), std::move(slots)};
  return d.Invoke(&ctx, "d+0", method, args);
}

TEST(MailboxDeviceTest, VatCallsEditOutboxAndAck) {
  MailboxDevice d;
  RecordingContext ctx;
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",2,"two"])").ok);
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",1,"#one"])").ok);
  ASSERT_TRUE(Call(d, ctx, "setAcknum", R"(["alice",7])").ok);
  ASSERT_TRUE(Call(d, ctx, "addPeer", R"(["bob"])").ok);
  // Canonical bytes: peers and outbox sorted whatever the call order.
  EXPECT_EQ(*ctx.state,
            R"({"handler":null,"peers":{"alice":{"outbox":[[1,"#one"],[2,"two"]],"ack":7,)"
            R"("inbound":0,"inboundAck":0},"bob":{"outbox":[],"ack":0,"inbound":0,"inboundAck":0}}})");
  ASSERT_TRUE(Call(d, ctx, "remove", R"(["alice",1])").ok);
  ASSERT_TRUE(Call(d, ctx, "remove", R"(["alice",9])").ok);  // absent: no-op
  auto st = d.Load(&ctx);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->peers["alice"].outbox.size(), 1u);
  EXPECT_EQ(st->peers["alice"].outbox[2], "two");

  EXPECT_FALSE(Call(d, ctx, "add", R"(["alice","x","body"])").ok);
  EXPECT_FALSE(Call(d, ctx, "add", R"(["bad peer",1,"body"])").ok);
  EXPECT_FALSE(Call(d, ctx, "setAcknum", R"(["alice",-1])").ok);
  EXPECT_FALSE(Call(d, ctx, "explode", R"([])").ok);
  EXPECT_FALSE(d.Invoke(&ctx, "d+1", "add", CapData{"#[]", {}}).ok);
}

TEST(MailboxDeviceTest, InboundNeedsKnownPeerAndHandlerAndDropsSeenNumbers) {
  MailboxDevice d;
  RecordingContext ctx;
  EXPECT_EQ(d.DeliverInbound(&ctx, "alice", {{1, "a"}}, 0).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(d.AddPeers(&ctx, {"alice"}).ok());
  EXPECT_EQ(d.DeliverInbound(&ctx, "alice", {{1, "a"}}, 0).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(Call(d, ctx, "registerInboundHandler", R"(["o-10"])").ok) << "needs a ref";
  ASSERT_TRUE(
      d.Invoke(&ctx, "d+0", "registerInboundHandler", CapData{R"(#["$0.Alleged: h"])", {"o-10"}})
          .ok);
  EXPECT_TRUE(ctx.sends.empty());

  ASSERT_TRUE(d.DeliverInbound(&ctx, "alice", {{2, "b"}, {1, "!a"}, {2, "b-again"}}, 0).ok());
  ASSERT_EQ(ctx.sends.size(), 1u);
  EXPECT_EQ(ctx.sends[0], R"(o-10 deliverInboundMessages #["alice",[[1,"!!a"],[2,"b"]]])");
  // Already seen numbers are dropped; only the ack moves.
  ASSERT_TRUE(d.DeliverInbound(&ctx, "alice", {{1, "a"}, {2, "b"}}, 5).ok());
  ASSERT_EQ(ctx.sends.size(), 2u);
  EXPECT_EQ(ctx.sends[1], R"(o-10 deliverInboundAck #["alice",5])");
  // Nothing new at all: no sends.
  ASSERT_TRUE(d.DeliverInbound(&ctx, "alice", {{2, "b"}}, 5).ok());
  EXPECT_EQ(ctx.sends.size(), 2u);
  auto st = d.Load(&ctx);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->peers["alice"].inbound_delivered, 2u);
  EXPECT_EQ(st->peers["alice"].inbound_ack_delivered, 5u);
}

TEST(MailboxDeviceTest, StateRoundTripsAndChangedPeers) {
  MailboxDeviceState a;
  a.handler = "o-10";
  a.peers["alice"].outbox[1] = "x";
  a.peers["bob"].ack = 3;
  auto parsed = MailboxDeviceState::Parse(a.Serialize());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Serialize(), a.Serialize());

  MailboxDeviceState b = a;
  EXPECT_TRUE(ChangedPeers(a, b).empty());
  b.peers["bob"].inbound_delivered = 9;  // not visible to the peer
  EXPECT_TRUE(ChangedPeers(a, b).empty());
  b.peers["alice"].outbox.erase(1);
  b.peers["carol"].ack = 1;
  b.peers["dave"];  // new but empty: nothing to send
  EXPECT_THAT(ChangedPeers(a, b), ::testing::ElementsAre("alice", "carol"));
  EXPECT_FALSE(MailboxDeviceState::Parse("{\"peers\":[]}").ok());
}

}  // namespace
}  // namespace swingset
