// The string commands, reply bytes compared exactly. Unless a comment says
// otherwise, every reply here was checked against redis-server 7.0.15 with
// redis-cli (same commands, same order; TTL values from a manual clock are
// the arithmetic Redis does on its own clock).

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/server/command_harness.h"

namespace shoal::server::testing {
namespace {

TEST_CASE("GET and SET: happy path, case-insensitive names, arity") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"GET", "k"}, Nil()},
                     {{"SET", "k", "v"}, Ok()},
                     {{"get", "k"}, Bulk("v")},
                     {{"sEt", "k", "other"}, Ok()},
                     {{"GET", "k"}, Bulk("other")},
                     {{"SET", "empty", ""}, Ok()},
                     {{"GET", "empty"}, Bulk("")},
                     {{"SET", "k"}, Err("ERR wrong number of arguments for 'set' command")},
                     {{"GET"}, Err("ERR wrong number of arguments for 'get' command")},
                     {{"GET", "a", "b"}, Err("ERR wrong number of arguments for 'get' command")},
                 });
  // Binary-safe keys and values.
  std::string key("a\0b", 3), value("\r\n\0x", 4);
  CHECK(h.Run({"SET", key, value}) == Ok());
  CHECK(h.Run({"GET", key}) == Bulk(value));
  CHECK(h.Run({"GET", "a"}) == Nil());
}

TEST_CASE("SET conditions: NX, XX, GET and their combinations") {
  struct Case {
    bool exists;  // "k" holds "old" before the command
    std::vector<std::string> options;
    std::string reply;
    std::string value_after;  // GET k afterwards
  };
  const Case cases[] = {
      {false, {"NX"}, Ok(), Bulk("new")},
      {true, {"NX"}, Nil(), Bulk("old")},
      {false, {"XX"}, Nil(), Nil()},
      {true, {"XX"}, Ok(), Bulk("new")},
      {false, {"GET"}, Nil(), Bulk("new")},
      {true, {"GET"}, Bulk("old"), Bulk("new")},
      {true, {"get", "GET"}, Bulk("old"), Bulk("new")},  // repeats are allowed
      {true, {"nx", "NX"}, Nil(), Bulk("old")},
      // 7.0 allows NX with GET: the old value is the reply either way.
      {true, {"NX", "GET"}, Bulk("old"), Bulk("old")},
      {false, {"NX", "GET"}, Nil(), Bulk("new")},
      {false, {"XX", "GET"}, Nil(), Nil()},
      {true, {"GET", "XX"}, Bulk("old"), Bulk("new")},
      {true, {"NX", "XX"}, Err("ERR syntax error"), Bulk("old")},
      {true, {"XX", "NX"}, Err("ERR syntax error"), Bulk("old")},
      {true, {"PERSIST"}, Err("ERR syntax error"), Bulk("old")},  // GETEX's option
      {true, {"FOO"}, Err("ERR syntax error"), Bulk("old")},
      {true, {"NXX"}, Err("ERR syntax error"), Bulk("old")},
  };
  for (const Case& c : cases) {
    CommandHarness h;
    if (c.exists) REQUIRE(h.Run({"SET", "k", "old"}) == Ok());
    std::vector<std::string> cmd = {"SET", "k", "new"};
    cmd.insert(cmd.end(), c.options.begin(), c.options.end());
    std::string shown;
    for (const auto& o : c.options) shown += o + " ";
    CAPTURE(shown);
    CAPTURE(c.exists);
    CHECK(h.Run(cmd) == c.reply);
    CHECK(h.Run({"GET", "k"}) == c.value_after);
  }
}

TEST_CASE("SET expire options: TTLs they leave, conflicts and bad values") {
  struct Case {
    std::vector<std::string> options;
    std::string reply;
    std::string pttl;  // PTTL k afterwards ("k" did not exist before)
  };
  const std::string now_s = Num(kNow / 1000);
  const Case cases[] = {
      {{"EX", "10"}, Ok(), Int(10000)},
      {{"PX", "1500"}, Ok(), Int(1500)},
      {{"EXAT", Num(kNow / 1000 + 100)}, Ok(), Int(100000)},
      {{"PXAT", Num(kNow + 1234)}, Ok(), Int(1234)},
      {{"ex", "10", "EX", "20"}, Ok(), Int(20000)},  // the last value wins
      {{"EX", "10", "NX"}, Ok(), Int(10000)},
      {{"EXAT", "9223372036854775"}, Ok(), Int(9223372036854775000 - kNow)},
      {{"PXAT", "9223372036854775807"}, Ok(), Int(9223372036854775807 - kNow)},
      // Conflicts are syntax errors.
      {{"EX", "10", "PX", "100"}, Err("ERR syntax error"), Int(-2)},
      {{"PX", "10", "EX", "100"}, Err("ERR syntax error"), Int(-2)},
      {{"EX", "10", "EXAT", "100"}, Err("ERR syntax error"), Int(-2)},
      {{"PXAT", "10", "EXAT", "100"}, Err("ERR syntax error"), Int(-2)},
      {{"KEEPTTL", "EX", "10"}, Err("ERR syntax error"), Int(-2)},
      {{"PX", "100", "KEEPTTL"}, Err("ERR syntax error"), Int(-2)},
      {{"EX"}, Err("ERR syntax error"), Int(-2)},
      {{"NX", "PXAT"}, Err("ERR syntax error"), Int(-2)},
      // Bad values: syntax is checked first, then the number.
      {{"EX", "abc"}, Err("ERR value is not an integer or out of range"), Int(-2)},
      {{"EX", "1.5"}, Err("ERR value is not an integer or out of range"), Int(-2)},
      {{"EX", "+1"}, Err("ERR value is not an integer or out of range"), Int(-2)},
      {{"EX", "abc", "NX", "XX"}, Err("ERR syntax error"), Int(-2)},
      {{"EX", "0"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      {{"EX", "-1"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      {{"PX", "0"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      {{"EXAT", "0"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      {{"PXAT", "-5"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      // Overflow: seconds to ms, and relative + now (Redis 7.0 rules).
      {{"EX", "9223372036854776"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      {{"EX", "9223372036854775"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      {{"PX", "9223372036854775807"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
      {{"EXAT", "9223372036854776"}, Err("ERR invalid expire time in 'set' command"), Int(-2)},
  };
  for (const Case& c : cases) {
    CommandHarness h;
    std::vector<std::string> cmd = {"SET", "k", "v"};
    cmd.insert(cmd.end(), c.options.begin(), c.options.end());
    std::string shown;
    for (const auto& o : c.options) shown += o + " ";
    CAPTURE(shown);
    CHECK(h.Run(cmd) == c.reply);
    CHECK(h.Run({"PTTL", "k"}) == c.pttl);
  }
}

TEST_CASE("SET: KEEPTTL keeps the TTL, a plain SET drops it, a past EXAT deletes") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "k", "v", "EX", "100"}, Ok()},
                     {{"SET", "k", "v2", "KEEPTTL"}, Ok()},
                     {{"TTL", "k"}, Int(100)},
                     {{"GET", "k"}, Bulk("v2")},
                     {{"SET", "k", "v3", "keepttl", "GET"}, Bulk("v2")},
                     {{"TTL", "k"}, Int(100)},
                     {{"SET", "k", "v4"}, Ok()},
                     {{"TTL", "k"}, Int(-1)},
                     {{"SET", "nottl", "v", "KEEPTTL"}, Ok()},
                     {{"TTL", "nottl"}, Int(-1)},
                     // An absolute time in the past is accepted; the key is gone.
                     {{"SET", "k", "v5", "PXAT", "1"}, Ok()},
                     {{"GET", "k"}, Nil()},
                     {{"SET", "k", "v6"}, Ok()},
                     {{"SET", "k", "v7", "EXAT", "1", "GET"}, Bulk("v6")},
                     {{"EXISTS", "k"}, Int(0)},
                     // A bad expire is reported before GET would reply.
                     {{"SET", "k", "v8"}, Ok()},
                     {{"SET", "k", "v9", "GET", "EX", "0"},
                      Err("ERR invalid expire time in 'set' command")},
                     {{"GET", "k"}, Bulk("v8")},
                 });
}

TEST_CASE("SETNX, SETEX, PSETEX, GETSET") {
  CommandHarness h;
  ExpectSteps(h,
              {
                  {{"SETNX", "k", "a"}, Int(1)},
                  {{"SETNX", "k", "b"}, Int(0)},
                  {{"GET", "k"}, Bulk("a")},
                  {{"SETEX", "k", "10", "c"}, Ok()},
                  {{"GET", "k"}, Bulk("c")},
                  {{"PTTL", "k"}, Int(10000)},
                  {{"SETEX", "k", "0", "d"}, Err("ERR invalid expire time in 'setex' command")},
                  {{"SETEX", "k", "-10", "d"}, Err("ERR invalid expire time in 'setex' command")},
                  {{"SETEX", "k", "x", "d"}, Err("ERR value is not an integer or out of range")},
                  {{"SETEX", "k", "9223372036854776", "d"},
                   Err("ERR invalid expire time in 'setex' command")},
                  {{"PSETEX", "k", "1500", "e"}, Ok()},
                  {{"PTTL", "k"}, Int(1500)},
                  {{"PSETEX", "k", "0", "e"}, Err("ERR invalid expire time in 'psetex' command")},
                  {{"SETEX", "k", "10"}, Err("ERR wrong number of arguments for 'setex' command")},
                  {{"GETSET", "k", "f"}, Bulk("e")},
                  {{"TTL", "k"}, Int(-1)},  // GETSET drops the TTL
                  {{"GETSET", "new", "g"}, Nil()},
                  {{"GET", "new"}, Bulk("g")},
              });
}

TEST_CASE("GETDEL") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"GETDEL", "k"}, Nil()},
                     {{"SET", "k", "v", "EX", "10"}, Ok()},
                     {{"GETDEL", "k"}, Bulk("v")},
                     {{"GET", "k"}, Nil()},
                     {{"TTL", "k"}, Int(-2)},
                 });
}

TEST_CASE("GETEX: options, their errors, and the order of checks") {
  CommandHarness h;
  const std::string later_s = Num(kNow / 1000 + 300);
  ExpectSteps(h,
              {
                  {{"GETEX", "k"}, Nil()},
                  // A missing key is nil even with an expire Redis would refuse...
                  {{"GETEX", "k", "EX", "-1"}, Nil()},
                  {{"GETEX", "k", "EX", "abc"}, Nil()},
                  // ...but syntax is checked before the key.
                  {{"GETEX", "k", "FOO"}, Err("ERR syntax error")},
                  {{"GETEX", "k", "EX"}, Err("ERR syntax error")},
                  {{"GETEX", "k", "PERSIST", "EX", "1"}, Err("ERR syntax error")},
                  {{"GETEX", "k", "EX", "1", "PERSIST"}, Err("ERR syntax error")},
                  {{"GETEX", "k", "KEEPTTL"}, Err("ERR syntax error")},
                  {{"GETEX", "k", "NX"}, Err("ERR syntax error")},
                  {{"GETEX", "k", "GET"}, Err("ERR syntax error")},
                  {{"GETEX", "k", "EX", "1", "PX", "1"}, Err("ERR syntax error")},
                  {{"GETEX"}, Err("ERR wrong number of arguments for 'getex' command")},
                  {{"SET", "k", "v"}, Ok()},
                  {{"GETEX", "k"}, Bulk("v")},
                  {{"TTL", "k"}, Int(-1)},
                  {{"GETEX", "k", "EX", "0"}, Err("ERR invalid expire time in 'getex' command")},
                  {{"GETEX", "k", "PX", "-1"}, Err("ERR invalid expire time in 'getex' command")},
                  {{"GETEX", "k", "EX", "x"}, Err("ERR value is not an integer or out of range")},
                  {{"GETEX", "k", "EX", "9223372036854775"},
                   Err("ERR invalid expire time in 'getex' command")},
                  {{"GETEX", "k", "EX", "100"}, Bulk("v")},
                  {{"PTTL", "k"}, Int(100000)},
                  {{"GETEX", "k", "PX", "1500"}, Bulk("v")},
                  {{"PTTL", "k"}, Int(1500)},
                  {{"GETEX", "k", "ex", "1", "EX", "2"}, Bulk("v")},
                  {{"PTTL", "k"}, Int(2000)},
                  {{"GETEX", "k", "EXAT", later_s}, Bulk("v")},
                  {{"TTL", "k"}, Int(300)},
                  {{"GETEX", "k", "PXAT", Num(kNow + 42)}, Bulk("v")},
                  {{"PTTL", "k"}, Int(42)},
                  {{"GETEX", "k", "PERSIST"}, Bulk("v")},
                  {{"TTL", "k"}, Int(-1)},
                  {{"GETEX", "k", "persist", "PERSIST"}, Bulk("v")},
                  // A past absolute time replies the value and deletes the key.
                  {{"GETEX", "k", "PXAT", "1"}, Bulk("v")},
                  {{"EXISTS", "k"}, Int(0)},
                  {{"SET", "k", "v"}, Ok()},
                  {{"GETEX", "k", "PXAT", Num(kNow)}, Bulk("v")},
                  {{"EXISTS", "k"}, Int(0)},
              });
}

TEST_CASE("MGET, MSET, MSETNX") {
  CommandHarness h;
  ExpectSteps(
      h, {
             {{"MSET", "a"}, Err("ERR wrong number of arguments for 'mset' command")},
             {{"MSET", "a", "1", "b"}, Err("ERR wrong number of arguments for 'mset' command")},
             {{"MSETNX", "a", "1", "b"}, Err("ERR wrong number of arguments for 'msetnx' command")},
             {{"MSET", "a", "1", "b", "2", "a", "3"}, Ok()},  // later pairs win
             {{"MGET", "a", "b", "nope", "a"}, Arr({Bulk("3"), Bulk("2"), Nil(), Bulk("3")})},
             {{"MGET"}, Err("ERR wrong number of arguments for 'mget' command")},
             {{"MSETNX", "c", "1", "a", "9"}, Int(0)},  // a exists: nothing is set
             {{"MGET", "c", "a"}, Arr({Nil(), Bulk("3")})},
             {{"MSETNX", "c", "1", "d", "2"}, Int(1)},
             {{"MGET", "c", "d"}, Arr({Bulk("1"), Bulk("2")})},
             {{"EXPIRE", "a", "100"}, Int(1)},
             {{"MSET", "a", "4"}, Ok()},
             {{"TTL", "a"}, Int(-1)},  // MSET drops TTLs
         });
}

TEST_CASE("APPEND and STRLEN, with the proto-max-bulk-len limit") {
  CommandHarness h;
  h.proto_max_bulk_len = 10;
  ExpectSteps(h, {
                     {{"STRLEN", "k"}, Int(0)},
                     {{"APPEND", "k", "hello"}, Int(5)},
                     {{"APPEND", "k", " you"}, Int(9)},
                     {{"GET", "k"}, Bulk("hello you")},
                     {{"STRLEN", "k"}, Int(9)},
                     {{"APPEND", "k", "!!"},
                      Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")},
                     {{"APPEND", "k", "!"}, Int(10)},  // exactly the limit is fine
                     {{"APPEND", "k", ""}, Int(10)},
                     {{"EXPIRE", "k", "50"}, Int(1)},
                     {{"APPEND", "t", "x"}, Int(1)},
                     {{"SET", "t", "ab", "EX", "50"}, Ok()},
                     {{"APPEND", "t", "c"}, Int(3)},
                     {{"TTL", "t"}, Int(50)},  // APPEND keeps the TTL
                 });
}

TEST_CASE("GETRANGE and SUBSTR: negative and out-of-range indexes") {
  CommandHarness h;
  REQUIRE(h.Run({"SET", "s", "Hello World"}) == Ok());
  REQUIRE(h.Run({"SET", "e", ""}) == Ok());
  struct Case {
    const char* start;
    const char* end;
    const char* want;
  };
  const Case cases[] = {
      {"0", "-1", "Hello World"},
      {"0", "4", "Hello"},
      {"-3", "-1", "rld"},
      {"-1", "-3", ""},
      {"5", "3", ""},
      {"-100", "3", "Hell"},
      {"3", "100", "lo World"},
      {"0", "-100", "H"},
      {"-100", "-200", ""},
      {"-5", "-100", ""},
      {"10", "10", "d"},
      {"11", "20", ""},
      {"0", "0", "H"},
      {"-1", "-1", "d"},
      {"-9223372036854775808", "0", "H"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.start);
    CAPTURE(c.end);
    CHECK(h.Run({"GETRANGE", "s", c.start, c.end}) == Bulk(c.want));
    CHECK(h.Run({"SUBSTR", "s", c.start, c.end}) == Bulk(c.want));
  }
  ExpectSteps(
      h,
      {
          {{"GETRANGE", "e", "0", "-1"}, Bulk("")},
          {{"GETRANGE", "missing", "0", "1"}, Bulk("")},
          {{"GETRANGE", "s", "a", "1"}, Err("ERR value is not an integer or out of range")},
          {{"GETRANGE", "missing", "0", "x"}, Err("ERR value is not an integer or out of range")},
          {{"GETRANGE", "s", "0"}, Err("ERR wrong number of arguments for 'getrange' command")},
      });
}

TEST_CASE("SETRANGE: padding, empty values, limits") {
  CommandHarness h;
  h.proto_max_bulk_len = 100;
  ExpectSteps(h,
              {
                  {{"SETRANGE", "n", "5", ""}, Int(0)},  // nothing set on a missing key
                  {{"EXISTS", "n"}, Int(0)},
                  {{"SETRANGE", "n", "5", "x"}, Int(6)},
                  {{"GET", "n"}, Bulk(std::string("\0\0\0\0\0x", 6))},
                  {{"SET", "s", "abc"}, Ok()},
                  {{"SETRANGE", "s", "1", ""}, Int(3)},
                  {{"SETRANGE", "s", "1", "XY"}, Int(3)},
                  {{"SETRANGE", "s", "5", "Z"}, Int(6)},
                  {{"GET", "s"}, Bulk(std::string("aXY\0\0Z", 6))},
                  {{"SETRANGE", "s", "0", "0123456789"}, Int(10)},
                  {{"SETRANGE", "s", "-1", "x"}, Err("ERR offset is out of range")},
                  {{"SETRANGE", "s", "x", "x"}, Err("ERR value is not an integer or out of range")},
                  {{"SETRANGE", "s", "99999999999999999999", "x"},
                   Err("ERR value is not an integer or out of range")},
                  {{"SETRANGE", "s", "99", "x"}, Int(100)},  // exactly the limit
                  {{"SETRANGE", "s", "100", "x"},
                   Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")},
                  {{"SETRANGE", "s", "9223372036854775807", "x"},
                   Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")},
                  {{"SETRANGE", "m", "100", "x"},
                   Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")},
                  {{"EXISTS", "m"}, Int(0)},
                  {{"SET", "t", "abc", "EX", "50"}, Ok()},
                  {{"SETRANGE", "t", "0", "z"}, Int(3)},
                  {{"TTL", "t"}, Int(50)},  // SETRANGE keeps the TTL
              });
}

TEST_CASE("INCR, DECR, INCRBY, DECRBY: arithmetic, TTL kept") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"INCR", "n"}, Int(1)},
                     {{"INCRBY", "n", "10"}, Int(11)},
                     {{"DECR", "n"}, Int(10)},
                     {{"DECRBY", "n", "3"}, Int(7)},
                     {{"INCRBY", "n", "-9"}, Int(-2)},
                     {{"DECRBY", "n", "-4"}, Int(2)},
                     {{"GET", "n"}, Bulk("2")},
                     {{"DECR", "m"}, Int(-1)},
                     {{"EXPIRE", "n", "100"}, Int(1)},
                     {{"INCR", "n"}, Int(3)},
                     {{"TTL", "n"}, Int(100)},
                     {{"SET", "z", "0"}, Ok()},
                     {{"INCRBY", "z", "-9223372036854775808"}, Int(INT64_MIN)},
                     {{"INCRBY", "z", "9223372036854775807"}, Int(-1)},
                 });
}

TEST_CASE("INCR family: values and increments that are not integers") {
  // Redis's string2ll: no spaces, no '+', no leading zeros, no "-0", at most
  // 20 characters, within int64.
  const char* bad_values[] = {"abc",
                              " 1",
                              "1 ",
                              "+1",
                              "01",
                              "-0",
                              "1.5",
                              "",
                              "1e3",
                              "0x1",
                              "9223372036854775808",
                              "-9223372036854775809",
                              "00000000000000000001"};
  for (const char* v : bad_values) {
    CAPTURE(v);
    CommandHarness h;
    REQUIRE(h.Run({"SET", "k", v}) == Ok());
    CHECK(h.Run({"INCR", "k"}) == Err("ERR value is not an integer or out of range"));
    CHECK(h.Run({"DECRBY", "k", "1"}) == Err("ERR value is not an integer or out of range"));
    CHECK(h.Run({"GET", "k"}) == Bulk(v));
  }
  CommandHarness h;
  ExpectSteps(h, {
                     {{"INCRBY", "k", "+1"}, Err("ERR value is not an integer or out of range")},
                     {{"INCRBY", "k", " 1"}, Err("ERR value is not an integer or out of range")},
                     {{"INCRBY", "k", "1.0"}, Err("ERR value is not an integer or out of range")},
                     {{"DECRBY", "k", ""}, Err("ERR value is not an integer or out of range")},
                     {{"EXISTS", "k"}, Int(0)},
                     {{"SET", "k", "-9223372036854775808"}, Ok()},
                     {{"INCR", "k"}, Int(-9223372036854775807)},
                 });
}

TEST_CASE("INCR family: overflow") {
  CommandHarness h;
  ExpectSteps(h,
              {
                  {{"SET", "max", "9223372036854775807"}, Ok()},
                  {{"INCR", "max"}, Err("ERR increment or decrement would overflow")},
                  {{"INCRBY", "max", "1"}, Err("ERR increment or decrement would overflow")},
                  {{"DECRBY", "max", "-1"}, Err("ERR increment or decrement would overflow")},
                  {{"GET", "max"}, Bulk("9223372036854775807")},
                  {{"SET", "min", "-9223372036854775808"}, Ok()},
                  {{"DECR", "min"}, Err("ERR increment or decrement would overflow")},
                  {{"INCRBY", "min", "-1"}, Err("ERR increment or decrement would overflow")},
                  {{"SET", "one", "1"}, Ok()},
                  {{"INCRBY", "one", "9223372036854775807"},
                   Err("ERR increment or decrement would overflow")},
                  // -LLONG_MIN does not exist: DECRBY refuses before looking.
                  {{"DECRBY", "one", "-9223372036854775808"}, Err("ERR decrement would overflow")},
                  {{"DECRBY", "none", "-9223372036854775808"}, Err("ERR decrement would overflow")},
                  {{"DECRBY", "one", "9223372036854775807"}, Int(-9223372036854775806)},
              });
}

TEST_CASE("INCRBYFLOAT: Redis's human formatting and errors") {
  struct Case {
    const char* initial;  // nullptr: the key does not exist
    const char* incr;
    std::string reply;
  };
  const Case cases[] = {
      {"10.5", "0.1", Bulk("10.6")},
      {"5.0e3", "0", Bulk("5000")},
      {nullptr, "3.0", Bulk("3")},
      {"3", "-3", Bulk("0")},
      {"3", "2.0000", Bulk("5")},
      {"1", "1.5e-10", Bulk("1.00000000015")},
      {"1.00000000015", "0x10", Bulk("17.00000000015")},  // strtold reads hex
      {"-0", "0", Bulk("0")},                             // never "-0"
      {"0.1", "-0.1", Bulk("0")},
      {"1e-20", "0", Bulk("0")},  // 17 decimals: too small to show
      {nullptr, "1.23456789012345678901", Bulk("1.23456789012345679")},
      {nullptr, "0.1", Bulk("0.1")},
      {"0.1", "0.2", Bulk("0.3")},
      {"9223372036854775807", "1", Bulk("9223372036854775808")},
      {"17", "-25.5", Bulk("-8.5")},
      {nullptr, "abc", Err("ERR value is not a valid float")},
      {nullptr, " 1", Err("ERR value is not a valid float")},
      {nullptr, "1 ", Err("ERR value is not a valid float")},
      {nullptr, "", Err("ERR value is not a valid float")},
      {nullptr, "nan", Err("ERR value is not a valid float")},
      {nullptr, "1e5000", Err("ERR value is not a valid float")},
      {nullptr, "inf", Err("ERR increment would produce NaN or Infinity")},
      {"1.18e4932", "1.18e4932", Err("ERR increment would produce NaN or Infinity")},
      {"abc", "1", Err("ERR value is not a valid float")},
      {" 3", "1", Err("ERR value is not a valid float")},
      {"3 ", "1", Err("ERR value is not a valid float")},
      {"", "1", Err("ERR value is not a valid float")},
  };
  for (const Case& c : cases) {
    CAPTURE(c.initial ? c.initial : "(none)");
    CAPTURE(c.incr);
    CommandHarness h;
    if (c.initial != nullptr) REQUIRE(h.Run({"SET", "f", c.initial}) == Ok());
    CHECK(h.Run({"INCRBYFLOAT", "f", c.incr}) == c.reply);
    if (c.reply[0] == '$') CHECK(h.Run({"GET", "f"}) == c.reply);
  }

  // Large results print every integer digit (%.17Lf), as Redis does.
  CommandHarness h;
  REQUIRE(h.Run({"SET", "f", "5000"}) == Ok());
  CHECK(h.Run({"INCRBYFLOAT", "f", "1e308"}) ==
        Bulk("99999999999999999996685879655845645660560099847415567207797047994921734868838061872"
             "100126921888539320446747225054013223152134749593960583597420814430196418767959100019"
             "603190778663109604507106667939153395788938914560543563061268364901618630217086589253"
             "444881623791300855757318142424510452728255046343928578048"));
  REQUIRE(h.Run({"SET", "g", "1", "EX", "100"}) == Ok());
  CHECK(h.Run({"INCRBYFLOAT", "g", "1.5"}) == Bulk("2.5"));
  CHECK(h.Run({"TTL", "g"}) == Int(100));  // the TTL is kept
}

TEST_CASE("string command rows match Redis's COMMAND INFO") {
  CommandHarness h;

  // From redis-server 7.0.15's COMMAND INFO.
  CheckRows(h, {
                   {"get", 2, kCmdReadonly | kCmdFast, 1, 1, 1, "string"},
                   {"set", -3, kCmdWrite | kCmdDenyOom, 1, 1, 1, "string"},
                   {"setnx", 3, kCmdWrite | kCmdDenyOom | kCmdFast, 1, 1, 1, "string"},
                   {"getex", -2, kCmdWrite | kCmdFast, 1, 1, 1, "string"},
                   {"getdel", 2, kCmdWrite | kCmdFast, 1, 1, 1, "string"},
                   {"mget", -2, kCmdReadonly | kCmdFast, 1, -1, 1, "string"},
                   {"mset", -3, kCmdWrite | kCmdDenyOom, 1, -1, 2, "string"},
                   {"msetnx", -3, kCmdWrite | kCmdDenyOom, 1, -1, 2, "string"},
                   {"getrange", 4, kCmdReadonly, 1, 1, 1, "string"},
                   {"substr", 4, kCmdReadonly, 1, 1, 1, "string"},
                   {"setrange", 4, kCmdWrite | kCmdDenyOom, 1, 1, 1, "string"},
                   {"incrbyfloat", 3, kCmdWrite | kCmdDenyOom | kCmdFast, 1, 1, 1, "string"},
               });
  const char* all[] = {"get",    "set",      "setnx", "setex",  "psetex", "getset", "getdel",
                       "getex",  "mget",     "mset",  "msetnx", "append", "strlen", "getrange",
                       "substr", "setrange", "incr",  "decr",   "incrby", "decrby", "incrbyfloat"};
  for (const char* name : all) {
    CAPTURE(name);
    const CommandSpec* spec = h.table().Find(name);
    REQUIRE(spec != nullptr);
    CHECK((spec->handler != nullptr));
    CHECK(!spec->summary.empty());
  }
}

}  // namespace
}  // namespace shoal::server::testing
