// GlobMatch against Redis's stringmatchlen. The expectations were checked
// against redis-server 7.0.15 with KEYS (and a differential run of 3000
// random patterns over ~300 keys built from the bytes "abc-]^[\*?", all
// agreeing).

#include "server/commands/glob.h"

#include <doctest/doctest.h>

#include <string>

namespace shoal::server {
namespace {

struct Case {
  const char* pattern;
  const char* subject;
  bool match;
};

TEST_CASE("glob: Redis stringmatchlen semantics") {
  const Case cases[] = {
      // Redis quirk: nothing but the empty pattern matches the empty key
      // (KEYS * and SCAN MATCH * list it only through their match-all shortcut).
      {"*", "", false},
      {"**", "", false},
      {"*", "anything", true},
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"abc", "abc", true},
      {"abc", "abd", false},
      {"abc", "ab", false},
      {"ab", "abc", false},
      {"a*", "a", true},
      {"a*", "abc", true},
      {"*c", "abc", true},
      {"*c", "abd", false},
      {"a*c", "ac", true},
      {"a*c", "abbbc", true},
      {"a*c", "abbbcd", false},
      {"a**c", "abc", true},
      {"*a*b*", "xaxbx", true},
      {"*a*b*", "xbxax", false},
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"h?llo", "hello", true},
      {"h*llo", "heeeello", true},
      {"h[ae]llo", "hallo", true},
      {"h[ae]llo", "hillo", false},
      {"h[^e]llo", "hallo", true},
      {"h[^e]llo", "hello", false},
      {"h[a-b]llo", "hbllo", true},
      {"h[a-b]llo", "hcllo", false},
      {"[b-a]", "a", true},  // reversed range ends are swapped
      {"[a-]", "]", true},   // "a-]" is the range ']'..'a'; the class is unterminated
      {"[a-]", "-", false},
      {"[]", "a", false},
      {"[", "a", false},  // unterminated, empty class
      {"[^", "a", true},  // unterminated negated empty class: any byte
      {"[^]", "x", true},
      {"[abc", "b", true},   // unterminated class ends at the pattern's end
      {"[\\]]", "]", true},  // escaped ']' inside a class
      {"[\\-]", "-", true},
      {"[a\\-c]", "b", false},
      {"\\*", "*", true},
      {"\\*", "a", false},
      {"\\?", "?", true},
      {"\\[a]", "[a]", true},
      {"a\\", "a\\", true},  // a trailing backslash is literal
      {"a\\", "a", false},
      {"\\", "\\", true},
      {"*[", "a", false},
      {"a*", "", false},
      {"a[bc]*d", "abxxd", true},
      {"a[bc]*d", "axd", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.pattern);
    CAPTURE(c.subject);
    CHECK(GlobMatch(c.pattern, c.subject) == c.match);
  }
}

TEST_CASE("glob: nocase folds ASCII letters only") {
  CHECK(GlobMatch("HeLLo", "hello", true));
  CHECK_FALSE(GlobMatch("HeLLo", "hello", false));
  CHECK(GlobMatch("[A-C]x", "bX", true));
  CHECK_FALSE(GlobMatch("[A-C]x", "bX", false));
  CHECK(GlobMatch("[^A]", "b", true));
  CHECK_FALSE(GlobMatch("[^A]", "a", true));
}

TEST_CASE("glob: binary-safe") {
  using namespace std::string_literals;
  CHECK(GlobMatch("a?b"s, "a\0b"s));
  CHECK(GlobMatch("a\0*"s, "a\0xyz"s));
  CHECK_FALSE(GlobMatch("a\0*"s, "a"s));
  CHECK(GlobMatch("*\xff"s, "abc\xff"s));
}

TEST_CASE("glob: hostile patterns stay fast and bounded") {
  // Without Redis's skip-longer-matches rule "a*a*a*...b" against "aaaa...":
  // is exponential; with it, this finishes at once.
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "a*";
  pattern += "b";
  std::string subject(100, 'a');
  CHECK_FALSE(GlobMatch(pattern, subject));
  subject += "b";
  CHECK(GlobMatch(pattern, subject));

  // Past 1000 nested stars Redis gives up and reports no match; so do we,
  // without exhausting the stack. A trailing '*' does not recurse, so the
  // cut-off falls between 1001 and 1002 "a*" pairs (as redis-server 7.0.15).
  auto stars = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "a*";
    return s;
  };
  const std::string many_a(5000, 'a');
  CHECK(GlobMatch(stars(999), std::string(999, 'a')));
  CHECK_FALSE(GlobMatch(stars(1000), std::string(999, 'a')));
  CHECK(GlobMatch(stars(1001), many_a));
  CHECK_FALSE(GlobMatch(stars(1002), many_a));
  CHECK_FALSE(GlobMatch(stars(5000), many_a));
  CHECK_FALSE(GlobMatch(std::string(100000, '*') + "b", many_a));
}

}  // namespace
}  // namespace shoal::server
