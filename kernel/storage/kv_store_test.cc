#include <filesystem>

#include "gtest/gtest.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/storage/mem_kv_store.h"

namespace swingset {
namespace {

std::string Dump(const KvStore& s) {
  std::string out;
  auto it = s.NewIterator();
  for (it->Seek(""); it->Valid(); it->Next()) {
    out += std::string(it->key()) + "=" + std::string(it->value()) + ";";
  }
  return out;
}

void Exercise(KvStore* s) {
  ASSERT_TRUE(s->Write({{"b", "2"}, {"a", "1"}, {"c", "3"}}, true).ok());
  EXPECT_EQ(Dump(*s), "a=1;b=2;c=3;");
  auto snap = s->GetSnapshot();
  ASSERT_TRUE(s->Write({{"b", std::nullopt}, {"d", "4"}}, true).ok());
  EXPECT_EQ(Dump(*s), "a=1;c=3;d=4;");
  EXPECT_EQ(*snap->Get("b").value(), "2");
  EXPECT_FALSE(snap->Get("d").value().has_value());
  EXPECT_FALSE(s->Get("b").value().has_value());
  auto it = s->NewIterator();
  it->Seek("bb");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "c");
}

TEST(KvStoreTest, Memory) {
  auto s = NewMemKvStore();
  Exercise(s.get());
}

TEST(KvStoreTest, LevelDbReopensAndLocks) {
  std::string dir = ::testing::TempDir() + "/kvtest-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  {
    auto s = OpenLevelDbKvStore(dir);
    ASSERT_TRUE(s.ok()) << s.status();
    Exercise(s->get());
    auto second = OpenLevelDbKvStore(dir);
    EXPECT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  }
  auto s = OpenLevelDbKvStore(dir);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Dump(**s), "a=1;c=3;d=4;");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace swingset
