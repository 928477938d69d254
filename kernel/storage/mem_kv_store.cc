#include "kernel/storage/mem_kv_store.h"

#include <mutex>

#include "absl/container/btree_map.h"

namespace swingset {
namespace {

// A B-tree: keys of neighbouring ids share nodes, so a block's writes (sorted, and clustered
// by prefix) touch few cache lines, where a red-black tree costs a miss per level.
using Map = absl::btree_map<std::string, std::string, std::less<>>;

class MapIterator : public KvIterator {
 public:
  explicit MapIterator(std::shared_ptr<const Map> map) : map_(std::move(map)), it_(map_->end()) {}
  void Seek(std::string_view target) override { it_ = map_->lower_bound(target); }
  bool Valid() const override { return it_ != map_->end(); }
  void Next() override { ++it_; }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::shared_ptr<const Map> map_;
  Map::const_iterator it_;
};

class MapSnapshot : public KvSnapshot {
 public:
  explicit MapSnapshot(std::shared_ptr<const Map> map) : map_(std::move(map)) {}
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    auto it = map_->find(key);
    if (it == map_->end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  std::unique_ptr<KvIterator> NewIterator() const override {
    return std::make_unique<MapIterator>(map_);
  }

 private:
  std::shared_ptr<const Map> map_;
};

// Copy-on-write: readers hold a shared_ptr to an immutable map; Write swaps in a new one when
// a reader still holds the old one.
class MemKvStore : public KvStore {
 public:
  MemKvStore() : map_(std::make_shared<Map>()) {}

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_->find(key);
    if (it == map_->end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  std::unique_ptr<KvIterator> NewIterator() const override {
    return std::make_unique<MapIterator>(Current());
  }

  absl::Status Write(const KvBatch& batch, bool /*sync*/) override {
    std::lock_guard<std::mutex> l(mu_);
    if (map_.use_count() > 1) map_ = std::make_shared<Map>(*map_);
    Map& m = *map_;
    // Batches usually come sorted by key (the crank buffer's block order): then each write's
    // position is found by stepping from the previous one when it is near, instead of a search
    // from the root. Any order is still correct: the walk falls back to a search.
    auto it = m.end();
    const std::string* prev = nullptr;
    for (const KvWrite& w : batch) {
      if (prev && *prev < w.key && it != m.end()) {
        int steps = 0;
        while (it != m.end() && it->first < w.key && ++steps <= 4) ++it;
        if (it != m.end() && it->first < w.key) it = m.lower_bound(w.key);
      } else {
        it = m.lower_bound(w.key);
      }
      const bool found = it != m.end() && it->first == w.key;
      if (w.value) {
        if (found) {
          it->second = *w.value;
        } else {
          it = m.emplace_hint(it, w.key, *w.value);
        }
      } else if (found) {
        it = m.erase(it);
      }
      prev = &w.key;
    }
    return absl::OkStatus();
  }

  std::unique_ptr<KvSnapshot> GetSnapshot() const override {
    return std::make_unique<MapSnapshot>(Current());
  }

 private:
  std::shared_ptr<const Map> Current() const {
    std::lock_guard<std::mutex> l(mu_);
    return map_;
  }

  mutable std::mutex mu_;
  std::shared_ptr<Map> map_;
};

}  // namespace

std::unique_ptr<KvStore> NewMemKvStore() { return std::make_unique<MemKvStore>(); }

}  // namespace swingset
