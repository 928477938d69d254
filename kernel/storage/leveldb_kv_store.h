// File: leveldb_kv_store.h
//
// The durable KvStore on LevelDB: the only file that includes <leveldb/...>. One Write() is one
// leveldb::WriteBatch; snapshots wrap DB::GetSnapshot() and release it on destruction.
//
// Damage is refused, not repaired: the store is opened with LevelDB's paranoid checks (a
// write-ahead-log record or table that fails its checksum fails the open) and every read
// verifies block checksums. Opening fails with
//   kFailedPrecondition  the directory is not empty but holds no LevelDB store (no CURRENT
//                        file: a damaged store, or not a data dir at all);
//   kDataLoss            LevelDB found corruption (damaged log, table or manifest, missing files);
//   kUnavailable         another process holds the store's lock (the message says "locked"), or
//                        an I/O error.

#ifndef SWINGSETD_KERNEL_STORAGE_LEVELDB_KV_STORE_H_
#define SWINGSETD_KERNEL_STORAGE_LEVELDB_KV_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernel/kv_store.h"

namespace swingset {

struct LevelDbOptions {
  bool create_if_missing = true;
  size_t block_cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 32 << 20;
};

absl::StatusOr<std::unique_ptr<KvStore>> OpenLevelDbKvStore(const std::string& dir,
                                                            const LevelDbOptions& options = {});

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_STORAGE_LEVELDB_KV_STORE_H_
