#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "storage/pn_counter.h"

namespace shoal::storage {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr ActorId kA = 1, kB = 2, kC = 3;

int64_t ValueOf(const PnCounter& c) {
  auto v = c.Value();
  REQUIRE(v.ok());
  return v.value();
}

TEST_CASE("add and value") {
  PnCounter c;
  CHECK(ValueOf(c) == 0);
  CHECK(c.ValueString() == "0");
  CHECK(c.Add(kA, 5).ok());
  CHECK(c.Add(kB, -7).ok());
  CHECK(c.Add(kA, 0).ok());
  CHECK(ValueOf(c) == -2);
  CHECK(c.ValueString() == "-2");
  CHECK(c.entries() == std::vector<PnCounter::Entry>{{kA, 5, 0}, {kB, 0, 7}});
  CHECK(ValueOf(PnCounter::FromInt(kMin)) == kMin);
  CHECK(ValueOf(PnCounter::FromInt(kMax)) == kMax);
  CHECK(PnCounter::FromInt(0).empty());
}

TEST_CASE("overflow is refused and leaves the counter unchanged") {
  PnCounter c = PnCounter::FromInt(kMax - 1);
  CHECK(c.Add(kA, 1).ok());
  const PnCounter before = c;
  Status s = c.Add(kA, 1);
  CHECK(s.code() == Code::kOverflow);
  CHECK(s.message() == "ERR increment or decrement would overflow");
  CHECK(c == before);

  PnCounter d = PnCounter::FromInt(kMin + 1);
  CHECK(d.Add(kB, -1).ok());
  CHECK(d.Add(kB, -1).code() == Code::kOverflow);
  CHECK(d.Add(kB, kMin).code() == Code::kOverflow);
  CHECK(ValueOf(d) == kMin);

  // The value stays small but one actor's P would pass 2^64.
  PnCounter e;
  for (int i = 0; i < 2; ++i) {
    CHECK(e.Add(kA, kMax).ok());
    CHECK(e.Add(kA, -kMax).ok());
  }
  const PnCounter e_before = e;
  CHECK(e.Add(kA, kMax).code() == Code::kOverflow);
  CHECK(e == e_before);
  CHECK(ValueOf(e) == 0);
}

TEST_CASE("concurrent increments on three actors all count, in any merge order") {
  PnCounter base = PnCounter::FromInt(10);
  std::vector<PnCounter> sides(3, base);
  const ActorId actors[] = {kA, kB, kC};
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 0; i < 3; ++i) CHECK(sides[i].Add(actors[i], static_cast<int64_t>(i) + 1).ok());
  }
  CHECK(sides[2].Add(kC, -4).ok());
  const int64_t want = 10 + 5 * (1 + 2 + 3) - 4;
  std::vector<size_t> order = {0, 1, 2};
  do {
    PnCounter m = sides[order[0]];
    m.Merge(sides[order[1]]);
    m.Merge(sides[order[2]]);
    m.Merge(sides[order[1]]);  // idempotent
    CHECK(ValueOf(m) == want);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_CASE("a join outside int64 is shown exactly and refuses further adds") {
  PnCounter a, b;
  CHECK(a.Add(kA, kMax).ok());
  CHECK(b.Add(kB, kMax).ok());
  a.Merge(b);
  CHECK(a.Value().status().code() == Code::kOverflow);
  CHECK(a.ValueString() == "18446744073709551614");
  CHECK(a.Add(kA, -1).code() == Code::kOverflow);
  PnCounter n1, n2;
  CHECK(n1.Add(kA, kMin).ok());
  CHECK(n2.Add(kB, kMin).ok());
  n1.Merge(n2);
  CHECK(n1.ValueString() == "-18446744073709551616");
}

TEST_CASE("FromEntries sorts, drops zero entries, rejects repeats") {
  auto c = PnCounter::FromEntries({{kB, 1, 0}, {kA, 0, 0}, {kC, 0, 3}});
  REQUIRE(c.ok());
  CHECK(c.value().entries() == std::vector<PnCounter::Entry>{{kB, 1, 0}, {kC, 0, 3}});
  CHECK_FALSE(PnCounter::FromEntries({{kA, 1, 0}, {kA, 2, 0}}).ok());
}

}  // namespace
}  // namespace shoal::storage
