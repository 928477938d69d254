#include "kernel/storage/fault_kv_store.h"

#include <gtest/gtest.h>

#include "kernel/storage/mem_kv_store.h"

namespace swingset {
namespace {

std::unique_ptr<FaultKvStore> Store(const char* spec) {
  auto faults = StoreFaults::Parse(spec);
  EXPECT_TRUE(faults.ok()) << faults.status();
  auto store = NewFaultKvStore(NewMemKvStore(), *faults);
  EXPECT_TRUE(store->Write({{"a", "1"}, {"b", "2"}, {"c", "3"}}, true).ok());
  return store;
}

TEST(FaultKvStoreTest, ParsesSpecsAndRefusesBadOnes) {
  auto f = StoreFaults::Parse("get:7,write:2,iterate:30,sticky");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->get, 7u);
  EXPECT_EQ(f->write, 2u);
  EXPECT_EQ(f->iterate, 30u);
  EXPECT_TRUE(f->sticky);
  for (const char* bad : {"", "get", "get:", "get:0", "get:x", "read:3", "get:3,", "sticky,put:1",
                          "get:1234567890123456789"}) {
    EXPECT_FALSE(StoreFaults::Parse(bad).ok()) << bad;
  }
}

TEST(FaultKvStoreTest, FailsOnlyTheChosenCallAfterArm) {
  auto store = Store("get:2");
  // Before Arm nothing is counted.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(store->Get("a").ok());
  store->Arm();
  EXPECT_TRUE(store->Get("a").ok());
  auto second = store->Get("a");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("injected storage fault: get #2"), std::string::npos);
  EXPECT_EQ(**store->Get("b"), "2");  // not sticky: later calls work
  EXPECT_EQ(store->injected(), 1u);
}

TEST(FaultKvStoreTest, StickyFailsEveryLaterCall) {
  auto store = Store("write:1,sticky");
  store->Arm();
  EXPECT_FALSE(store->Write({{"d", "4"}}, true).ok());
  EXPECT_FALSE(store->Write({{"e", "5"}}, true).ok());
  // A failed write changes nothing.
  EXPECT_FALSE(store->Get("d")->has_value());
  EXPECT_FALSE(store->Get("e")->has_value());
  EXPECT_EQ(store->injected(), 2u);
}

TEST(FaultKvStoreTest, SnapshotsAndIteratorsFailToo) {
  auto store = Store("get:1,iterate:3");
  store->Arm();
  auto snap = store->GetSnapshot();
  EXPECT_FALSE(snap->Get("a").ok());
  auto it = snap->NewIterator();
  it->Seek("");  // step 1
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "a");
  it->Next();  // step 2
  ASSERT_TRUE(it->Valid());
  it->Next();  // step 3: fails
  EXPECT_FALSE(it->Valid());
  EXPECT_EQ(it->status().code(), absl::StatusCode::kUnavailable);
  it->Next();  // stays failed
  EXPECT_FALSE(it->Valid());
  EXPECT_FALSE(it->status().ok());
}

}  // namespace
}  // namespace swingset
