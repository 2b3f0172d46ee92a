#include "storage/eviction.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "storage/dict.h"
#include "storage/status.h"
#include "storage/store.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr uint64_t kSeed = 0xe71c7;

std::string Key(const char* prefix, size_t i) {
  return prefix + std::to_string(i);
}

// Memory measured as the number of keys: each eviction frees exactly one
// unit, so the tests can say "evict down to N keys".
std::function<size_t()> KeyCount(const Store& s) {
  return [&s] { return s.size(); };
}

size_t CountLive(Store& s, const char* prefix, size_t n, int64_t now_ms) {
  size_t live = 0;
  for (size_t i = 0; i < n; ++i) live += s.Exists(Key(prefix, i), now_ms) ? 1 : 0;
  return live;
}

EvictionConfig Config(EvictionPolicy policy) {
  EvictionConfig c;
  c.policy = policy;
  return c;
}

// --- Pure pieces ----------------------------------------------------------

TEST_CASE("LRU clock: second resolution, idle time across the 24-bit wrap") {
  const uint32_t lru = LruClock(kNow);
  CHECK(LruIdleMs(lru, kNow) == 0);
  CHECK(LruIdleMs(lru, kNow + 999) == 0);
  CHECK(LruIdleMs(lru, kNow + 5 * kSecond) == 5000);
  CHECK(LruClock(kNow) <= kAccessMask);

  // The last tick before the clock wraps to 0.
  const int64_t before_wrap = int64_t{kAccessMask} * kLruClockResolutionMs;
  CHECK(LruClock(before_wrap) == kAccessMask);
  CHECK(LruClock(before_wrap + 2 * kSecond) == 1);
  CHECK(LruIdleMs(LruClock(before_wrap), before_wrap + 2 * kSecond) == 2000);
}

TEST_CASE("LFU counter: logarithmic growth, saturation, coin flip") {
  // Below the initial value every access counts.
  for (uint8_t c = 0; c < kLfuInitValue; ++c) CHECK(LfuLogIncrement(c, UINT64_MAX, 10) == c + 1);
  CHECK(LfuLogIncrement(255, 0, 10) == 255);
  // Above it, p = 1 / ((c - 5) * factor + 1): random 0 always wins, the
  // largest random always loses.
  CHECK(LfuLogIncrement(10, 0, 10) == 11);
  CHECK(LfuLogIncrement(10, UINT64_MAX, 10) == 10);

  auto hits_to = [](size_t hits) {
    uint64_t state = kSeed;
    uint8_t c = kLfuInitValue;
    for (size_t i = 0; i < hits; ++i) c = LfuLogIncrement(c, SplitMix64(&state), 10);
    return c;
  };
  // Redis's table for lfu-log-factor 10: ~10 at 100 hits, ~18 at 1K, 255 at 1M.
  CHECK(hits_to(100) >= 8);
  CHECK(hits_to(100) <= 14);
  CHECK(hits_to(1000) >= 14);
  CHECK(hits_to(1000) <= 24);
  CHECK(hits_to(1'000'000) == 255);
}

TEST_CASE("LFU decay: one per decay period of idleness, 16-bit minute wrap") {
  EvictionConfig config = Config(EvictionPolicy::kAllKeysLfu);
  uint32_t meta = NewAccessMeta(config, kNow);
  CHECK(LfuDecayedCounter(meta, kNow, 1) == kLfuInitValue);
  // random 0 always increments.
  for (int i = 0; i < 15; ++i) meta = TouchedAccessMeta(meta, config, kNow, 0);
  CHECK(LfuDecayedCounter(meta, kNow, 1) == 20);
  CHECK(LfuDecayedCounter(meta, kNow + 5 * kMinute, 1) == 15);
  CHECK(LfuDecayedCounter(meta, kNow + 5 * kMinute, 2) == 18);
  CHECK(LfuDecayedCounter(meta, kNow + 5 * kMinute, 0) == 20);  // 0 = no decay
  CHECK(LfuDecayedCounter(meta, kNow + 30 * kMinute, 1) == 0);

  // A touch decays first, then restarts the period.
  meta = TouchedAccessMeta(meta, config, kNow + 5 * kMinute, UINT64_MAX);
  CHECK(LfuDecayedCounter(meta, kNow + 5 * kMinute, 1) == 15);
  CHECK(LfuDecayedCounter(meta, kNow + 6 * kMinute, 1) == 14);

  // Minute 0xFFFF to minute 1 is two minutes.
  const int64_t last_minute = int64_t{0xFFFF} * kMinute;
  meta = NewAccessMeta(config, last_minute);
  CHECK(LfuDecayedCounter(meta, last_minute + 2 * kMinute, 1) == kLfuInitValue - 2);
}

TEST_CASE("eviction scores rank candidates per policy") {
  const EvictionConfig lru = Config(EvictionPolicy::kAllKeysLru);
  const EvictionConfig lfu = Config(EvictionPolicy::kVolatileLfu);
  const EvictionConfig ttl = Config(EvictionPolicy::kVolatileTtl);

  CHECK(EvictionScore(lru, LruClock(kNow), 0, kNow + 7 * kSecond) == 7000);
  CHECK(EvictionScore(lru, LruClock(kNow), 0, kNow + 7 * kSecond) >
        EvictionScore(lru, LruClock(kNow + kSecond), 0, kNow + 7 * kSecond));

  const uint32_t fresh = NewAccessMeta(lfu, kNow);
  const uint32_t used = TouchedAccessMeta(fresh, lfu, kNow, 0);
  CHECK(EvictionScore(lfu, fresh, kNow + kMinute * 60, kNow) == 255 - kLfuInitValue);
  CHECK(EvictionScore(lfu, fresh, kNow + kMinute * 60, kNow) >
        EvictionScore(lfu, used, kNow + kMinute * 60, kNow));

  CHECK(EvictionScore(ttl, 0, kNow + kSecond, kNow) >
        EvictionScore(ttl, 0, kNow + 2 * kSecond, kNow));

  // Already expired beats everything, whatever the policy.
  for (const EvictionConfig& c : {lru, lfu, ttl}) {
    CHECK(EvictionScore(c, 0, kNow, kNow) == kExpiredScore);
    CHECK(EvictionScore(c, 0, kNow + 1, kNow) < kExpiredScore);
  }
}

TEST_CASE("policy classification") {
  CHECK(IsVolatile(EvictionPolicy::kVolatileTtl));
  CHECK_FALSE(IsVolatile(EvictionPolicy::kAllKeysLru));
  CHECK_FALSE(IsVolatile(EvictionPolicy::kNoEviction));
  CHECK(IsLfu(EvictionPolicy::kAllKeysLfu));
  CHECK(IsLfu(EvictionPolicy::kVolatileLfu));
  CHECK_FALSE(IsLfu(EvictionPolicy::kVolatileLru));
  CHECK(UsesPool(EvictionPolicy::kVolatileTtl));
  CHECK_FALSE(UsesPool(EvictionPolicy::kAllKeysRandom));
  CHECK_FALSE(UsesPool(EvictionPolicy::kVolatileRandom));
}

TEST_CASE("the pool keeps the 16 best candidates and pops best first") {
  EvictionPool pool;
  std::string key;
  CHECK_FALSE(pool.PopBest(&key));
  // Scores 1..20 in a scrambled order.
  for (uint64_t i = 0; i < 20; ++i) {
    const uint64_t score = (i * 7) % 20 + 1;
    pool.Offer(Key("k", score), score);
  }
  CHECK(pool.size() == EvictionPool::kCapacity);
  pool.Offer("low", 5);  // not better than the worst member (5)
  pool.Offer("k20", 3);  // a member's score is replaced, not duplicated
  CHECK(pool.size() == EvictionPool::kCapacity);
  std::vector<std::string> order;
  while (pool.PopBest(&key)) order.push_back(key);
  std::vector<std::string> want;
  for (uint64_t s = 19; s >= 5; --s) want.push_back(Key("k", s));
  want.push_back("k20");
  CHECK(order == want);
  CHECK(pool.empty());
}

// --- Store::EvictUntil ------------------------------------------------------

TEST_CASE("noeviction never evicts and reports over the limit") {
  Store s;
  for (size_t i = 0; i < 100; ++i) s.Set(Key("k", i), "v", 0, kNow);
  Result<size_t> r = s.EvictUntil(50, kNow, kSeed, KeyCount(s));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kOutOfMemory);
  CHECK_FALSE(r.status().message().empty());
  CHECK(s.size() == 100);
  CHECK(s.stats().evicted_keys == 0);

  // At or under the limit: nothing to do, whatever the policy.
  r = s.EvictUntil(100, kNow, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == 0);
}

TEST_CASE("under the limit the measure is read once and nothing is touched") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom);
  for (size_t i = 0; i < 10; ++i) s.Set(Key("k", i), "v", 0, kNow);
  int calls = 0;
  Result<size_t> r = s.EvictUntil(1000, kNow, kSeed, [&] {
    ++calls;
    return s.size();
  });
  REQUIRE(r.ok());
  CHECK(r.value() == 0);
  CHECK(calls == 1);
  CHECK(s.size() == 10);
}

TEST_CASE("volatile policies evict only keys with a TTL") {
  for (EvictionPolicy policy : {EvictionPolicy::kVolatileLru, EvictionPolicy::kVolatileLfu,
                                EvictionPolicy::kVolatileRandom, EvictionPolicy::kVolatileTtl}) {
    CAPTURE(static_cast<int>(policy));
    Store s;
    s.SetEvictionPolicy(policy);
    std::set<std::string> observed;
    s.SetEvictionObserver([&](std::string_view key) { observed.emplace(key); });
    for (size_t i = 0; i < 200; ++i) {
      s.Set(Key("p", i), "v", 0, kNow);
      s.Set(Key("t", i), "v", kNow + 3600 * kSecond + static_cast<int64_t>(i) * kSecond, kNow);
    }
    // Asks for more than the TTL keys can give.
    Result<size_t> r = s.EvictUntil(100, kNow + kSecond, kSeed, KeyCount(s));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kOutOfMemory);
    CHECK(CountLive(s, "p", 200, kNow) == 200);
    CHECK(CountLive(s, "t", 200, kNow) == 0);
    CHECK(s.expires_size() == 0);
    CHECK(s.stats().evicted_keys == 200);
    CHECK(observed.size() == 200);
    for (const std::string& k : observed) CHECK(k[0] == 't');
  }
}

TEST_CASE("allkeys-random and volatile-random pick from their whole population") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom);
  for (size_t i = 0; i < 200; ++i) {
    s.Set(Key("p", i), "v", 0, kNow);
    s.Set(Key("t", i), "v", kNow + 3600 * kSecond, kNow);
  }
  Result<size_t> r = s.EvictUntil(200, kNow, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == 200);
  const size_t p_left = CountLive(s, "p", 200, kNow);
  const size_t t_left = CountLive(s, "t", 200, kNow);
  CHECK(p_left + t_left == 200);
  // Both populations lose keys, roughly evenly.
  CHECK(p_left >= 70);
  CHECK(p_left <= 130);

  s.SetEvictionPolicy(EvictionPolicy::kVolatileRandom);
  r = s.EvictUntil(200 - t_left / 2, kNow, kSeed + 1, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(CountLive(s, "p", 200, kNow) == p_left);
  CHECK(CountLive(s, "t", 200, kNow) == t_left - t_left / 2);
}

TEST_CASE("volatile-ttl evicts the soonest expiries first") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kVolatileTtl);
  std::vector<std::string> evicted;
  s.SetEvictionObserver([&](std::string_view key) { evicted.emplace_back(key); });
  constexpr size_t kN = 1000;
  for (size_t i = 0; i < kN; ++i) {
    s.Set(Key("t", i), "v", kNow + static_cast<int64_t>(i + 1) * kMinute, kNow);
  }
  Result<size_t> r = s.EvictUntil(kN - 100, kNow, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  REQUIRE(evicted.size() == 100);
  // Sampling approximates the order: nearly all came from the soonest 30%
  // of the keys (a random pick would take ~30 from there).
  size_t soon = 0;
  for (const std::string& k : evicted) soon += std::stoul(k.substr(1)) < kN * 3 / 10 ? 1 : 0;
  CHECK(soon >= 90);
}

TEST_CASE("allkeys-lru evicts cold keys and keeps hot ones") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLru);
  constexpr size_t kN = 1000;
  for (size_t i = 0; i < kN; ++i) {
    s.Set(Key("hot", i), "v", 0, kNow);
    s.Set(Key("cold", i), "v", 0, kNow);
  }
  for (size_t i = 0; i < kN; ++i) REQUIRE(s.Get(Key("hot", i), kNow + 100 * kSecond) != nullptr);
  Result<size_t> r = s.EvictUntil(2 * kN - kN / 2, kNow + 200 * kSecond, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == kN / 2);
  CHECK(CountLive(s, "hot", kN, kNow) >= kN - kN / 50);  // at most 2% of hot keys lost
}

TEST_CASE("allkeys-lru approximates the true LRU order") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLru);
  std::vector<std::string> evicted;
  s.SetEvictionObserver([&](std::string_view key) { evicted.emplace_back(key); });
  constexpr size_t kN = 1000;
  // Key i was last used at second i.
  for (size_t i = 0; i < kN; ++i)
    s.Set(Key("k", i), "v", 0, kNow + static_cast<int64_t>(i) * kSecond);
  Result<size_t> r = s.EvictUntil(kN - 100, kNow + 2000 * kSecond, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  REQUIRE(evicted.size() == 100);
  // Nearly all came from the oldest 30% (a random pick would take ~30).
  size_t oldest = 0;
  for (const std::string& k : evicted) oldest += std::stoul(k.substr(1)) < kN * 3 / 10 ? 1 : 0;
  CHECK(oldest >= 90);
}

TEST_CASE("allkeys-lfu keeps frequently used keys") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLfu);
  constexpr size_t kHot = 100;
  constexpr size_t kCold = 900;
  for (size_t i = 0; i < kHot; ++i) s.Set(Key("hot", i), "v", 0, kNow);
  for (size_t i = 0; i < kCold; ++i) s.Set(Key("cold", i), "v", 0, kNow);
  for (int round = 0; round < 100; ++round) {
    for (size_t i = 0; i < kHot; ++i) REQUIRE(s.Get(Key("hot", i), kNow) != nullptr);
  }
  REQUIRE(*s.LfuFrequency(Key("hot", 0), kNow) > kLfuInitValue + 2);
  CHECK(*s.LfuFrequency(Key("cold", 0), kNow) == kLfuInitValue);
  Result<size_t> r = s.EvictUntil(500, kNow, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == 500);
  CHECK(CountLive(s, "hot", kHot, kNow) >= kHot - 2);
}

TEST_CASE("allkeys-lfu: counters decay, so once-hot idle keys go before new ones") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLfu);
  constexpr size_t kN = 100;
  for (size_t i = 0; i < kN; ++i) s.Set(Key("old", i), "v", 0, kNow);
  for (int round = 0; round < 100; ++round) {
    for (size_t i = 0; i < kN; ++i) REQUIRE(s.Get(Key("old", i), kNow) != nullptr);
  }
  const int64_t later = kNow + 60 * kMinute;  // a counter loses 60 in an hour
  CHECK(*s.LfuFrequency(Key("old", 0), later) == 0);
  for (size_t i = 0; i < kN; ++i) s.Set(Key("new", i), "v", 0, later);
  Result<size_t> r = s.EvictUntil(kN + kN / 2, later, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == kN / 2);
  CHECK(CountLive(s, "new", kN, later) >= kN - 3);
}

TEST_CASE("evicted keys are counted and reported to the observer") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom);
  std::vector<std::string> observed;
  s.SetEvictionObserver([&](std::string_view key) { observed.emplace_back(key); });
  for (size_t i = 0; i < 50; ++i) s.Set(Key("k", i), "v", 0, kNow);
  Result<size_t> r = s.EvictUntil(30, kNow, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == 20);
  CHECK(s.stats().evicted_keys == 20);
  CHECK(observed.size() == 20);
  CHECK(std::set<std::string>(observed.begin(), observed.end()).size() == 20);
  for (const std::string& k : observed) CHECK_FALSE(s.Exists(k, kNow));
  s.ResetStats();
  CHECK(s.stats().evicted_keys == 0);
}

TEST_CASE("expired keys are reclaimed first, as expiries, not evictions") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kVolatileLru);
  size_t observed = 0;
  s.SetEvictionObserver([&](std::string_view) { ++observed; });
  for (size_t i = 0; i < 100; ++i) s.Set(Key("p", i), "v", 0, kNow);
  for (size_t i = 0; i < 10; ++i) s.Set(Key("t", i), "v", kNow + kSecond, kNow);
  Result<size_t> r = s.EvictUntil(100, kNow + 5 * kSecond, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == 0);
  CHECK(s.size() == 100);
  CHECK(s.stats().expired_keys == 10);
  CHECK(s.stats().evicted_keys == 0);
  CHECK(observed == 0);
  // Nothing with a TTL is left.
  r = s.EvictUntil(99, kNow + 5 * kSecond, kSeed, KeyCount(s));
  CHECK_FALSE(r.ok());
}

TEST_CASE("the measure callback decides when to stop") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLru);
  for (size_t i = 0; i < 100; ++i) s.Set(Key("k", i), "v", 0, kNow);
  int calls = 0;
  // 100 bytes a key: getting under 9'350 takes exactly 7 evictions.
  Result<size_t> r = s.EvictUntil(9'350, kNow, kSeed, [&] {
    ++calls;
    return s.size() * 100;
  });
  REQUIRE(r.ok());
  CHECK(r.value() == 7);
  CHECK(calls == 8);  // once first, then after each eviction
  CHECK(s.size() == 93);
}

TEST_CASE("without a measure, used_bytes() is the measure") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLru);
  const std::string value(64, 'x');
  for (size_t i = 0; i < 1000; ++i) s.Set(Key("k", i), value, 0, kNow);
  const size_t limit = s.used_bytes() / 2;
  // About 525 keys must go (the bucket array does not shrink yet), more
  // than one call's bound of 512, so the caller calls again, as the
  // server's cron would.
  size_t evicted = 0;
  int calls = 0;
  while (s.used_bytes() > limit) {
    REQUIRE(++calls <= 2);
    Result<size_t> r = s.EvictUntil(limit, kNow, kSeed + calls);
    REQUIRE(r.ok());
    evicted += r.value();
  }
  CHECK(s.size() >= 400);
  CHECK(s.size() <= 600);
  CHECK(evicted == 1000 - s.size());
}

TEST_CASE("one call evicts at most max_evictions_per_call keys") {
  Store s;
  EvictionConfig config = Config(EvictionPolicy::kAllKeysLru);
  config.max_evictions_per_call = 10;
  s.SetEvictionConfig(config);
  for (size_t i = 0; i < 100; ++i) s.Set(Key("k", i), "v", 0, kNow);
  int calls = 0;
  auto measure = [&] {
    ++calls;
    return s.size();
  };
  // Still over the limit but making progress: ok, as Redis's EVICT_RUNNING.
  Result<size_t> r = s.EvictUntil(0, kNow, kSeed, measure);
  REQUIRE(r.ok());
  CHECK(r.value() == 10);
  CHECK(s.size() == 90);
  CHECK(calls == 11);
  r = s.EvictUntil(0, kNow, kSeed + 1, measure);
  REQUIRE(r.ok());
  CHECK(r.value() == 10);
  CHECK(s.size() == 80);
}

TEST_CASE("an empty store over the limit reports OOM") {
  for (EvictionPolicy policy : {EvictionPolicy::kAllKeysLru, EvictionPolicy::kAllKeysRandom,
                                EvictionPolicy::kVolatileTtl, EvictionPolicy::kVolatileRandom}) {
    Store s;
    s.SetEvictionPolicy(policy);
    Result<size_t> r = s.EvictUntil(10, kNow, kSeed, [] { return size_t{100}; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kOutOfMemory);
  }
}

TEST_CASE("pool members that lost their TTL are skipped under volatile policies") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kVolatileLru, 10);
  std::vector<std::string> observed;
  s.SetEvictionObserver([&](std::string_view key) { observed.emplace_back(key); });
  // "t" keys are idle for long, "u" keys were used recently.
  for (size_t i = 0; i < 100; ++i) s.Set(Key("t", i), "v", kNow + 3600 * kSecond, kNow);
  for (size_t i = 0; i < 100; ++i) {
    s.Set(Key("u", i), "v", kNow + 3600 * kSecond, kNow + 500 * kSecond);
  }
  // One eviction leaves the other sampled candidates, idle "t" keys among
  // them, in the pool with high scores.
  Result<size_t> r = s.EvictUntil(199, kNow + 600 * kSecond, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  REQUIRE(r.value() == 1);
  const size_t t_left = CountLive(s, "t", 100, kNow);
  for (size_t i = 0; i < 100; ++i) (void)s.Persist(Key("t", i), kNow + 600 * kSecond);
  observed.clear();
  r = s.EvictUntil(189, kNow + 600 * kSecond, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == 10);
  CHECK(CountLive(s, "t", 100, kNow) == t_left);
  for (const std::string& k : observed) CHECK(k[0] == 'u');
}

TEST_CASE("pool members that were deleted are skipped") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLru, 10);
  for (size_t i = 0; i < 100; ++i) s.Set(Key("t", i), "v", 0, kNow);
  Result<size_t> r = s.EvictUntil(99, kNow + kSecond, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  for (size_t i = 0; i < 100; ++i) (void)s.Delete(Key("t", i), kNow + kSecond);
  // The pool still names old keys; the victims come from the keys that exist.
  for (size_t i = 0; i < 10; ++i) s.Set(Key("n", i), "v", 0, kNow + kSecond);
  std::vector<std::string> observed;
  s.SetEvictionObserver([&](std::string_view key) { observed.emplace_back(key); });
  r = s.EvictUntil(5, kNow + 2 * kSecond, kSeed, KeyCount(s));
  REQUIRE(r.ok());
  CHECK(r.value() == 5);
  CHECK(observed.size() == 5);
  for (const std::string& k : observed) CHECK(k[0] == 'n');
  CHECK(s.size() == 5);
}

// --- Access metadata through the store ---------------------------------------

TEST_CASE("reads and writes touch the LRU clock; no-touch lookups do not") {
  Store s;
  s.Set("k", "v", 0, kNow);
  CHECK(s.IdleTimeMs("k", kNow + 10 * kSecond) == 10'000u);
  CHECK(s.IdleTimeMs("nope", kNow) == std::nullopt);

  (void)s.Exists("k", kNow + 20 * kSecond);
  (void)s.GetExpireAt("k", kNow + 20 * kSecond);
  // Peek (OBJECT, MEMORY USAGE) neither touches nor counts a hit.
  REQUIRE(s.Peek("k", kNow + 20 * kSecond) != nullptr);
  CHECK(*s.Peek("k", kNow + 20 * kSecond) == "v");
  CHECK(s.Peek("nope", kNow + 20 * kSecond) == nullptr);
  CHECK(s.stats().keyspace_hits == 0);
  CHECK(s.stats().keyspace_misses == 0);
  CHECK(s.IdleTimeMs("k", kNow + 20 * kSecond) == 20'000u);

  using Op = std::function<void(Store&, int64_t)>;
  const std::vector<std::pair<std::string, Op>> touching = {
      {"Get", [](Store& st, int64_t t) { (void)st.Get("k", t); }},
      {"GetMutable", [](Store& st, int64_t t) { (void)st.GetMutable("k", t); }},
      {"Set", [](Store& st, int64_t t) { st.Set("k", "w", 0, t); }},
      {"SetKeepTtl", [](Store& st, int64_t t) { st.SetKeepTtl("k", "w", t); }},
      {"SetExpireAt",
       [](Store& st, int64_t t) { (void)st.SetExpireAt("k", t + 3600 * kSecond, t); }},
      {"Persist", [](Store& st, int64_t t) { (void)st.Persist("k", t); }},
  };
  int64_t t = kNow + 100 * kSecond;
  for (const auto& entry : touching) {
    // Not a structured binding: CAPTURE's lambda cannot capture one (clang).
    const std::string& name = entry.first;
    CAPTURE(name);
    t += 100 * kSecond;
    entry.second(s, t);
    CHECK(s.IdleTimeMs("k", t) == 0u);
    CHECK(s.IdleTimeMs("k", t + 3 * kSecond) == 3'000u);
  }
}

TEST_CASE("the three-argument Set stamps the latest time seen") {
  Store s;
  (void)s.Get("other", kNow + 50 * kSecond);
  s.Set("k", "v", 0);
  CHECK(s.IdleTimeMs("k", kNow + 50 * kSecond) == 0u);
}

TEST_CASE("LFU: new keys start at 5, accesses count, overwrites keep the count") {
  Store s;
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysLfu);
  s.Set("k", "v", 0, kNow);
  CHECK(s.LfuFrequency("k", kNow) == kLfuInitValue);
  (void)s.Exists("k", kNow);
  CHECK(s.LfuFrequency("k", kNow) == kLfuInitValue);
  (void)s.Get("k", kNow);  // below 5 + 1 every hit counts
  CHECK(s.LfuFrequency("k", kNow) == kLfuInitValue + 1);
  for (int i = 0; i < 200; ++i) (void)s.Get("k", kNow);
  const uint8_t before = *s.LfuFrequency("k", kNow);
  CHECK(before > kLfuInitValue + 2);
  s.Set("k", "w", 0, kNow);
  CHECK(*s.LfuFrequency("k", kNow) >= before);
  CHECK(s.LfuFrequency("nope", kNow) == std::nullopt);
}

}  // namespace
}  // namespace shoal::storage
