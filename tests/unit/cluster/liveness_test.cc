#include "cluster/liveness.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

namespace shoal::cluster {
namespace {

// Every belief over incarnations 0..3 (and the cap) and all three states.
std::vector<Liveness> AllBeliefs() {
  std::vector<Liveness> out;
  for (uint64_t inc : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, kMaxIncarnation}) {
    for (MemberState s : {MemberState::kAlive, MemberState::kSuspect, MemberState::kDead}) {
      out.push_back(Liveness{inc, s});
    }
  }
  return out;
}

TEST_CASE("liveness: the SWIM order at one incarnation and across incarnations") {
  const Liveness alive1{1, MemberState::kAlive};
  const Liveness suspect1{1, MemberState::kSuspect};
  const Liveness dead1{1, MemberState::kDead};
  const Liveness alive2{2, MemberState::kAlive};
  CHECK(Merge(alive1, suspect1) == suspect1);  // suspect overrides alive
  CHECK(Merge(suspect1, dead1) == dead1);      // dead overrides suspect
  CHECK(Merge(alive1, dead1) == dead1);
  CHECK(Merge(dead1, alive2) == alive2);  // a refutation revives
  CHECK(Merge(suspect1, alive2) == alive2);
  CHECK(Merge(Liveness{2, MemberState::kSuspect}, alive2) == Liveness{2, MemberState::kSuspect});
  CHECK(Merge(Liveness{0, MemberState::kDead}, alive1) == alive1);
  CHECK(Supersedes(suspect1, alive1));
  CHECK_FALSE(Supersedes(alive1, suspect1));
  CHECK_FALSE(Supersedes(alive1, alive1));
  CHECK(MemberStateName(MemberState::kSuspect) == "suspect");
}

TEST_CASE("liveness: merge is commutative, associative, idempotent and monotone") {
  const std::vector<Liveness> all = AllBeliefs();
  for (const Liveness& a : all) {
    CHECK(Merge(a, a) == a);
    for (const Liveness& b : all) {
      const Liveness ab = Merge(a, b);
      CHECK(ab == Merge(b, a));
      CHECK(a <= ab);
      CHECK(b <= ab);
      CHECK((ab == a || ab == b));
      // A stale or repeated rumour changes nothing.
      CHECK(Merge(ab, a) == ab);
      CHECK(Supersedes(b, a) == (ab != a));
      for (const Liveness& c : all) CHECK(Merge(Merge(a, b), c) == Merge(a, Merge(b, c)));
    }
  }
}

TEST_CASE("liveness: any order of delivery converges") {
  const std::vector<Liveness> rumours{{1, MemberState::kSuspect},
                                      {2, MemberState::kAlive},
                                      {1, MemberState::kDead},
                                      {0, MemberState::kAlive},
                                      {2, MemberState::kSuspect}};
  std::vector<size_t> order{0, 1, 2, 3, 4};
  Liveness first{};
  bool have = false;
  do {
    Liveness state{};
    for (size_t i : order) state = Merge(state, rumours[i]);
    if (!have) first = state, have = true;
    CHECK(state == first);
  } while (std::next_permutation(order.begin(), order.end()));
  CHECK(first == Liveness{2, MemberState::kSuspect});
}

}  // namespace
}  // namespace shoal::cluster
