// File: worker_pool.h
//
// A small fixed pool of low-priority threads with a bounded queue, for work that must never
// slow the kernel thread down (the Inspect queries, docs/DESIGN.md §9): each worker lowers its own
// scheduling priority (SCHED_BATCH and a nice value, per thread), and a full queue refuses new
// work instead of growing.
//
// Thread-safety: TrySubmit() and Stop() may be called from any thread.

#ifndef SWINGSETD_SERVER_WORKER_POOL_H_
#define SWINGSETD_SERVER_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace swingset {

class WorkerPool {
 public:
  struct Options {
    std::string name = "worker";  // thread name prefix (at most 12 characters are kept)
    int threads = 2;
    size_t max_queued = 64;  // tasks waiting for a worker (0: only as many as are idle)
    int nice = 19;           // 0 keeps the process's priority
  };

  explicit WorkerPool(Options options);
  ~WorkerPool();  // Stop()s and joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. Returns false, without running it, when no worker is idle and `max_queued`
  // tasks are already waiting, or the pool has stopped.
  bool TrySubmit(std::function<void()> task);

  // Finishes the tasks already queued, then ends the workers. Idempotent.
  void Stop();

 private:
  void Loop(int index);

  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t idle_ = 0;                          // workers waiting for a task; guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_WORKER_POOL_H_
