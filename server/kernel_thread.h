// File: kernel_thread.h
//
// The single thread that owns the kernel (docs/DESIGN.md §1): gRPC handler threads hand it closures
// and wait for their results, so kernel calls never overlap and run in arrival order.
//
// Thread-safety: Call(), Post() and Stop() may be called from any thread. Call() and Post()
// after Stop() return false without running the closure.

#ifndef SWINGSETD_SERVER_KERNEL_THREAD_H_
#define SWINGSETD_SERVER_KERNEL_THREAD_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <pthread.h>

#include <cstddef>
#include <thread>

namespace swingset {

class KernelThread {
 public:
  // The kernel thread's stack. Large, because JavaScript vats run on it: their native stack
  // quota (JsEngineOptions::native_stack_quota) must sit far above what the meter's depth limit
  // lets a vat use, so that the deterministic limit is always reached first (docs/METERING.md).
  // Only the pages a vat actually uses are ever committed.
  static constexpr size_t kStackBytes = size_t{512} << 20;
  // The kernel thread's nice value when the process may set it (it is what blocks wait for).
  static constexpr int kNice = -10;

  KernelThread();
  ~KernelThread();  // Stop()s and joins
  KernelThread(const KernelThread&) = delete;
  KernelThread& operator=(const KernelThread&) = delete;

  // Runs `fn` on the kernel thread and waits for it. Returns false if the thread has stopped.
  bool Call(std::function<void()> fn);

  // Queues `fn` to run on the kernel thread (after everything queued before it) and returns at
  // once. Returns false, without running it, if the thread has stopped.
  bool Post(std::function<void()> fn);

  // Finishes the closures already queued, then ends the thread. Idempotent.
  void Stop();

  bool OnKernelThread() const { return pthread_equal(pthread_self(), thread_) != 0; }

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  static void* Start(void* self);

  pthread_t thread_;
  bool joinable_ = false;
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_KERNEL_THREAD_H_
