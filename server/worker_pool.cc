#include "server/worker_pool.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "kernel/strings.h"
#include "server/log.h"

namespace swingset {
namespace {

// Lowers the calling thread's priority: SCHED_BATCH (no wakeup preemption of interactive
// threads) and `nice`. On Linux both apply to the calling thread only.
void LowerOwnPriority(int nice) {
  if (nice <= 0) return;
  sched_param param{};
  param.sched_priority = 0;
  if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &param) != 0) {
    log::Warn("cannot set SCHED_BATCH on a worker thread", {});
  }
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) != 0) {
    log::Warn("cannot lower a worker thread's priority", {{"error", std::strerror(errno)}});
  }
}

}  // namespace

WorkerPool::WorkerPool(Options options) : options_(std::move(options)) {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { Loop(i); });
}

WorkerPool::~WorkerPool() {
  Stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool WorkerPool::TrySubmit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    // Tasks beyond the idle workers wait; at most max_queued of them.
    if (queue_.size() >= options_.max_queued + idle_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void WorkerPool::Loop(int index) {
  std::string name = StrCat(options_.name.substr(0, 12), "-", index);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  LowerOwnPriority(options_.nice);
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++idle_;
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // stopping, and everything queued has run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace swingset
