#include "kernel/storage/fault_kv_store.h"

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "kernel/base.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

// The counters of one store, shared with its snapshots and iterators.
struct Counters {
  StoreFaults faults;
  std::atomic<bool> armed{false};
  std::atomic<uint64_t> gets{0}, steps{0}, writes{0}, injected{0};

  // The error for the call that just made `count` reach `n`, or OK.
  absl::Status Next(std::atomic<uint64_t>& count, uint64_t n, const char* kind) {
    if (!armed.load(std::memory_order_relaxed) || n == 0) return absl::OkStatus();
    const uint64_t c = count.fetch_add(1) + 1;
    if (c == n || (faults.sticky && c > n)) {
      injected.fetch_add(1);
      return absl::UnavailableError(StrCat("injected storage fault: ", kind, " #", c));
    }
    return absl::OkStatus();
  }
  absl::Status Get() { return Next(gets, faults.get, "get"); }
  absl::Status Step() { return Next(steps, faults.iterate, "iterate"); }
  absl::Status Write() { return Next(writes, faults.write, "write"); }
};

class FaultIterator : public KvIterator {
 public:
  FaultIterator(std::unique_ptr<KvIterator> base, Counters* c) : base_(std::move(base)), c_(c) {}
  void Seek(std::string_view target) override {
    if (Step()) base_->Seek(target);
  }
  bool Valid() const override { return error_.ok() && base_->Valid(); }
  void Next() override {
    if (Step()) base_->Next();
  }
  std::string_view key() const override { return base_->key(); }
  std::string_view value() const override { return base_->value(); }
  absl::Status status() const override { return error_.ok() ? base_->status() : error_; }

 private:
  bool Step() {
    if (!error_.ok()) return false;
    error_ = c_->Step();
    return error_.ok();
  }
  std::unique_ptr<KvIterator> base_;
  Counters* c_;
  absl::Status error_;
};

class FaultSnapshot : public KvSnapshot {
 public:
  FaultSnapshot(std::unique_ptr<KvSnapshot> base, Counters* c) : base_(std::move(base)), c_(c) {}
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    if (absl::Status s = c_->Get(); !s.ok()) return s;
    return base_->Get(key);
  }
  std::unique_ptr<KvIterator> NewIterator() const override {
    return std::make_unique<FaultIterator>(base_->NewIterator(), c_);
  }

 private:
  std::unique_ptr<KvSnapshot> base_;
  Counters* c_;
};

class FaultStore : public FaultKvStore {
 public:
  FaultStore(std::unique_ptr<KvStore> base, StoreFaults faults) : base_(std::move(base)) {
    c_.faults = faults;
  }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    if (absl::Status s = c_.Get(); !s.ok()) return s;
    return base_->Get(key);
  }
  std::unique_ptr<KvIterator> NewIterator() const override {
    return std::make_unique<FaultIterator>(base_->NewIterator(), &c_);
  }
  absl::Status Write(const KvBatch& batch, bool sync) override {
    RETURN_IF_ERROR(c_.Write());
    return base_->Write(batch, sync);
  }
  std::unique_ptr<KvSnapshot> GetSnapshot() const override {
    return std::make_unique<FaultSnapshot>(base_->GetSnapshot(), &c_);
  }
  void Arm() override { c_.armed = true; }
  uint64_t injected() const override { return c_.injected.load(); }

 private:
  std::unique_ptr<KvStore> base_;
  mutable Counters c_;
};

}  // namespace

absl::StatusOr<StoreFaults> StoreFaults::Parse(std::string_view spec) {
  StoreFaults f;
  if (spec.empty()) return absl::InvalidArgumentError("store faults: empty");
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string_view part =
        spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (part == "sticky") {
      f.sticky = true;
    } else {
      size_t colon = part.find(':');
      uint64_t n = 0;
      std::string_view kind = part.substr(0, colon);
      std::string_view count = colon == std::string_view::npos ? "" : part.substr(colon + 1);
      bool ok = !count.empty() && count.size() <= 18;
      for (char ch : count) ok = ok && ch >= '0' && ch <= '9';
      if (ok) {
        for (char ch : count) n = n * 10 + static_cast<uint64_t>(ch - '0');
      }
      if (!ok || n == 0) {
        return absl::InvalidArgumentError(
            StrCat("store faults: \"", part, "\" is not KIND:N (N from 1) or sticky"));
      }
      if (kind == "get") {
        f.get = n;
      } else if (kind == "iterate") {
        f.iterate = n;
      } else if (kind == "write") {
        f.write = n;
      } else {
        return absl::InvalidArgumentError(
            StrCat("store faults: unknown kind \"", kind, "\" (get, iterate, write)"));
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return f;
}

std::unique_ptr<FaultKvStore> NewFaultKvStore(std::unique_ptr<KvStore> base, StoreFaults faults) {
  return std::make_unique<FaultStore>(std::move(base), faults);
}

}  // namespace swingset
