#pragma once
// Sorted-set scores as text, Redis's way (util.c): how ZADD, ZINCRBY and
// ZADD INCR read a score, and how ZSCAN writes one. Replies that carry a
// score as a double (ZSCORE, ZRANGE WITHSCORES...) use ReplyBuilder::Double.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::server {

// "ERR value is not a valid float" is the error for a score that does not
// parse (facade::errors::kNotFloat).

// string2d: the whole text is a double as strtod reads it ("1.5", "-inf",
// "1e3", "0x10"...), no leading space, not empty, not NaN, and no overflow
// to infinity or underflow to zero that strtod reports with ERANGE.
std::optional<double> ParseZsetScore(const std::string& text);

// How ZSCAN prints a score: as the text Redis's encoding of the set holds.
enum class ScoreText : uint8_t {
  // d2string, the listpack's text (sets up to 128 members of up to 64
  // bytes): "inf"/"-inf", "0"/"-0", an integer within +-2^62 as an integer,
  // anything else "%.17g".
  kListpack,
  // ld2string's LD_STR_AUTO, for a skiplist's double: "inf"/"-inf", else
  // "%.17Lg" (which prints every double as "%.17g" does).
  kSkiplist,
};
std::string FormatZsetScore(double score, ScoreText style);

}  // namespace shoal::server
