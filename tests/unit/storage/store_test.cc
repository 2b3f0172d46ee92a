#include "storage/store.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/dict.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::string Key(const char* prefix, size_t i) {
  return prefix + std::to_string(i);
}

// Runs explicit rehash steps until none is left; fails instead of hanging.
void FinishRehash(Store* t) {
  for (int i = 0; t->RehashStep(100); ++i) REQUIRE(i < 1'000'000);
}

// A 16-byte key, as in the memory target (16-byte keys, 64-byte values).
std::string Key16(size_t i) {
  std::string digits = std::to_string(i);
  return "key:" + std::string(12 - digits.size(), '0') + digits;
}

TEST_CASE("Set and Get") {
  Store s;
  CHECK(s.Get("k", kNow) == nullptr);
  s.Set("k", "v1", 0);
  REQUIRE(s.Get("k", kNow) != nullptr);
  CHECK(*s.Get("k", kNow) == "v1");
  s.Set("k", "v2", 0);
  CHECK(*s.Get("k", kNow) == "v2");
  CHECK(s.size() == 1);
  s.Set(std::string("bin\0key", 7), std::string("bin\0val", 7), 0);
  CHECK(*s.Get(std::string("bin\0key", 7), kNow) == std::string("bin\0val", 7));
  CHECK(s.Get("bin", kNow) == nullptr);
}

TEST_CASE("hits and misses are counted by Get only") {
  Store s;
  s.Set("k", "v", 0);
  (void)s.Get("k", kNow);
  (void)s.Get("k", kNow);
  (void)s.Get("nope", kNow);
  (void)s.Exists("k", kNow);
  (void)s.Exists("nope", kNow);
  (void)s.GetMutable("k", kNow);
  (void)s.GetMutable("nope", kNow);
  (void)s.GetExpireAt("nope", kNow);
  CHECK(s.stats().keyspace_hits == 2);
  CHECK(s.stats().keyspace_misses == 1);
  s.ResetStats();
  CHECK(s.stats().keyspace_hits == 0);
  CHECK(s.stats().keyspace_misses == 0);
}

TEST_CASE("an expired Get is a miss and counts as expired") {
  Store s;
  s.Set("k", "v", kNow + 10);
  CHECK(s.Get("k", kNow + 10) == nullptr);
  CHECK(s.stats().keyspace_misses == 1);
  CHECK(s.stats().expired_keys == 1);
}

// Every lookup treats a key whose expiry is <= now as absent and deletes it.
struct LazyCase {
  const char* op;
  std::function<bool(Store&, int64_t now)> sees_key;  // true if the op saw a live key
};

TEST_CASE("lazy expiry in every lookup") {
  const std::vector<LazyCase> cases = {
      {"Get", [](Store& s, int64_t now) { return s.Get("k", now) != nullptr; }},
      {"GetMutable", [](Store& s, int64_t now) { return s.GetMutable("k", now) != nullptr; }},
      {"Exists", [](Store& s, int64_t now) { return s.Exists("k", now); }},
      {"GetExpireAt", [](Store& s, int64_t now) { return s.GetExpireAt("k", now).has_value(); }},
      {"SetExpireAt", [](Store& s, int64_t now) { return s.SetExpireAt("k", now + 5000, now); }},
      {"Persist", [](Store& s, int64_t now) { return s.Persist("k", now); }},
      {"Delete", [](Store& s, int64_t now) { return s.Delete("k", now); }},
  };
  for (const auto& c : cases) {
    const std::string op = c.op;
    CAPTURE(op);
    {
      Store s;
      s.Set("k", "v", kNow + 100);
      CHECK(c.sees_key(s, kNow + 99));  // one ms before expiry: live
    }
    Store s;
    s.Set("k", "v", kNow + 100);
    s.Set("other", "v", kNow + 100);
    CHECK(s.size() == 2);
    CHECK(s.expires_size() == 2);
    CHECK_FALSE(c.sees_key(s, kNow + 100));  // at the expiry time: gone
    CHECK(s.size() == 1);                    // and deleted on the way
    CHECK(s.expires_size() == 1);
    CHECK(s.stats().expired_keys == 1);
    CHECK_FALSE(s.Exists("k", kNow));  // really gone, even at an earlier time
  }
}

TEST_CASE("Set with a past expiry still stores; lookups see it expired") {
  Store s;
  s.Set("k", "v", kNow - 1);
  CHECK(s.size() == 1);
  CHECK(s.expires_size() == 1);
  CHECK_FALSE(s.Exists("k", kNow));
  CHECK(s.size() == 0);
}

TEST_CASE("Set replaces any previous TTL") {
  Store s;
  s.Set("k", "v", kNow + 1000);
  CHECK(s.GetExpireAt("k", kNow) == kNow + 1000);
  s.Set("k", "v2", kNow + 2000);
  CHECK(s.GetExpireAt("k", kNow) == kNow + 2000);
  CHECK(s.expires_size() == 1);
  s.Set("k", "v3", 0);
  CHECK(s.GetExpireAt("k", kNow) == 0);
  CHECK(s.expires_size() == 0);
  CHECK(s.Exists("k", kNow + 5000));
}

TEST_CASE("SetKeepTtl") {
  Store s;
  s.Set("k", "v", kNow + 1000);
  s.SetKeepTtl("k", "v2", kNow);
  CHECK(*s.Get("k", kNow) == "v2");
  CHECK(s.GetExpireAt("k", kNow) == kNow + 1000);

  s.SetKeepTtl("new", "v", kNow);  // absent: stored without TTL
  CHECK(s.GetExpireAt("new", kNow) == 0);

  s.Set("old", "v", kNow + 10);
  s.SetKeepTtl("old", "fresh", kNow + 10);  // expired: a fresh key without TTL
  CHECK(s.GetExpireAt("old", kNow + 20) == 0);
  CHECK(*s.Get("old", kNow + 20) == "fresh");
  CHECK(s.stats().expired_keys == 1);
  CHECK(s.expires_size() == 1);
}

TEST_CASE("GetExpireAt, SetExpireAt, Persist") {
  Store s;
  CHECK(s.GetExpireAt("k", kNow) == std::nullopt);
  CHECK_FALSE(s.SetExpireAt("k", kNow + 100, kNow));
  CHECK_FALSE(s.Persist("k", kNow));

  s.Set("k", "v", 0);
  CHECK(s.GetExpireAt("k", kNow) == 0);
  CHECK_FALSE(s.Persist("k", kNow));  // no TTL to remove

  CHECK(s.SetExpireAt("k", kNow + 100, kNow));
  CHECK(s.GetExpireAt("k", kNow) == kNow + 100);
  CHECK(s.expires_size() == 1);
  CHECK(s.SetExpireAt("k", kNow + 200, kNow));  // moves it
  CHECK(s.GetExpireAt("k", kNow) == kNow + 200);
  CHECK(s.expires_size() == 1);

  CHECK(s.Persist("k", kNow));
  CHECK(s.GetExpireAt("k", kNow) == 0);
  CHECK(s.expires_size() == 0);
  CHECK(s.Exists("k", kNow + 1'000'000));
}

TEST_CASE("SetExpireAt at or before now deletes the key") {
  for (int64_t delta : {0, -1, -1'000'000}) {
    CAPTURE(delta);
    Store s;
    s.Set("k", "v", kNow + 500);
    CHECK(s.SetExpireAt("k", kNow + delta, kNow));
    CHECK(s.size() == 0);
    CHECK(s.expires_size() == 0);
    CHECK(s.stats().expired_keys == 0);  // as Redis: a delete, not an expiry
  }
}

TEST_CASE("Delete") {
  Store s;
  CHECK_FALSE(s.Delete("k", kNow));
  s.Set("k", "v", 0);
  CHECK(s.Delete("k", kNow));
  CHECK_FALSE(s.Delete("k", kNow));
  s.Set("t", "v", kNow + 5);
  CHECK(s.Delete("t", kNow + 4));
  CHECK(s.expires_size() == 0);
  s.Set("t", "v", kNow + 5);
  CHECK_FALSE(s.Delete("t", kNow + 5));  // expired: not a live key
  CHECK(s.size() == 0);
  CHECK(s.stats().expired_keys == 1);
}

TEST_CASE("GetMutable edits in place") {
  Store s;
  s.Set("k", "abc", 0);
  std::string* v = s.GetMutable("k", kNow);
  REQUIRE(v != nullptr);
  const size_t old_size = v->size();
  v->append("def");
  s.NoteResize(old_size, v->size());
  CHECK(*s.Get("k", kNow) == "abcdef");
}

TEST_CASE("the TTL index stays consistent under mixed operations") {
  Store s;
  uint64_t state = 99;
  std::map<std::string, int64_t> model;  // key -> expire_at (0 = none)
  for (int i = 0; i < 20'000; ++i) {
    const std::string key = Key("k", SplitMix64(&state) % 500);
    switch (SplitMix64(&state) % 6) {
      case 0:
        s.Set(key, "v", 0);
        model[key] = 0;
        break;
      case 1:
      case 2: {
        const int64_t at = kNow + 1 + static_cast<int64_t>(SplitMix64(&state) % 1000);
        s.Set(key, "v", at);
        model[key] = at;
        break;
      }
      case 3:
        CHECK(s.Persist(key, kNow) == (model.count(key) && model[key] != 0));
        if (model.count(key)) model[key] = 0;
        break;
      case 4:
        CHECK(s.Delete(key, kNow) == (model.count(key) > 0));
        model.erase(key);
        break;
      case 5:
        if (model.count(key)) {
          const int64_t at = kNow + 1 + static_cast<int64_t>(SplitMix64(&state) % 1000);
          CHECK(s.SetExpireAt(key, at, kNow));
          model[key] = at;
        }
        break;
    }
  }
  size_t with_ttl = 0;
  for (const auto& [k, at] : model) {
    CHECK(s.GetExpireAt(k, kNow) == at);
    if (at != 0) ++with_ttl;
  }
  CHECK(s.size() == model.size());
  CHECK(s.expires_size() == with_ttl);

  // Far in the future every TTL key is gone after enough active expiry.
  const int64_t later = kNow + 10'000;
  size_t removed = 0;
  for (int cycles = 0; s.expires_size() > 0; ++cycles) {
    REQUIRE(cycles < 1000);  // a broken index must fail, not hang
    removed += s.ActiveExpireCycle(later, 1000, removed + 1);
  }
  CHECK(removed == with_ttl);
  CHECK(s.size() == model.size() - with_ttl);
}

TEST_CASE("ActiveExpireCycle") {
  SUBCASE("deletes expired keys and counts them") {
    Store s;
    for (size_t i = 0; i < 100; ++i) s.Set(Key("t", i), "v", kNow + 10);
    for (size_t i = 0; i < 50; ++i) s.Set(Key("plain", i), "v", 0);
    CHECK(s.ActiveExpireCycle(kNow + 9, 1000, 1) == 0);  // nothing due yet
    // All sampled keys are expired, so the cycle repeats until none are left.
    CHECK(s.ActiveExpireCycle(kNow + 10, 1000, 1) == 100);
    CHECK(s.size() == 50);
    CHECK(s.expires_size() == 0);
    CHECK(s.stats().expired_keys == 100);
    CHECK(s.ActiveExpireCycle(kNow + 10, 1000, 2) == 0);
  }
  SUBCASE("stops after max_samples") {
    for (size_t max_samples : {0, 1, 19, 20, 21, 50, 333}) {
      CAPTURE(max_samples);
      Store s;
      for (size_t i = 0; i < 1000; ++i) s.Set(Key("t", i), "v", kNow);
      // Every sample is an expired key: exactly max_samples deletions.
      CHECK(s.ActiveExpireCycle(kNow, max_samples, 7) == max_samples);
      CHECK(s.size() == 1000 - max_samples);
    }
  }
  SUBCASE("one round when at most 25% of a sample expired") {
    // 10% expired: a repeat needs more than 5 of 20 sampled keys expired,
    // which is rare; a cycle that ignored the rule would take all 100.
    size_t total = 0;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      Store s;
      for (size_t i = 0; i < 1000; ++i) s.Set(Key("t", i), "v", i % 10 == 0 ? kNow : kNow + 1000);
      const size_t deleted = s.ActiveExpireCycle(kNow, 100'000, seed);
      CHECK(deleted < 30);
      total += deleted;
    }
    CHECK(total < 20 * 8);  // about 2 per cycle on average
  }
  SUBCASE("repeats while more than 25% of a sample expired") {
    // 90% expired: rounds continue until the expired share drops to about a
    // quarter. With 5 or fewer expired keys left no round can exceed 25%.
    Store s;
    for (size_t i = 0; i < 1000; ++i) s.Set(Key("t", i), "v", i % 10 == 0 ? kNow + 1000 : kNow);
    const size_t deleted = s.ActiveExpireCycle(kNow, 100'000, 3);
    CHECK(deleted > 700);
    CHECK(deleted < 900);
    CHECK(s.expires_size() == 1000 - deleted);
  }
  SUBCASE("empty TTL index") {
    Store s;
    s.Set("k", "v", 0);
    CHECK(s.ActiveExpireCycle(kNow, 1000, 1) == 0);
    CHECK(s.size() == 1);
  }
}

TEST_CASE("RandomKey") {
  SUBCASE("empty store") {
    Store s;
    CHECK(s.RandomKey(kNow, 1) == std::nullopt);
  }
  SUBCASE("a small set: every key comes up") {
    Store s;
    std::set<std::string> keys;
    for (size_t i = 0; i < 10; ++i) {
      keys.insert(Key("k", i));
      s.Set(Key("k", i), "v", 0);
    }
    std::set<std::string> seen;
    uint64_t state = 5;
    for (int i = 0; i < 1000; ++i) {
      auto k = s.RandomKey(kNow, SplitMix64(&state));
      REQUIRE(k.has_value());
      seen.insert(*k);
    }
    CHECK(seen == keys);
  }
  SUBCASE("never an expired key; expired picks are deleted") {
    Store s;
    for (size_t i = 0; i < 50; ++i) s.Set(Key("dead", i), "v", kNow);
    for (size_t i = 0; i < 50; ++i) s.Set(Key("live", i), "v", 0);
    uint64_t state = 11;
    for (int i = 0; i < 200; ++i) {
      auto k = s.RandomKey(kNow, SplitMix64(&state));
      REQUIRE(k.has_value());
      CHECK(k->rfind("live", 0) == 0);
    }
    CHECK(s.stats().expired_keys > 0);
    CHECK(s.size() == 50 + 50 - s.stats().expired_keys);
  }
  SUBCASE("falls back to a walk when nearly everything is expired") {
    Store s;
    for (size_t i = 0; i < 5000; ++i) s.Set(Key("dead", i), "v", kNow);
    s.Set("survivor", "v", 0);
    CHECK(s.RandomKey(kNow, 1) == "survivor");
  }
  SUBCASE("only expired keys") {
    Store s;
    for (size_t i = 0; i < 500; ++i) s.Set(Key("dead", i), "v", kNow);
    CHECK(s.RandomKey(kNow, 1) == std::nullopt);
  }
}

TEST_CASE("Scan") {
  Store s;
  for (size_t i = 0; i < 1000; ++i) s.Set(Key("k", i), "v", 0);
  for (size_t i = 0; i < 100; ++i) s.Set(Key("dead", i), "v", kNow);
  for (size_t i = 0; i < 100; ++i) s.Set(Key("ttl", i), "v", kNow + 50);

  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  size_t calls = 0;
  do {
    size_t batch = 0;
    cursor = s.Scan(cursor, 10, kNow, [&](const EntryView& e) {
      seen.emplace(e.key);
      CHECK(e.value == "v");
      CHECK(e.key.rfind("dead", 0) != 0);  // expired keys are skipped
      CHECK(e.expire_at_ms == (e.key.rfind("ttl", 0) == 0 ? kNow + 50 : 0));
      ++batch;
    });
    CHECK(batch <= 40);  // about `count` per call
    ++calls;
    REQUIRE(calls < 10'000);
  } while (cursor != 0);
  CHECK(seen.size() == 1100);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 1100);
  CHECK(calls > 50);        // count is honoured: not all at once
  CHECK(calls < 300);       // nor one bucket at a time
  CHECK(s.size() == 1200);  // Scan does not delete
}

TEST_CASE("Scan survives writes between calls") {
  Store s;
  for (size_t i = 0; i < 300; ++i) s.Set(Key("stable", i), "v", 0);
  std::set<std::string> seen;
  uint64_t cursor = 0;
  size_t step = 0;
  do {
    cursor = s.Scan(cursor, 5, kNow, [&](const EntryView& e) { seen.emplace(e.key); });
    for (int j = 0; j < 20 && step < 500; ++j) s.Set(Key("new", step * 20 + j), "v", 0);
    if (step > 200) {
      for (int j = 0; j < 50; ++j) s.Delete(Key("new", (step - 200) * 50 + j), kNow);
    }
    ++step;
    REQUIRE(step < 100'000);
  } while (cursor != 0);
  for (size_t i = 0; i < 300; ++i) CHECK(seen.count(Key("stable", i)) == 1);
}

TEST_CASE("ForEach visits live keys only") {
  Store s;
  s.Set("a", "1", 0);
  s.Set("b", "2", kNow + 100);
  s.Set("c", "3", kNow);
  std::map<std::string, std::string> got;
  s.ForEach(kNow, [&](const EntryView& e) { got.emplace(e.key, e.value); });
  CHECK(got == std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}});
}

TEST_CASE("used_bytes rises with data and returns to baseline") {
  Store s;
  CHECK(s.used_bytes() == 0);
  const std::string value(64, 'x');
  constexpr size_t kN = 10'000;
  for (size_t i = 0; i < kN; ++i) s.Set(Key16(i), value, 0);
  REQUIRE(s.size() == kN);
  FinishRehash(&s);
  const size_t full = s.used_bytes();
  // 80-byte entry + 80-byte value buffer + 8-16 bytes of buckets per key.
  CHECK(full > kN * 160);
  CHECK(full < kN * 200);

  // Growing a value through GetMutable + NoteResize is accounted.
  std::string* v = s.GetMutable(Key16(0), kNow);
  REQUIRE(v != nullptr);
  const size_t old_size = v->size();
  v->append(1000, 'y');
  s.NoteResize(old_size, v->size());
  CHECK(s.used_bytes() > full + 1000);

  // Overwrites do not leak in the count.
  for (size_t i = 0; i < kN; ++i) s.Set(Key16(i), value, 0);
  CHECK(s.used_bytes() == full);

  // TTLs add the index, Persist gives it back.
  for (size_t i = 0; i < kN; ++i) s.SetExpireAt(Key16(i), kNow + 1, kNow);
  CHECK(s.used_bytes() > full);

  for (size_t i = 0; i < kN; ++i) CHECK(s.Delete(Key16(i), kNow));
  FinishRehash(&s);
  CHECK(s.size() == 0);
  CHECK(s.used_bytes() == Dict::kMinSize * sizeof(void*));  // the minimum table

  for (size_t i = 0; i < kN; ++i) s.Set(Key("k", i), value, kNow + 1);
  CHECK(s.used_bytes() > kN * 100);
  s.Clear();
  CHECK(s.size() == 0);
  CHECK(s.expires_size() == 0);
  CHECK(s.used_bytes() == 0);
  s.Set("k", "v", 0);  // usable after Clear
  CHECK(s.Exists("k", kNow));
}

TEST_CASE("small values live inside the string; large ones are charged") {
  Store s;
  s.Set("k", "short", 0);
  const size_t small = s.used_bytes();
  s.Set("k", std::string(100, 'x'), 0);
  CHECK(s.used_bytes() == small + 112);  // 101 bytes -> jemalloc's 112 class
  s.Set("k", "", 0);
  CHECK(s.used_bytes() == small);
}

TEST_CASE("RehashStep through the store") {
  Store s;
  for (size_t i = 0; i < 1025; ++i) s.Set(Key("k", i), "v", 0);
  size_t steps = 0;
  while (s.RehashStep(1)) REQUIRE(++steps < 1'000'000);
  CHECK(steps > 0);
  CHECK_FALSE(s.RehashStep(1));
  for (size_t i = 0; i < 1025; ++i) REQUIRE(s.Exists(Key("k", i), kNow));
}

// --- Partitions ---------------------------------------------------------------

// A hash-based rule of the ring's kind (storage/ cannot see cluster/).
Partitioner HashPartitioner(uint32_t partitions) {
  return Partitioner{
      partitions, [partitions](std::string_view key) {
        return static_cast<uint32_t>(std::hash<std::string_view>()(key) % partitions);
      }};
}

std::set<std::string> PartitionKeys(const Store& s, uint32_t p, int64_t now_ms) {
  std::set<std::string> keys;
  s.ForEachInPartition(p, now_ms, [&](const EntryView& e) {
    CHECK(keys.emplace(e.key).second);  // each key once
  });
  return keys;
}

// Every key the store holds (expired or not, at time 0 nothing is) is in the
// index of its partition and nowhere else; PartitionSize agrees.
void CheckIndexMatchesStore(const Store& s, const Partitioner& partitioner) {
  std::vector<std::set<std::string>> expected(partitioner.partitions);
  s.ForEach(0,
            [&](const EntryView& e) { expected[partitioner.partition_of(e.key)].emplace(e.key); });
  size_t total = 0;
  for (uint32_t p = 0; p < partitioner.partitions; ++p) {
    REQUIRE(PartitionKeys(s, p, 0) == expected[p]);
    REQUIRE(s.PartitionSize(p) == expected[p].size());
    total += s.PartitionSize(p);
  }
  REQUIRE(total == s.size());
}

TEST_CASE("ForEachInPartition returns exactly the partition's live keys") {
  Store s;
  const Partitioner part = HashPartitioner(8);
  s.SetPartitioner(part);
  CHECK(s.partitions() == 8);
  std::vector<std::set<std::string>> want(8);
  for (size_t i = 0; i < 200; ++i) {
    const std::string k = Key("k", i);
    s.Set(k, "v", 0, kNow);
    want[part.partition_of(k)].insert(k);
  }
  s.Set(Key("k", 0), "overwritten", 0, kNow);  // not indexed twice
  for (uint32_t p = 0; p < 8; ++p) CHECK(PartitionKeys(s, p, kNow) == want[p]);
  CheckIndexMatchesStore(s, part);

  SUBCASE("deletes") {
    for (size_t i = 0; i < 200; i += 3) {
      const std::string k = Key("k", i);
      REQUIRE(s.Delete(k, kNow));
      want[part.partition_of(k)].erase(k);
    }
    for (uint32_t p = 0; p < 8; ++p) CHECK(PartitionKeys(s, p, kNow) == want[p]);
    CheckIndexMatchesStore(s, part);
  }
  SUBCASE("expired keys are skipped, then reclaimed from the index") {
    const std::string k = Key("k", 7);
    const uint32_t p = part.partition_of(k);
    REQUIRE(s.SetExpireAt(k, kNow + 10, kNow));
    CHECK(PartitionKeys(s, p, kNow + 10).count(k) == 0);  // skipped
    CHECK(s.PartitionSize(p) == want[p].size());          // not reclaimed yet
    CHECK(s.Get(k, kNow + 10) == nullptr);                // lazy expiry
    CHECK(s.PartitionSize(p) == want[p].size() - 1);
    for (size_t i = 0; i < 200; ++i) s.SetExpireAt(Key("k", i), kNow + 20, kNow);
    while (s.ActiveExpireCycle(kNow + 20, 1000, 1) > 0) {
    }
    CHECK(s.size() == 0);
    for (uint32_t q = 0; q < 8; ++q) CHECK(s.PartitionSize(q) == 0);
  }
  SUBCASE("out of range partitions are empty") {
    CHECK(s.PartitionSize(8) == 0);
    CHECK(PartitionKeys(s, 8, kNow).empty());
  }
}

TEST_CASE("the partition index is stable under the dict's incremental rehash") {
  Store s;
  const Partitioner part = HashPartitioner(16);
  s.SetPartitioner(part);
  // Grow through several resizes without finishing them, deleting and
  // re-adding on the way, checking in the middle of each rehash.
  for (size_t i = 0; i < 5000; ++i) {
    s.Set(Key("k", i), "v", 0, kNow);
    if (i % 7 == 0) s.Delete(Key("k", i / 2), kNow);
    if (i % 997 == 0) CheckIndexMatchesStore(s, part);
  }
  CHECK(s.RehashStep(1));  // a rehash is in progress
  CheckIndexMatchesStore(s, part);
  // Shrink: delete most keys, check while the shrink rehash runs.
  for (size_t i = 0; i < 5000; ++i) {
    if (i % 10 != 0) s.Delete(Key("k", i), kNow);
  }
  s.RehashStep(1);
  CheckIndexMatchesStore(s, part);
  FinishRehash(&s);
  CheckIndexMatchesStore(s, part);
}

TEST_CASE("a new partitioner re-indexes every key; none removes the index") {
  Store s;
  for (size_t i = 0; i < 1000; ++i) s.Set(Key("k", i), "v", i % 2 ? kNow + 50 : 0, kNow);
  CHECK(s.partitions() == 0);
  CHECK(s.PartitionSize(0) == 0);
  CHECK(PartitionKeys(s, 0, kNow).empty());
  CHECK(s.partition_bytes() == 0);
  const size_t unpartitioned = s.used_bytes();

  const Partitioner small = HashPartitioner(4);
  s.SetPartitioner(small);  // keys already there are indexed
  CheckIndexMatchesStore(s, small);
  CHECK(s.used_bytes() == unpartitioned + s.partition_bytes());

  const Partitioner large = HashPartitioner(64);  // the ring grew
  s.SetPartitioner(large);
  CHECK(s.partitions() == 64);
  CheckIndexMatchesStore(s, large);
  s.Set("new", "v", 0, kNow);
  for (size_t i = 0; i < 1000; i += 5) s.Delete(Key("k", i), kNow);
  CheckIndexMatchesStore(s, large);

  s.Clear();
  for (uint32_t p = 0; p < 64; ++p) CHECK(s.PartitionSize(p) == 0);
  s.Set("after-clear", "v", 0, kNow);
  CheckIndexMatchesStore(s, large);

  s.SetPartitioner({});  // no partitioning: the index is gone
  CHECK(s.partitions() == 0);
  CHECK(s.partition_bytes() == 0);
  s.Set("more", "v", 0, kNow);
  CHECK(s.Delete("after-clear", kNow));
}

TEST_CASE("eviction keeps the partition index in step") {
  Store s;
  const Partitioner part = HashPartitioner(8);
  s.SetPartitioner(part);
  s.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom);
  for (size_t i = 0; i < 500; ++i) s.Set(Key("k", i), "v", 0, kNow);
  auto evicted = s.EvictUntil(0, kNow, 42, [&] { return s.size() > 100 ? s.size() : 0; });
  REQUIRE(evicted.ok());
  CHECK(s.size() == 100);
  CheckIndexMatchesStore(s, part);
}

TEST_CASE("the partition index costs at most 16 bytes per key") {
  Store s;
  const std::string value(64, 'x');
  constexpr size_t kN = 100'000;
  s.SetPartitioner(HashPartitioner(256));
  for (size_t i = 0; i < kN; ++i) s.Set(Key16(i), value, 0, kNow);
  // A pointer per key plus the arrays' growth slack (below 2x).
  CHECK(s.partition_bytes() >= kN * sizeof(void*));
  CHECK(s.partition_bytes() <= kN * 16);
  MESSAGE("partition index: " << static_cast<double>(s.partition_bytes()) / kN << " bytes per key");
}

// A model of the keyspace (key -> expiry) against which random operations on
// a partitioned store are checked: each partition's live keys must match.
TEST_CASE("property: ForEachInPartition agrees with a model under random operations") {
  uint64_t rng = 0x9a7717105eedULL;
  auto next = [&rng](uint64_t n) { return SplitMix64(&rng) % n; };
  Store s;
  Partitioner part = HashPartitioner(5);
  s.SetPartitioner(part);
  std::map<std::string, int64_t> model;  // key -> expire_at_ms (0 = none)
  int64_t now = kNow;
  auto live = [&](const std::pair<const std::string, int64_t>& kv) {
    return kv.second == 0 || kv.second > now;
  };

  for (int step = 0; step < 20'000; ++step) {
    const std::string key = Key("k", next(600));
    switch (next(10)) {
      case 0:
      case 1:
      case 2: {
        const int64_t expire = next(3) == 0 ? now + 1 + static_cast<int64_t>(next(50)) : 0;
        s.Set(key, "v", expire, now);
        model[key] = expire;
        break;
      }
      case 3:
      case 4: {
        auto it = model.find(key);
        const bool was_live = it != model.end() && live(*it);
        CHECK(s.Delete(key, now) == was_live);
        if (it != model.end()) model.erase(it);
        break;
      }
      case 5: {
        auto it = model.find(key);
        const bool was_live = it != model.end() && live(*it);
        CHECK((s.Get(key, now) != nullptr) == was_live);
        if (it != model.end() && !was_live) model.erase(it);  // lazy expiry
        break;
      }
      case 6:
        now += static_cast<int64_t>(next(20));
        break;
      case 7:
        s.ActiveExpireCycle(now, 20, next(1'000'000));
        break;
      case 8:
        s.RehashStep(1 + next(4));
        break;
      case 9:
        if (next(200) == 0) {  // the ring changes size now and then
          part = HashPartitioner(1 + static_cast<uint32_t>(next(12)));
          s.SetPartitioner(part);
        }
        break;
    }
    if (step % 97 == 0 || step > 19'900) {
      std::vector<std::set<std::string>> want(part.partitions);
      for (const auto& kv : model) {
        if (live(kv)) want[part.partition_of(kv.first)].insert(kv.first);
      }
      size_t total = 0;
      for (uint32_t p = 0; p < part.partitions; ++p) {
        REQUIRE(PartitionKeys(s, p, now) == want[p]);
        REQUIRE(s.PartitionSize(p) >= want[p].size());  // expired, not yet reclaimed
        total += s.PartitionSize(p);
      }
      REQUIRE(total == s.size());
    }
  }
}

}  // namespace
}  // namespace shoal::storage

namespace shoal::storage {
namespace {

TEST_CASE("big values the store lets go of go to the releaser") {
  Store s;
  std::vector<size_t> released;
  s.SetBigValueReleaser([&](std::string&& v) {
    const std::string taken = std::move(v);
    released.push_back(taken.size());
  });
  const std::string big(Store::kReleaseBytes, 'b');
  s.Set("k", big, 0, 1);
  s.Set("k", "small", 0, 1);  // overwrite: the big one is released
  CHECK(released == std::vector<size_t>{big.size()});
  CHECK(*s.Get("k", 1) == "small");
  s.Set("k", big, 0, 1);
  CHECK(s.Delete("k", 1));
  CHECK(released.size() == 2);
  s.Set("s", "tiny", 0, 1);
  CHECK(s.Delete("s", 1));  // small values are freed in place
  CHECK(released.size() == 2);
}

}  // namespace
}  // namespace shoal::storage
