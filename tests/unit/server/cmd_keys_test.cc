// The generic key commands, reply bytes compared exactly. Replies that do not
// depend on the clock were checked against redis-server 7.0.15 with
// redis-cli; TTL values follow Redis's arithmetic on the harness's manual
// clock.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/unit/server/command_harness.h"

namespace shoal::server::testing {
namespace {

TEST_CASE("DEL, UNLINK, EXISTS, TOUCH count keys as Redis does") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"MSET", "a", "1", "b", "2", "c", "3"}, Ok()},
                     {{"EXISTS", "a", "a", "b", "nope"}, Int(3)},  // repeats count
                     {{"TOUCH", "a", "a", "nope"}, Int(2)},
                     {{"DEL", "a", "a", "nope"}, Int(1)},  // a is deleted once
                     {{"EXISTS", "a"}, Int(0)},
                     {{"UNLINK", "b", "c", "b"}, Int(2)},
                     {{"DEL", "b"}, Int(0)},
                     {{"DEL"}, Err("ERR wrong number of arguments for 'del' command")},
                     {{"EXISTS"}, Err("ERR wrong number of arguments for 'exists' command")},
                 });
}

TEST_CASE("EXPIRE family: relative and absolute, past times delete") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"EXPIRE", "nope", "10"}, Int(0)},
                     {{"SET", "k", "v"}, Ok()},
                     {{"EXPIRE", "k", "10"}, Int(1)},
                     {{"PTTL", "k"}, Int(10000)},
                     {{"PEXPIRE", "k", "2500"}, Int(1)},
                     {{"PTTL", "k"}, Int(2500)},
                     {{"EXPIREAT", "k", Num(kNow / 1000 + 60)}, Int(1)},
                     {{"TTL", "k"}, Int(60)},
                     {{"PEXPIREAT", "k", Num(kNow + 777)}, Int(1)},
                     {{"PTTL", "k"}, Int(777)},
                     {{"PEXPIRETIME", "k"}, Int(kNow + 777)},
                     {{"EXPIRETIME", "k"}, Int((kNow + 777 + 500) / 1000)},
                     // Zero or negative relative times, and absolute times at or
                     // before now, delete the key and reply 1.
                     {{"EXPIRE", "k", "0"}, Int(1)},
                     {{"EXISTS", "k"}, Int(0)},
                     {{"SET", "k", "v"}, Ok()},
                     {{"PEXPIRE", "k", "-1"}, Int(1)},
                     {{"EXISTS", "k"}, Int(0)},
                     {{"SET", "k", "v"}, Ok()},
                     {{"PEXPIREAT", "k", Num(kNow)}, Int(1)},
                     {{"EXISTS", "k"}, Int(0)},
                     {{"SET", "k", "v"}, Ok()},
                     {{"EXPIREAT", "k", "1"}, Int(1)},
                     {{"EXISTS", "k"}, Int(0)},
                     {{"SET", "k", "v"}, Ok()},
                     {{"EXPIRE", "k", "-9223372036854775"}, Int(1)},
                     {{"EXISTS", "k"}, Int(0)},
                 });
}

TEST_CASE("EXPIRE family: argument errors and overflow") {
  CommandHarness h;
  REQUIRE(h.Run({"SET", "k", "v"}) == Ok());
  const std::string kInvalid = "ERR invalid expire time in '";
  ExpectSteps(h, {
                     {{"EXPIRE", "k"}, Err("ERR wrong number of arguments for 'expire' command")},
                     {{"EXPIRE", "k", "abc"}, Err("ERR value is not an integer or out of range")},
                     {{"EXPIRE", "k", "1.5"}, Err("ERR value is not an integer or out of range")},
                     {{"EXPIRE", "k", "10", "foo"}, Err("ERR Unsupported option foo")},
                     {{"EXPIRE", "k", "10", "nx", "bar"}, Err("ERR Unsupported option bar")},
                     {{"EXPIRE", "k", "10", "NX", "XX"},
                      Err("ERR NX and XX, GT or LT options at the same time are not compatible")},
                     {{"EXPIRE", "k", "10", "nx", "gt"},
                      Err("ERR NX and XX, GT or LT options at the same time are not compatible")},
                     {{"PEXPIRE", "k", "10", "lt", "nx"},
                      Err("ERR NX and XX, GT or LT options at the same time are not compatible")},
                     {{"EXPIRE", "k", "10", "GT", "LT"},
                      Err("ERR GT and LT options at the same time are not compatible")},
                     // Flags are checked before the number.
                     {{"EXPIRE", "k", "abc", "nx", "xx"},
                      Err("ERR NX and XX, GT or LT options at the same time are not compatible")},
                     // Overflow: seconds to ms, then adding now (EXPIRE/PEXPIRE only).
                     {{"EXPIRE", "k", "9223372036854776"}, Err(kInvalid + "expire' command")},
                     {{"EXPIRE", "k", "-9223372036854776"}, Err(kInvalid + "expire' command")},
                     {{"EXPIRE", "k", "9223372036854775"}, Err(kInvalid + "expire' command")},
                     {{"PEXPIRE", "k", "9223372036854775807"}, Err(kInvalid + "pexpire' command")},
                     {{"EXPIREAT", "k", "9223372036854776"}, Err(kInvalid + "expireat' command")},
                     // The number is checked before the key.
                     {{"EXPIRE", "nope", "9223372036854775807"}, Err(kInvalid + "expire' command")},
                     {{"TTL", "k"}, Int(-1)},
                     // The largest absolute times are fine.
                     {{"EXPIREAT", "k", "9223372036854775"}, Int(1)},
                     {{"TTL", "k"}, Int((9223372036854775000 - kNow + 500) / 1000)},
                     {{"PEXPIREAT", "k", "9223372036854775807"}, Int(1)},
                     {{"PTTL", "k"}, Int(9223372036854775807 - kNow)},
                     {{"PEXPIRETIME", "k"}, Int(9223372036854775807)},
                     // Redis rounds (ms + 500) / 1000 without wrapping.
                     {{"EXPIRETIME", "k"}, Int(9223372036854776)},
                 });
}

TEST_CASE("EXPIRE family: NX XX GT LT conditions") {
  struct Case {
    int64_t current_ttl_s;  // 0: the key has no TTL
    const char* seconds;
    std::vector<std::string> flags;
    int64_t reply;
    int64_t ttl_after;
  };
  const Case cases[] = {
      {0, "50", {"NX"}, 1, 50},           {100, "50", {"NX"}, 0, 100},
      {0, "50", {"XX"}, 0, -1},           {100, "50", {"XX"}, 1, 50},
      {0, "50", {"GT"}, 0, -1},  // no TTL is infinite
      {100, "50", {"GT"}, 0, 100},        {100, "100", {"GT"}, 0, 100},
      {100, "150", {"GT"}, 1, 150},       {0, "50", {"LT"}, 1, 50},
      {100, "50", {"LT"}, 1, 50},         {100, "100", {"LT"}, 0, 100},
      {100, "150", {"LT"}, 0, 100},       {0, "50", {"XX", "GT"}, 0, -1},
      {100, "150", {"xx", "gt"}, 1, 150}, {0, "50", {"XX", "LT"}, 0, -1},
      {100, "50", {"LT", "XX"}, 1, 50},   {100, "50", {"nx", "NX"}, 0, 100},
      {100, "150", {"GT", "gt"}, 1, 150},
  };
  for (const Case& c : cases) {
    CommandHarness h;
    REQUIRE(h.Run({"SET", "k", "v"}) == Ok());
    if (c.current_ttl_s > 0) REQUIRE(h.Run({"EXPIRE", "k", Num(c.current_ttl_s)}) == Int(1));
    std::vector<std::string> cmd = {"EXPIRE", "k", c.seconds};
    cmd.insert(cmd.end(), c.flags.begin(), c.flags.end());
    std::string shown;
    for (const auto& f : c.flags) shown += f + " ";
    CAPTURE(shown);
    CAPTURE(c.current_ttl_s);
    CAPTURE(c.seconds);
    CHECK(h.Run(cmd) == Int(c.reply));
    CHECK(h.Run({"TTL", "k"}) == Int(c.ttl_after));
  }
  // A negative time with LT on a key without TTL deletes it.
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "k", "v"}, Ok()},
                     {{"EXPIRE", "k", "-1", "LT"}, Int(1)},
                     {{"EXISTS", "k"}, Int(0)},
                 });
}

TEST_CASE("TTL and PTTL follow the clock; expired keys vanish lazily") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"TTL", "k"}, Int(-2)},
                     {{"PTTL", "k"}, Int(-2)},
                     {{"EXPIRETIME", "k"}, Int(-2)},
                     {{"PEXPIRETIME", "k"}, Int(-2)},
                     {{"SET", "k", "v"}, Ok()},
                     {{"TTL", "k"}, Int(-1)},
                     {{"PTTL", "k"}, Int(-1)},
                     {{"EXPIRETIME", "k"}, Int(-1)},
                     {{"PEXPIRETIME", "k"}, Int(-1)},
                     {{"SET", "k", "v", "PX", "2500"}, Ok()},
                     {{"PTTL", "k"}, Int(2500)},
                     {{"TTL", "k"}, Int(3)},  // rounded to the nearest second
                 });
  h.AdvanceMs(1000);
  ExpectSteps(h, {{{"PTTL", "k"}, Int(1500)}, {{"TTL", "k"}, Int(2)}});
  h.AdvanceMs(1000);
  ExpectSteps(h, {{{"PTTL", "k"}, Int(500)}, {{"TTL", "k"}, Int(1)}});
  h.AdvanceMs(1);
  ExpectSteps(h, {{{"TTL", "k"}, Int(0)}});
  h.AdvanceMs(498);
  ExpectSteps(h, {
                     {{"PTTL", "k"}, Int(1)},
                     {{"TTL", "k"}, Int(0)},
                     {{"GET", "k"}, Bulk("v")},
                     {{"PEXPIRETIME", "k"}, Int(kNow + 2500)},
                 });
  h.AdvanceMs(1);  // now == expiry time: gone
  ExpectSteps(h, {
                     {{"PTTL", "k"}, Int(-2)},
                     {{"GET", "k"}, Nil()},
                     {{"EXISTS", "k"}, Int(0)},
                 });
}

TEST_CASE("PERSIST and TYPE") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"PERSIST", "k"}, Int(0)},
                     {{"TYPE", "k"}, Simple("none")},
                     {{"SET", "k", "v"}, Ok()},
                     {{"TYPE", "k"}, Simple("string")},
                     {{"PERSIST", "k"}, Int(0)},  // no TTL to remove
                     {{"EXPIRE", "k", "10"}, Int(1)},
                     {{"PERSIST", "k"}, Int(1)},
                     {{"TTL", "k"}, Int(-1)},
                     {{"PERSIST", "k"}, Int(0)},
                     {{"PEXPIRE", "k", "10"}, Int(1)},
                 });
  h.AdvanceMs(10);
  ExpectSteps(h, {
                     {{"TYPE", "k"}, Simple("none")},
                     {{"PERSIST", "k"}, Int(0)},
                 });
}

TEST_CASE("lazy expiry: every command sees an expired key as absent") {
  CommandHarness h;
  auto expired = [&](const std::string& key, const std::string& value = "5") {
    REQUIRE(h.Run({"SET", key, value, "PX", "10"}) == Ok());
    h.AdvanceMs(10);
  };
  expired("a");
  ExpectSteps(h, {
                     {{"GET", "a"}, Nil()},
                     {{"STRLEN", "a"}, Int(0)},
                     {{"GETRANGE", "a", "0", "-1"}, Bulk("")},
                     {{"MGET", "a"}, Arr({Nil()})},
                     {{"EXISTS", "a"}, Int(0)},
                     {{"TTL", "a"}, Int(-2)},
                     {{"TYPE", "a"}, Simple("none")},
                     {{"DEL", "a"}, Int(0)},
                     {{"GETDEL", "a"}, Nil()},
                     {{"GETEX", "a", "PERSIST"}, Nil()},
                     {{"EXPIRE", "a", "10"}, Int(0)},
                     {{"KEYS", "*"}, Arr({})},
                     {{"SCAN", "0"}, Arr({Bulk("0"), Arr({})})},
                     {{"RANDOMKEY"}, Nil()},
                 });
  expired("b");
  ExpectSteps(h, {{{"INCR", "b"}, Int(1)}, {{"TTL", "b"}, Int(-1)}});  // from 0, no TTL
  expired("c", "x");
  ExpectSteps(h, {{{"APPEND", "c", "y"}, Int(1)}, {{"GET", "c"}, Bulk("y")}});
  expired("d");
  ExpectSteps(h, {{{"SETNX", "d", "n"}, Int(1)}});
  expired("e");
  ExpectSteps(h, {{{"SET", "e", "n", "XX"}, Nil()}, {{"EXISTS", "e"}, Int(0)}});
  expired("f");
  ExpectSteps(h, {{{"SET", "f", "n", "GET"}, Nil()}, {{"TTL", "f"}, Int(-1)}});
  expired("g");
  ExpectSteps(h, {{{"MSETNX", "g", "1"}, Int(1)}});
  expired("i", "abc");
  ExpectSteps(h,
              {{{"SETRANGE", "i", "1", "x"}, Int(2)}, {{"GET", "i"}, Bulk(std::string("\0x", 2))}});
  expired("j", "1.5");
  ExpectSteps(h, {{{"INCRBYFLOAT", "j", "1"}, Bulk("1")}});
}

TEST_CASE("KEYS with patterns") {
  CommandHarness h;
  REQUIRE(h.Run({"MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5",
                 "h*llo", "6", "", "7"}) == Ok());
  using V = std::vector<std::string>;
  CHECK(SortedKeys(h.Run({"KEYS", "*"})) ==
        V{"", "h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"});
  CHECK(SortedKeys(h.Run({"KEYS", "h?llo"})) == V{"h*llo", "hallo", "hello", "hxllo"});
  CHECK(SortedKeys(h.Run({"KEYS", "h*llo"})) ==
        V{"h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"});
  CHECK(SortedKeys(h.Run({"KEYS", "h[ae]llo"})) == V{"hallo", "hello"});
  CHECK(SortedKeys(h.Run({"KEYS", "h[^e]llo"})) == V{"h*llo", "hallo", "hxllo"});
  CHECK(SortedKeys(h.Run({"KEYS", "h[a-b]llo"})) == V{"hallo"});
  CHECK(SortedKeys(h.Run({"KEYS", "h\\*llo"})) == V{"h*llo"});
  // Only the match-all shortcut lists the empty key (checked on 7.0.15).
  CHECK(SortedKeys(h.Run({"KEYS", "**"})) ==
        V{"h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"});
  CHECK(h.Run({"KEYS", "nomatch*"}) == Arr({}));
  CHECK(h.Run({"KEYS", "hello"}) == Arr({Bulk("hello")}));
  CHECK(h.Run({"KEYS"}) == Err("ERR wrong number of arguments for 'keys' command"));
}

TEST_CASE("SCAN: cursor and option errors") {
  CommandHarness h;
  REQUIRE(h.Run({"SET", "a", "1"}) == Ok());
  ExpectSteps(h,
              {
                  {{"SCAN", "abc"}, Err("ERR invalid cursor")},
                  {{"SCAN", " 0"}, Err("ERR invalid cursor")},
                  {{"SCAN", "0 "}, Err("ERR invalid cursor")},
                  {{"SCAN", "1.5"}, Err("ERR invalid cursor")},
                  {{"SCAN", "18446744073709551616"}, Err("ERR invalid cursor")},
                  {{"SCAN", "0", "COUNT", "0"}, Err("ERR syntax error")},
                  {{"SCAN", "0", "COUNT", "-1"}, Err("ERR syntax error")},
                  {{"SCAN", "0", "COUNT", "x"}, Err("ERR value is not an integer or out of range")},
                  {{"SCAN", "0", "MATCH"}, Err("ERR syntax error")},
                  {{"SCAN", "0", "COUNT"}, Err("ERR syntax error")},
                  {{"SCAN", "0", "TYPE"}, Err("ERR syntax error")},
                  {{"SCAN", "0", "FOO", "bar"}, Err("ERR syntax error")},
                  {{"SCAN"}, Err("ERR wrong number of arguments for 'scan' command")},
                  // strtoul's grammar, as Redis: "+0" and "" are cursor 0.
                  {{"SCAN", "+0"}, Arr({Bulk("0"), Arr({Bulk("a")})})},
                  {{"SCAN", ""}, Arr({Bulk("0"), Arr({Bulk("a")})})},
                  {{"SCAN", "0"}, Arr({Bulk("0"), Arr({Bulk("a")})})},
                  // An unknown TYPE matches nothing in 7.0 (7.2 made it an error).
                  {{"SCAN", "0", "TYPE", "list"}, Arr({Bulk("0"), Arr({})})},
                  {{"SCAN", "0", "type", "STRING"}, Arr({Bulk("0"), Arr({Bulk("a")})})},
                  {{"SCAN", "0", "MATCH", "b*"}, Arr({Bulk("0"), Arr({})})},
                  {{"SCAN", "0", "match", "a", "count", "5", "TYPE", "string"},
                   Arr({Bulk("0"), Arr({Bulk("a")})})},
              });
  // "-1" wraps to the largest cursor, which is accepted (the iteration just
  // ends, as on 7.0.15).
  uint64_t cursor = 1;
  std::vector<std::string> keys;
  REQUIRE(ParseScanReply(h.Run({"SCAN", "-1"}), &cursor, &keys));
}

TEST_CASE("SCAN: MATCH, COUNT and TYPE over many keys") {
  CommandHarness h;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(h.Run({"SET", (i % 2 ? "odd:" : "even:") + Num(i), "v"}) == Ok());
  }
  std::set<std::string> seen;
  uint64_t cursor = 0;
  size_t calls = 0;
  do {
    std::vector<std::string> keys;
    REQUIRE(ParseScanReply(
        h.Run({"SCAN", Num(static_cast<int64_t>(cursor)), "MATCH", "odd:*", "COUNT", "50"}),
        &cursor, &keys));
    for (const std::string& k : keys) {
      CHECK(k.rfind("odd:", 0) == 0);
      seen.insert(k);
    }
    ++calls;
    REQUIRE(calls < 10000);
  } while (cursor != 0);
  CHECK(seen.size() == 500);
  CHECK(calls > 5);  // COUNT bounds the work of one call

  // TYPE string passes everything; another type nothing.
  seen.clear();
  cursor = 0;
  do {
    std::vector<std::string> keys;
    REQUIRE(ParseScanReply(
        h.Run({"SCAN", Num(static_cast<int64_t>(cursor)), "COUNT", "1000", "TYPE", "string"}),
        &cursor, &keys));
    seen.insert(keys.begin(), keys.end());
  } while (cursor != 0);
  CHECK(seen.size() == 1000);
}

TEST_CASE("SCAN: a full iteration over 10k keys sees every key, while keys are added") {
  CommandHarness h;
  constexpr int kKeys = 10000;
  for (int i = 0; i < kKeys; ++i) REQUIRE(h.Run({"SET", "key:" + Num(i), "v"}) == Ok());
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int added = 0;
  size_t calls = 0;
  do {
    std::vector<std::string> keys;
    REQUIRE(ParseScanReply(h.Run({"SCAN", Num(static_cast<int64_t>(cursor)), "COUNT", "20"}),
                           &cursor, &keys));
    seen.insert(keys.begin(), keys.end());
    // Grow the table between calls (forcing rehashes mid-iteration).
    for (int j = 0; j < 15; ++j) {
      REQUIRE(h.Run({"SET", "new:" + Num(added++), "v"}) == Ok());
    }
    ++calls;
    REQUIRE(calls < 1'000'000);
  } while (cursor != 0);
  int missing = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (seen.count("key:" + Num(i)) == 0) ++missing;
  }
  CHECK(missing == 0);
  CHECK(added > kKeys / 2);  // the table really grew during the iteration
}

TEST_CASE("RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"RANDOMKEY"}, Nil()},
                     {{"DBSIZE"}, Int(0)},
                     {{"SET", "only", "v"}, Ok()},
                     {{"RANDOMKEY"}, Bulk("only")},
                     {{"MSET", "a", "1", "b", "2"}, Ok()},
                     {{"DBSIZE"}, Int(3)},
                 });
  for (uint64_t r = 0; r < 20; ++r) {
    h.random = r * 0x9e3779b97f4a7c15ull;
    std::string reply = h.Run({"RANDOMKEY"});
    CHECK((reply == Bulk("only") || reply == Bulk("a") || reply == Bulk("b")));
  }
  ExpectSteps(h, {
                     {{"FLUSHALL", "foo"}, Err("ERR syntax error")},
                     {{"FLUSHDB", "sync", "async"}, Err("ERR syntax error")},
                     {{"DBSIZE"}, Int(3)},
                     {{"FLUSHALL"}, Ok()},
                     {{"DBSIZE"}, Int(0)},
                     {{"SET", "a", "1"}, Ok()},
                     {{"FLUSHALL", "ASYNC"}, Ok()},
                     {{"EXISTS", "a"}, Int(0)},
                     {{"SET", "a", "1"}, Ok()},
                     {{"FLUSHDB", "sync"}, Ok()},
                     {{"SET", "a", "1"}, Ok()},
                     {{"FLUSHDB"}, Ok()},
                     {{"KEYS", "*"}, Arr({})},
                     {{"DBSIZE", "x"}, Err("ERR wrong number of arguments for 'dbsize' command")},
                 });
}

TEST_CASE("RENAME and RENAMENX as Redis 7.0") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"RENAME", "nope", "x"}, Err("ERR no such key")},
                     {{"RENAMENX", "nope", "x"}, Err("ERR no such key")},
                     {{"RENAME", "nope", "nope"}, Err("ERR no such key")},
                     {{"SET", "a", "1"}, Ok()},
                     {{"RENAME", "a", "a"}, Ok()},  // onto itself: nothing happens
                     {{"RENAMENX", "a", "a"}, Int(0)},
                     {{"GET", "a"}, Bulk("1")},
                     {{"RENAME", "a", "b"}, Ok()},
                     {{"EXISTS", "a"}, Int(0)},
                     {{"GET", "b"}, Bulk("1")},
                     {{"SET", "c", "3"}, Ok()},
                     {{"RENAMENX", "b", "c"}, Int(0)},
                     {{"GET", "b"}, Bulk("1")},
                     {{"RENAMENX", "b", "d"}, Int(1)},
                     {{"RENAME", "d", "c"}, Ok()},  // replaces
                     {{"GET", "c"}, Bulk("1")},
                     {{"EXISTS", "b", "d"}, Int(0)},
                     {{"RENAME", "c"}, Err("ERR wrong number of arguments for 'rename' command")},
                 });
}

TEST_CASE("RENAME carries the TTL; the destination's own TTL goes") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "src", "v", "PX", "5000"}, Ok()},
                     {{"SET", "dst", "old", "EX", "100"}, Ok()},
                     {{"RENAME", "src", "dst"}, Ok()},
                     {{"PTTL", "dst"}, Int(5000)},
                     {{"SET", "p", "v"}, Ok()},
                     {{"RENAME", "p", "dst"}, Ok()},
                     {{"TTL", "dst"}, Int(-1)},
                 });
  h.Run({"SET", "e", "v", "PX", "10"});
  h.AdvanceMs(10);
  CHECK(h.Run({"RENAME", "e", "f"}) == Err("ERR no such key"));  // expired: absent
}

TEST_CASE("RENAME and COPY keep siblings as siblings and counters as counters") {
  CommandHarness h;
  h.Run({"SET", "k", "a"});
  // A concurrent version (a context that covers nothing).
  REQUIRE(h.keyspace().Update("k", {}, storage::Version::Bytes("b", h.now_ms), h.now_ms).ok());
  const std::string both = h.Run({"GET", "k"});
  CHECK(both == "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  h.Run({"SET", "d", "old"});
  CHECK(h.Run({"COPY", "k", "d", "REPLACE"}) == Int(1));
  CHECK(h.Run({"GET", "d"}) == both);
  CHECK(h.Run({"RENAME", "k", "r"}) == Ok());
  CHECK(h.Run({"GET", "r"}) == both);
  CHECK(h.Run({"EXISTS", "k"}) == Int(0));

  CHECK(h.Run({"INCRBY", "n", "5"}) == Int(5));
  CHECK(h.Run({"RENAME", "n", "m"}) == Ok());
  CHECK(h.Run({"INCR", "m"}) == Int(6));
  CHECK(h.Run({"COPY", "m", "m2"}) == Int(1));
  CHECK(h.Run({"DECR", "m2"}) == Int(5));
  CHECK(h.Run({"GET", "m"}) == Bulk("6"));
}

TEST_CASE("COPY as Redis 7.0 with one database") {
  CommandHarness h;
  ExpectSteps(
      h, {
             {{"COPY", "nope", "x"}, Int(0)},
             {{"COPY", "a", "a"}, Err("ERR source and destination objects are the same")},
             {{"SET", "a", "1", "PX", "9000"}, Ok()},
             {{"COPY", "a", "b"}, Int(1)},
             {{"GET", "b"}, Bulk("1")},
             {{"PTTL", "b"}, Int(9000)},
             {{"GET", "a"}, Bulk("1")},
             {{"SET", "a", "2"}, Ok()},
             {{"COPY", "a", "b"}, Int(0)},  // b exists
             {{"GET", "b"}, Bulk("1")},
             {{"COPY", "a", "b", "REPLACE"}, Int(1)},
             {{"GET", "b"}, Bulk("2")},
             {{"TTL", "b"}, Int(-1)},
             {{"COPY", "a", "c", "DB", "0"}, Int(1)},
             {{"COPY", "a", "c", "db", "1"}, Err("ERR DB index is out of range")},
             {{"COPY", "a", "c", "DB", "-1"}, Err("ERR DB index is out of range")},
             {{"COPY", "a", "c", "DB", "x"}, Err("ERR value is not an integer or out of range")},
             {{"COPY", "a", "c", "DB", "4294967296"},
              Err("ERR value is not an integer or out of range")},
             {{"COPY", "a", "c", "DB"}, Err("ERR syntax error")},
             {{"COPY", "a", "c", "REPLACE", "foo"}, Err("ERR syntax error")},
             // Options are parsed before the same-key check.
             {{"COPY", "a", "a", "DB", "1"}, Err("ERR DB index is out of range")},
         });
}

TEST_CASE("key command rows match Redis's COMMAND INFO") {
  CommandHarness h;

  // From redis-server 7.0.15's COMMAND INFO and COMMAND DOCS.
  CheckRows(h, {
                   {"del", -2, kCmdWrite, 1, -1, 1, "generic"},
                   {"unlink", -2, kCmdWrite | kCmdFast, 1, -1, 1, "generic"},
                   {"exists", -2, kCmdReadonly | kCmdFast, 1, -1, 1, "generic"},
                   {"expire", -3, kCmdWrite | kCmdFast, 1, 1, 1, "generic"},
                   {"pexpireat", -3, kCmdWrite | kCmdFast, 1, 1, 1, "generic"},
                   {"ttl", 2, kCmdReadonly | kCmdFast, 1, 1, 1, "generic"},
                   {"pexpiretime", 2, kCmdReadonly | kCmdFast, 1, 1, 1, "generic"},
                   {"persist", 2, kCmdWrite | kCmdFast, 1, 1, 1, "generic"},
                   {"keys", 2, kCmdReadonly, 0, 0, 0, "generic"},
                   {"scan", -2, kCmdReadonly, 0, 0, 0, "generic"},
                   {"randomkey", 1, kCmdReadonly, 0, 0, 0, "generic"},
                   {"touch", -2, kCmdReadonly | kCmdFast, 1, -1, 1, "generic"},
                   {"dbsize", 1, kCmdReadonly | kCmdFast, 0, 0, 0, "server"},
                   {"flushall", -1, kCmdWrite, 0, 0, 0, "server"},
                   {"flushdb", -1, kCmdWrite, 0, 0, 0, "server"},
                   {"rename", 3, kCmdWrite, 1, 2, 1, "generic"},
                   {"renamenx", 3, kCmdWrite | kCmdFast, 1, 2, 1, "generic"},
                   {"copy", -3, kCmdWrite | kCmdDenyOom, 1, 2, 1, "generic"},
               });
}

}  // namespace
}  // namespace shoal::server::testing
