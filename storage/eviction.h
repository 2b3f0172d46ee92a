#pragma once
// Eviction: the pieces of Redis's maxmemory eviction (src/evict.c) that do
// not need the keyspace: the policies, the per-key access metadata (an LRU
// clock or an LFU counter packed in 24 bits), the scores that rank eviction
// candidates, and the eviction pool. Store::EvictUntil() (storage/store.h)
// samples keys, feeds them through these and deletes the winners.
//
// Pure functions and a small value class; time comes in as now_ms
// (milliseconds since the Unix epoch), randomness as a caller-supplied 64-bit
// number. Not thread safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::storage {

// Which keys maxmemory may delete, with Redis's names and meaning.
// allkeys-* consider every key, volatile-* only keys that carry a TTL.
enum class EvictionPolicy {
  kNoEviction,      // never evict: writes fail with OOM over the limit
  kAllKeysLru,      // least recently used
  kAllKeysLfu,      // least frequently used
  kAllKeysRandom,   // any key
  kVolatileLru,     // least recently used among keys with a TTL
  kVolatileLfu,     // least frequently used among keys with a TTL
  kVolatileRandom,  // any key with a TTL
  kVolatileTtl,     // the key with the soonest expiry
};

bool IsVolatile(EvictionPolicy policy);
bool IsLfu(EvictionPolicy policy);
// LRU, LFU and TTL policies rank sampled keys through an EvictionPool; the
// random ones pick a key directly.
bool UsesPool(EvictionPolicy policy);

struct EvictionConfig {
  static constexpr size_t kDefaultSamples = 5;
  static constexpr size_t kDefaultMaxEvictionsPerCall = 512;

  EvictionPolicy policy = EvictionPolicy::kNoEviction;
  // maxmemory-samples: keys sampled per pool refill. More is closer to true
  // LRU/LFU/TTL order and slower. Values below 1 are treated as 1.
  size_t samples = kDefaultSamples;
  // lfu-log-factor: how many hits it takes to saturate the LFU counter.
  uint32_t lfu_log_factor = 10;
  // lfu-decay-time: minutes of no access that take 1 off the LFU counter
  // (0 = never decay).
  uint32_t lfu_decay_time = 1;
  // Upper bound on keys deleted by one EvictUntil() call; stands in for
  // Redis's per-command eviction time limit (time is not ours to read).
  size_t max_evictions_per_call = kDefaultMaxEvictionsPerCall;
};

// --- Per-key access metadata -------------------------------------------------
//
// 24 bits per key, as Redis's robj->lru, read according to the policy:
//  - LRU (every policy but the LFU ones): the LRU clock at the last access,
//    in seconds, modulo 2^24 (it wraps every ~194 days; idle times are
//    computed modulo the wrap, as Redis does).
//  - LFU: bits 23..8 are the time of the last decrement in minutes, modulo
//    2^16; bits 7..0 are a logarithmic access counter that starts at
//    kLfuInitValue, grows with probability 1 / ((counter - 5) * log_factor
//    + 1) per access and loses 1 per lfu_decay_time minutes of idleness.
// Switching between an LRU and an LFU policy does not convert existing keys
// (neither does Redis): their old bits are read the new way until touched.

constexpr uint32_t kAccessBits = 24;
constexpr uint32_t kAccessMask = (uint32_t{1} << kAccessBits) - 1;
constexpr uint32_t kLruClockResolutionMs = 1000;
constexpr uint8_t kLfuInitValue = 5;

// The 24-bit LRU clock at now_ms.
uint32_t LruClock(int64_t now_ms);
// Milliseconds since the access recorded in `lru` (an LruClock value).
uint64_t LruIdleMs(uint32_t lru, int64_t now_ms);

// The 16-bit LFU minute clock at now_ms.
uint32_t LfuMinutes(int64_t now_ms);
// The LFU counter of `meta` after decay up to now_ms (meta is not changed).
uint8_t LfuDecayedCounter(uint32_t meta, int64_t now_ms, uint32_t decay_time);
// One logarithmic increment of `counter`; `random` decides the coin flip.
uint8_t LfuLogIncrement(uint8_t counter, uint64_t random, uint32_t log_factor);

// Metadata of a key created at now_ms.
uint32_t NewAccessMeta(const EvictionConfig& config, int64_t now_ms);
// Metadata of a key accessed at now_ms (LRU: the clock; LFU: decay, then one
// increment decided by `random`).
uint32_t TouchedAccessMeta(uint32_t meta, const EvictionConfig& config, int64_t now_ms,
                           uint64_t random);

// How good an eviction candidate a key is under a pool policy: higher is
// evicted first. LRU: idle ms; LFU: 255 - decayed counter; TTL: the sooner
// the expiry, the higher. Keys already expired at now_ms get kExpiredScore,
// above every live key, so that eviction reclaims them before live data.
constexpr uint64_t kExpiredScore = UINT64_MAX;
uint64_t EvictionScore(const EvictionConfig& config, uint32_t meta, int64_t expire_at_ms,
                       int64_t now_ms);

// --- The eviction pool -----------------------------------------------------
//
// The best candidates seen so far (Redis's EVPOOL_SIZE = 16), kept across
// EvictUntil() calls so that the approximation improves over time. Holds
// copies of keys, not entries: a key may be deleted, overwritten or lose its
// TTL after it entered the pool, so the store looks it up again before
// evicting it and skips it if it is gone (scores are not refreshed, as in
// Redis).
class EvictionPool {
 public:
  static constexpr size_t kCapacity = 16;

  // Offers a candidate. Ignored if the pool is full and every member scores
  // at least as high; otherwise the lowest member makes room. A key already
  // in the pool has its score replaced.
  void Offer(std::string_view key, uint64_t score);

  // Moves the highest-scoring key into *key and removes it from the pool.
  // False if the pool is empty.
  bool PopBest(std::string* key);

  void Clear() { used_ = 0; }
  size_t size() const { return used_; }
  bool empty() const { return used_ == 0; }

 private:
  struct Candidate {
    uint64_t score = 0;
    std::string key;  // capacity reused between offers
  };
  // Ascending by score; slots [0, used_) are in use.
  std::array<Candidate, kCapacity> slots_;
  size_t used_ = 0;
};

}  // namespace shoal::storage
