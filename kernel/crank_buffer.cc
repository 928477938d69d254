#include "kernel/crank_buffer.h"

#include "kernel/base.h"
#include "kernel/strings.h"

namespace swingset {

std::optional<std::string> CrankBuffer::ReadStore(std::string_view key) {
  std::string k(key);
  auto it = cache_.find(k);
  if (it != cache_.end()) return it->second;
  auto v = store_->Get(key);
  CHECK(v.ok()) << "storage read failed for key '" << k << "': " << v.status().ToString();
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::move(k), *v);
  return *std::move(v);
}

std::optional<std::string> CrankBuffer::Get(std::string_view key) {
  auto c = crank_.find(key);
  if (c != crank_.end()) return c->second;
  auto b = block_.find(key);
  if (b != block_.end()) return b->second;
  return ReadStore(key);
}

void CrankBuffer::Set(std::string_view key, std::string_view value) {
  auto it = crank_.find(key);
  if (it == crank_.end()) {
    undo_.push_back(Undo{std::string(key), false, std::nullopt});
    crank_.emplace(std::string(key), std::string(value));
  } else {
    undo_.push_back(Undo{std::string(key), true, std::move(it->second)});
    it->second = std::string(value);
  }
}

void CrankBuffer::Delete(std::string_view key) {
  auto it = crank_.find(key);
  if (it == crank_.end()) {
    undo_.push_back(Undo{std::string(key), false, std::nullopt});
    crank_.emplace(std::string(key), std::nullopt);
  } else {
    undo_.push_back(Undo{std::string(key), true, std::move(it->second)});
    it->second = std::nullopt;
  }
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

void CrankBuffer::FinishCrank(std::vector<KvWrite>* writes) {
  for (auto& [k, v] : crank_) {
    if (writes) writes->push_back(KvWrite{k, v});
    block_.insert_or_assign(k, std::move(v));
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
  if (cursor < prefix) {
    // Start just before the prefix: any key >= prefix is a candidate, but the prefix itself
    // must be considered, so seek from the prefix inclusively below.
  }
  std::unique_ptr<KvIterator> it = store_->NewIterator();
  bool inclusive = cursor < prefix;
  if (inclusive) cursor = std::string(prefix);
  while (true) {
    // Candidate from each layer: first key > cursor (or >= when inclusive).
    const std::string* best = nullptr;
    auto c = inclusive ? crank_.lower_bound(cursor) : crank_.upper_bound(cursor);
    auto b = inclusive ? block_.lower_bound(cursor) : block_.upper_bound(cursor);
    it->Seek(cursor);
    if (!inclusive && it->Valid() && it->key() == cursor) it->Next();
    CHECK(it->status().ok()) << "storage iteration failed: " << it->status().ToString();
    std::string store_key;
    bool store_valid = it->Valid();
    if (store_valid) store_key = std::string(it->key());
    if (c != crank_.end()) best = &c->first;
    if (b != block_.end() && (!best || b->first < *best)) best = &b->first;
    if (store_valid && (!best || store_key < *best)) best = &store_key;
    if (!best) return std::nullopt;
    std::string key = *best;
    if (std::string_view(key).substr(0, prefix.size()) != prefix) return std::nullopt;
    std::optional<std::string> value;
    if (c != crank_.end() && c->first == key) {
      value = c->second;
    } else if (b != block_.end() && b->first == key) {
      value = b->second;
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
  // Merge the three layers in one pass.
  std::unique_ptr<KvIterator> it = store_->NewIterator();
  it->Seek(prefix);
  auto c = crank_.lower_bound(prefix);
  auto b = block_.lower_bound(prefix);
  auto in_prefix = [&](std::string_view k) { return k.substr(0, prefix.size()) == prefix; };
  while (true) {
    CHECK(it->status().ok()) << "storage iteration failed: " << it->status().ToString();
    bool sv = it->Valid() && in_prefix(it->key());
    bool cv = c != crank_.end() && in_prefix(c->first);
    bool bv = b != block_.end() && in_prefix(b->first);
    if (!sv && !cv && !bv) break;
    std::string_view key;
    if (cv) key = c->first;
    if (bv && (key.empty() || b->first < key)) key = b->first;
    if (sv && (key.empty() || it->key() < key)) key = it->key();
    std::string k(key);
    std::optional<std::string> value;
    bool decided = false;
    if (cv && c->first == k) {
      value = c->second;
      decided = true;
      ++c;
    }
    if (bv && b->first == k) {
      if (!decided) value = b->second;
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
  for (const auto& [k, v] : block_) fn(k, v);
}

KvBatch CrankBuffer::BlockBatch() const {
  KvBatch batch;
  batch.reserve(block_.size());
  for (const auto& [k, v] : block_) batch.push_back(KvWrite{k, v});
  return batch;
}

void CrankBuffer::BlockCommitted() {
  CHECK(crank_.empty()) << "commit with a crank in progress";
  if (cache_.size() + block_.size() >= kMaxCacheEntries) cache_.clear();
  for (auto& [k, v] : block_) cache_.insert_or_assign(k, std::move(v));
  block_.clear();
}

void CrankBuffer::AbortBlock() {
  crank_.clear();
  undo_.clear();
  block_.clear();
  cache_.clear();
}

}  // namespace swingset
