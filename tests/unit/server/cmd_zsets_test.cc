// The sorted-set commands through the command table, on one keyspace: what
// the convergent state makes of them (TTL kept, WRONGTYPE both ways, an
// emptied set reading as absent, ZRANGESTORE replacing any type) and their
// rows. Reply bytes for every option are compared with redis-server 7.0.15
// in tests/integration/test_zsets.py.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "server/commands/zadd_options.h"
#include "tests/unit/server/command_harness.h"

namespace shoal::server {
namespace {

using namespace testing;

TEST_CASE("ZADD options, ZINCRBY, ZSCORE and the replies' doubles") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"ZADD", "z", "1", "a", "2", "b"}, Int(2)},
                     {{"ZADD", "z", "CH", "1", "a", "3", "b", "0.5", "c"}, Int(2)},
                     {{"ZADD", "z", "NX", "9", "a"}, Int(0)},
                     {{"ZSCORE", "z", "a"}, Bulk("1")},
                     {{"ZADD", "z", "XX", "GT", "CH", "0", "a", "5", "b"}, Int(1)},
                     {{"ZSCORE", "z", "b"}, Bulk("5")},
                     {{"ZADD", "z", "XX", "new", "1"}, Err(errors::kNotFloat)},
                     {{"ZADD", "z", "XX", "1", "new"}, Int(0)},
                     {{"ZINCRBY", "z", "0.1", "c"}, Bulk("0.59999999999999998")},
                     {{"ZADD", "z", "INCR", "LT", "1", "c"}, Nil()},
                     {{"ZADD", "z", "INCR", "inf", "c"}, Bulk("inf")},
                     {{"ZINCRBY", "z", "-inf", "c"}, Err(kZsetNanScore)},
                     {{"ZSCORE", "z", "c"}, Bulk("inf")},
                     {{"ZADD", "z", "nan", "c"}, Err(errors::kNotFloat)},
                     {{"ZCARD", "z"}, Int(3)},
                     {{"ZMSCORE", "z", "a", "zz", "b"}, Arr({Bulk("1"), Nil(), Bulk("5")})},
                 });
}

TEST_CASE("ZADD of an unchanged score: a lone node writes nothing, a replica re-adds") {
  CommandHarness h;
  auto dot_of = [&](std::string_view member) {
    auto view = h.keyspace().ReadZset("z", h.now_ms);
    REQUIRE(view.ok());
    const auto* entry = view.value().state.map().Find(member);
    REQUIRE(entry != nullptr);
    return entry->atoms.back().dot;
  };
  CHECK(h.Run({"ZADD", "z", "1", "a"}) == Int(1));
  const storage::Dot first = dot_of("a");
  const uint64_t changes = h.changes();
  CHECK(h.Run({"ZADD", "z", "1", "a"}) == Int(0));
  CHECK(h.Run({"ZADD", "z", "CH", "1", "a"}) == Int(0));
  CHECK(h.changes() == changes);
  h.BecomeReplica();
  CHECK(h.Run({"ZADD", "z", "CH", "1", "a"}) == Int(0));  // the reply is Redis's
  CHECK(h.changes() == changes + 1);
  CHECK(first < dot_of("a"));
  // A condition that refuses the member still writes nothing.
  CHECK(h.Run({"ZADD", "z", "NX", "1", "a"}) == Int(0));
  CHECK(h.Run({"ZADD", "z", "GT", "1", "a"}) == Int(0));
  CHECK(h.changes() == changes + 1);
  CHECK(h.Run({"ZSCORE", "z", "a"}) == Bulk("1"));
}

TEST_CASE("writes keep the TTL; removing the last member deletes the key") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"ZADD", "z", "1", "a", "2", "b"}, Int(2)},
                     {{"EXPIRE", "z", "100"}, Int(1)},
                     {{"ZADD", "z", "3", "c"}, Int(1)},
                     {{"ZINCRBY", "z", "1", "a"}, Bulk("2")},
                     {{"ZREM", "z", "c", "nope"}, Int(1)},
                     {{"TTL", "z"}, Int(100)},
                     {{"ZPOPMIN", "z"}, Arr({Bulk("a"), Bulk("2")})},
                     {{"ZPOPMAX", "z", "5"}, Arr({Bulk("b"), Bulk("2")})},
                     {{"EXISTS", "z"}, Int(0)},
                     {{"ZPOPMIN", "z"}, Arr({})},
                     {{"ZCARD", "z"}, Int(0)},
                     {{"ZADD", "z", "1", "a"}, Int(1)},
                     {{"TTL", "z"}, Int(-1)},
                 });
}

TEST_CASE("WRONGTYPE both ways; parse errors come before the type check") {
  CommandHarness h;
  const std::string wrong = Err(errors::kWrongType);
  ExpectSteps(h, {
                     {{"SET", "s", "v"}, Ok()},
                     {{"ZADD", "s", "1", "a"}, wrong},
                     {{"ZADD", "s", "x", "a"}, Err(errors::kNotFloat)},
                     {{"ZRANGE", "s", "0", "-1"}, wrong},
                     {{"ZRANGE", "s", "a", "-1"}, Err(errors::kNotInteger)},
                     {{"ZSCORE", "s", "a"}, wrong},
                     {{"ZPOPMIN", "s", "0"}, wrong},
                     {{"ZSCAN", "s", "0"}, wrong},
                     {{"ZRANGESTORE", "d", "s", "0", "-1"}, wrong},
                     {{"ZADD", "z", "1", "a"}, Int(1)},
                     {{"GET", "z"}, wrong},
                     {{"INCR", "z"}, wrong},
                 });
}

TEST_CASE("ZRANGESTORE replaces any type, drops the TTL, deletes on empty") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"ZADD", "src", "1", "a", "2", "b", "3", "c"}, Int(3)},
                     {{"SET", "dst", "string", "EX", "100"}, Ok()},
                     {{"ZRANGESTORE", "dst", "src", "1", "-1"}, Int(2)},
                     {{"TTL", "dst"}, Int(-1)},
                     {{"ZRANGE", "dst", "0", "-1", "WITHSCORES"},
                      Arr({Bulk("b"), Bulk("2"), Bulk("c"), Bulk("3")})},
                     {{"ZRANGESTORE", "dst", "src", "(3", "+inf", "BYSCORE"}, Int(0)},
                     {{"EXISTS", "dst"}, Int(0)},
                     {{"ZRANGESTORE", "src", "src", "0", "0"}, Int(1)},
                     {{"ZRANGE", "src", "0", "-1"}, Arr({Bulk("a")})},
                     {{"ZRANGESTORE", "dst", "nokey", "0", "-1"}, Int(0)},
                 });
}

TEST_CASE("ZRANDMEMBER and ZSCAN shapes") {
  CommandHarness h;
  ExpectSteps(
      h, {
             {{"ZADD", "z", "1", "a", "2", "b"}, Int(2)},
             {{"ZRANDMEMBER", "z", "5"}, Arr({Bulk("b"), Bulk("a")})},
             {{"ZRANDMEMBER", "z", "0"}, Arr({})},
             {{"ZRANDMEMBER", "nokey"}, Nil()},
             {{"ZRANDMEMBER", "z", "-100000000"}, Err("ERR value is out of range")},
             {{"ZSCAN", "z", "0"},
              Arr({Bulk("0"), Arr({Bulk("a"), Bulk("1"), Bulk("b"), Bulk("2")})})},
             {{"ZSCAN", "z", "0", "MATCH", "b*"}, Arr({Bulk("0"), Arr({Bulk("b"), Bulk("2")})})},
             {{"ZSCAN", "nokey", "0", "junk"}, Arr({Bulk("0"), Arr({})})},
             {{"ZSCAN", "z", "0", "COUNT", "0"}, Err(errors::kSyntax)},
         });
  std::string r = h.Run({"ZRANDMEMBER", "z", "-3"});
  CHECK(r.substr(0, 4) == "*3\r\n");
}

TEST_CASE("ZSCAN walks a big set by hash and returns every member") {
  CommandHarness h;
  std::vector<std::string> add = {"ZADD", "big"};
  for (int i = 0; i < 300; ++i) {
    add.push_back(std::to_string(i));
    add.push_back("member" + std::to_string(i));
  }
  REQUIRE(h.Run(add) == Int(300));
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    std::string r = h.Run({"ZSCAN", "big", cursor, "COUNT", "50"});
    // [cursor, [m, s, ...]]
    size_t pos = r.find("\r\n", 4);
    size_t len = std::stoul(r.substr(5, pos - 5));
    cursor = r.substr(pos + 2, len);
    std::vector<std::string> items;
    REQUIRE(ParseBulkArray(std::string_view(r).substr(pos + 2 + len + 2), &items));
    for (size_t i = 0; i < items.size(); i += 2) seen.insert(items[i]);
    ++calls;
  } while (cursor != "0" && calls < 100);
  CHECK(cursor == "0");
  CHECK(seen.size() == 300);
  CHECK(calls > 3);
}

TEST_CASE("rows as redis-server 7.0.15 reports them") {
  CommandHarness h;
  const uint32_t w = kCmdWrite, r = kCmdReadonly, f = kCmdFast, d = kCmdDenyOom;
  CheckRows(h, {
                   {"zadd", -4, w | d | f, 1, 1, 1, "sorted-set"},
                   {"zincrby", 4, w | d | f, 1, 1, 1, "sorted-set"},
                   {"zrem", -3, w | f, 1, 1, 1, "sorted-set"},
                   {"zrange", -4, r, 1, 1, 1, "sorted-set"},
                   {"zrangestore", -5, w | d, 1, 2, 1, "sorted-set"},
                   {"zpopmin", -2, w | f, 1, 1, 1, "sorted-set"},
                   {"zrandmember", -2, r, 1, 1, 1, "sorted-set"},
                   {"zscan", -3, r, 1, 1, 1, "sorted-set"},
                   {"zremrangebylex", 4, w, 1, 1, 1, "sorted-set"},
               });
}

// What two partition sides make of concurrent pops and score writes, on the
// states the commands write (the join is what every replica ends with).
TEST_CASE("two sides: ZPOPMIN pops at least once; ZADD and ZINCRBY add up") {
  storage::ActorTable actors;
  const storage::ActorId a = actors.Intern(std::string(40, 'a')).value();
  const storage::ActorId b = actors.Intern(std::string(40, 'b')).value();
  storage::OrZset base;
  base.Add("low", 1, {a, 1}, kNow);
  base.Add("high", 2, {a, 2}, kNow);
  // Each side's ZPOPMIN removes the minimum it sees: the same member.
  storage::OrZset left = base, right = base;
  CHECK(left.Ranked(actors)[0].member == "low");
  CHECK(right.Ranked(actors)[0].member == "low");
  CHECK(left.Remove("low"));
  CHECK(right.Remove("low"));
  left.Join(right);
  CHECK(left.Size() == 1);
  CHECK(left.Ranked(actors)[0].member == "high");
  // ZPOPMIN on one side concurrent with ZINCRBY of the popped member on the
  // other: the member stays (add wins) with the concurrent increment only —
  // the score the pop removed is gone.
  storage::OrZset popped = base, bumped = base;
  CHECK(popped.Remove("low"));
  REQUIRE(bumped.IncrBy("low", 5, {b, 1}, actors).ok());
  popped.Join(bumped);
  CHECK(popped.Score("low", actors) == 5);
  // ZADD on one side, ZINCRBY on the other: the ZADD's score plus the
  // concurrent increment.
  storage::OrZset set = base, incr = base;
  set.Add("high", 10, {a, 3}, kNow + 1);
  REQUIRE(incr.IncrBy("high", 3, {b, 2}, actors).ok());
  set.Join(incr);
  CHECK(set.Score("high", actors) == 13);
}

}  // namespace
}  // namespace shoal::server
