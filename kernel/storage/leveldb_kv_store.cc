#include "kernel/storage/leveldb_kv_store.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "kernel/base.h"
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

// Every read checks the block checksums of what it reads from table files, so a damaged table
// is a kDataLoss error (and the kernel halts) rather than wrong data.
leveldb::ReadOptions Checked() {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  return ro;
}

// Files LevelDB itself may leave in a directory before a store exists there (the lock and its
// info logs): a directory holding nothing else counts as empty.
bool IsPreStoreFile(const std::string& name) {
  return name == "LOCK" || name == "LOG" || name == "LOG.old";
}

// A data dir that exists but has no CURRENT file is fine only if it is empty: otherwise LevelDB
// would create a fresh store among the files of a damaged one (or someone else's files), and the
// node would apply genesis again at height 0.
absl::Status CheckIsStoreOrEmpty(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return absl::OkStatus();
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(StrCat("data dir ", dir, " is not a directory"));
  }
  if (fs::exists(fs::path(dir) / "CURRENT", ec)) return absl::OkStatus();
  std::vector<std::string> others;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!IsPreStoreFile(name)) others.push_back(std::move(name));
  }
  if (ec) return absl::UnavailableError(StrCat("cannot list data dir ", dir, ": ", ec.message()));
  if (others.empty()) return absl::OkStatus();
  std::sort(others.begin(), others.end());
  std::string listed;
  for (size_t i = 0; i < others.size() && i < 5; ++i) {
    listed += StrCat(i == 0 ? "" : ", ", others[i]);
  }
  if (others.size() > 5) listed += StrCat(", ... (", others.size(), " entries)");
  bool looks_like_leveldb = false;
  for (const std::string& name : others) {
    std::string_view ext = name.size() > 4 ? std::string_view(name).substr(name.size() - 4) : "";
    if (name.rfind("MANIFEST-", 0) == 0 || ext == ".ldb" || ext == ".log" || ext == ".sst") {
      looks_like_leveldb = true;
    }
  }
  return absl::FailedPreconditionError(StrCat(
      "data dir ", dir, " is not empty but holds no LevelDB store (no CURRENT file",
      looks_like_leveldb ? "; it looks like a damaged store whose CURRENT file is gone" : "",
      "); found: ", listed));
}

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
    leveldb::ReadOptions ro = Checked();
    ro.snapshot = snap_;
    std::string value;
    leveldb::Status s = db_->Get(ro, leveldb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromLevelDb(s, "get");
    return std::optional<std::string>(std::move(value));
  }
  std::unique_ptr<KvIterator> NewIterator() const override {
    leveldb::ReadOptions ro = Checked();
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
        db_->Get(Checked(), leveldb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromLevelDb(s, "get");
    return std::optional<std::string>(std::move(value));
  }

  std::unique_ptr<KvIterator> NewIterator() const override {
    return std::make_unique<LevelDbIterator>(db_->NewIterator(Checked()));
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
  RETURN_IF_ERROR(CheckIsStoreOrEmpty(dir));
  std::error_code ec;
  if (options.create_if_missing) std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(StrCat("cannot create data dir ", dir, ": ", ec.message()));
  }
  std::unique_ptr<leveldb::Cache> cache(leveldb::NewLRUCache(options.block_cache_bytes));
  leveldb::Options lo;
  lo.create_if_missing = options.create_if_missing;
  // Refuse damage instead of skipping it: without this, LevelDB drops write-ahead-log records
  // that fail their checksum and replays the ones after them, which yields a state no block
  // ever committed. A torn record at the very end of the log (a crash in the middle of a write
  // that was never acknowledged) is still not an error.
  lo.paranoid_checks = true;
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
