#include "kernel/crank_buffer.h"

#include <algorithm>

#include "kernel/base.h"
#include "kernel/strings.h"

namespace swingset {

namespace {
bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
}  // namespace

std::optional<std::string> CrankBuffer::ReadStore(std::string_view key) {
  auto it = view_.find(ToAbsl(key));
  if (it != view_.end()) return it->second;
  auto v = store_->Get(key);
  CHECK(v.ok()) << "storage read failed for key '" << std::string(key)
                << "': " << v.status().ToString();
  view_.emplace(std::string(key), *v);
  return *std::move(v);
}

std::optional<std::string> CrankBuffer::Get(std::string_view key) {
  if (!crank_.empty()) {
    auto c = crank_.find(ToAbsl(key));
    if (c != crank_.end()) return c->second;
  }
  return ReadStore(key);
}

void CrankBuffer::Set(std::string_view key, std::string_view value) {
  auto it = crank_.find(ToAbsl(key));
  if (it == crank_.end()) {
    undo_.push_back(Undo{std::string(key), false, std::nullopt});
    crank_.emplace(std::string(key), std::string(value));
  } else {
    undo_.push_back(Undo{std::string(key), true, std::move(it->second)});
    it->second = std::string(value);
  }
}

void CrankBuffer::Delete(std::string_view key) {
  auto it = crank_.find(ToAbsl(key));
  if (it == crank_.end()) {
    undo_.push_back(Undo{std::string(key), false, std::nullopt});
    crank_.emplace(std::string(key), std::nullopt);
  } else {
    undo_.push_back(Undo{std::string(key), true, std::move(it->second)});
    it->second = std::nullopt;
  }
}

const std::optional<std::string>& CrankBuffer::BlockValue(std::string_view key) const {
  auto it = view_.find(ToAbsl(key));
  CHECK(it != view_.end()) << "block key " << std::string(key) << " missing from the view";
  return it->second;
}

void CrankBuffer::RollbackTo(size_t mark) {
  CHECK(mark <= undo_.size()) << "bad savepoint";
  while (undo_.size() > mark) {
    Undo& u = undo_.back();
    if (u.existed) {
      crank_[u.key] = std::move(u.before);
    } else {
      crank_.erase(u.key);
    }
    undo_.pop_back();
  }
}

const std::vector<const std::string*>& CrankBuffer::BlockKeys() const {
  if (!block_sorted_valid_) {
    block_sorted_.clear();
    block_sorted_.reserve(block_.size());
    for (const std::string& k : block_) block_sorted_.push_back(&k);
    std::sort(block_sorted_.begin(), block_sorted_.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    block_sorted_valid_ = true;
  }
  return block_sorted_;
}

std::vector<CrankBuffer::CrankEntry> CrankBuffer::SortedCrank(std::string_view prefix) const {
  std::vector<CrankEntry> out;
  for (const auto& [k, v] : crank_) {
    if (HasPrefix(k, prefix)) out.emplace_back(&k, &v);
  }
  std::sort(out.begin(), out.end(),
            [](const CrankEntry& a, const CrankEntry& b) { return *a.first < *b.first; });
  return out;
}

void CrankBuffer::FinishCrank(std::vector<KvWrite>* writes) {
  if (writes) {
    for (const auto& [k, v] : SortedCrank("")) writes->push_back(KvWrite{*k, *v});
  }
  for (auto& [k, v] : crank_) {
    if (block_.insert(k).second) {
      block_sorted_valid_ = false;
      // Not yet written in this block, so a view entry is a read of the committed store.
      auto seen = view_.find(k);
      if (seen != view_.end()) {
        block_base_.emplace(k, std::move(seen->second));
        seen->second = std::move(v);
        continue;
      }
    }
    view_.insert_or_assign(k, std::move(v));
  }
  crank_.clear();
  undo_.clear();
}

void CrankBuffer::DiscardCrank() {
  crank_.clear();
  undo_.clear();
}

std::optional<std::pair<std::string, std::string>> CrankBuffer::NextAfter(
    std::string_view after, std::string_view prefix) {
  std::string cursor(after);
  // A cursor before the prefix starts at the prefix itself, inclusively.
  bool inclusive = cursor < prefix;
  if (inclusive) cursor = std::string(prefix);
  std::vector<CrankEntry> crank = SortedCrank(prefix);
  std::unique_ptr<KvIterator> it = store_->NewIterator();
  while (true) {
    auto c = std::lower_bound(crank.begin(), crank.end(), cursor,
                              [](const CrankEntry& e, const std::string& k) { return *e.first < k; });
    if (!inclusive && c != crank.end() && *c->first == cursor) ++c;
    const auto& bk = BlockKeys();
    auto by_key = [](const std::string* e, const std::string& k) { return *e < k; };
    auto b = std::lower_bound(bk.begin(), bk.end(), cursor, by_key);
    if (!inclusive && b != bk.end() && **b == cursor) ++b;
    it->Seek(cursor);
    if (!inclusive && it->Valid() && it->key() == cursor) it->Next();
    CHECK(it->status().ok()) << "storage iteration failed: " << it->status().ToString();
    std::string store_key;
    bool store_valid = it->Valid();
    if (store_valid) store_key = std::string(it->key());
    const std::string* best = nullptr;
    if (c != crank.end()) best = c->first;
    if (b != bk.end() && (!best || **b < *best)) best = *b;
    if (store_valid && (!best || store_key < *best)) best = &store_key;
    if (!best) return std::nullopt;
    std::string key = *best;
    if (!HasPrefix(key, prefix)) return std::nullopt;
    std::optional<std::string> value;
    if (c != crank.end() && *c->first == key) {
      value = *c->second;
    } else if (b != bk.end() && **b == key) {
      value = BlockValue(key);
    } else {
      value = std::string(it->value());
    }
    if (value) return std::make_pair(std::move(key), *std::move(value));
    cursor = std::move(key);
    inclusive = false;
  }
}

std::vector<std::pair<std::string, std::string>> CrankBuffer::ScanPrefix(std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<CrankEntry> crank = SortedCrank(prefix);
  auto c = crank.begin();
  std::unique_ptr<KvIterator> it = store_->NewIterator();
  it->Seek(prefix);
  const auto& bk = BlockKeys();
  auto b = std::lower_bound(bk.begin(), bk.end(), prefix,
                            [](const std::string* e, std::string_view k) { return *e < k; });
  while (true) {
    CHECK(it->status().ok()) << "storage iteration failed: " << it->status().ToString();
    bool sv = it->Valid() && HasPrefix(it->key(), prefix);
    bool cv = c != crank.end();
    bool bv = b != bk.end() && HasPrefix(**b, prefix);
    if (!sv && !cv && !bv) break;
    std::string_view key;
    if (cv) key = *c->first;
    if (bv && (key.empty() || **b < key)) key = **b;
    if (sv && (key.empty() || it->key() < key)) key = it->key();
    std::string k(key);
    std::optional<std::string> value;
    bool decided = false;
    if (cv && *c->first == k) {
      value = *c->second;
      decided = true;
      ++c;
    }
    if (bv && **b == k) {
      if (!decided) value = BlockValue(k);
      decided = true;
      ++b;
    }
    if (sv && it->key() == k) {
      if (!decided) value = std::string(it->value());
      it->Next();
    }
    if (value) out.emplace_back(std::move(k), *std::move(value));
  }
  return out;
}

void CrankBuffer::VisitBlock(
    const std::function<void(std::string_view, const std::optional<std::string>&)>& fn) const {
  for (const std::string* k : BlockKeys()) fn(*k, BlockValue(*k));
}

void CrankBuffer::VisitBlockWithBase(
    const std::function<void(std::string_view, const std::optional<std::string>&,
                             const std::optional<std::string>*)>& fn) const {
  for (const std::string* k : BlockKeys()) {
    auto base = block_base_.find(*k);
    fn(*k, BlockValue(*k), base == block_base_.end() ? nullptr : &base->second);
  }
}

KvBatch CrankBuffer::BlockBatch() const {
  KvBatch batch;
  batch.reserve(block_.size());
  for (const std::string* k : BlockKeys()) batch.push_back(KvWrite{*k, BlockValue(*k)});
  return batch;
}

void CrankBuffer::BlockCommitted() {
  CHECK(crank_.empty()) << "commit with a crank in progress";
  block_.clear();
  block_base_.clear();
  block_sorted_.clear();
  block_sorted_valid_ = true;
  if (view_.size() >= kMaxCacheEntries) view_.clear();
}

void CrankBuffer::AbortBlock() {
  crank_.clear();
  undo_.clear();
  block_.clear();
  block_base_.clear();
  block_sorted_.clear();
  block_sorted_valid_ = true;
  view_.clear();
}

}  // namespace swingset
