// KeyDigests: random operations checked against std::unordered_map, through
// growth, shrinking and backward-shift deletion.

#include "cluster/key_digests.h"

#include <doctest/doctest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace shoal::cluster {
namespace {

TEST_CASE("KeyDigests behaves as a map under random sets and erases") {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    std::mt19937_64 rng(seed);
    KeyDigests t;
    std::unordered_map<uint64_t, uint64_t> model;
    // Few distinct hashes, with clustered values, so probes collide.
    std::vector<uint64_t> universe;
    for (int i = 0; i < 3000; ++i) universe.push_back(rng() % 4 == 0 ? uint64_t(i) + 2 : rng() | 2);
    for (int op = 0; op < 60000; ++op) {
      const uint64_t h = universe[rng() % universe.size()];
      const int kind = static_cast<int>(rng() % 10);
      if (kind < (op < 30000 ? 6 : 3)) {
        const uint64_t d = rng();
        auto old = t.Set(h, d);
        auto it = model.find(h);
        CHECK(old.has_value() == (it != model.end()));
        if (old && it != model.end()) CHECK(*old == it->second);
        model[h] = d;
      } else {
        auto old = t.Erase(h);
        auto it = model.find(h);
        REQUIRE(old.has_value() == (it != model.end()));
        if (it != model.end()) {
          CHECK(*old == it->second);
          model.erase(it);
        }
      }
      REQUIRE(t.size() == model.size());
    }
    for (const uint64_t h : universe) {
      auto it = model.find(h);
      auto got = t.Find(h);
      REQUIRE(got.has_value() == (it != model.end()));
      if (got) CHECK(*got == it->second);
    }
    size_t seen = 0;
    t.ForEach([&](uint64_t h, uint64_t d) {
      ++seen;
      CHECK(model.at(h) == d);
    });
    CHECK(seen == model.size());
  }
}

TEST_CASE("KeyDigests: a zero hash is a key like any other; memory follows the key count") {
  KeyDigests t;
  CHECK(t.bytes() == 0);
  CHECK_FALSE(t.Set(0, 5).has_value());
  CHECK(t.Find(0) == 5u);
  for (uint64_t i = 2; i < 10000; ++i) (void)t.Set(i * 0x9e3779b97f4a7c15ULL, i);
  CHECK(t.bytes() <= 16 * 10000 * 4);
  CHECK(t.bytes() >= 16 * 10000);
  for (uint64_t i = 2; i < 10000; ++i) CHECK(t.Erase(i * 0x9e3779b97f4a7c15ULL) == i);
  CHECK(t.Erase(0) == 5u);
  CHECK(t.empty());
  CHECK(t.bytes() == 0);
}

}  // namespace
}  // namespace shoal::cluster
