// ZrangeSpec: range parsing in Redis's error order and the selection walk
// (rank arithmetic, score and lex ranges, REV, LIMIT). The same cases run
// byte for byte against redis-server 7.0.15 in
// tests/integration/test_zsets.py.

#include "server/commands/zrange_spec.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "facade/errors.h"

namespace shoal::server {
namespace {

using storage::ScoredMember;

constexpr double kInf = std::numeric_limits<double>::infinity();

// a:1 b:2 c:2 d:3 e:inf, in (score, member) order.
const std::vector<ScoredMember> kRanked = {
    {"a", 1}, {"b", 2}, {"c", 2}, {"d", 3}, {"e", kInf},
};

// Parses `args` as ZRANGE does (key at 1) and selects from kRanked; returns
// the members picked, or the error text.
std::string Run(std::vector<std::string> args, ZrangeBy by = ZrangeBy::kAuto,
                ZrangeDirection dir = ZrangeDirection::kAuto,
                const std::vector<ScoredMember>& ranked = kRanked) {
  auto spec = ParseZrange(args, 1, false, by, dir);
  if (!spec.ok()) return spec.status().message();
  std::string out;
  for (size_t i : SelectZrange(spec.value(), ranked)) out += std::string(ranked[i].member);
  return out;
}

TEST_CASE("score bounds: '(' excludes, inf spelled out, strtod's grammar") {
  auto r = ParseScoreRange("(1.5", "+inf");
  REQUIRE(r);
  CHECK(r->min == 1.5);
  CHECK(r->minex);
  CHECK(r->max == kInf);
  CHECK_FALSE(r->maxex);
  CHECK(ParseScoreRange("-inf", "(-1e3")->max == -1000);
  // Redis's zslParseRange uses strtod without string2d's checks: leading
  // spaces, an empty number and hex are accepted.
  CHECK(ParseScoreRange(" 1", "2"));
  CHECK(ParseScoreRange("", "(")->max == 0);
  CHECK(ParseScoreRange("0x10", "1")->min == 16);
  CHECK_FALSE(ParseScoreRange("nan", "1"));
  CHECK_FALSE(ParseScoreRange("1", "(nan"));
  CHECK_FALSE(ParseScoreRange("1x", "2"));
  CHECK_FALSE(ParseScoreRange("1", "[2"));
  CHECK_FALSE(ParseScoreRange("((1", "2"));
  // A NUL byte ends the C string Redis parses.
  CHECK(ParseScoreRange(std::string("1\0x", 3), "2"));
}

TEST_CASE("lex bounds: [ ( - + and nothing else") {
  auto r = ParseLexRange("[a", "(c");
  REQUIRE(r);
  CHECK(r->GteMin("a"));
  CHECK_FALSE(r->GteMin(""));
  CHECK(r->LteMax("b\xff"));
  CHECK_FALSE(r->LteMax("c"));
  auto all = ParseLexRange("-", "+");
  REQUIRE(all);
  CHECK(all->GteMin(""));
  CHECK(all->LteMax("\xff\xff"));
  CHECK_FALSE(ParseLexRange("[", "[")->AlwaysEmpty());
  CHECK(ParseLexRange("(", "[")->AlwaysEmpty());
  CHECK(ParseLexRange("(a", "[a")->AlwaysEmpty());
  CHECK(ParseLexRange("[b", "[a")->AlwaysEmpty());
  CHECK(ParseLexRange("+", "-")->AlwaysEmpty());
  CHECK(ParseLexRange("-", "-")->AlwaysEmpty());
  CHECK_FALSE(ParseLexRange("a", "+"));
  CHECK_FALSE(ParseLexRange("", "+"));
  CHECK_FALSE(ParseLexRange("-", "++"));
  CHECK_FALSE(ParseLexRange("-x", "+"));
  // Bytes compare unsigned, as memcmp.
  CHECK(ParseLexRange("(\x7f", "+")->GteMin("\x80"));
}

TEST_CASE("rank ranges: negative from the end, clamped, empty when crossed") {
  CHECK(Run({"zrange", "k", "0", "-1"}) == "abcde");
  CHECK(Run({"zrange", "k", "1", "2"}) == "bc");
  CHECK(Run({"zrange", "k", "-2", "-1"}) == "de");
  CHECK(Run({"zrange", "k", "-100", "1"}) == "ab");
  CHECK(Run({"zrange", "k", "3", "100"}) == "de");
  CHECK(Run({"zrange", "k", "3", "2"}) == "");
  CHECK(Run({"zrange", "k", "5", "10"}) == "");
  CHECK(Run({"zrange", "k", "0", "-6"}) == "");
  CHECK(Run({"zrange", "k", "0", "1", "REV"}) == "ed");
  CHECK(Run({"zrevrange", "k", "0", "1"}, ZrangeBy::kRank, ZrangeDirection::kReverse) == "ed");
  CHECK(NormalizeRankRange(0, -1, 0) == std::nullopt);
  CHECK(NormalizeRankRange(INT64_MIN, INT64_MAX, 3)->last == 2);
}

TEST_CASE("score ranges, forward and reversed, with LIMIT") {
  const auto S = ZrangeBy::kScore;
  CHECK(Run({"zrange", "k", "2", "3", "BYSCORE"}) == "bcd");
  CHECK(Run({"zrange", "k", "(2", "3", "BYSCORE"}) == "d");
  CHECK(Run({"zrange", "k", "-inf", "+inf", "BYSCORE"}) == "abcde");
  CHECK(Run({"zrange", "k", "(3", "inf", "BYSCORE"}) == "e");
  CHECK(Run({"zrange", "k", "3", "2", "BYSCORE"}) == "");
  CHECK(Run({"zrange", "k", "(2", "2", "BYSCORE"}) == "");
  // Reversed: max first.
  CHECK(Run({"zrange", "k", "3", "2", "BYSCORE", "REV"}) == "dcb");
  CHECK(Run({"zrevrangebyscore", "k", "+inf", "(1"}, S, ZrangeDirection::kReverse) == "edcb");
  CHECK(Run({"zrangebyscore", "k", "1", "3", "LIMIT", "1", "2"}, S, ZrangeDirection::kForward) ==
        "bc");
  CHECK(Run({"zrangebyscore", "k", "1", "3", "LIMIT", "1", "-1"}, S, ZrangeDirection::kForward) ==
        "bcd");
  CHECK(Run({"zrangebyscore", "k", "1", "3", "LIMIT", "0", "0"}, S, ZrangeDirection::kForward) ==
        "");
  // A negative offset walks off the set in Redis: nothing.
  CHECK(Run({"zrangebyscore", "k", "1", "3", "LIMIT", "-1", "2"}, S, ZrangeDirection::kForward) ==
        "");
  CHECK(Run({"zrangebyscore", "k", "1", "3", "LIMIT", "4", "2"}, S, ZrangeDirection::kForward) ==
        "");
  CHECK(Run({"zrange", "k", "inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"}) == "dc");
  CHECK(CountInScoreRange(*ParseScoreRange("2", "+inf"), kRanked) == 4);
  CHECK(CountInScoreRange(*ParseScoreRange("(3", "(inf"), kRanked) == 0);
}

TEST_CASE("lex ranges walk the (score, member) order as Redis's listpack does") {
  const std::vector<ScoredMember> same = {{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}};
  const auto L = ZrangeBy::kLex;
  CHECK(Run({"zrangebylex", "k", "-", "+"}, L, ZrangeDirection::kForward, same) == "abcd");
  CHECK(Run({"zrangebylex", "k", "[b", "(d"}, L, ZrangeDirection::kForward, same) == "bc");
  CHECK(Run({"zrevrangebylex", "k", "(d", "[b"}, L, ZrangeDirection::kReverse, same) == "cb");
  CHECK(Run({"zrangebylex", "k", "-", "+", "LIMIT", "1", "2"}, L, ZrangeDirection::kForward,
            same) == "bc");
  CHECK(CountInLexRange(*ParseLexRange("(a", "[c"), same) == 2);
  // Different scores: the first member at or past min, then on while at or
  // before max (members b:1 a:2 c:3, range [a..[b): b, then a.
  const std::vector<ScoredMember> mixed = {{"b", 1}, {"a", 2}, {"c", 3}};
  CHECK(Run({"zrangebylex", "k", "[a", "[b"}, L, ZrangeDirection::kForward, mixed) == "ba");
  CHECK(Run({"zrangebylex", "k", "[c", "+"}, L, ZrangeDirection::kForward, mixed) == "c");
  CHECK(Run({"zrangebylex", "k", "-", "(b"}, L, ZrangeDirection::kForward, mixed) == "");
}

TEST_CASE("option errors come in zrangeGenericCommand's order") {
  const std::string syntax(facade::errors::kSyntax);
  const std::string not_int(facade::errors::kNotInteger);
  CHECK(Run({"zrange", "k", "0", "1", "LIMIT", "0", "1"}) == kZsetLimitNeedsBy);
  // LIMIT x -1 is no LIMIT at all for Redis.
  CHECK(Run({"zrange", "k", "0", "1", "LIMIT", "5", "-1"}) == "ab");
  CHECK(Run({"zrange", "k", "-", "+", "BYLEX", "WITHSCORES"}) == kZsetWithscoresBylex);
  CHECK(Run({"zrange", "k", "0", "1", "LIMIT", "0"}) == syntax);
  CHECK(Run({"zrange", "k", "0", "1", "LIMIT", "x", "1"}) == not_int);
  CHECK(Run({"zrange", "k", "0", "1", "BYSCORE", "BYLEX"}) == syntax);
  CHECK(Run({"zrange", "k", "0", "1", "REV", "REV"}) == syntax);
  CHECK(Run({"zrange", "k", "0", "1", "nonsense"}) == syntax);
  CHECK(Run({"zrange", "k", "a", "1"}) == not_int);
  CHECK(Run({"zrange", "k", "a", "1", "BYSCORE"}) == kZsetMinMaxNotFloat);
  CHECK(Run({"zrange", "k", "a", "1", "BYLEX"}) == kZsetLexRangeInvalid);
  // The fixed commands take no BY/REV words.
  CHECK(Run({"zrangebyscore", "k", "1", "2", "REV"}, ZrangeBy::kScore, ZrangeDirection::kForward) ==
        syntax);
  CHECK(Run({"zrevrange", "k", "0", "1", "BYSCORE"}, ZrangeBy::kRank, ZrangeDirection::kReverse) ==
        syntax);
  // The option errors come before the range's.
  CHECK(Run({"zrange", "k", "a", "b", "junk"}) == syntax);
  // ZRANGESTORE refuses WITHSCORES.
  std::vector<std::string> store = {"zrangestore", "d", "k", "0", "1", "WITHSCORES"};
  CHECK(ParseZrange(store, 2, true, ZrangeBy::kAuto, ZrangeDirection::kAuto).status().message() ==
        syntax);
}

}  // namespace
}  // namespace shoal::server
