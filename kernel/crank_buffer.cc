#include "kernel/crank_buffer.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernel/base.h"
#include "kernel/strings.h"

namespace swingset {

namespace {
bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
}  // namespace

CrankBuffer::Node* CrankBuffer::NodeFor(std::string_view key) {
  return entries_.FindOrInsert(key, Index::HashOf(key));
}


CrankBuffer::Node* CrankBuffer::NodeFor(KeyHandle& key) {
  if (key.epoch_ != epoch_) {
    key.node_ = NodeFor(key.key_);
    key.epoch_ = epoch_;
  }
  return key.node_;
}

const std::string* CrankBuffer::Lookup(Node* n) {
  Entry& e = n->second;
  if (e.in_crank) return e.has_crank ? &e.crank : nullptr;
  if (!e.known) {
    auto v = store_->Get(n->key());
    SWINGSET_CHECK_STORAGE(v.ok())
        << "storage read failed for key '" << n->key() << "': " << v.status().ToString();
    e.has_value = v->has_value();
    e.value = e.has_value ? **std::move(v) : std::string();
    e.known = true;
  }
  return e.has_value ? &e.value : nullptr;
}

const std::string* CrankBuffer::Find(std::string_view key) { return Lookup(NodeFor(key)); }

const std::string* CrankBuffer::Find(KeyHandle& key) { return Lookup(NodeFor(key)); }

void CrankBuffer::Set(KeyHandle& key, std::string_view value) { Write(NodeFor(key), value); }

std::optional<std::string> CrankBuffer::Get(std::string_view key) {
  const std::string* v = Lookup(NodeFor(key));
  if (!v) return std::nullopt;
  return *v;
}

void CrankBuffer::Write(Node* n, std::optional<std::string_view> value) {
  Entry& e = n->second;
  if (e.in_crank) {
    undo_.push_back(Undo{n, true, e.has_crank ? std::optional<std::string>(std::move(e.crank))
                                              : std::nullopt});
  } else {
    undo_.push_back(Undo{n, false, std::nullopt});
    crank_keys_.push_back(n);
    crank_sorted_ = false;
    e.in_crank = true;
  }
  e.has_crank = value.has_value();
  if (value) {
    e.crank.assign(*value);
  } else {
    e.crank = std::string();
  }
}

void CrankBuffer::Set(std::string_view key, std::string_view value) {
  Write(NodeFor(key), value);
}

void CrankBuffer::Delete(std::string_view key) { Write(NodeFor(key), std::nullopt); }

void CrankBuffer::MarkAbsent(Node* n) {
  Entry& e = n->second;
  if (e.known || e.in_block || e.in_crank) return;
#ifndef NDEBUG
  auto v = store_->Get(n->key());
  SWINGSET_CHECK_STORAGE(v.ok()) << "storage read failed for key '" << n->key()
                                 << "': " << v.status().ToString();
  SWINGSET_CHECK(!v->has_value()) << "AssumeAbsent of stored key '" << n->key() << "'";
#endif
  e.known = true;
  e.has_value = false;
  e.value = std::string();
}

void CrankBuffer::AssumeAbsent(std::string_view key) { MarkAbsent(NodeFor(key)); }

void CrankBuffer::Create(std::string_view key, std::string_view value) {
  Create(Ref(key), value);
}

void CrankBuffer::RollbackTo(size_t mark) {
  SWINGSET_CHECK(mark <= undo_.size()) << "bad savepoint";
  while (undo_.size() > mark) {
    Undo& u = undo_.back();
    Entry& e = u.node->second;
    if (u.existed) {
      e.has_crank = u.before.has_value();
      e.crank = u.before ? *std::move(u.before) : std::string();
    } else {
      // Undo entries without a prior crank value pair up, in LIFO order, with crank_keys_.
      SWINGSET_CHECK(!crank_keys_.empty() && crank_keys_.back() == u.node)
          << "undo log out of order";
      crank_keys_.pop_back();
      crank_sorted_ = false;
      e.in_crank = false;
      e.has_crank = false;
      e.crank = std::string();
    }
    undo_.pop_back();
  }
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "WithWords byte-swaps little-endian words");

CrankBuffer::SortedNode CrankBuffer::WithWords(Node* n) {
  static_assert(Node::kPrefixBytes == 16);
  const char* p = n->KeyPrefix();
  uint64_t hi, lo;
  std::memcpy(&hi, p, 8);
  std::memcpy(&lo, p + 8, 8);
  return SortedNode{__builtin_bswap64(hi), __builtin_bswap64(lo), n};
}

const std::vector<CrankBuffer::SortedNode>& CrankBuffer::BlockKeys() const {
  if (block_sorted_count_ < block_keys_.size()) {
    // First the new runs drop their keys that are absent both before the block and now
    // (created and deleted within it: in a busy block most of them), which no reader of the
    // block needs; then a bottom-up merge of the runs: the sorted prefix, then each crank's.
    std::vector<size_t> bounds{0};
    size_t out = block_sorted_count_;
    size_t run = 0;
    for (size_t i = block_sorted_count_; i < block_keys_.size(); ++i) {
      while (run < block_runs_.size() && block_runs_[run] <= i) {
        if (out != bounds.back()) bounds.push_back(out);
        ++run;
      }
      Node* n = block_keys_[i].n;
      Entry& e = n->second;
      if (IsNoOp(e)) {
        e.block_dead = true;
        block_dead_.push_back(n);
        continue;
      }
      block_keys_[out++] = block_keys_[i];
    }
    block_keys_.resize(out);
    if (out != bounds.back()) bounds.push_back(out);
    auto at = [&](size_t i) { return block_keys_.begin() + i; };
    while (bounds.size() > 2) {
      std::vector<size_t> next;
      size_t k = 0;
      for (; k + 2 < bounds.size(); k += 2) {
        std::inplace_merge(at(bounds[k]), at(bounds[k + 1]), at(bounds[k + 2]), NodeLess());
        next.push_back(bounds[k]);
      }
      if (k + 1 < bounds.size()) next.push_back(bounds[k]);  // an odd run waits a round
      next.push_back(bounds.back());
      bounds = std::move(next);
    }
    block_runs_.clear();
    block_sorted_count_ = block_keys_.size();
  }
  return block_keys_;
}

std::vector<CrankBuffer::Node*> CrankBuffer::SortedCrank(std::string_view prefix) const {
  std::vector<Node*> out;
  for (Node* n : crank_keys_) {
    if (HasPrefix(n->key(), prefix)) out.push_back(n);
  }
  std::sort(out.begin(), out.end(), [](const Node* a, const Node* b) { return a->key() < b->key(); });
  return out;
}

const std::vector<CrankBuffer::SortedNode>& CrankBuffer::SortedCrankKeys() {
  if (!crank_sorted_) {
    // A copy: crank_keys_ must stay in first-write order for RollbackTo.
    sorted_crank_.clear();
    sorted_crank_.reserve(crank_keys_.size());
    for (size_t i = 0; i < crank_keys_.size(); ++i) {
      PrefetchNodes(crank_keys_.data(), i, crank_keys_.size());
      sorted_crank_.push_back(WithWords(crank_keys_[i]));
    }
    // A large crank's keys come in interleaved ascending runs (per object: its c-list entries,
    // counts, ...), a pattern on which std::sort's pivots degrade (it fell back to heap sort
    // in GC cranks); merge sort takes runs in its stride. Small sorts stay in place.
    if (sorted_crank_.size() < 64) {
      std::sort(sorted_crank_.begin(), sorted_crank_.end(), NodeLess());
    } else {
      std::stable_sort(sorted_crank_.begin(), sorted_crank_.end(), NodeLess());
    }
    crank_sorted_ = true;
  }
  return sorted_crank_;
}

void CrankBuffer::VisitCrank(
    const std::function<void(std::string_view, const std::optional<std::string>&)>& fn) {
  ForEachCrankWrite([&](std::string_view k, const std::string* v) {
    fn(k, v ? std::optional<std::string>(*v) : std::nullopt);
  });
}

void CrankBuffer::FinishCrank(std::vector<KvWrite>* writes) {
  if (writes) {
    ForEachCrankWrite([&](std::string_view k, const std::string* v) {
      writes->push_back(KvWrite{std::string(k), v ? std::optional<std::string>(*v) : std::nullopt});
    });
  }
  // In key order, so the block layer grows by one sorted run per crank.
  const std::vector<SortedNode>& nodes = SortedCrankKeys();
  const size_t run_start = block_keys_.size();
  for (size_t i = 0; i < nodes.size(); ++i) {
    PrefetchNodes(nodes.data(), i, nodes.size());
    Node* n = nodes[i].n;
    Entry& e = n->second;
    if (e.block_dead) {  // back in the block layer (its base stays as recorded)
      e.block_dead = false;
      if (block_keys_.size() == run_start) block_runs_.push_back(run_start);
      block_keys_.push_back(nodes[i]);
    } else if (!e.in_block) {
      e.in_block = true;
      if (block_keys_.size() == run_start) block_runs_.push_back(run_start);
      block_keys_.push_back(nodes[i]);
      // Not yet written in this block, so a known value is a read of the committed store.
      if (e.known) {
        e.has_base = true;
        e.base_present = e.has_value;
        if (e.has_value) {
          e.base_index = static_cast<uint32_t>(bases_.size());
          bases_.push_back(std::move(e.value));
        }
      }
    }
    e.has_value = e.has_crank;
    e.value = std::move(e.crank);
    e.crank = std::string();
    e.has_crank = false;
    e.known = true;
    e.in_crank = false;
  }
  crank_keys_.clear();
  crank_sorted_ = false;
  undo_.clear();
}

void CrankBuffer::DiscardCrank() {
  for (Node* n : crank_keys_) {
    n->second.in_crank = false;
    n->second.has_crank = false;
    n->second.crank = std::string();
  }
  crank_keys_.clear();
  crank_sorted_ = false;
  undo_.clear();
}

std::optional<std::pair<std::string, std::string>> CrankBuffer::NextAfter(
    std::string_view after, std::string_view prefix) {
  std::string cursor(after);
  // A cursor before the prefix starts at the prefix itself, inclusively.
  bool inclusive = cursor < prefix;
  if (inclusive) cursor = std::string(prefix);
  std::vector<Node*> crank = SortedCrank(prefix);
  std::unique_ptr<KvIterator> it = store_->NewIterator();
  auto by_key = [](const Node* e, const std::string& k) { return e->key() < k; };
  auto block_by_key = [](const SortedNode& e, const std::string& k) { return e.n->key() < k; };
  while (true) {
    auto c = std::lower_bound(crank.begin(), crank.end(), cursor, by_key);
    if (!inclusive && c != crank.end() && (*c)->key() == cursor) ++c;
    const auto& bk = BlockKeys();
    auto b = std::lower_bound(bk.begin(), bk.end(), cursor, block_by_key);
    if (!inclusive && b != bk.end() && b->n->key() == cursor) ++b;
    it->Seek(cursor);
    if (!inclusive && it->Valid() && it->key() == cursor) it->Next();
    SWINGSET_CHECK_STORAGE(it->status().ok())
        << "storage iteration failed: " << it->status().ToString();
    std::string store_key;
    bool store_valid = it->Valid();
    if (store_valid) store_key = std::string(it->key());
    std::optional<std::string_view> best;
    if (c != crank.end()) best = (*c)->key();
    if (b != bk.end() && (!best || b->n->key() < *best)) best = b->n->key();
    if (store_valid && (!best || store_key < *best)) best = store_key;
    if (!best) return std::nullopt;
    std::string key(*best);
    if (!HasPrefix(key, prefix)) return std::nullopt;
    std::optional<std::string> value;
    if (c != crank.end() && (*c)->key() == key) {
      value = CrankValue((*c)->second);
    } else if (b != bk.end() && b->n->key() == key) {
      value = BelowValue(b->n->second);
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
  std::vector<Node*> crank = SortedCrank(prefix);
  auto c = crank.begin();
  std::unique_ptr<KvIterator> it = store_->NewIterator();
  it->Seek(prefix);
  const auto& bk = BlockKeys();
  auto b = std::lower_bound(bk.begin(), bk.end(), prefix,
                            [](const SortedNode& e, std::string_view k) { return e.n->key() < k; });
  while (true) {
    SWINGSET_CHECK_STORAGE(it->status().ok())
        << "storage iteration failed: " << it->status().ToString();
    bool sv = it->Valid() && HasPrefix(it->key(), prefix);
    bool cv = c != crank.end();
    bool bv = b != bk.end() && HasPrefix(b->n->key(), prefix);
    if (!sv && !cv && !bv) break;
    std::string_view key;
    if (cv) key = (*c)->key();
    if (bv && (key.empty() || b->n->key() < key)) key = b->n->key();
    if (sv && (key.empty() || it->key() < key)) key = it->key();
    std::string k(key);
    std::optional<std::string> value;
    bool decided = false;
    if (cv && (*c)->key() == k) {
      value = CrankValue((*c)->second);
      decided = true;
      ++c;
    }
    if (bv && b->n->key() == k) {
      if (!decided) value = BelowValue(b->n->second);
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
  for (const SortedNode& s : BlockKeys()) fn(s.n->key(), BelowValue(s.n->second));
}

void CrankBuffer::VisitBlockWithBase(
    const std::function<void(std::string_view, const std::optional<std::string>&,
                             const std::optional<std::string>*)>& fn) const {
  const std::vector<SortedNode>& nodes = BlockKeys();
  for (size_t i = 0; i < nodes.size(); ++i) {
    PrefetchNodes(nodes.data(), i, nodes.size());
    const Entry& e = nodes[i].n->second;
    std::optional<std::string> base;
    if (e.base_present) base = bases_[e.base_index];
    fn(nodes[i].n->key(), BelowValue(e), e.has_base ? &base : nullptr);
  }
}

KvBatch CrankBuffer::BlockBatch() const {
  KvBatch batch;
  batch.reserve(block_keys_.size());
  const std::vector<SortedNode>& nodes = BlockKeys();
  for (size_t i = 0; i < nodes.size(); ++i) {
    PrefetchNodes(nodes.data(), i, nodes.size());
    const Node* n = nodes[i].n;
    const Entry& e = n->second;
    if (IsNoOp(e)) continue;  // a merged key deleted again since
    batch.push_back(KvWrite{std::string(n->key()), BelowValue(e)});
  }
  return batch;
}

void CrankBuffer::BlockCommitted() {
  SWINGSET_CHECK(crank_keys_.empty()) << "commit with a crank in progress";
  // The keys dropped from the block as no-ops are absent: forget them, each once (a node can
  // be listed twice; one written again is in block_keys_ instead). Flags first, then erases,
  // so no node is read after it is erased.
  size_t dead = 0;
  for (Node* n : block_dead_) {
    if (n->second.block_dead) {
      n->second.block_dead = false;
      block_dead_[dead++] = n;
    }
  }
  for (size_t i = 0; i < dead; ++i) entries_.Erase(block_dead_[i]);
  if (dead != 0) ++epoch_;
  block_dead_.clear();
  for (size_t i = 0; i < block_keys_.size(); ++i) {
    PrefetchNodes(block_keys_.data(), i, block_keys_.size());
    // The hash slot an erase will look at (node i + 4 was loaded four steps ago).
    if (i + 4 < block_keys_.size() && !block_keys_[i + 4].n->second.has_value) {
      entries_.PrefetchSlot(block_keys_[i + 4].n->hash);
    }
    Node* n = block_keys_[i].n;
    Entry& e = n->second;
    if (!e.has_value) {
      // Deleted keys are rarely read again; forgetting them keeps the map small under churn
      // (a later read goes to the store, which now lacks the key too).
      entries_.Erase(n);
      ++epoch_;
      continue;
    }
    e.in_block = false;
    e.has_base = false;
    e.base_present = false;
  }
  bases_.clear();
  block_keys_.clear();
  block_sorted_count_ = 0;
  block_runs_.clear();
  if (entries_.size() >= kMaxCacheEntries) {
    entries_.Clear();
    ++epoch_;
  }
}

void CrankBuffer::AbortBlock() {
  crank_keys_.clear();
  crank_sorted_ = false;
  undo_.clear();
  block_keys_.clear();
  block_sorted_count_ = 0;
  block_runs_.clear();
  block_dead_.clear();
  bases_.clear();
  entries_.Clear();
  ++epoch_;
}

}  // namespace swingset
