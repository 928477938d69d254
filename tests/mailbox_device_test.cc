// The mailbox device on its own, through a recording DeviceContext: vat calls, inbound dedup,
// ack forwarding, canonical keyed state, O(1) keys per call whatever the outbox holds, and
// MailboxReader (outboxes and peers read back from a store, with a block's writes overlaid).

#include "server/mailbox_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernel/smallcaps.h"
#include "kernel/storage/mem_kv_store.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Keyed device state in a map; SendOnly calls recorded as "target method body". The unkeyed
// GetState/SetState must not be used by the mailbox device.
class RecordingContext : public DeviceContext {
 public:
  std::optional<std::string> GetState() override {
    ADD_FAILURE() << "unkeyed device state read";
    return std::nullopt;
  }
  void SetState(std::string_view) override { ADD_FAILURE() << "unkeyed device state write"; }
  std::optional<std::string> GetStateKey(std::string_view k) override {
    ++reads;
    auto it = keyed.find(std::string(k));
    if (it == keyed.end()) return std::nullopt;
    return it->second;
  }
  void SetStateKey(std::string_view k, std::string_view v) override {
    ++writes;
    bytes_written += k.size() + v.size();
    keyed[std::string(k)] = std::string(v);
  }
  void DeleteStateKey(std::string_view k) override {
    ++writes;
    keyed.erase(std::string(k));
  }
  absl::Status SendOnly(std::string_view target, std::string_view method,
                        const CapData& args) override {
    sends.push_back(std::string(target) + " " + std::string(method) + " " + args.body);
    return absl::OkStatus();
  }
  bool CanDeliverTo(std::string_view target) override {
    return dead_targets.count(std::string(target)) == 0;
  }
  std::set<std::string> dead_targets;
  std::map<std::string, std::string> keyed;
  std::vector<std::string> sends;
  int reads = 0, writes = 0;
  size_t bytes_written = 0;
};

SyscallResult Call(MailboxDevice& d, RecordingContext& ctx, const std::string& method,
                   const std::string& args_json, std::vector<std::string> slots = {}) {
  CapData args{smallcaps::EncodePlain(*Json::Parse(args_json)), std::move(slots)};
  return d.Invoke(&ctx, "d+0", method, args);
}

TEST(MailboxDeviceTest, VatCallsEditOutboxAndAckAsCanonicalKeys) {
  MailboxDevice d;
  RecordingContext ctx;
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",10,"ten"])").ok);
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",9,"#nine"])").ok);
  ASSERT_TRUE(Call(d, ctx, "setAcknum", R"(["alice",7])").ok);
  ASSERT_TRUE(Call(d, ctx, "addPeer", R"(["bob.x"])").ok);
  EXPECT_THAT(ctx.keyed,
              ElementsAre(Pair("out.alice|0000000000000009", "#nine"),
                          Pair("out.alice|0000000000000010", "ten"),
                          Pair("peer.alice", R"({"ack":7,"inbound":0,"inboundAck":0,)"
                                             R"("outBytes":40,"outCount":2})"),
                          Pair("peer.bob.x", R"({"ack":0,"inbound":0,"inboundAck":0,)"
                                             R"("outBytes":0,"outCount":0})"),
                          Pair("peerCount", "2")));
  EXPECT_THAT(d.touched_peers(), ElementsAre("alice", "bob.x"));
  ASSERT_TRUE(Call(d, ctx, "remove", R"(["alice",9])").ok);
  ASSERT_TRUE(Call(d, ctx, "remove", R"(["alice",99])").ok);  // absent: no-op
  EXPECT_EQ(ctx.keyed.count("out.alice|0000000000000009"), 0u);
  EXPECT_EQ(ctx.keyed.count("out.alice|0000000000000010"), 1u);

  EXPECT_FALSE(Call(d, ctx, "add", R"(["alice","x","body"])").ok);
  EXPECT_FALSE(Call(d, ctx, "add", R"(["bad peer",1,"body"])").ok);
  EXPECT_FALSE(Call(d, ctx, "add", R"(["alice|0",1,"body"])").ok);
  EXPECT_FALSE(Call(d, ctx, "setAcknum", R"(["alice",-1])").ok);
  EXPECT_FALSE(Call(d, ctx, "setAcknum", R"(["alice",9007199254740992])").ok);  // 2^53
  EXPECT_FALSE(Call(d, ctx, "explode", R"([])").ok);
  EXPECT_FALSE(d.Invoke(&ctx, "d+1", "add", CapData{"#[]", {}}).ok);
  d.ResetTouchedPeers();
  EXPECT_TRUE(d.touched_peers().empty());
}

TEST(MailboxDeviceTest, EachCallTouchesAConstantNumberOfKeys) {
  MailboxDevice d;
  RecordingContext ctx;
  d.SetLimits(&ctx, MailboxLimits{.max_outbox_messages = 5000, .max_outbox_bytes = 1 << 20});
  ASSERT_TRUE(d.AddPeers(&ctx, {"alice"}).ok());
  auto cost = [&](const std::string& method, const std::string& args) {
    ctx.reads = ctx.writes = 0;
    ctx.bytes_written = 0;
    EXPECT_TRUE(Call(d, ctx, method, args).ok) << method << args;
    return std::vector<size_t>{static_cast<size_t>(ctx.reads), static_cast<size_t>(ctx.writes),
                               ctx.bytes_written};
  };
  std::vector<size_t> add_small = cost("add", R"(["alice",1,"body"])");
  for (int i = 2; i <= 2000; ++i) {
    ASSERT_TRUE(Call(d, ctx, "add", StrCat("[\"alice\",", i, ",\"body\"]")).ok);
  }
  // With 2,000 messages queued, adding, removing and acking cost what they cost with one.
  // (The bytes differ only by the digits of the peer record's outbox counts.)
  std::vector<size_t> add_big = cost("add", R"(["alice",2001,"body"])");
  EXPECT_EQ(add_big[0], add_small[0]);
  EXPECT_EQ(add_big[1], add_small[1]);
  EXPECT_LE(add_big[2], add_small[2] + 10);
  EXPECT_EQ(cost("remove", R"(["alice",1])")[1], 2u);  // the message, the peer's counts
  std::vector<size_t> ack = cost("setAcknum", R"(["alice",5])");
  EXPECT_EQ(ack[1], 1u);
  EXPECT_LT(ack[2], 96u);
  ctx.reads = ctx.writes = 0;
  ASSERT_TRUE(
      d.Invoke(&ctx, "d+0", "registerInboundHandler", CapData{R"(#["$0.Alleged: h"])", {"o-10"}})
          .ok);
  ctx.reads = ctx.writes = 0;
  ASSERT_TRUE(d.DeliverInbound(&ctx, "alice", {{1, "a"}}, 1).ok());
  EXPECT_EQ(ctx.reads, 2);   // peer record, handler
  EXPECT_EQ(ctx.writes, 1);  // peer record
}

TEST(MailboxDeviceTest, InboundNeedsKnownPeerAndHandlerAndDropsSeenNumbers) {
  MailboxDevice d;
  RecordingContext ctx;
  EXPECT_EQ(d.DeliverInbound(&ctx, "alice", {{1, "a"}}, 0).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(*d.IsKnownPeer(&ctx, "alice"));
  ASSERT_TRUE(d.AddPeers(&ctx, {"alice"}).ok());
  EXPECT_TRUE(*d.IsKnownPeer(&ctx, "alice"));
  EXPECT_EQ(d.AddPeers(&ctx, {"carol", "bad peer"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(*d.IsKnownPeer(&ctx, "carol")) << "nothing is written on error";
  EXPECT_EQ(d.DeliverInbound(&ctx, "alice", {{1, "a"}}, 0).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(*d.HasHandler(&ctx));
  EXPECT_FALSE(Call(d, ctx, "registerInboundHandler", R"(["o-10"])").ok) << "needs a ref";
  ASSERT_TRUE(
      d.Invoke(&ctx, "d+0", "registerInboundHandler", CapData{R"(#["$0.Alleged: h"])", {"o-10"}})
          .ok);
  EXPECT_TRUE(*d.HasHandler(&ctx));
  EXPECT_EQ(ctx.keyed["handler"], "o-10");
  EXPECT_TRUE(ctx.sends.empty());

  ASSERT_TRUE(d.DeliverInbound(&ctx, "alice", {{2, "b"}, {1, "!a"}, {2, "b-again"}}, 0).ok());
  ASSERT_EQ(ctx.sends.size(), 1u);
  EXPECT_EQ(ctx.sends[0], R"(o-10 deliverInboundMessages #["alice",[[1,"!!a"],[2,"b"]]])");
  // Already seen numbers are dropped; only the ack moves.
  ASSERT_TRUE(d.DeliverInbound(&ctx, "alice", {{1, "a"}, {2, "b"}}, 5).ok());
  ASSERT_EQ(ctx.sends.size(), 2u);
  EXPECT_EQ(ctx.sends[1], R"(o-10 deliverInboundAck #["alice",5])");
  // Nothing new at all: no sends, no writes.
  ctx.writes = 0;
  ASSERT_TRUE(d.DeliverInbound(&ctx, "alice", {{2, "b"}}, 5).ok());
  EXPECT_EQ(ctx.sends.size(), 2u);
  EXPECT_EQ(ctx.writes, 0);
  EXPECT_EQ(ctx.keyed["peer.alice"],
            R"({"ack":0,"inbound":2,"inboundAck":5,"outBytes":0,"outCount":0})");
  // Inbound traffic does not change what the peer sees (outbox, ack).
  EXPECT_TRUE(d.touched_peers().empty());
}

TEST(MailboxDeviceTest, ReaderMergesTheStoreWithABlocksWrites) {
  MailboxDevice d;
  RecordingContext ctx;
  ASSERT_TRUE(d.AddPeers(&ctx, {"bob", "alice"}).ok());
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",2,"two"])").ok);
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",10,"ten"])").ok);
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice.b",1,"other peer"])").ok);
  ASSERT_TRUE(Call(d, ctx, "setAcknum", R"(["alice",4])").ok);
  const std::string prefix = "d7.deviceState.";
  std::unique_ptr<KvStore> store = NewMemKvStore();
  KvBatch batch;
  for (const auto& [k, v] : ctx.keyed) batch.push_back(KvWrite{prefix + k, v});
  batch.push_back(KvWrite{"d8.deviceState.peer.zed", "{}"});  // another device: not ours
  ASSERT_TRUE(store->Write(batch, true).ok());
  std::unique_ptr<KvSnapshot> snap = store->GetSnapshot();

  MailboxReader committed(snap.get(), prefix);
  EXPECT_THAT(*committed.Peers(), ElementsAre("alice", "alice.b", "bob"));
  EXPECT_FALSE(*committed.HasHandler());
  auto alice = committed.ReadPeer("alice");
  ASSERT_TRUE(alice.ok() && alice->has_value()) << alice.status();
  EXPECT_THAT((*alice)->outbox, ElementsAre(Pair(2, "two"), Pair(10, "ten")));
  EXPECT_EQ((*alice)->ack, 4u);
  EXPECT_FALSE(committed.ReadPeer("carol")->has_value());

  // A pending block: message 2 removed, 10 replaced, 11 added, a new peer and the handler.
  MailboxReader::Overlay overlay;
  overlay[prefix + "out.alice|0000000000000002"] = std::nullopt;
  overlay[prefix + "out.alice|0000000000000010"] = std::string("TEN");
  overlay[prefix + "out.alice|0000000000000011"] = std::string("eleven");
  overlay[prefix + "peer.carol"] = std::string(R"({"ack":1,"inbound":0,"inboundAck":0})");
  overlay[prefix + "handler"] = std::string("o-10");
  MailboxReader pending(snap.get(), prefix, &overlay);
  EXPECT_THAT(*pending.Peers(), ElementsAre("alice", "alice.b", "bob", "carol"));
  EXPECT_TRUE(*pending.HasHandler());
  auto after = pending.ReadPeer("alice");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_THAT((*after)->outbox, ElementsAre(Pair(10, "TEN"), Pair(11, "eleven")));
  EXPECT_FALSE((*after)->SameOutbound(**alice));
  EXPECT_TRUE((*pending.ReadPeer("bob"))->SameOutbound(**committed.ReadPeer("bob")));

  // Malformed state is data loss, not a crash.
  overlay[prefix + "peer.bob"] = std::string("{\"ack\":-1}");
  EXPECT_EQ(pending.ReadPeer("bob").status().code(), absl::StatusCode::kDataLoss);
}

// Issue 12 item 10: the genesis limits are enforced at the vat's device call, deterministically
// and before anything is written; a replaced number is counted once.
TEST(MailboxDeviceTest, LimitsRefuseBigBodiesFullOutboxesAndTooManyPeers) {
  MailboxDevice d;
  RecordingContext ctx;
  d.SetLimits(&ctx, MailboxLimits{.max_body_bytes = 10,
                                  .max_outbox_messages = 3,
                                  .max_outbox_bytes = 3 * 16 + 12,
                                  .max_peers = 2});
  EXPECT_EQ(ctx.keyed["limits"],
            R"({"maxBodyBytes":10,"maxOutboxBytes":60,"maxOutboxMessages":3,"maxPeers":2})");
  ASSERT_TRUE(d.AddPeers(&ctx, {"alice"}).ok());
  SyscallResult big = Call(d, ctx, "add", R"(["alice",1,"12345678901"])");
  EXPECT_FALSE(big.ok);
  EXPECT_THAT(big.error, ::testing::HasSubstr("max_mailbox_body_bytes"));
  EXPECT_EQ(ctx.keyed.count("out.alice|0000000000000001"), 0u);
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",1,"1234567890"])").ok);
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",2,"ab"])").ok);
  // 26 + 18 = 44 bytes; a third body of 5 would make 65 > 60.
  SyscallResult full = Call(d, ctx, "add", R"(["alice",3,"abcde"])");
  EXPECT_FALSE(full.ok);
  EXPECT_THAT(full.error, ::testing::HasSubstr("max_outbox_bytes"));
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",3,""])").ok);
  // Replacing a number does not add a message.
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",2,"a"])").ok);
  SyscallResult many = Call(d, ctx, "add", R"(["alice",4,""])");
  EXPECT_FALSE(many.ok);
  EXPECT_THAT(many.error, ::testing::HasSubstr("max_outbox_messages"));
  EXPECT_EQ(ctx.keyed["peer.alice"],
            R"({"ack":0,"inbound":0,"inboundAck":0,"outBytes":59,"outCount":3})");
  // A removal frees its share.
  ASSERT_TRUE(Call(d, ctx, "remove", R"(["alice",1])").ok);
  ASSERT_TRUE(Call(d, ctx, "add", R"(["alice",4,"abcd"])").ok);
  EXPECT_EQ(ctx.keyed["peer.alice"],
            R"({"ack":0,"inbound":0,"inboundAck":0,"outBytes":53,"outCount":3})");
  // Peers: alice and one more.
  ASSERT_TRUE(Call(d, ctx, "addPeer", R"(["bob"])").ok);
  SyscallResult third = Call(d, ctx, "setAcknum", R"(["carol",1])");
  EXPECT_FALSE(third.ok);
  EXPECT_THAT(third.error, ::testing::HasSubstr("max_mailbox_peers"));
  EXPECT_FALSE(*d.IsKnownPeer(&ctx, "carol"));
  EXPECT_EQ(d.AddPeers(&ctx, {"dave"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ctx.keyed["peerCount"], "2");
}

// Issue 12 item 5: with the handler's vat gone nothing is sent and nothing marked delivered.
TEST(MailboxDeviceTest, InboundForATerminatedHandlerIsRefusedAndNotMarkedDelivered) {
  MailboxDevice d;
  RecordingContext ctx;
  ASSERT_TRUE(d.AddPeers(&ctx, {"alice"}).ok());
  ASSERT_TRUE(
      d.Invoke(&ctx, "d+0", "registerInboundHandler", CapData{R"(#["$0.Alleged: h"])", {"o-10"}})
          .ok);
  const std::string before = ctx.keyed["peer.alice"];
  ctx.dead_targets.insert("o-10");
  absl::Status s = d.DeliverInbound(&ctx, "alice", {{1, "a"}}, 3);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("terminated"));
  EXPECT_TRUE(ctx.sends.empty());
  EXPECT_EQ(ctx.keyed["peer.alice"], before);
}

}  // namespace
}  // namespace swingset
