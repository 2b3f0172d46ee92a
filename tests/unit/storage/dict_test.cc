#include "storage/dict.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace shoal::storage {
namespace {

std::string Key(const char* prefix, size_t i) {
  return prefix + std::to_string(i);
}

// Runs explicit rehash steps until none is left; fails instead of hanging.
void FinishRehash(Dict* t) {
  for (int i = 0; t->RehashStep(100); ++i) REQUIRE(i < 1'000'000);
}

void Insert(Dict* d, const std::string& key, const std::string& value = "v") {
  bool inserted = false;
  DictEntry* e = d->FindOrInsert(key, &inserted);
  REQUIRE(inserted);
  e->value = value;
}

size_t CountByForEach(const Dict& d) {
  size_t n = 0;
  d.ForEach([&n](const DictEntry&) { ++n; });
  return n;
}

bool IsPowerOfTwo(size_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

// Drives a full SCAN iteration and calls `between` after every step, which
// may mutate the dict. Returns every key seen. Fails the test if the
// iteration does not end within `max_steps`.
std::multiset<std::string> FullScan(Dict* d, const std::function<void(size_t step)>& between,
                                    size_t max_steps = 200'000) {
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  size_t step = 0;
  do {
    cursor = d->Scan(cursor, [&seen](const DictEntry& e) { seen.emplace(e.key()); });
    between(step);
    ++step;
    REQUIRE(step < max_steps);
  } while (cursor != 0);
  return seen;
}

TEST_CASE("empty dict") {
  Dict d;
  CHECK(d.size() == 0);
  CHECK(d.buckets() == 0);
  CHECK(d.Find("x") == nullptr);
  CHECK(d.Unlink("x") == nullptr);
  CHECK_FALSE(d.Erase("x"));
  CHECK(d.RandomEntry(42) == nullptr);
  CHECK(d.Scan(0, [](const DictEntry&) { FAIL("no entries"); }) == 0);
  CHECK_FALSE(d.RehashStep(100));
}

TEST_CASE("entry keeps its key inline and binary-safe") {
  Dict d;
  const std::string keys[] = {"", std::string("a\0b", 3), std::string(300, 'k'), "plain"};
  for (const auto& k : keys) Insert(&d, k, "val:" + k);
  for (const auto& k : keys) {
    DictEntry* e = d.Find(k);
    REQUIRE(e != nullptr);
    CHECK(e->key() == k);
    CHECK(e->value == "val:" + k);
    CHECK(e->expire_at_ms == 0);
  }
  CHECK(d.Find(std::string("a\0c", 3)) == nullptr);
  CHECK(d.Find("a") == nullptr);
}

TEST_CASE("FindOrInsert returns the existing entry") {
  Dict d;
  Insert(&d, "k", "first");
  bool inserted = true;
  DictEntry* e = d.FindOrInsert("k", &inserted);
  CHECK_FALSE(inserted);
  CHECK(e->value == "first");
  CHECK(d.size() == 1);
}

TEST_CASE("insert, find and delete many keys across growth and shrink") {
  Dict d;
  constexpr size_t kN = 20'000;
  for (size_t i = 0; i < kN; ++i) {
    Insert(&d, Key("key:", i), Key("value:", i));
    REQUIRE(d.size() == i + 1);
  }
  CHECK(CountByForEach(d) == kN);
  FinishRehash(&d);
  CHECK(IsPowerOfTwo(d.buckets()));
  CHECK(d.buckets() >= kN);      // grew: load factor <= 1
  CHECK(d.buckets() <= 2 * kN);  // but not wildly
  for (size_t i = 0; i < kN; ++i) {
    DictEntry* e = d.Find(Key("key:", i));
    REQUIRE(e != nullptr);
    CHECK(e->value == Key("value:", i));
  }
  CHECK(d.Find("key:absent") == nullptr);

  // Delete the odd keys, then check both halves.
  for (size_t i = 1; i < kN; i += 2) REQUIRE(d.Erase(Key("key:", i)));
  CHECK(d.size() == kN / 2);
  for (size_t i = 0; i < kN; ++i) CHECK((d.Find(Key("key:", i)) != nullptr) == (i % 2 == 0));
  CHECK_FALSE(d.Erase("key:1"));

  // Delete down to a few keys: the table shrinks (used < 10% of buckets).
  for (size_t i = 0; i < kN - 20; i += 2) REQUIRE(d.Erase(Key("key:", i)));
  FinishRehash(&d);
  CHECK(d.size() == 10);
  CHECK(d.buckets() == 16);
  for (size_t i = kN - 20; i < kN; i += 2) CHECK(d.Find(Key("key:", i)) != nullptr);
  CHECK(CountByForEach(d) == 10);

  // Down to zero: back to the minimum table.
  for (size_t i = kN - 20; i < kN; i += 2) REQUIRE(d.Erase(Key("key:", i)));
  FinishRehash(&d);
  CHECK(d.size() == 0);
  CHECK(d.buckets() == Dict::kMinSize);
}

TEST_CASE("grow and shrink thresholds") {
  Dict d;
  for (size_t i = 0; i < 4; ++i) Insert(&d, Key("k", i));
  CHECK(d.buckets() == 4);  // 4 entries in 4 buckets: not grown yet
  CHECK_FALSE(d.rehashing());
  Insert(&d, "k4");  // used >= buckets: grows to 8
  CHECK(d.rehashing());
  FinishRehash(&d);
  CHECK(d.buckets() == 8);

  // 128 entries in 256 buckets; shrinking starts once below 10% (< 26).
  Dict big;
  for (size_t i = 0; i < 129; ++i) Insert(&big, Key("k", i));
  FinishRehash(&big);
  CHECK(big.buckets() == 256);
  size_t i = 0;
  for (; big.size() > 26; ++i) big.Erase(Key("k", i));
  CHECK_FALSE(big.rehashing());
  big.Erase(Key("k", i++));  // 25 left: 25 * 100 / 256 < 10
  CHECK(big.rehashing());
  FinishRehash(&big);
  CHECK(big.buckets() == 32);
  CHECK(big.size() == 25);
}

TEST_CASE("operations stay correct while an incremental rehash is in progress") {
  Dict d;
  constexpr size_t kN = 4096;  // fills 4096 buckets exactly
  for (size_t i = 0; i < kN; ++i) Insert(&d, Key("a", i));
  FinishRehash(&d);
  REQUIRE(d.buckets() == kN);
  Insert(&d, "trigger");  // starts a grow to 8192
  REQUIRE(d.rehashing());
  CHECK(d.buckets() == kN + 2 * kN);  // both tables exist

  // Each op moves one bucket; 4096 buckets need more ops than we do here.
  for (size_t i = 0; i < 300; ++i) {
    REQUIRE(d.Find(Key("a", i)) != nullptr);
    Insert(&d, Key("b", i));
    REQUIRE(d.Erase(Key("a", kN - 1 - i)));
    REQUIRE(d.Find(Key("b", i)) != nullptr);
    REQUIRE(d.Find(Key("a", kN - 1 - i)) == nullptr);
  }
  CHECK(d.rehashing());
  CHECK(d.size() == kN + 1);
  CHECK(CountByForEach(d) == kN + 1);
  DictEntry* r = d.RandomEntry(7);
  REQUIRE(r != nullptr);
  CHECK(d.Find(r->key()) == r);

  // Explicit steps finish it; everything is still there.
  size_t steps = 0;
  while (d.RehashStep(10)) REQUIRE(++steps < 1'000'000);
  CHECK(steps > 0);
  CHECK_FALSE(d.rehashing());
  CHECK(d.buckets() == 2 * kN);
  for (size_t i = 0; i < kN - 300; ++i) REQUIRE(d.Find(Key("a", i)) != nullptr);
  for (size_t i = 0; i < 300; ++i) REQUIRE(d.Find(Key("b", i)) != nullptr);
  CHECK(d.Find("trigger") != nullptr);
}

TEST_CASE("RehashStep bounds its work") {
  Dict d;
  for (size_t i = 0; i < 1024; ++i) Insert(&d, Key("k", i));
  FinishRehash(&d);
  Insert(&d, "more");  // grow 1024 -> 2048
  REQUIRE(d.rehashing());
  // One non-empty bucket per step: at least ~1024 * (1 - 1/e) steps of 1.
  size_t steps = 0;
  while (d.RehashStep(1)) REQUIRE(++steps < 1'000'000);
  CHECK(steps > 500);
  CHECK(d.size() == 1025);
}

TEST_CASE("Scan without changes returns each key exactly once") {
  for (size_t n : {1, 3, 4, 5, 100, 1000, 5000}) {
    CAPTURE(n);
    Dict d;
    for (size_t i = 0; i < n; ++i) Insert(&d, Key("k", i));
    FinishRehash(&d);
    auto seen = FullScan(&d, [](size_t) {});
    CHECK(seen.size() == n);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == n);
  }
}

// The SCAN guarantee under concurrent change: keys present for the whole
// iteration are all returned, whatever happens between steps.
struct ScanScenario {
  const char* name;
  size_t stable_keys;  // never touched during the scan
  size_t churn_keys;   // present at the start, may be deleted
  // Mutations after each scan step; `state` counts inserted keys.
  std::function<void(Dict*, size_t step, size_t* inserted)> between;
};

TEST_CASE("Scan returns every key present throughout, across grow/shrink/rehash") {
  const std::vector<ScanScenario> scenarios = {
      {"no change", 3000, 0, [](Dict*, size_t, size_t*) {}},
      {"grow: many inserts per step", 500, 0,
       [](Dict* d, size_t, size_t* inserted) {
         // Bounded: a table that grows forever outruns any cursor (Redis too).
         for (int j = 0; j < 40 && *inserted < 30'000; ++j) Insert(d, Key("new", (*inserted)++));
       }},
      {"grow: inserts with explicit rehash steps", 2000, 0,
       [](Dict* d, size_t step, size_t* inserted) {
         for (int j = 0; j < 10 && *inserted < 30'000; ++j) Insert(d, Key("new", (*inserted)++));
         if (step % 3 == 0) d->RehashStep(5);
       }},
      {"shrink: churn keys deleted", 100, 8000,
       [](Dict* d, size_t step, size_t*) {
         for (size_t j = step * 100; j < step * 100 + 100 && j < 8000; ++j) {
           d->Erase(Key("churn", j));
         }
       }},
      {"shrink then grow", 200, 4000,
       [](Dict* d, size_t step, size_t* inserted) {
         if (step < 40) {
           for (size_t j = step * 100; j < step * 100 + 100; ++j) d->Erase(Key("churn", j));
         } else {
           for (int j = 0; j < 50 && *inserted < 20'000; ++j) Insert(d, Key("new", (*inserted)++));
         }
       }},
      {"mixed insert/delete of other keys", 1000, 3000,
       [](Dict* d, size_t step, size_t* inserted) {
         for (int j = 0; j < 7 && *inserted < 20'000; ++j) Insert(d, Key("new", (*inserted)++));
         for (size_t j = step * 13; j < step * 13 + 13 && j < 3000; ++j) {
           d->Erase(Key("churn", j));
         }
         if (*inserted > 20) d->Erase(Key("new", *inserted - 20));
         d->RehashStep(step % 4);
       }},
  };
  for (const auto& sc : scenarios) {
    const std::string name = sc.name;
    CAPTURE(name);
    for (bool start_rehashing : {false, true}) {
      CAPTURE(start_rehashing);
      Dict d;
      for (size_t i = 0; i < sc.stable_keys; ++i) Insert(&d, Key("stable", i));
      for (size_t i = 0; i < sc.churn_keys; ++i) Insert(&d, Key("churn", i));
      FinishRehash(&d);
      size_t inserted = 0;
      if (start_rehashing) {
        // Fill up to the grow threshold so the first insert starts a rehash.
        while (d.size() < d.buckets()) Insert(&d, Key("new", inserted++));
        Insert(&d, Key("new", inserted++));
        REQUIRE(d.rehashing());
      }
      bool saw_rehashing = d.rehashing();
      auto seen = FullScan(&d, [&](size_t step) {
        sc.between(&d, step, &inserted);
        saw_rehashing = saw_rehashing || d.rehashing();
      });
      for (size_t i = 0; i < sc.stable_keys; ++i) {
        if (seen.count(Key("stable", i)) == 0) FAIL("missed stable key ", Key("stable", i));
      }
      if (sc.name != std::string("no change") || start_rehashing) CHECK(saw_rehashing);
    }
  }
}

TEST_CASE("Scan keeps its guarantee when the table resizes at every step") {
  // Alternate big inserts and big deletes so the table grows and shrinks
  // repeatedly within one iteration.
  Dict d;
  constexpr size_t kStable = 300;
  for (size_t i = 0; i < kStable; ++i) Insert(&d, Key("stable", i));
  size_t next = 0;
  std::vector<std::string> extra;
  size_t resizes = 0;
  size_t last_buckets = d.buckets();
  auto seen = FullScan(&d, [&](size_t step) {
    if (step % 2 == 0) {
      for (int j = 0; j < 3000; ++j) {
        extra.push_back(Key("x", next++));
        Insert(&d, extra.back());
      }
    } else {
      for (const auto& k : extra) d.Erase(k);
      extra.clear();
    }
    d.RehashStep(1 + step % 50);
    if (d.buckets() != last_buckets) ++resizes;
    last_buckets = d.buckets();
  });
  CHECK(resizes > 4);
  for (size_t i = 0; i < kStable; ++i) {
    if (seen.count(Key("stable", i)) == 0) FAIL("missed stable key ", Key("stable", i));
  }
}

TEST_CASE("RandomEntry over a small set returns every key") {
  for (bool rehashing : {false, true}) {
    CAPTURE(rehashing);
    Dict d;
    constexpr size_t kN = 8;
    for (size_t i = 0; i < kN; ++i) Insert(&d, Key("k", i));
    if (rehashing) {
      Insert(&d, "k8");  // 9 > 8 buckets: grow starts
      REQUIRE(d.rehashing());
    }
    std::map<std::string, int> hits;
    uint64_t state = 1;
    for (int i = 0; i < 2000; ++i) {
      DictEntry* e = d.RandomEntry(SplitMix64(&state));
      REQUIRE(e != nullptr);
      ++hits[std::string(e->key())];
    }
    CHECK(hits.size() == d.size());
    // Reasonable fairness: nobody gets less than a third of a fair share.
    for (const auto& hit : hits) {
      CAPTURE(hit.first);
      CHECK(hit.second > 2000 / static_cast<int>(d.size()) / 3);
    }
  }
}

TEST_CASE("RandomEntry is deterministic for a given random number") {
  Dict d;
  for (size_t i = 0; i < 100; ++i) Insert(&d, Key("k", i));
  FinishRehash(&d);
  CHECK(d.RandomEntry(12345) == d.RandomEntry(12345));
}

TEST_CASE("SampleEntries returns live entries, at most count, from both tables") {
  Dict d;
  DictEntry* out[16];
  CHECK(d.SampleEntries(1, 5, out) == 0);

  // Small table: asking for everything returns everything, once each.
  for (size_t i = 0; i < 8; ++i) Insert(&d, Key("k", i));
  FinishRehash(&d);
  REQUIRE(d.SampleEntries(7, 16, out) == 8);
  std::set<std::string> all;
  for (size_t i = 0; i < 8; ++i) all.emplace(out[i]->key());
  CHECK(all.size() == 8);

  // Mid-rehash: entries come from both tables and every one is in the dict.
  Dict big;
  size_t n = 0;
  while (!big.rehashing() || big.size() < 4000) Insert(&big, Key("b", n++));
  std::set<std::string> seen;
  uint64_t state = 3;
  for (int call = 0; call < 200; ++call) {
    REQUIRE(big.rehashing());
    const size_t got = big.SampleEntries(SplitMix64(&state), 5, out);
    CHECK(got >= 1);
    CHECK(got <= 5);
    for (size_t i = 0; i < got; ++i) {
      CHECK(big.Find(out[i]->key()) == out[i]);
      seen.emplace(out[i]->key());
    }
  }
  // Spread over the keyspace, not stuck in one region.
  CHECK(seen.size() > 500);
}

TEST_CASE("the seed changes the hash") {
  Dict a(1);
  Dict b(2);
  CHECK(a.Hash("hello") != b.Hash("hello"));
  CHECK(a.Hash("hello") == Dict(1).Hash("hello"));
}

TEST_CASE("Clear frees everything and the dict stays usable") {
  Dict d;
  for (size_t i = 0; i < 1000; ++i) Insert(&d, Key("k", i));
  d.Clear();
  CHECK(d.size() == 0);
  CHECK(d.buckets() == 0);
  CHECK_FALSE(d.rehashing());
  CHECK(d.Find("k1") == nullptr);
  Insert(&d, "k1");
  CHECK(d.Find("k1") != nullptr);
}

TEST_CASE("Unlink hands the entry to the caller") {
  Dict d;
  Insert(&d, "k", "v");
  DictEntry* e = d.Unlink("k");
  REQUIRE(e != nullptr);
  CHECK(e->key() == "k");
  CHECK(e->value == "v");
  CHECK(d.size() == 0);
  CHECK(d.Find("k") == nullptr);
  DictEntry::Free(e);
}

}  // namespace
}  // namespace shoal::storage
