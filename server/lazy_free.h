#pragma once
// LazyFree: frees big value buffers on a thread of its own, as Redis's
// lazyfree (bio.c's BIO_LAZY_FREE), so that the loop never waits while the
// kernel unmaps hundreds of megabytes (DEL or overwrite of a 512 MB value).
// The store hands it the buffers it lets go of (Store::SetBigValueReleaser).
//
// Pins: Pin() keeps bytes inside a buffer the store holds from being freed
// while something outside the store still reads them (the log writer's
// thread writing a big record, a connection sending a big GET reply without
// copying it). A buffer handed to Free() while pinned is parked, and queued
// for freeing when its last pin goes.
//
// Free() and Pin() are called from the loop thread; a pin may be dropped on
// any thread. The freeing runs on the LazyFree's thread. The destructor
// frees what is still queued and joins; pins must be gone by then. Without a
// thread (std::thread failed to start) buffers are freed in place.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace shoal::server {

class LazyFree {
 public:
  LazyFree();
  ~LazyFree();
  LazyFree(const LazyFree&) = delete;
  LazyFree& operator=(const LazyFree&) = delete;

  // Takes `value` and frees it on the thread (once no pin lies in it).
  void Free(std::string&& value);

  // Keeps `bytes`, which lie in a buffer the store holds (and will hand to
  // Free() when it lets go of it), alive and unchanged while the returned
  // owner lives. The store never changes a stored value in place.
  std::shared_ptr<const void> Pin(std::string_view bytes);

  // INFO memory lazyfree_pending_objects: buffers queued, not yet freed
  // (parked ones included).
  uint64_t pending() const;
  // INFO stats lazyfreed_objects: buffers freed so far.
  uint64_t freed() const;
  // Blocks until nothing is pending (tests).
  void WaitIdle();

 private:
  void Run();
  void Unpin(const char* at);
  // A pin lies in `value`'s buffer. Under mu_.
  bool PinnedLocked(const std::string& value) const;
  // Frees in place or queues for the thread. Under mu_ (`lock`).
  void QueueLocked(std::string&& value, std::unique_lock<std::mutex>& lock);

  mutable std::mutex mu_;
  std::condition_variable wake_;  // to the thread
  std::condition_variable idle_;  // to WaitIdle
  std::deque<std::string> queue_;
  std::map<const char*, size_t> pins_;  // pinned byte start -> pin count
  std::vector<std::string> parked_;     // freed while pinned
  bool busy_ = false;                   // the thread is freeing a buffer it took
  bool stop_ = false;
  uint64_t freed_ = 0;
  std::thread thread_;
};

}  // namespace shoal::server
