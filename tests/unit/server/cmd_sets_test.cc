// The set commands (server/commands/cmd_sets.cc) on one node, reply bytes
// compared exactly where Redis's reply is deterministic (shoal replies
// members in bytewise order; Redis's order is unspecified, so these
// expectations were checked against redis-server 7.0.15 as multisets).

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/unit/server/command_harness.h"

namespace shoal::server::testing {
namespace {

const std::string kWrongType =
    Err("WRONGTYPE Operation against a key holding the wrong kind of value");

std::multiset<std::string> Members(const std::string& resp) {
  std::vector<std::string> v;
  REQUIRE(ParseBulkArray(resp, &v));
  return {v.begin(), v.end()};
}

TEST_CASE("SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SADD", "s", "b", "a", "c", "a"}, Int(3)},
                     {{"SADD", "s", "a"}, Int(0)},
                     {{"SMEMBERS", "s"}, Arr({Bulk("a"), Bulk("b"), Bulk("c")})},
                     {{"SMEMBERS", "nokey"}, Arr({})},
                     {{"SISMEMBER", "s", "a"}, Int(1)},
                     {{"SISMEMBER", "s", "z"}, Int(0)},
                     {{"SISMEMBER", "nokey", "z"}, Int(0)},
                     {{"SMISMEMBER", "s", "a", "z", "c"}, Arr({Int(1), Int(0), Int(1)})},
                     {{"SMISMEMBER", "nokey", "a"}, Arr({Int(0)})},
                     {{"SCARD", "s"}, Int(3)},
                     {{"SCARD", "nokey"}, Int(0)},
                     {{"SREM", "s", "a", "z"}, Int(1)},
                     {{"SREM", "nokey", "a"}, Int(0)},
                     {{"SREM", "s", "b", "c"}, Int(2)},
                     {{"EXISTS", "s"}, Int(0)},
                     {{"SADD", "s"}, Err("ERR wrong number of arguments for 'sadd' command")},
                 });
}

// The dot of the one atom of `member` in set `key`.
storage::Dot MemberDot(CommandHarness& h, std::string_view key, std::string_view member) {
  auto view = h.keyspace().ReadSet(key, h.now_ms);
  REQUIRE(view.ok());
  const auto* entry = view.value().state.map().Find(member);
  REQUIRE(entry != nullptr);
  return entry->atoms.back().dot;
}

TEST_CASE("SADD of members already there: a lone node writes nothing, a replica re-adds") {
  CommandHarness h;
  CHECK(h.Run({"SADD", "s", "a", "b"}) == Int(2));
  const storage::Dot first = MemberDot(h, "s", "a");
  const uint64_t changes = h.changes();
  // As Redis: nothing to add, nothing written (no log record, no WATCH).
  CHECK(h.Run({"SADD", "s", "a", "b"}) == Int(0));
  CHECK(h.changes() == changes);
  // A write for the new member only: "a" keeps its dot.
  CHECK(h.Run({"SADD", "s", "a", "c"}) == Int(1));
  CHECK(h.changes() == changes + 1);
  CHECK(MemberDot(h, "s", "a") == first);
  CHECK(MemberDot(h, "s", "c") != first);
  CHECK(h.Run({"SADD", "nokey", "a"}) == Int(1));
  CHECK(h.Run({"SET", "str", "v"}) == Ok());
  CHECK(h.Run({"SADD", "str", "a"}) == kWrongType);
  // A replica's re-add is a write: the member gets the write's dot, which
  // an SREM elsewhere that did not see it cannot remove.
  h.BecomeReplica();
  const uint64_t before = h.changes();
  CHECK(h.Run({"SADD", "s", "a"}) == Int(0));
  CHECK(h.changes() == before + 1);
  CHECK(first < MemberDot(h, "s", "a"));
  CHECK(h.Run({"SMEMBERS", "s"}) == Arr({Bulk("a"), Bulk("b"), Bulk("c")}));
}

TEST_CASE("set commands on other types, and other commands on a set: WRONGTYPE") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "str", "v"}, Ok()},
                     {{"SADD", "str", "a"}, kWrongType},
                     {{"SMEMBERS", "str"}, kWrongType},
                     {{"SISMEMBER", "str", "a"}, kWrongType},
                     {{"SPOP", "str"}, kWrongType},
                     {{"SADD", "s", "1", "2"}, Int(2)},
                     {{"GET", "s"}, kWrongType},
                     {{"HGET", "s", "f"}, kWrongType},
                     {{"SINTER", "s", "str"}, kWrongType},
                     {{"SINTER", "nokey", "str"}, kWrongType},
                     {{"SUNIONSTORE", "d", "s", "str"}, kWrongType},
                     {{"TYPE", "s"}, Simple("set")},
                     {{"OBJECT", "ENCODING", "s"}, Bulk("intset")},
                     {{"SADD", "s", "x"}, Int(1)},
                     {{"OBJECT", "ENCODING", "s"}, Bulk("hashtable")},
                 });
}

TEST_CASE("SINTER, SUNION, SDIFF, their STORE forms and SINTERCARD") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SADD", "a", "1", "2", "3", "4"}, Int(4)},
                     {{"SADD", "b", "3", "4", "5"}, Int(3)},
                     {{"SINTER", "a", "b"}, Arr({Bulk("3"), Bulk("4")})},
                     {{"SINTER", "a", "nokey"}, Arr({})},
                     {{"SUNION", "a", "b", "nokey"},
                      Arr({Bulk("1"), Bulk("2"), Bulk("3"), Bulk("4"), Bulk("5")})},
                     {{"SDIFF", "a", "b"}, Arr({Bulk("1"), Bulk("2")})},
                     {{"SDIFF", "a", "a"}, Arr({})},
                     {{"SDIFF", "nokey", "a"}, Arr({})},
                     {{"SINTERCARD", "2", "a", "b"}, Int(2)},
                     {{"SINTERCARD", "2", "a", "b", "LIMIT", "1"}, Int(1)},
                     {{"SINTERCARD", "2", "a", "b", "LIMIT", "0"}, Int(2)},
                     {{"SINTERCARD", "0", "a"}, Err("ERR numkeys should be greater than 0")},
                     {{"SINTERCARD", "x", "a"}, Err("ERR numkeys should be greater than 0")},
                     {{"SINTERCARD", "2", "a"},
                      Err("ERR Number of keys can't be greater than number of args")},
                     {{"SINTERCARD", "1", "a", "LIMIT", "-1"}, Err("ERR LIMIT can't be negative")},
                     {{"SINTERCARD", "1", "a", "LIMIT", "x"}, Err("ERR LIMIT can't be negative")},
                     {{"SINTERCARD", "1", "a", "foo"}, Err("ERR syntax error")},
                     {{"SINTERSTORE", "d", "a", "b"}, Int(2)},
                     {{"SMEMBERS", "d"}, Arr({Bulk("3"), Bulk("4")})},
                     {{"SUNIONSTORE", "d", "d", "b"}, Int(3)},
                     {{"SDIFFSTORE", "d", "a", "b"}, Int(2)},
                     {{"SMEMBERS", "d"}, Arr({Bulk("1"), Bulk("2")})},
                     // An empty result deletes the destination.
                     {{"SINTERSTORE", "d", "a", "nokey"}, Int(0)},
                     {{"EXISTS", "d"}, Int(0)},
                     // The destination may hold any type, and loses its TTL.
                     {{"SET", "d", "x", "EX", "100"}, Ok()},
                     {{"SUNIONSTORE", "d", "b"}, Int(3)},
                     {{"TYPE", "d"}, Simple("set")},
                     {{"TTL", "d"}, Int(-1)},
                     {{"EXPIRE", "d", "100"}, Int(1)},
                     {{"SINTERSTORE", "d", "a", "b"}, Int(2)},
                     {{"TTL", "d"}, Int(-1)},
                 });
}

TEST_CASE("SMOVE: the same replies as Redis, type checks in Redis's order") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "str", "v"}, Ok()},
                     {{"SMOVE", "nokey", "str", "a"}, Int(0)},  // missing source first
                     {{"SADD", "s", "a", "b"}, Int(2)},
                     {{"SMOVE", "s", "str", "a"}, kWrongType},
                     {{"SMOVE", "str", "s", "a"}, kWrongType},
                     {{"SMOVE", "s", "s", "a"}, Int(1)},
                     {{"SMOVE", "s", "s", "z"}, Int(0)},
                     {{"SMOVE", "s", "t", "z"}, Int(0)},
                     {{"SMOVE", "s", "t", "a"}, Int(1)},
                     {{"SMEMBERS", "s"}, Arr({Bulk("b")})},
                     {{"SMEMBERS", "t"}, Arr({Bulk("a")})},
                     {{"SMOVE", "s", "t", "b"}, Int(1)},
                     {{"EXISTS", "s"}, Int(0)},
                     {{"SCARD", "t"}, Int(2)},
                 });
}

TEST_CASE("SPOP and SRANDMEMBER: argument checks, counts, shapes") {
  CommandHarness h;
  ExpectSteps(h,
              {
                  {{"SPOP", "nokey"}, Nil()},
                  {{"SPOP", "nokey", "3"}, Arr({})},
                  {{"SRANDMEMBER", "nokey"}, Nil()},
                  {{"SRANDMEMBER", "nokey", "3"}, Arr({})},
                  {{"SADD", "s", "a", "b", "c", "d"}, Int(4)},
                  {{"SPOP", "s", "1", "2"}, Err("ERR syntax error")},
                  {{"SPOP", "s", "-1"}, Err("ERR value is out of range, must be positive")},
                  {{"SPOP", "s", "x"}, Err("ERR value is out of range, must be positive")},
                  {{"SPOP", "s", "0"}, Arr({})},
                  {{"SRANDMEMBER", "s", "1", "2"}, Err("ERR syntax error")},
                  {{"SRANDMEMBER", "s", "x"}, Err("ERR value is not an integer or out of range")},
                  {{"SRANDMEMBER", "s", "-9223372036854775808"},
                   Err("ERR value is out of range, value must between -9223372036854775807 and "
                       "9223372036854775807")},
                  {{"SRANDMEMBER", "s", "0"}, Arr({})},
              });
  const std::multiset<std::string> all = {"a", "b", "c", "d"};
  CHECK(Members(h.Run({"SRANDMEMBER", "s", "10"})) == all);
  auto some = Members(h.Run({"SRANDMEMBER", "s", "3"}));
  CHECK(some.size() == 3);
  CHECK(std::set<std::string>(some.begin(), some.end()).size() == 3);
  CHECK(Members(h.Run({"SRANDMEMBER", "s", "-9"})).size() == 9);
  CHECK(h.Run({"SCARD", "s"}) == Int(4));
  // SPOP removes what it returns.
  auto popped = Members(h.Run({"SPOP", "s", "2"}));
  CHECK(popped.size() == 2);
  CHECK(h.Run({"SCARD", "s"}) == Int(2));
  for (const auto& m : popped) CHECK(h.Run({"SISMEMBER", "s", m}) == Int(0));
  std::string one = h.Run({"SPOP", "s"});
  CHECK(one.substr(0, 4) == "$1\r\n");
  CHECK(h.Run({"SCARD", "s"}) == Int(1));
  auto rest = Members(h.Run({"SPOP", "s", "5"}));
  CHECK(rest.size() == 1);
  CHECK(h.Run({"EXISTS", "s"}) == Int(0));
  // RESP3: SPOP with a count and SMEMBERS are sets, SRANDMEMBER an array.
  h.Run({"SADD", "s", "a"});
  h.resp = facade::kResp3;
  CHECK(h.Run({"SMEMBERS", "s"}) == "~1\r\n" + Bulk("a"));
  CHECK(h.Run({"SRANDMEMBER", "s", "1"}) == "*1\r\n" + Bulk("a"));
  CHECK(h.Run({"SPOP", "nokey", "1"}) == "~0\r\n");
  CHECK(h.Run({"SPOP", "s", "1"}) == "~1\r\n" + Bulk("a"));
}

TEST_CASE("SSCAN: an intset comes whole; a big set walks by cursor") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SADD", "s", "1", "2", "3"}, Int(3)},
                     {{"SSCAN", "s", "0", "COUNT", "1"},
                      Arr({Bulk("0"), Arr({Bulk("1"), Bulk("2"), Bulk("3")})})},
                     {{"SSCAN", "s", "0", "MATCH", "2"}, Arr({Bulk("0"), Arr({Bulk("2")})})},
                     {{"SSCAN", "nokey", "0"}, Arr({Bulk("0"), Arr({})})},
                 });
  std::vector<std::string> sadd = {"SADD", "big"};
  for (int i = 0; i < 100; ++i) sadd.push_back("m" + std::to_string(i));
  CHECK(h.Run(sadd) == Int(100));
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int steps = 0;
  do {
    std::vector<std::string> items;
    REQUIRE(ParseScanReply(h.Run({"SSCAN", "big", std::to_string(cursor)}), &cursor, &items));
    CHECK(items.size() <= 10);
    // A member removed during the scan is not required; the others are.
    h.Run({"SREM", "big", "m" + std::to_string(steps)});
    seen.insert(items.begin(), items.end());
    ++steps;
  } while (cursor != 0 && steps < 1000);
  for (int i = 20; i < 100; ++i) CHECK(seen.count("m" + std::to_string(i)) == 1);
}

TEST_CASE("SCAN TYPE and TYPE see every type") {
  CommandHarness h;
  h.Run({"SET", "str", "v"});
  h.Run({"INCR", "ctr"});
  h.Run({"HSET", "h", "f", "v"});
  h.Run({"SADD", "s", "m"});
  auto scan = [&](std::string_view type) {
    uint64_t cursor;
    std::vector<std::string> keys;
    REQUIRE(ParseScanReply(h.Run({"SCAN", "0", "COUNT", "100", "TYPE", type}), &cursor, &keys));
    return std::set<std::string>(keys.begin(), keys.end());
  };
  CHECK(scan("string") == std::set<std::string>{"str", "ctr"});
  CHECK(scan("HASH") == std::set<std::string>{"h"});
  CHECK(scan("set") == std::set<std::string>{"s"});
  CHECK(scan("zset").empty());
  CHECK(scan("list").empty());
  CHECK(h.Run({"TYPE", "ctr"}) == Simple("string"));
  CHECK(h.Run({"TYPE", "nokey"}) == Simple("none"));
}

TEST_CASE("set command rows match redis-server 7.0.15") {
  CommandHarness h;
  constexpr uint32_t W = kCmdWrite, R = kCmdReadonly, F = kCmdFast, D = kCmdDenyOom;
  CheckRows(h, {
                   {"sadd", -3, W | D | F, 1, 1, 1, "set"},
                   {"srem", -3, W | F, 1, 1, 1, "set"},
                   {"smembers", 2, R, 1, 1, 1, "set"},
                   {"sismember", 3, R | F, 1, 1, 1, "set"},
                   {"smismember", -3, R | F, 1, 1, 1, "set"},
                   {"scard", 2, R | F, 1, 1, 1, "set"},
                   {"srandmember", -2, R, 1, 1, 1, "set"},
                   {"spop", -2, W | F, 1, 1, 1, "set"},
                   {"smove", 4, W | F, 1, 2, 1, "set"},
                   {"sinter", -2, R, 1, -1, 1, "set"},
                   // Redis: 0 0 0 with movablekeys; shoal finds the keys per call.
                   {"sintercard", -3, R, 2, 2, 1, "set"},
                   {"sinterstore", -3, W | D, 1, -1, 1, "set"},
                   {"sunion", -2, R, 1, -1, 1, "set"},
                   {"sunionstore", -3, W | D, 1, -1, 1, "set"},
                   {"sdiff", -2, R, 1, -1, 1, "set"},
                   {"sdiffstore", -3, W | D, 1, -1, 1, "set"},
                   {"sscan", -3, R, 1, 1, 1, "set"},
               });
}

}  // namespace
}  // namespace shoal::server::testing
