#pragma once
// Glob-style pattern matching with the exact semantics of Redis's
// stringmatchlen (src/util.c), used by KEYS and SCAN MATCH.
//
//   *        any run of bytes, including none
//   ?        any single byte
//   [abc]    one of the listed bytes; [^abc] none of them; [a-z] a range
//            (ends in either order); \x inside brackets is a literal x;
//            an unterminated [ matches as if closed at the pattern's end
//   \x       the byte x literally
//
// Hostile patterns cannot blow the stack or take exponential time: like Redis
// 7.0.9+ the matcher gives up (no match) beyond 1000 nested '*', and once the
// rest of a pattern after a '*' failed against every suffix, earlier '*'s are
// not retried on longer prefixes (Redis's skipLongerMatches).

#include <string_view>

namespace shoal::server {

// True if `s` matches `pattern`. `nocase` folds ASCII letters.
bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase = false);

}  // namespace shoal::server
