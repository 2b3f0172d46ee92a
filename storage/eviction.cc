#include "storage/eviction.h"

#include <algorithm>
#include <utility>

namespace shoal::storage {

namespace {

constexpr uint32_t kLfuMinuteMask = 0xFFFF;
constexpr uint32_t kLfuCounterMax = 255;
constexpr int64_t kMsPerMinute = 60'000;

uint64_t NonNegative(int64_t ms) {
  return ms > 0 ? static_cast<uint64_t>(ms) : 0;
}

uint32_t LfuCounter(uint32_t meta) {
  return meta & 0xFF;
}

uint32_t LfuLastDecrement(uint32_t meta) {
  return (meta >> 8) & kLfuMinuteMask;
}

uint32_t PackLfu(uint32_t minutes, uint32_t counter) {
  return ((minutes & kLfuMinuteMask) << 8) | (counter & 0xFF);
}

}  // namespace

bool IsVolatile(EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kVolatileLru:
    case EvictionPolicy::kVolatileLfu:
    case EvictionPolicy::kVolatileRandom:
    case EvictionPolicy::kVolatileTtl:
      return true;
    default:
      return false;
  }
}

bool IsLfu(EvictionPolicy policy) {
  return policy == EvictionPolicy::kAllKeysLfu || policy == EvictionPolicy::kVolatileLfu;
}

bool UsesPool(EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kAllKeysLru:
    case EvictionPolicy::kAllKeysLfu:
    case EvictionPolicy::kVolatileLru:
    case EvictionPolicy::kVolatileLfu:
    case EvictionPolicy::kVolatileTtl:
      return true;
    default:
      return false;
  }
}

uint32_t LruClock(int64_t now_ms) {
  return static_cast<uint32_t>(NonNegative(now_ms) / kLruClockResolutionMs) & kAccessMask;
}

uint64_t LruIdleMs(uint32_t lru, int64_t now_ms) {
  // Modular distance: an access recorded just before the 24-bit clock
  // wrapped still reads as recent.
  const uint32_t ticks = (LruClock(now_ms) - lru) & kAccessMask;
  return uint64_t{ticks} * kLruClockResolutionMs;
}

uint32_t LfuMinutes(int64_t now_ms) {
  return static_cast<uint32_t>(NonNegative(now_ms) / kMsPerMinute) & kLfuMinuteMask;
}

uint8_t LfuDecayedCounter(uint32_t meta, int64_t now_ms, uint32_t decay_time) {
  const uint32_t counter = LfuCounter(meta);
  if (decay_time == 0) return static_cast<uint8_t>(counter);
  const uint32_t elapsed = (LfuMinutes(now_ms) - LfuLastDecrement(meta)) & kLfuMinuteMask;
  const uint32_t periods = elapsed / decay_time;
  return static_cast<uint8_t>(periods >= counter ? 0 : counter - periods);
}

uint8_t LfuLogIncrement(uint8_t counter, uint64_t random, uint32_t log_factor) {
  if (counter == kLfuCounterMax) return counter;
  // A uniform double in [0, 1) from the top 53 bits.
  const double r = static_cast<double>(random >> 11) * 0x1.0p-53;
  // Counts below the initial value grow freely so new keys are not evicted
  // before they have had a chance to be used again (Redis's LFU_INIT_VAL).
  const double base = counter > kLfuInitValue ? counter - kLfuInitValue : 0;
  const double p = 1.0 / (base * log_factor + 1.0);
  return r < p ? static_cast<uint8_t>(counter + 1) : counter;
}

uint32_t NewAccessMeta(const EvictionConfig& config, int64_t now_ms) {
  if (IsLfu(config.policy)) return PackLfu(LfuMinutes(now_ms), kLfuInitValue);
  return LruClock(now_ms);
}

uint32_t TouchedAccessMeta(uint32_t meta, const EvictionConfig& config, int64_t now_ms,
                           uint64_t random) {
  if (!IsLfu(config.policy)) return LruClock(now_ms);
  uint8_t counter = LfuDecayedCounter(meta, now_ms, config.lfu_decay_time);
  counter = LfuLogIncrement(counter, random, config.lfu_log_factor);
  return PackLfu(LfuMinutes(now_ms), counter);
}

uint64_t EvictionScore(const EvictionConfig& config, uint32_t meta, int64_t expire_at_ms,
                       int64_t now_ms) {
  if (expire_at_ms != 0 && expire_at_ms <= now_ms) return kExpiredScore;
  switch (config.policy) {
    case EvictionPolicy::kVolatileTtl:
      // Below kExpiredScore for every expiry; keys without a TTL (not
      // sampled by this policy) would rank last.
      if (expire_at_ms == 0) return 0;
      return kExpiredScore - 1 - NonNegative(expire_at_ms);
    case EvictionPolicy::kAllKeysLfu:
    case EvictionPolicy::kVolatileLfu:
      return kLfuCounterMax - LfuDecayedCounter(meta, now_ms, config.lfu_decay_time);
    default:
      return LruIdleMs(meta, now_ms);
  }
}

void EvictionPool::Offer(std::string_view key, uint64_t score) {
  auto begin = slots_.begin();
  for (size_t i = 0; i < used_; ++i) {
    if (slots_[i].key == key) {
      // Drop the old entry (its slot moves past the end) and re-insert.
      std::rotate(begin + i, begin + i + 1, begin + used_);
      --used_;
      break;
    }
  }
  if (used_ == kCapacity) {
    if (score <= slots_[0].score) return;
    std::rotate(begin, begin + 1, begin + used_);
    --used_;
  }
  const auto pos = std::upper_bound(begin, begin + used_, score,
                                    [](uint64_t s, const Candidate& c) { return s < c.score; });
  // The free slot at used_ moves to pos, bringing its string's capacity.
  std::rotate(pos, begin + used_, begin + used_ + 1);
  pos->score = score;
  pos->key.assign(key);
  ++used_;
}

bool EvictionPool::PopBest(std::string* key) {
  if (used_ == 0) return false;
  --used_;
  std::swap(*key, slots_[used_].key);
  return true;
}

}  // namespace shoal::storage
