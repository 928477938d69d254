// `swingsetd verify-state` (docs/DESIGN.md §5): after a long randomized run the full-scan
// recomputation agrees with the committed state hash; flipping one stored byte of a consensus value
// makes it disagree; non-consensus keys do not matter; a locked store is reported as such.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "kernel/ids.h"
#include "kernel/key_schema.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;

class VerifyStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("verify");
    data_ = dir_ + "/data";
  }
  void TearDown() override { RemoveDir(dir_); }

  // Rewrites `key` with `fn(value)` directly in the LevelDB store (server stopped).
  void Rewrite(const std::string& key, const std::function<void(std::string*)>& fn) {
    auto store = OpenLevelDbKvStore(data_, {.create_if_missing = false});
    ASSERT_TRUE(store.ok()) << store.status();
    auto v = (*store)->Get(key);
    ASSERT_TRUE(v.ok() && v->has_value()) << key;
    std::string value = **v;
    fn(&value);
    ASSERT_TRUE((*store)->Write({KvWrite{key, value}}, true).ok());
  }

  std::string dir_, data_;
};

TEST_F(VerifyStateTest, AgreesAfterLongRunAndDetectsAFlippedByte) {
  std::string final_hash;
  {
    auto server = ServerProcess::Start({.data_dir = data_});
    ASSERT_TRUE(server.ok()) << server.status();
    v1::InitResponse init;
    ASSERT_TRUE(InitWith((*server)->lifecycle(), ScriptedGenesis(5), &init).ok());
    for (int64_t h = 1; h <= 120; ++h) {
      BlockResult b =
          RunBlock((*server)->lifecycle(), RandomBlock(77, h, {.max_actions = 16, .inbound = true}));
      ASSERT_TRUE(b.status.ok()) << b.failed_call << ": " << b.status.error_message();
      final_hash = b.end.state_hash();
    }
    // While the server runs, the store is locked.
    CommandResult locked = RunSwingsetd({"verify-state", "--data-dir", data_});
    EXPECT_EQ(locked.exit_code, 4) << locked.output;
    EXPECT_THAT(locked.output, HasSubstr("locked"));
    ASSERT_EQ((*server)->Stop(), 0);
  }

  CommandResult ok = RunSwingsetd({"verify-state", "--data-dir", data_});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("OK height=120 state_hash=" + final_hash));

  // A consensus value: the counter vat's count in its vatstore. Flip one bit of one byte.
  const std::string key = keys::VatStoreKey(VatId(2), "count");
  Rewrite(key, [](std::string* v) { (*v)[0] ^= 0x01; });
  CommandResult bad = RunSwingsetd({"verify-state", "--data-dir", data_});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("MISMATCH"));

  // Flipping it back restores agreement.
  Rewrite(key, [](std::string* v) { (*v)[0] ^= 0x01; });
  EXPECT_EQ(RunSwingsetd({"verify-state", "--data-dir", data_}).exit_code, 0);

  // A c-list entry's flag is consensus too.
  Rewrite(keys::CListByKref(VatId(1), Kref::Object(21)), [](std::string* v) {
    (*v)[0] = (*v)[0] == 'R' ? '_' : 'R';
  });
  EXPECT_EQ(RunSwingsetd({"verify-state", "--data-dir", data_}).exit_code, 1);
}

TEST_F(VerifyStateTest, NonConsensusKeysDoNotCount) {
  {
    auto server = ServerProcess::Start({.data_dir = data_});
    ASSERT_TRUE(server.ok());
    v1::InitResponse init;
    ASSERT_TRUE(InitWith((*server)->lifecycle(), ScriptedGenesis(), &init).ok());
    for (int64_t h = 1; h <= 5; ++h) {
      ASSERT_TRUE(RunBlock((*server)->lifecycle(), RandomBlock(1, h)).status.ok());
    }
    ASSERT_EQ((*server)->Stop(), 0);
  }
  auto store = OpenLevelDbKvStore(data_, {.create_if_missing = false});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Write({KvWrite{"local.scratch", "x"}, KvWrite{"host.scratch", "y"}}, true).ok());
  store->reset();
  EXPECT_EQ(RunSwingsetd({"verify-state", "--data-dir", data_}).exit_code, 0);
}

TEST_F(VerifyStateTest, EmptyOrMissingStoreIsAnError) {
  CommandResult missing = RunSwingsetd({"verify-state", "--data-dir", dir_ + "/nothing"});
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  auto server = ServerProcess::Start({.data_dir = data_});
  ASSERT_TRUE(server.ok());
  ASSERT_EQ((*server)->Stop(), 0);
  CommandResult empty = RunSwingsetd({"verify-state", "--data-dir", data_});
  EXPECT_EQ(empty.exit_code, 2) << empty.output;
  EXPECT_THAT(empty.output, HasSubstr("no committed state"));
}

}  // namespace
}  // namespace testing
}  // namespace swingset
