#include "server/state_commitment.h"

#include <memory>
#include <optional>
#include <string_view>

#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/key_schema.h"
#include "server/host_keys.h"

namespace swingset {
namespace {

constexpr uint64_t kProgressEvery = 100000;

void AppendU32(std::string* out, size_t n) {
  char b[4] = {static_cast<char>((n >> 24) & 0xff), static_cast<char>((n >> 16) & 0xff),
               static_cast<char>((n >> 8) & 0xff), static_cast<char>(n & 0xff)};
  out->append(b, 4);
}

class EntryHasher {
 public:
  EntryHasher() : h_(NewSha256Hasher()) {}
  void Add(std::string_view key, std::string_view value) {
    if (!keys::IsConsensusKey(key)) return;
    buf_.clear();
    AppendU32(&buf_, key.size());
    buf_.append(key);
    AppendU32(&buf_, value.size());
    buf_.append(value);
    h_->Update(buf_);
  }
  std::string Finish() { return h_->FinishHex(); }

 private:
  std::unique_ptr<Hasher> h_;
  std::string buf_;
};

}  // namespace

absl::StatusOr<BlockStateHash> ComputeBlockStateHash(const KvStore& store,
                                                     const std::vector<KvWrite>& block_writes) {
  EntryHasher hasher;
  std::unique_ptr<KvIterator> it = store.NewIterator();
  it->Seek("");
  auto w = block_writes.begin();
  // Merge the committed entries with the block's writes; a write replaces the committed entry.
  while (it->Valid() || w != block_writes.end()) {
    if (w == block_writes.end() || (it->Valid() && it->key() < std::string_view(w->key))) {
      hasher.Add(it->key(), it->value());
      it->Next();
      continue;
    }
    if (it->Valid() && it->key() == std::string_view(w->key)) it->Next();
    if (w->value) hasher.Add(w->key, *w->value);
    ++w;
  }
  RETURN_IF_ERROR(it->status());
  BlockStateHash out;
  out.state_hash = hasher.Finish();
  out.host_writes.push_back(KvWrite{std::string(host_keys::kStateHash), out.state_hash});
  return out;
}

absl::StatusOr<std::string> RecomputeStateHash(const KvSnapshot& snapshot,
                                               const std::function<void(uint64_t)>& progress) {
  EntryHasher hasher;
  std::unique_ptr<KvIterator> it = snapshot.NewIterator();
  uint64_t n = 0;
  for (it->Seek(""); it->Valid(); it->Next()) {
    hasher.Add(it->key(), it->value());
    if (++n % kProgressEvery == 0 && progress) progress(n);
  }
  RETURN_IF_ERROR(it->status());
  return hasher.Finish();
}

absl::StatusOr<std::string> StoredStateHash(const KvSnapshot& snapshot) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, snapshot.Get(host_keys::kStateHash));
  return v.value_or("");
}

}  // namespace swingset
