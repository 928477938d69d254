#include "kernel/activity_chain.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <utility>

#include "kernel/base.h"

namespace swingset {

void ChainActivity(Hasher* hasher, std::string_view text, std::string* activity) {
  hasher->Update(text);
  const std::string crankhash = hasher->FinishHex();
  hasher->Update("activityhash\n");
  hasher->Update(*activity);
  hasher->Update("\n");
  hasher->Update(crankhash);
  hasher->Update("\n");
  *activity = hasher->FinishHex();
}

void CrankText::Grow(size_t n) {
  buf_.resize(std::max({buf_.size() * 2, len_ + n, size_t{256}}));
}

std::string CrankText::Take(std::string spare) {
  buf_.resize(len_);
  std::string text = std::move(buf_);
  buf_ = std::move(spare);
  buf_.resize(buf_.capacity());
  len_ = 0;
  return text;
}

ActivityChain::ActivityChain(HasherFactory factory, Mode mode)
    : factory_(std::move(factory)), local_hasher_(factory_()), inline_(mode == Mode::kInline) {}

ActivityChain::~ActivityChain() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  worker_.join();
}

void ActivityChain::Begin(std::string_view activity) {
  SWINGSET_CHECK(!active_) << "activity batch already active";
  active_ = true;
  cranks_ = 0;
  // The worker is idle between batches (End() drained it), so activity_ is ours to set.
  activity_.assign(activity);
}

CrankText* ActivityChain::OpenCrank() {
  SWINGSET_CHECK(active_) << "no activity batch";
  open_at_ = filling_.Skip(4);
  return &filling_;
}

void ActivityChain::CloseCrank() {
  const size_t len = filling_.size() - open_at_ - 4;
  if (len == 0) {
    filling_.Truncate(open_at_);
    return;
  }
  SWINGSET_CHECK(len <= UINT32_MAX) << "crank text of " << len << " bytes";
  const uint32_t n = static_cast<uint32_t>(len);
  filling_.Put(open_at_, &n, 4);
  ++cranks_;
  if (++filling_cranks_ >= kChunkCranks || filling_.size() >= kChunkBytes) Submit();
}

void ActivityChain::HashChunk(Hasher* hasher, std::string_view chunk, std::string* activity) {
  size_t at = 0;
  while (at < chunk.size()) {
    uint32_t n;
    std::memcpy(&n, chunk.data() + at, 4);
    ChainActivity(hasher, chunk.substr(at + 4, n), activity);
    at += 4 + size_t{n};
  }
}

void ActivityChain::Submit() {
  if (inline_) {
    HashChunk(local_hasher_.get(), filling_.view(), &activity_);
    filling_.Clear();
    filling_cranks_ = 0;
    return;
  }
  bool full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    full = queue_.size() >= kMaxQueuedChunks;
  }
  if (full) CatchUp();  // the worker is behind (or not getting a core)
  std::string spare;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_.empty()) {
      spare = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  std::string chunk = filling_.Take(std::move(spare));
  filling_cranks_ = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(chunk));
  }
  if (!worker_.joinable()) {
    worker_hasher_ = factory_();
    try {
      worker_ = std::thread([this] { WorkerMain(); });
    } catch (const std::system_error&) {
      // No thread to be had (resource limits): hash on this thread from now on, starting with
      // the chunk just queued. The result is the same; only the time moves.
      inline_ = true;
      CatchUp();
      return;
    }
  }
  work_cv_.notify_one();
}

void ActivityChain::CatchUp() {
  std::deque<std::string> chunks;
  {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [&] { return !busy_; });
    chunks.swap(queue_);
  }
  // The worker is idle and its queue empty, so activity_ is ours until the next Submit().
  for (const std::string& chunk : chunks) HashChunk(local_hasher_.get(), chunk, &activity_);
  if (chunks.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string& chunk : chunks) spare_.push_back(std::move(chunk));
}

void ActivityChain::WorkerMain() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    // activity_ is the worker's while busy_ (see CatchUp()).
    HashChunk(worker_hasher_.get(), chunk, &activity_);
    lock.lock();
    busy_ = false;
    spare_.push_back(std::move(chunk));
    idle_cv_.notify_one();
  }
}

std::string ActivityChain::Current() {
  SWINGSET_CHECK(active_) << "no activity batch";
  CatchUp();
  HashChunk(local_hasher_.get(), filling_.view(), &activity_);
  filling_.Clear();
  filling_cranks_ = 0;
  return activity_;
}

std::string ActivityChain::End() {
  std::string activity = Current();
  active_ = false;
  return activity;
}

}  // namespace swingset
