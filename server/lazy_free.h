#pragma once
// LazyFree: frees big value buffers on a thread of its own, as Redis's
// lazyfree (bio.c's BIO_LAZY_FREE), so that the loop never waits while the
// kernel unmaps hundreds of megabytes (DEL or overwrite of a 512 MB value).
// The store hands it the buffers it lets go of (Store::SetBigValueReleaser).
//
// Free() is called from the loop thread only; the freeing runs on the
// LazyFree's thread. The destructor frees what is still queued and joins.
// Without a thread (std::thread failed to start) Free() frees in place.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace shoal::server {

class LazyFree {
 public:
  LazyFree();
  ~LazyFree();
  LazyFree(const LazyFree&) = delete;
  LazyFree& operator=(const LazyFree&) = delete;

  // Takes `value` and frees it on the thread.
  void Free(std::string&& value);

  // INFO memory lazyfree_pending_objects: buffers queued, not yet freed.
  uint64_t pending() const;
  // INFO stats lazyfreed_objects: buffers freed so far.
  uint64_t freed() const;
  // Blocks until nothing is pending (tests).
  void WaitIdle();

 private:
  void Run();

  mutable std::mutex mu_;
  std::condition_variable wake_;  // to the thread
  std::condition_variable idle_;  // to WaitIdle
  std::deque<std::string> queue_;
  bool busy_ = false;  // the thread is freeing a buffer it took
  bool stop_ = false;
  uint64_t freed_ = 0;
  std::thread thread_;
};

}  // namespace shoal::server
