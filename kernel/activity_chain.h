// File: activity_chain.h
//
// The activity hash (docs/KERNEL_SPEC.md §13, docs/DESIGN.md §5): after each crank,
//   crankhash = hex(SHA-256(crank text))
//   activity  = hex(SHA-256("activityhash\n" + previous activity + "\n" + crankhash + "\n"))
// where the crank text lists the crank's consensus writes in key order.
//
// ActivityChain computes that chain for a batch of cranks (one Run of the kernel) on a worker
// thread while the kernel thread goes on with the next cranks: the kernel appends each crank's
// text to a chunk, and full chunks go to the worker, which hashes them in order. The chain is
// a pure function of the texts in order, so neither the chunking nor the thread timing can
// change it; the worker touches nothing but the chunks and its own hasher. Current() waits
// only for the chunk the worker is hashing, if any, and hashes every other chunk on the
// calling thread: short batches never wake the worker, and a worker that gets no core (a busy
// machine) never keeps the kernel waiting for more than one chunk.
//
// Thread-safety: all public methods are called from one thread (the kernel thread).

#ifndef SWINGSETD_KERNEL_ACTIVITY_CHAIN_H_
#define SWINGSETD_KERNEL_ACTIVITY_CHAIN_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kernel/hasher.h"

namespace swingset {

// One step of the chain: *activity becomes the activity hash after a crank with `text`.
void ChainActivity(Hasher* hasher, std::string_view text, std::string* activity);

// A crank text being built: per write "add\n<key>\n<value>\n", or "delete\n<key>\n" for a
// delete. This runs for every write of every crank, so a record is written with one capacity
// check and two copies (the constant parts are fixed-size stores), into a buffer whose size is
// its capacity (growing it is the only zero fill).
class CrankText {
 public:
  void Add(std::string_view key, const std::string* value) {
    char* p = Reserve(8 + key.size() + (value ? value->size() : 0));
    if (value) {
      std::memcpy(p, "add\n", 4);
      p += 4;
    } else {
      std::memcpy(p, "delete\n", 7);
      p += 7;
    }
    std::memcpy(p, key.data(), key.size());
    p += key.size();
    *p++ = '\n';
    if (value) {
      std::memcpy(p, value->data(), value->size());
      p += value->size();
      *p++ = '\n';
    }
    len_ = static_cast<size_t>(p - buf_.data());
  }
  // Appends n bytes for the caller to fill in with Put(); returns their offset.
  size_t Skip(size_t n) {
    Reserve(n);
    len_ += n;
    return len_ - n;
  }
  void Put(size_t at, const void* bytes, size_t n) { std::memcpy(buf_.data() + at, bytes, n); }
  void Truncate(size_t len) { len_ = len; }
  void Clear() { len_ = 0; }
  size_t size() const { return len_; }
  std::string_view view() const { return std::string_view(buf_.data(), len_); }
  // Moves the text out (sized exactly) and continues, empty, in `spare`'s memory.
  std::string Take(std::string spare);

 private:
  char* Reserve(size_t n) {
    if (buf_.size() - len_ < n) Grow(n);
    return buf_.data() + len_;
  }
  void Grow(size_t n);
  std::string buf_;  // buf_.size() is the capacity in use; the text is its first len_ bytes
  size_t len_ = 0;
};

class ActivityChain {
 public:
  // A chunk goes to the worker once it holds this many cranks or bytes.
  static constexpr size_t kChunkCranks = 64;
  static constexpr size_t kChunkBytes = 64 * 1024;
  // When this many chunks are queued (the worker is behind), the kernel thread catches up.
  static constexpr size_t kMaxQueuedChunks = 16;

  enum class Mode {
    kWorker,  // full chunks are hashed on the worker thread
    kInline,  // every chunk is hashed on the calling thread (also the fallback when the
              // worker thread cannot be started)
  };
  explicit ActivityChain(HasherFactory factory, Mode mode = Mode::kWorker);
  ~ActivityChain();  // stops and joins the worker
  ActivityChain(const ActivityChain&) = delete;
  ActivityChain& operator=(const ActivityChain&) = delete;

  // Starts a batch whose chain continues from `activity` (the stored activity hash, "" when
  // there is none yet). No batch may be active.
  void Begin(std::string_view activity);
  bool active() const { return active_; }
  // Cranks added since Begin().
  uint64_t cranks() const { return cranks_; }

  // Adding a crank: append its text to *OpenCrank(), then call CloseCrank(). A crank whose
  // text is empty (it wrote no consensus key) does not advance the chain.
  CrankText* OpenCrank();
  void CloseCrank();

  // The chain's value after every crank added so far (waits for the worker).
  std::string Current();
  // Current(), and ends the batch.
  std::string End();

 private:
  void Submit();   // hands the filling chunk to the worker
  // Waits for the chunk the worker is hashing, if any, then hashes the queued ones here.
  void CatchUp();
  void WorkerMain();
  static void HashChunk(Hasher* hasher, std::string_view chunk, std::string* activity);

  HasherFactory factory_;
  std::unique_ptr<Hasher> local_hasher_;   // for the rest that Current() hashes here
  std::unique_ptr<Hasher> worker_hasher_;  // the worker's own
  bool inline_;  // Mode::kInline, or the worker could not be started
  bool active_ = false;
  uint64_t cranks_ = 0;
  // The chunk being filled: records of a 4-byte length and the crank's text.
  CrankText filling_;
  size_t filling_cranks_ = 0;
  size_t open_at_ = 0;  // where the open crank's length field sits in filling_

  // Shared with the worker, under mu_.
  std::mutex mu_;
  std::condition_variable work_cv_;  // the worker waits for chunks or stop_
  std::condition_variable idle_cv_;  // the kernel waits for the worker's chunk in progress
  std::deque<std::string> queue_;    // chunks handed off, oldest first
  std::vector<std::string> spare_;   // hashed chunks, kept for reuse
  bool busy_ = false;                // the worker is hashing a chunk taken off queue_
  bool stop_ = false;
  // The chain after every chunk hashed so far. Written by the worker while it hashes a chunk,
  // by the kernel thread only while the worker is idle with an empty queue (CatchUp()).
  std::string activity_;
  std::thread worker_;  // started on the first Submit()
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_ACTIVITY_CHAIN_H_
