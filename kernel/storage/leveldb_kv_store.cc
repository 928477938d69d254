#include "kernel/storage/leveldb_kv_store.h"

#include <filesystem>

#include "kernel/strings.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace swingset {
namespace {

absl::Status FromLevelDb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(StrCat(what, ": ", s.ToString()));
  if (s.IsIOError()) return absl::UnavailableError(StrCat(what, ": ", s.ToString()));
  if (s.IsCorruption()) return absl::DataLossError(StrCat(what, ": ", s.ToString()));
  return absl::InternalError(StrCat(what, ": ", s.ToString()));
}

std::string_view View(const leveldb::Slice& s) { return std::string_view(s.data(), s.size()); }

class LevelDbIterator : public KvIterator {
 public:
  explicit LevelDbIterator(leveldb::Iterator* it) : it_(it) {}
  void Seek(std::string_view target) override {
    it_->Seek(leveldb::Slice(target.data(), target.size()));
  }
  bool Valid() const override { return it_->Valid(); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return View(it_->key()); }
  std::string_view value() const override { return View(it_->value()); }
  absl::Status status() const override { return FromLevelDb(it_->status(), "iterate"); }

 private:
  std::unique_ptr<leveldb::Iterator> it_;
};

class LevelDbSnapshot : public KvSnapshot {
 public:
  LevelDbSnapshot(leveldb::DB* db) : db_(db), snap_(db->GetSnapshot()) {}
  ~LevelDbSnapshot() override { db_->ReleaseSnapshot(snap_); }

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    leveldb::ReadOptions ro;
    ro.snapshot = snap_;
    std::string value;
    leveldb::Status s = db_->Get(ro, leveldb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromLevelDb(s, "get");
    return std::optional<std::string>(std::move(value));
  }
  std::unique_ptr<KvIterator> NewIterator() const override {
    leveldb::ReadOptions ro;
    ro.snapshot = snap_;
    ro.fill_cache = false;
    return std::make_unique<LevelDbIterator>(db_->NewIterator(ro));
  }

 private:
  leveldb::DB* db_;
  const leveldb::Snapshot* snap_;
};

class LevelDbKvStore : public KvStore {
 public:
  LevelDbKvStore(std::unique_ptr<leveldb::DB> db, std::unique_ptr<leveldb::Cache> cache)
      : cache_(std::move(cache)), db_(std::move(db)) {}

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    std::string value;
    leveldb::Status s =
        db_->Get(leveldb::ReadOptions(), leveldb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromLevelDb(s, "get");
    return std::optional<std::string>(std::move(value));
  }

  std::unique_ptr<KvIterator> NewIterator() const override {
    return std::make_unique<LevelDbIterator>(db_->NewIterator(leveldb::ReadOptions()));
  }

  absl::Status Write(const KvBatch& batch, bool sync) override {
    leveldb::WriteBatch wb;
    for (const KvWrite& w : batch) {
      leveldb::Slice k(w.key.data(), w.key.size());
      if (w.value) {
        wb.Put(k, leveldb::Slice(w.value->data(), w.value->size()));
      } else {
        wb.Delete(k);
      }
    }
    leveldb::WriteOptions wo;
    wo.sync = sync;
    return FromLevelDb(db_->Write(wo, &wb), "write batch");
  }

  std::unique_ptr<KvSnapshot> GetSnapshot() const override {
    return std::make_unique<LevelDbSnapshot>(db_.get());
  }

 private:
  std::unique_ptr<leveldb::Cache> cache_;  // must outlive db_
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> OpenLevelDbKvStore(const std::string& dir,
                                                            const LevelDbOptions& options) {
  std::error_code ec;
  if (options.create_if_missing) std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(StrCat("cannot create data dir ", dir, ": ", ec.message()));
  }
  std::unique_ptr<leveldb::Cache> cache(leveldb::NewLRUCache(options.block_cache_bytes));
  leveldb::Options lo;
  lo.create_if_missing = options.create_if_missing;
  lo.block_cache = cache.get();
  lo.write_buffer_size = options.write_buffer_bytes;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(lo, dir, &raw);
  if (!s.ok()) {
    std::string msg = s.ToString();
    if (msg.find("lock") != std::string::npos) {
      return absl::UnavailableError(StrCat(
          "cannot open store ", dir, ": it is locked (is another swingsetd running?): ", msg));
    }
    return FromLevelDb(s, StrCat("cannot open store ", dir));
  }
  return std::unique_ptr<KvStore>(
      new LevelDbKvStore(std::unique_ptr<leveldb::DB>(raw), std::move(cache)));
}

}  // namespace swingset
