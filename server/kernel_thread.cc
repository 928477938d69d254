#include "server/kernel_thread.h"

#include <utility>

namespace swingset {

KernelThread::KernelThread() : thread_([this] { Loop(); }) {}

KernelThread::~KernelThread() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

bool KernelThread::Call(std::function<void()> fn) {
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    queue_.push_back([&fn, &done] {
      fn();
      done.set_value();
    });
  }
  cv_.notify_one();
  finished.wait();
  return true;
}

bool KernelThread::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

void KernelThread::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
}

void KernelThread::Loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace swingset
