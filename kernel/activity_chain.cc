#include "kernel/activity_chain.h"

#include <cstring>
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

ActivityChain::ActivityChain(HasherFactory factory)
    : factory_(std::move(factory)), local_hasher_(factory_()) {}

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
  CHECK(!active_) << "activity batch already active";
  active_ = true;
  cranks_ = 0;
  // The worker is idle between batches (End() drained it), so activity_ is ours to set.
  activity_.assign(activity);
}

std::string* ActivityChain::OpenCrank() {
  CHECK(active_) << "no activity batch";
  open_at_ = filling_.size();
  filling_.append(4, '\0');
  return &filling_;
}

void ActivityChain::CloseCrank() {
  const size_t len = filling_.size() - open_at_ - 4;
  if (len == 0) {
    filling_.resize(open_at_);
    return;
  }
  CHECK(len <= UINT32_MAX) << "crank text of " << len << " bytes";
  const uint32_t n = static_cast<uint32_t>(len);
  std::memcpy(&filling_[open_at_], &n, 4);
  ++cranks_;
  if (++filling_cranks_ >= kChunkCranks || filling_.size() >= kChunkBytes) Submit();
}

void ActivityChain::HashChunk(Hasher* hasher, const std::string& chunk, std::string* activity) {
  size_t at = 0;
  while (at < chunk.size()) {
    uint32_t n;
    std::memcpy(&n, chunk.data() + at, 4);
    ChainActivity(hasher, std::string_view(chunk).substr(at + 4, n), activity);
    at += 4 + size_t{n};
  }
}

void ActivityChain::Submit() {
  bool full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    full = queue_.size() >= kMaxQueuedChunks;
  }
  if (full) CatchUp();  // the worker is behind (or not getting a core)
  std::string next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(filling_));
    if (!spare_.empty()) {
      next = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (!worker_.joinable()) {
    worker_hasher_ = factory_();
    worker_ = std::thread([this] { WorkerMain(); });
  }
  work_cv_.notify_one();
  next.clear();
  filling_ = std::move(next);
  filling_cranks_ = 0;
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
  CHECK(active_) << "no activity batch";
  CatchUp();
  HashChunk(local_hasher_.get(), filling_, &activity_);
  filling_.clear();
  filling_cranks_ = 0;
  return activity_;
}

std::string ActivityChain::End() {
  std::string activity = Current();
  active_ = false;
  return activity;
}

}  // namespace swingset
