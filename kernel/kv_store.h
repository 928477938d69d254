// File: kv_store.h
//
// The kernel's only view of durable storage: an ordered string->string map with atomic batch
// writes, forward iteration and read snapshots (docs/DESIGN.md §1-§2). Implementations:
//   kernel/storage/mem_kv_store.h     NewMemKvStore(): in memory, for kernel unit tests
//   kernel/storage/leveldb_kv_store.h OpenLevelDbKvStore(): the real store
// Keys order byte-wise. A storage error is reported as absl::Status; the kernel treats it as fatal.
//
// Thread-safety: a KvStore may be read (Get, iterators, snapshots) from any thread while the
// kernel thread writes; Write is called from one thread at a time.

#ifndef SWINGSETD_KERNEL_KV_STORE_H_
#define SWINGSETD_KERNEL_KV_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace swingset {

// An ordered list of puts and deletes applied atomically by KvStore::Write.
struct KvWrite {
  std::string key;
  std::optional<std::string> value;  // nullopt = delete
};
using KvBatch = std::vector<KvWrite>;

// Forward iterator over a consistent view. Seek positions at the first key >= target.
class KvIterator {
 public:
  virtual ~KvIterator() = default;
  virtual void Seek(std::string_view target) = 0;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // The first error met while iterating, if any.
  virtual absl::Status status() const = 0;
};

// A read-only, immutable view of the store as of its creation.
class KvSnapshot {
 public:
  virtual ~KvSnapshot() = default;
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const = 0;
  virtual std::unique_ptr<KvIterator> NewIterator() const = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Returns nullopt when the key is absent.
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const = 0;
  // Iterates the current committed contents.
  virtual std::unique_ptr<KvIterator> NewIterator() const = 0;
  // Applies the batch atomically; with sync=true it is durable when this returns.
  virtual absl::Status Write(const KvBatch& batch, bool sync) = 0;
  virtual std::unique_ptr<KvSnapshot> GetSnapshot() const = 0;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_KV_STORE_H_
