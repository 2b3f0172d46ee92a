// ZADD's options and scores (zadd_options.h, zset_score.h): Redis's error
// order and string2d/d2string's exact rules.

#include "server/commands/zadd_options.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "facade/errors.h"
#include "server/commands/zset_score.h"

namespace shoal::server {
namespace {

std::string Error(std::vector<std::string> args, bool incr = false) {
  auto r = ParseZaddOptions(args, incr);
  return r.ok() ? "ok" : r.status().message();
}

TEST_CASE("ZADD flags, pairs and the errors in Redis's order") {
  // The options keep views of the arguments: they must outlive them.
  const std::vector<std::string> args = {"zadd", "k", "xx", "CH", "gt", "1.5", "a", "-inf", "b"};
  auto r = ParseZaddOptions(args, false);
  REQUIRE(r.ok());
  const ZaddOptions& o = r.value();
  CHECK((o.xx && o.ch && o.gt && !o.nx && !o.lt && !o.incr));
  REQUIRE(o.pairs.size() == 2);
  CHECK(o.pairs[0].score == 1.5);
  CHECK(o.pairs[0].member == "a");
  CHECK(o.pairs[1].score == -std::numeric_limits<double>::infinity());

  const std::string syntax(facade::errors::kSyntax);
  CHECK(Error({"zadd", "k", "1"}) == syntax);
  CHECK(Error({"zadd", "k", "nx"}) == syntax);
  CHECK(Error({"zadd", "k", "1", "a", "2"}) == syntax);
  CHECK(Error({"zadd", "k", "nx", "xx", "1", "a"}) == kZaddXxAndNx);
  CHECK(Error({"zadd", "k", "nx", "gt", "1", "a"}) == kZaddGtLtNx);
  CHECK(Error({"zadd", "k", "gt", "lt", "1", "a"}) == kZaddGtLtNx);
  CHECK(Error({"zadd", "k", "xx", "lt", "1", "a"}) == "ok");
  CHECK(Error({"zadd", "k", "incr", "1", "a", "2", "b"}) == kZaddIncrOnePair);
  // Pair count before compatibility, compatibility before scores.
  CHECK(Error({"zadd", "k", "nx", "xx", "1"}) == syntax);
  CHECK(Error({"zadd", "k", "nx", "xx", "x", "a"}) == kZaddXxAndNx);
  CHECK(Error({"zadd", "k", "1", "a", "x", "b"}) == facade::errors::kNotFloat);
  // ZINCRBY is ZADD with INCR set: an option word where the increment goes
  // leaves an odd pair count.
  CHECK(Error({"zincrby", "k", "nx", "a"}, true) == syntax);
  CHECK(Error({"zincrby", "k", "2", "a"}, true) == "ok");
}

TEST_CASE("scores parse as string2d") {
  CHECK(ParseZsetScore("1.5") == 1.5);
  CHECK(ParseZsetScore("-0").has_value());
  CHECK(std::signbit(*ParseZsetScore("-0")));
  CHECK(ParseZsetScore("+inf") == std::numeric_limits<double>::infinity());
  CHECK(ParseZsetScore("-Infinity") == -std::numeric_limits<double>::infinity());
  CHECK(ParseZsetScore("1e308") == 1e308);
  CHECK(ParseZsetScore("1e-310").has_value());  // subnormal, not zero
  CHECK(ParseZsetScore("0x1p3") == 8);
  for (const char* bad :
       {"", " 1", "1 ", "nan", "-nan", "1e400", "-1e400", "1e-400", "abc", "1.5x"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseZsetScore(bad).has_value());
  }
  CHECK_FALSE(ParseZsetScore(std::string("1\0", 2)).has_value());
}

TEST_CASE("ZSCAN's score text: d2string for listpacks, %.17g for skiplists") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(FormatZsetScore(1.5, ScoreText::kListpack) == "1.5");
  CHECK(FormatZsetScore(0.1, ScoreText::kListpack) == "0.10000000000000001");
  CHECK(FormatZsetScore(3, ScoreText::kListpack) == "3");
  CHECK(FormatZsetScore(-0.0, ScoreText::kListpack) == "-0");
  CHECK(FormatZsetScore(1e17, ScoreText::kListpack) == "100000000000000000");
  CHECK(FormatZsetScore(1e17, ScoreText::kSkiplist) == "1e+17");
  CHECK(FormatZsetScore(1e19, ScoreText::kListpack) == "1e+19");
  CHECK(FormatZsetScore(-inf, ScoreText::kListpack) == "-inf");
  CHECK(FormatZsetScore(inf, ScoreText::kSkiplist) == "inf");
  CHECK(FormatZsetScore(-0.0, ScoreText::kSkiplist) == "-0");
}

}  // namespace
}  // namespace shoal::server
