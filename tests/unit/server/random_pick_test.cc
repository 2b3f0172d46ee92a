// The random choices of SRANDMEMBER, SPOP and HRANDFIELD
// (server/commands/random_pick.h).

#include "server/commands/random_pick.h"

#include <doctest/doctest.h>

#include <set>
#include <vector>

namespace shoal::server {
namespace {

TEST_CASE("PickDistinct: distinct indices in range, all of them when count >= n") {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    PickRandom rng(seed);
    for (size_t n : {1u, 2u, 5u, 100u, 1000u}) {
      for (size_t count : {0u, 1u, 3u, 50u, 1000u, 5000u}) {
        std::vector<size_t> picks = PickDistinct(n, count, rng);
        CHECK(picks.size() == std::min(n, count));
        std::set<size_t> distinct(picks.begin(), picks.end());
        CHECK(distinct.size() == picks.size());
        for (size_t i : picks) CHECK(i < n);
      }
    }
  }
  PickRandom rng(1);
  CHECK(PickDistinct(0, 5, rng).empty());
}

TEST_CASE("PickDistinct and PickWithRepeats are roughly uniform") {
  PickRandom rng(42);
  std::vector<int> hits(10, 0);
  for (int round = 0; round < 2000; ++round) {
    for (size_t i : PickDistinct(10, 3, rng)) ++hits[i];
  }
  for (int h : hits) CHECK((h > 450 && h < 750));  // expected 600
  std::vector<int> rep(10, 0);
  for (size_t i : PickWithRepeats(10, 6000, rng)) ++rep[i];
  for (int h : rep) CHECK((h > 450 && h < 750));
}

TEST_CASE("PickWithRepeats: count draws, each in range; the seed fixes them") {
  PickRandom a(7), b(7);
  std::vector<size_t> x = PickWithRepeats(3, 100, a);
  CHECK(x.size() == 100);
  for (size_t i : x) CHECK(i < 3);
  CHECK(x == PickWithRepeats(3, 100, b));
}

}  // namespace
}  // namespace shoal::server
