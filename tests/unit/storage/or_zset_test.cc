// OrZset: scores as registers (ZADD) or counters (ZINCRBY), Redis's double
// arithmetic on one node, ranking by (score, member).

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "storage/or_zset.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Nodes {
  ActorTable actors;
  ActorId a = actors.Intern(std::string(40, 'c')).value();
  ActorId b = actors.Intern(std::string(40, 'b')).value();
};

OrZset Joined(OrZset x, const OrZset& y) {
  x.Join(y);
  return x;
}

TEST_CASE("ZADD, ZINCRBY, ZSCORE, ZREM on one node follow Redis's doubles") {
  Nodes n;
  OrZset z;
  CHECK(z.Add("m", 0.1, {n.a, 1}, kNow));
  CHECK(z.IncrBy("m", 0.2, {n.a, 2}, n.actors).value() == 0.1 + 0.2);
  // Redis adds step by step: (0.1 + 0.2) + 0.3, not 0.1 + (0.2 + 0.3).
  CHECK(z.IncrBy("m", 0.3, {n.a, 3}, n.actors).value() == (0.1 + 0.2) + 0.3);
  CHECK(z.Score("m", n.actors) == (0.1 + 0.2) + 0.3);
  CHECK(z.IncrBy("new", 2.5, {n.a, 4}, n.actors).value() == 2.5);
  CHECK_FALSE(z.Add("m", 7, {n.a, 5}, kNow));
  CHECK(z.Score("m", n.actors) == 7);
  CHECK(z.map().Find("m")->atoms.size() == 1);
  CHECK(z.Remove("m"));
  CHECK_FALSE(z.Score("m", n.actors).has_value());
  CHECK(z.Size() == 1);
}

TEST_CASE("ZINCRBY to NaN is refused with Redis's words") {
  Nodes n;
  OrZset z;
  z.Add("m", std::numeric_limits<double>::infinity(), {n.a, 1}, kNow);
  const OrZset before = z;
  auto r = z.IncrBy("m", -std::numeric_limits<double>::infinity(), {n.a, 2}, n.actors);
  CHECK(r.status().message() == "ERR resulting score is not a number (NaN)");
  CHECK(z == before);
}

TEST_CASE("concurrent ZINCRBY both count; ZADD concurrent with ZINCRBY adds them") {
  Nodes n;
  OrZset base;
  base.Add("m", 10, {n.a, 1}, kNow);
  OrZset x = base, y = base;
  REQUIRE(x.IncrBy("m", 1, {n.a, 2}, n.actors).ok());
  REQUIRE(y.IncrBy("m", 2, {n.b, 1}, n.actors).ok());
  CHECK(Joined(x, y).Score("m", n.actors) == 13);
  CHECK(Joined(x, y) == Joined(y, x));
  OrZset set = base;
  set.Add("m", 100, {n.a, 2}, kNow + 1);
  CHECK(Joined(set, y).Score("m", n.actors) == 102);
  // ZREM concurrent with ZINCRBY: the member stays with the increment only.
  OrZset rem = base;
  rem.Remove("m");
  CHECK(Joined(rem, y).Score("m", n.actors) == 2);
}

TEST_CASE("Ranked orders by score, then member bytes") {
  Nodes n;
  OrZset z;
  z.Add("b", 1, {n.a, 1}, kNow);
  z.Add("a", 1, {n.a, 2}, kNow);
  z.Add("c", -std::numeric_limits<double>::infinity(), {n.a, 3}, kNow);
  z.Add("d", 0.5, {n.a, 4}, kNow);
  std::vector<std::string> order;
  for (const auto& m : z.Ranked(n.actors)) order.emplace_back(m.member);
  CHECK(order == std::vector<std::string>{"c", "d", "a", "b"});
}

}  // namespace
}  // namespace shoal::storage
