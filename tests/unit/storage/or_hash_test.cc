// OrHash: registers and counters per field, their concurrency rules, Redis's
// errors for HINCRBY/HINCRBYFLOAT, and single-node results equal to Redis's.

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "storage/or_hash.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Nodes {
  ActorTable actors;
  // Node-id order is the reverse of ActorId order.
  ActorId a = actors.Intern(std::string(40, 'c')).value();
  ActorId b = actors.Intern(std::string(40, 'b')).value();
  ActorId c = actors.Intern(std::string(40, 'a')).value();
};

OrHash Joined(OrHash x, const OrHash& y) {
  x.Join(y);
  return x;
}

TEST_CASE("HSET, HGET, HDEL and re-set") {
  Nodes n;
  OrHash h;
  CHECK(h.Set("f", "v1", {n.a, 1}, kNow));
  CHECK_FALSE(h.Set("f", "v2", {n.a, 2}, kNow));
  CHECK(h.Get("f", n.actors) == "v2");
  CHECK(h.Size() == 1);
  CHECK(h.Remove("f"));
  CHECK_FALSE(h.Get("f", n.actors).has_value());
  CHECK(h.empty());
}

TEST_CASE("concurrent HSETs: the last by (timestamp, node id) wins on every node") {
  Nodes n;
  OrHash x, y;
  x.Set("f", "from-a", {n.a, 1}, kNow + 1);
  y.Set("f", "from-b", {n.b, 1}, kNow);
  CHECK(Joined(x, y).Get("f", n.actors) == "from-a");
  CHECK(Joined(y, x).Get("f", n.actors) == "from-a");
  // Same timestamp: greater node id wins (a's id "ccc..." > b's "bbb...").
  OrHash p, q;
  p.Set("f", "from-a", {n.a, 1}, kNow);
  q.Set("f", "from-c", {n.c, 1}, kNow);
  CHECK(Joined(p, q).Get("f", n.actors) == "from-a");
}

TEST_CASE("HINCRBY on both sides counts both; HDEL then re-increment does not resurrect") {
  Nodes n;
  OrHash base;
  REQUIRE(base.IncrBy("n", 5, {n.a, 1}, n.actors).value() == 5);
  OrHash x = base, y = base;
  CHECK(x.IncrBy("n", 2, {n.a, 2}, n.actors).value() == 7);
  CHECK(y.IncrBy("n", 10, {n.b, 1}, n.actors).value() == 15);
  OrHash j = Joined(x, y);
  CHECK(j.Get("n", n.actors) == "17");
  CHECK(Joined(y, x) == j);

  // HDEL on one side, an increment on the other: only the new increment.
  OrHash del = j, inc = j;
  del.Remove("n");
  REQUIRE(inc.IncrBy("n", 1, {n.c, 1}, n.actors).ok());
  CHECK(Joined(del, inc).Get("n", n.actors) == "1");
  CHECK(Joined(inc, del).Get("n", n.actors) == "1");
}

TEST_CASE("HSET concurrent with HINCRBY: the set value plus the concurrent increments") {
  Nodes n;
  OrHash base;
  base.Set("f", "5", {n.a, 1}, kNow);
  OrHash set = base, inc = base, inc2 = base;
  set.Set("f", "100", {n.a, 2}, kNow + 10);
  CHECK(inc.IncrBy("f", 3, {n.b, 1}, n.actors).value() == 8);
  CHECK(inc2.IncrBy("f", 4, {n.c, 1}, n.actors).value() == 9);
  OrHash j = Joined(Joined(set, inc), inc2);
  CHECK(j.Get("f", n.actors) == "107");
  // The increments on the old base count once each (no double base).
  CHECK(Joined(inc, inc2).Get("f", n.actors) == "12");
  // A later HSET, which saw them, replaces everything.
  j.Set("f", "0", {n.a, 3}, kNow + 20);
  CHECK(j.Get("f", n.actors) == "0");
  CHECK(j.map().Find("f")->atoms.size() == 1);
}

TEST_CASE("a register that is not a number hides concurrent increments") {
  Nodes n;
  OrHash base;
  base.Set("f", "1", {n.a, 1}, kNow);
  OrHash set = base, inc = base;
  set.Set("f", "text", {n.a, 2}, kNow + 5);
  REQUIRE(inc.IncrBy("f", 1, {n.b, 1}, n.actors).ok());
  OrHash j = Joined(set, inc);
  CHECK(j.Get("f", n.actors) == "text");
  auto r = j.IncrBy("f", 1, {n.a, 3}, n.actors);
  CHECK(r.status().code() == Code::kNotInteger);
  CHECK(r.status().message() == "ERR hash value is not an integer");
}

TEST_CASE("HINCRBY errors are Redis's and change nothing") {
  Nodes n;
  OrHash h;
  h.Set("s", "abc", {n.a, 1}, kNow);
  h.Set("f", "1.5", {n.a, 2}, kNow);
  h.Set("max", std::to_string(std::numeric_limits<int64_t>::max()), {n.a, 3}, kNow);
  const OrHash before = h;
  CHECK(h.IncrBy("s", 1, {n.a, 4}, n.actors).status().code() == Code::kNotInteger);
  CHECK(h.IncrBy("f", 1, {n.a, 4}, n.actors).status().code() == Code::kNotInteger);
  auto over = h.IncrBy("max", 1, {n.a, 4}, n.actors);
  CHECK(over.status().code() == Code::kOverflow);
  CHECK(over.status().message() == "ERR increment or decrement would overflow");
  auto nf = h.IncrByFloat("s", 1, {n.a, 4}, n.actors);
  CHECK(nf.status().code() == Code::kNotFloat);
  CHECK(nf.status().message() == "ERR hash value is not a float");
  CHECK(h == before);
  // Down to the minimum is fine, one past it is not.
  OrHash m;
  REQUIRE(m.IncrBy("x", std::numeric_limits<int64_t>::min(), {n.a, 1}, n.actors).ok());
  CHECK(m.IncrBy("x", -1, {n.a, 2}, n.actors).status().code() == Code::kOverflow);
  CHECK(m.Get("x", n.actors) == std::to_string(std::numeric_limits<int64_t>::min()));
}

TEST_CASE("HINCRBYFLOAT: Redis's results on one node, NaN/Inf refused") {
  Nodes n;
  OrHash h;
  h.Set("f", "10.50", {n.a, 1}, kNow);
  CHECK(h.IncrByFloat("f", 0.1L, {n.a, 2}, n.actors).value() == "10.6");
  CHECK(h.IncrByFloat("f", -5, {n.a, 3}, n.actors).value() == "5.6");
  CHECK(h.Get("f", n.actors) == "5.6");
  h.Set("e", "5.0e3", {n.a, 4}, kNow);
  CHECK(h.IncrByFloat("e", 2.0e2L, {n.a, 5}, n.actors).value() == "5200");
  CHECK(h.IncrByFloat("new", 0.1L, {n.a, 6}, n.actors).value() == "0.1");
  CHECK(h.IncrByFloat("new", 0.2L, {n.a, 7}, n.actors).value() == "0.3");
  // An integer field takes float increments, and back (Redis: "3" is an int).
  CHECK(h.IncrBy("i", 1, {n.a, 8}, n.actors).value() == 1);
  CHECK(h.IncrByFloat("i", 1.5L, {n.a, 9}, n.actors).value() == "2.5");
  CHECK(h.IncrByFloat("i", 0.5L, {n.a, 10}, n.actors).value() == "3");
  CHECK(h.IncrBy("i", 1, {n.a, 11}, n.actors).value() == 4);
  CHECK(h.Get("i", n.actors) == "4");
  auto inf = h.IncrByFloat("i", std::numeric_limits<long double>::infinity(), {n.a, 12}, n.actors);
  CHECK(inf.status().message() == "ERR increment would produce NaN or Infinity");
}

TEST_CASE("HINCRBYFLOAT on both sides: both count, same bits everywhere") {
  Nodes n;
  OrHash base;
  base.Set("f", "1.25", {n.a, 1}, kNow);
  OrHash x = base, y = base, z = base;
  REQUIRE(x.IncrByFloat("f", 0.5L, {n.a, 2}, n.actors).ok());
  REQUIRE(y.IncrByFloat("f", 0.25L, {n.b, 1}, n.actors).ok());
  REQUIRE(z.IncrBy("f", 0, {n.c, 1}, n.actors).status().code() == Code::kNotInteger);
  OrHash j1 = Joined(x, y), j2 = Joined(y, x);
  CHECK(j1 == j2);
  CHECK(j1.Get("f", n.actors) == "2");
}

}  // namespace
}  // namespace shoal::storage
