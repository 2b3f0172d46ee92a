// Server's memory accounting (INFO memory, maxmemory): the allocator's
// figure, the cheap per-command estimate, and eviction. See server.h.

#include "server/server.h"

#include <algorithm>

#if defined(SHOAL_HAVE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime's public interface (sanitizer/allocator_interface.h,
// which g++ does not install).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

namespace shoal::server {

size_t Server::MemoryEstimate() const {
  // jemalloc's figure, refreshed by the cron, moved by what the keyspace
  // gained or lost since: reading jemalloc's statistics on every command
  // would cost more than the command.
  int64_t delta =
      static_cast<int64_t>(store_.used_bytes()) - static_cast<int64_t>(memory_sample_store_bytes_);
  int64_t est = static_cast<int64_t>(memory_sample_) + delta;
  return est < 0 ? 0 : static_cast<size_t>(est);
}

void Server::SampleMemory() {
  memory_sample_ = UsedMemory();
  stats_.used_memory_peak = std::max(stats_.used_memory_peak, memory_sample_);
  memory_sample_store_bytes_ = store_.used_bytes();
  memory_sample_log_bytes_ = static_cast<size_t>(persistence_.BufferBytes());
}

size_t Server::MaxmemoryFigure() const {
  // The log's buffers are left out, as Redis leaves out its AOF buffers: a
  // burst of large writes or a rewrite in progress must not make the node
  // refuse writes (or evict keys) for memory it gives back by itself.
  // Both figures from the same sample, so that a buffer freed since the
  // sample is not subtracted from a figure that no longer holds it.
  size_t est = MemoryEstimate();
  return est > memory_sample_log_bytes_ ? est - memory_sample_log_bytes_ : 0;
}

bool Server::PerformEvictions() {
  if (MaxmemoryFigure() <= config_.maxmemory) return true;
  auto r = store_.EvictUntil(config_.maxmemory, clock_.NowMs(), rng_(),
                             [this] { return MaxmemoryFigure(); });
  return r.ok();
}

size_t Server::UsedMemory() const {
#ifdef SHOAL_HAVE_JEMALLOC
  // Refresh jemalloc's cached statistics, then read the allocated bytes.
  uint64_t epoch = 1;
  size_t sz = sizeof(epoch);
  mallctl("epoch", &epoch, &sz, &epoch, sz);
  size_t allocated = 0;
  sz = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &sz, nullptr, 0) == 0) return allocated;
  return 0;
#elif defined(__SANITIZE_ADDRESS__)
  // The sanitizer's allocator replaces malloc: ask it (make sanitize runs
  // the maxmemory tests too).
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
}

}  // namespace shoal::server
