#include "server/kernel_thread.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "kernel/base.h"

namespace swingset {

KernelThread::KernelThread() {
  pthread_attr_t attr;
  SWINGSET_CHECK(pthread_attr_init(&attr) == 0);
  SWINGSET_CHECK(pthread_attr_setstacksize(&attr, kStackBytes) == 0);
  int err = pthread_create(&thread_, &attr, &KernelThread::Start, this);
  pthread_attr_destroy(&attr);
  SWINGSET_CHECK(err == 0) << "cannot start the kernel thread with a " << (kStackBytes >> 20)
                           << " MiB stack: " << std::strerror(err);
  joinable_ = true;
}

void* KernelThread::Start(void* self) {
  // Ahead of the gRPC threads (which parse and encode Inspect traffic) where the process may
  // raise a thread's priority (root, CAP_SYS_NICE); otherwise it stays as it is.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kNice);
  static_cast<KernelThread*>(self)->Loop();
  return nullptr;
}

KernelThread::~KernelThread() {
  Stop();
  if (joinable_) pthread_join(thread_, nullptr);
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
