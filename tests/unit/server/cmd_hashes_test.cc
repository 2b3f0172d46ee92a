// The hash commands (server/commands/cmd_hashes.cc) on one node, reply bytes
// compared exactly; the expected replies were checked against
// redis-server 7.0.15 with redis-cli.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/unit/server/command_harness.h"

namespace shoal::server::testing {
namespace {

const std::string kWrongType =
    Err("WRONGTYPE Operation against a key holding the wrong kind of value");

TEST_CASE("HSET, HSETNX, HMSET, HGET, HMGET, HEXISTS, HSTRLEN, HLEN, HDEL") {
  CommandHarness h;
  ExpectSteps(
      h,
      {
          {{"HSET", "h", "a", "1", "b", "2"}, Int(2)},
          {{"HSET", "h", "a", "3", "c"}, Err("ERR wrong number of arguments for 'hset' command")},
          {{"HSET", "h", "a", "3", "a", "4"}, Int(0)},
          {{"HGET", "h", "a"}, Bulk("4")},
          {{"HSETNX", "h", "a", "9"}, Int(0)},
          {{"HSETNX", "h", "d", "4"}, Int(1)},
          {{"HMSET", "h", "e", "5"}, Ok()},
          {{"HMSET", "h", "e"}, Err("ERR wrong number of arguments for 'hmset' command")},
          {{"HGET", "h", "zz"}, Nil()},
          {{"HGET", "nokey", "a"}, Nil()},
          {{"HMGET", "h", "a", "zz", "b"}, Arr({Bulk("4"), Nil(), Bulk("2")})},
          {{"HMGET", "nokey", "a"}, Arr({Nil()})},
          {{"HEXISTS", "h", "a"}, Int(1)},
          {{"HEXISTS", "h", "zz"}, Int(0)},
          {{"HSTRLEN", "h", "d"}, Int(1)},
          {{"HSTRLEN", "h", "zz"}, Int(0)},
          {{"HLEN", "h"}, Int(4)},
          {{"HLEN", "nokey"}, Int(0)},
          {{"HDEL", "h", "a", "zz"}, Int(1)},
          {{"HDEL", "nokey", "a"}, Int(0)},
          {{"HGETALL", "h"},
           Arr({Bulk("b"), Bulk("2"), Bulk("d"), Bulk("4"), Bulk("e"), Bulk("5")})},
          {{"HKEYS", "h"}, Arr({Bulk("b"), Bulk("d"), Bulk("e")})},
          {{"HVALS", "h"}, Arr({Bulk("2"), Bulk("4"), Bulk("5")})},
          {{"HGETALL", "nokey"}, Arr({})},
          // Removing the last field removes the key.
          {{"HDEL", "h", "b", "d", "e", "zz"}, Int(3)},
          {{"EXISTS", "h"}, Int(0)},
          {{"TYPE", "h"}, Simple("none")},
      });
}

TEST_CASE("HINCRBY and HINCRBYFLOAT: Redis's errors, checked in Redis's order") {
  CommandHarness h;
  ExpectSteps(h,
              {
                  {{"HINCRBY", "h", "n", "5"}, Int(5)},
                  {{"HINCRBY", "h", "n", "-7"}, Int(-2)},
                  {{"HINCRBY", "h", "n", "x"}, Err("ERR value is not an integer or out of range")},
                  {{"HINCRBY", "h", "n", "9223372036854775807"}, Int(9223372036854775805)},
                  {{"HINCRBY", "h", "n", "3"}, Err("ERR increment or decrement would overflow")},
                  {{"HSET", "h", "s", "abc"}, Int(1)},
                  {{"HINCRBY", "h", "s", "1"}, Err("ERR hash value is not an integer")},
                  {{"HINCRBYFLOAT", "h", "s", "1"}, Err("ERR hash value is not a float")},
                  {{"HINCRBYFLOAT", "h", "f", "1.5"}, Bulk("1.5")},
                  {{"HINCRBYFLOAT", "h", "f", "0.1"}, Bulk("1.6")},
                  {{"HINCRBYFLOAT", "h", "f", "inf"}, Err("ERR value is NaN or Infinity")},
                  {{"HINCRBYFLOAT", "h", "f", "x"}, Err("ERR value is not a valid float")},
                  {{"HGET", "h", "f"}, Bulk("1.6")},
                  {{"HSET", "h", "i", "10"}, Int(1)},
                  {{"HINCRBYFLOAT", "h", "i", "2.5"}, Bulk("12.5")},
                  {{"HINCRBY", "h", "i", "1"}, Err("ERR hash value is not an integer")},
              });
}

TEST_CASE("hash commands on other types, and other commands on a hash: WRONGTYPE") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "str", "v"}, Ok()},
                     {{"HGET", "str", "a"}, kWrongType},
                     {{"HSET", "str", "a", "b"}, kWrongType},
                     {{"HGETALL", "str"}, kWrongType},
                     {{"HINCRBY", "str", "a", "1"}, kWrongType},
                     {{"HSCAN", "str", "0"}, kWrongType},
                     {{"HSET", "h", "f", "v"}, Int(1)},
                     {{"GET", "h"}, kWrongType},
                     {{"INCR", "h"}, kWrongType},
                     {{"APPEND", "h", "x"}, kWrongType},
                     {{"STRLEN", "h"}, kWrongType},
                     {{"SADD", "h", "m"}, kWrongType},
                     {{"MGET", "h", "str"}, Arr({Nil(), Bulk("v")})},
                     {{"TYPE", "h"}, Simple("hash")},
                     {{"OBJECT", "ENCODING", "h"}, Bulk("listpack")},
                     // SET replaces a hash, as in Redis.
                     {{"SET", "h", "now a string"}, Ok()},
                     {{"TYPE", "h"}, Simple("string")},
                 });
}

TEST_CASE("HRANDFIELD: argument checks, counts, and RESP2/RESP3 shapes") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"HRANDFIELD", "nokey"}, Nil()},
                     {{"HRANDFIELD", "nokey", "3"}, Arr({})},
                     {{"HSET", "h", "a", "1", "b", "2", "c", "3"}, Int(3)},
                     {{"HRANDFIELD", "h", "1", "2"}, Err("ERR syntax error")},
                     {{"HRANDFIELD", "h", "x"}, Err("ERR value is not an integer or out of range")},
                     {{"HRANDFIELD", "h", "-9223372036854775808"},
                      Err("ERR value is out of range, value must between -9223372036854775807 and "
                          "9223372036854775807")},
                     {{"HRANDFIELD", "h", "4611686018427387904", "withvalues"},
                      Err("ERR value is out of range")},
                     {{"HRANDFIELD", "h", "0"}, Arr({})},
                 });
  std::vector<std::string> got;
  // A count at or above the size: every field once.
  REQUIRE(ParseBulkArray(h.Run({"HRANDFIELD", "h", "5"}), &got));
  CHECK(std::multiset<std::string>(got.begin(), got.end()) ==
        std::multiset<std::string>{"a", "b", "c"});
  REQUIRE(ParseBulkArray(h.Run({"HRANDFIELD", "h", "2"}), &got));
  CHECK(got.size() == 2);
  CHECK(got[0] != got[1]);
  // Negative: |count| fields, repeats allowed.
  REQUIRE(ParseBulkArray(h.Run({"HRANDFIELD", "h", "-10"}), &got));
  CHECK(got.size() == 10);
  for (const auto& f : got) CHECK((f == "a" || f == "b" || f == "c"));
  // WITHVALUES: flat pairs in RESP2, an array of pairs in RESP3.
  REQUIRE(ParseBulkArray(h.Run({"HRANDFIELD", "h", "-2", "WITHVALUES"}), &got));
  REQUIRE(got.size() == 4);
  CHECK(got[1] == std::string(1, static_cast<char>('1' + (got[0][0] - 'a'))));
  h.resp = facade::kResp3;
  const std::string r3 = h.Run({"HRANDFIELD", "h", "1", "WITHVALUES"});
  CHECK(r3.substr(0, 8) == "*1\r\n*2\r\n");
  CHECK(h.Run({"HGETALL", "nokey"}) == "%0\r\n");
  CHECK(h.Run({"HRANDFIELD", "nokey"}) == "_\r\n");
}

TEST_CASE("HGETALL is a map in RESP3") {
  CommandHarness h;
  h.Run({"HSET", "h", "a", "1"});
  h.resp = facade::kResp3;
  CHECK(h.Run({"HGETALL", "h"}) == "%1\r\n" + Bulk("a") + Bulk("1"));
}

TEST_CASE("HSCAN: a small hash comes whole; a big one walks by cursor") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"HSCAN", "nokey", "0", "COUNT", "0"}, Arr({Bulk("0"), Arr({})})},
                     {{"HSET", "h", "a", "1", "b", "2", "ab", "3"}, Int(3)},
                     {{"HSCAN", "h", "x"}, Err("ERR invalid cursor")},
                     {{"HSCAN", "h", "0", "COUNT", "0"}, Err("ERR syntax error")},
                     {{"HSCAN", "h", "0", "TYPE", "string"}, Err("ERR syntax error")},
                     {{"HSCAN", "h", "0", "MATCH", "a*", "COUNT", "1"},
                      Arr({Bulk("0"), Arr({Bulk("a"), Bulk("1"), Bulk("ab"), Bulk("3")})})},
                 });
  // Past 128 fields Redis keeps a hashtable and walks it by cursor.
  std::vector<std::string> hset = {"HSET", "big"};
  for (int i = 0; i < 300; ++i) {
    hset.push_back("f" + std::to_string(i));
    hset.push_back("v" + std::to_string(i));
  }
  CHECK(h.Run(hset) == Int(300));
  CHECK(h.Run({"OBJECT", "ENCODING", "big"}) == Bulk("hashtable"));
  std::multiset<std::string> fields;
  uint64_t cursor = 0;
  int steps = 0;
  do {
    std::string reply = h.Run({"HSCAN", "big", std::to_string(cursor), "COUNT", "17"});
    std::vector<std::string> items;
    REQUIRE(ParseScanReply(reply, &cursor, &items));
    REQUIRE(items.size() % 2 == 0);
    CHECK(items.size() <= 2 * 17);
    for (size_t i = 0; i < items.size(); i += 2) {
      fields.insert(items[i]);
      CHECK(items[i + 1] == "v" + items[i].substr(1));
    }
    ++steps;
  } while (cursor != 0 && steps < 1000);
  CHECK(fields.size() == 300);
  CHECK(std::set<std::string>(fields.begin(), fields.end()).size() == 300);
  CHECK(steps == (300 + 16) / 17);
}

TEST_CASE("hash keys: EXPIRE, TTL, PERSIST, RENAME, COPY, DEL, EXISTS keep the hash") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"HSET", "h", "a", "1", "b", "2"}, Int(2)},
                     {{"EXPIRE", "h", "100"}, Int(1)},
                     {{"HSET", "h", "c", "3"}, Int(1)},  // writes keep the TTL
                     {{"TTL", "h"}, Int(100)},
                     {{"HINCRBY", "h", "a", "1"}, Int(2)},
                     {{"TTL", "h"}, Int(100)},
                     {{"RENAME", "h", "h2"}, Ok()},
                     {{"EXISTS", "h"}, Int(0)},
                     {{"TTL", "h2"}, Int(100)},
                     {{"HGETALL", "h2"},
                      Arr({Bulk("a"), Bulk("2"), Bulk("b"), Bulk("2"), Bulk("c"), Bulk("3")})},
                     {{"PERSIST", "h2"}, Int(1)},
                     {{"TTL", "h2"}, Int(-1)},
                     {{"COPY", "h2", "h3"}, Int(1)},
                     {{"HSET", "h3", "d", "4"}, Int(1)},
                     {{"HLEN", "h2"}, Int(3)},
                     {{"HLEN", "h3"}, Int(4)},
                     {{"SET", "s", "x"}, Ok()},
                     {{"RENAMENX", "h3", "s"}, Int(0)},
                     {{"RENAME", "h3", "s"}, Ok()},
                     {{"TYPE", "s"}, Simple("hash")},
                     {{"DEL", "h2", "s"}, Int(2)},
                     {{"EXISTS", "h2", "s"}, Int(0)},
                     {{"HGET", "s", "d"}, Nil()},
                 });
  // A TTL that passes removes the hash.
  h.Run({"HSET", "t", "f", "v"});
  h.Run({"PEXPIRE", "t", "50"});
  h.AdvanceMs(60);
  CHECK(h.Run({"HGET", "t", "f"}) == Nil());
  CHECK(h.Run({"EXISTS", "t"}) == Int(0));
}

TEST_CASE("hash command rows match redis-server 7.0.15") {
  CommandHarness h;
  constexpr uint32_t W = kCmdWrite, R = kCmdReadonly, F = kCmdFast, D = kCmdDenyOom;
  CheckRows(h, {
                   {"hset", -4, W | D | F, 1, 1, 1, "hash"},
                   {"hmset", -4, W | D | F, 1, 1, 1, "hash"},
                   {"hsetnx", 4, W | D | F, 1, 1, 1, "hash"},
                   {"hget", 3, R | F, 1, 1, 1, "hash"},
                   {"hmget", -3, R | F, 1, 1, 1, "hash"},
                   {"hgetall", 2, R, 1, 1, 1, "hash"},
                   {"hkeys", 2, R, 1, 1, 1, "hash"},
                   {"hvals", 2, R, 1, 1, 1, "hash"},
                   {"hdel", -3, W | F, 1, 1, 1, "hash"},
                   {"hexists", 3, R | F, 1, 1, 1, "hash"},
                   {"hlen", 2, R | F, 1, 1, 1, "hash"},
                   {"hstrlen", 3, R | F, 1, 1, 1, "hash"},
                   {"hincrby", 4, W | D | F, 1, 1, 1, "hash"},
                   {"hincrbyfloat", 4, W | D | F, 1, 1, 1, "hash"},
                   {"hrandfield", -2, R, 1, 1, 1, "hash"},
                   {"hscan", -3, R, 1, 1, 1, "hash"},
               });
}

}  // namespace
}  // namespace shoal::server::testing
