#pragma once
// ZaddOptions: ZADD's flags and score/member pairs as zaddGenericCommand
// (t_zset.c, 7.0) reads them; ZINCRBY is ZADD with INCR already set and
// goes through the same parser (so "ZINCRBY k nx m" is a syntax error there
// too). Errors come in Redis's order: the pair count, NX with XX, GT/LT/NX,
// INCR with several pairs, then the first score that is not a float.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace shoal::server {

inline constexpr std::string_view kZaddXxAndNx =
    "ERR XX and NX options at the same time are not compatible";
inline constexpr std::string_view kZaddGtLtNx =
    "ERR GT, LT, and/or NX options at the same time are not compatible";
inline constexpr std::string_view kZaddIncrOnePair =
    "ERR INCR option supports a single increment-element pair";
inline constexpr std::string_view kZsetNanScore = "ERR resulting score is not a number (NaN)";

struct ZaddOptions {
  bool nx = false;
  bool xx = false;
  bool gt = false;
  bool lt = false;
  bool ch = false;
  bool incr = false;
  // The pairs, in argument order; `member` points into the parsed args,
  // which must outlive it.
  struct Pair {
    double score = 0;
    std::string_view member;
  };
  std::vector<Pair> pairs;
};

// args[0] is the command, args[1] the key; options start at args[2].
// `incr` presets INCR (ZINCRBY).
storage::Result<ZaddOptions> ParseZaddOptions(std::span<const std::string> args, bool incr);

}  // namespace shoal::server
